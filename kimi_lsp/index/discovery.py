"""Which files of a workspace root we index: discovery walk and the ignore rules.

Git semantics: a .gitignore in any directory (deeper files win, negations included), .git/info/exclude at the
repository top (lowest precedence), .gitignore files above the root up to the repository top; an excluded
directory is not entered, so nothing below it can be re-included. On top of that: built-in and settings
exclude globs (gitignore syntax, relative to the root), secret files, files over the size cap, symlink loops.
Files are only stat-ed here, never opened (binary detection happens when the indexer reads a file).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from pathspec import GitIgnoreSpec

from kimi_lsp.index.languages import LANGUAGES, spec_for_path
from kimi_lsp.index.secrets import is_secret_path

log = logging.getLogger(__name__)

DEFAULT_EXCLUDED_DIRS = frozenset({
    ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", ".tox", ".nox", ".mypy_cache",
    ".pytest_cache", ".ruff_cache", ".direnv",
})
DEFAULT_MAX_FILE_BYTES = 1_000_000
LANGUAGE_EXTENSIONS = frozenset(ext for spec in LANGUAGES for ext in spec.extensions)


class FoundFile(NamedTuple):
    path: str
    size: int
    mtime_ns: int


class IgnoreRules:
    """The ignore rules of one workspace root. Reads .gitignore files lazily and caches them per directory;
    build a new instance when a .gitignore or the settings change."""

    def __init__(self, root: str | Path, exclude: Sequence[str] = (), max_file_bytes: int = DEFAULT_MAX_FILE_BYTES):
        self.root = Path(root).resolve()
        self.max_file_bytes = max_file_bytes
        self.top = _repo_top(self.root)
        self.exclude = GitIgnoreSpec.from_lines(list(exclude)) if exclude else None
        self.info_exclude = _read_spec(self.top / ".git" / "info" / "exclude")
        self._specs: dict[str, GitIgnoreSpec | None] = {}
        self._root_prefix = "" if self.top == self.root else self.root.relative_to(self.top).as_posix() + "/"
        if self._root_prefix and self._root_ignored():
            log.info("%s is ignored by the repository around it; applying only the rules inside it", self.root)
            self.top, self.info_exclude, self._root_prefix, self._specs = self.root, None, "", {}
        self.root_rel_top = self._root_prefix.rstrip("/")

    def spec_for_dir(self, rel_dir: str) -> GitIgnoreSpec | None:
        """The .gitignore spec of a directory given relative to the repository top ('' for the top)."""
        if rel_dir not in self._specs:
            self._specs[rel_dir] = _read_spec(self.top / rel_dir / ".gitignore")
        return self._specs[rel_dir]

    def chain(self, rel_dir: str) -> list[tuple[str, GitIgnoreSpec]]:
        """(prefix, spec) for every directory from the top down to rel_dir that has a .gitignore."""
        parts = rel_dir.split("/") if rel_dir else []
        out = []
        for i in range(len(parts) + 1):
            prefix = "/".join(parts[:i])
            spec = self.spec_for_dir(prefix)
            if spec is not None:
                out.append((prefix + "/" if prefix else "", spec))
        return out

    def is_ignored(self, rel_top: str, is_dir: bool, chain: list[tuple[str, GitIgnoreSpec]]) -> bool:
        """One path (relative to the repository top) against the exclude globs and the gitignore chain."""
        if is_dir and rel_top.rpartition("/")[2] in DEFAULT_EXCLUDED_DIRS:
            return True
        if self.exclude is not None:
            rel_root = rel_top[len(self._root_prefix):]
            if self.exclude.match_file(rel_root + "/" if is_dir else rel_root):
                return True
        probe = rel_top + "/" if is_dir else rel_top
        for prefix, spec in reversed(chain):
            result = spec.check_file(probe[len(prefix):])
            if result.include is not None:
                return bool(result.include)
        return self.info_exclude is not None and bool(self.info_exclude.match_file(probe))

    def accepts(self, path: str | Path) -> bool:
        """Would the walk index this file? For single paths (file events); checks every ancestor directory."""
        p = Path(os.path.abspath(path))
        try:
            rel = p.relative_to(self.top).as_posix()
            p.relative_to(self.root)
        except ValueError:
            return False
        if spec_for_path(rel) is None or is_secret_path(rel):
            return False
        parts = rel.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if self._under_root(parent) and self.is_ignored(parent, True, self.chain("/".join(parts[:i - 1]))):
                return False
        return not self.is_ignored(rel, False, self.chain("/".join(parts[:-1])))

    def _root_ignored(self) -> bool:
        rel = self._root_prefix.rstrip("/")
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            probe = "/".join(parts[:i]) + "/"
            for prefix, spec in reversed(self.chain("/".join(parts[:i - 1]))):
                result = spec.check_file(probe[len(prefix):])
                if result.include is not None:
                    if result.include:
                        return True
                    break
            else:
                if self.info_exclude is not None and self.info_exclude.match_file(probe):
                    return True
        return False

    def _under_root(self, rel_top: str) -> bool:
        return rel_top.startswith(self._root_prefix)


def walk(rules: IgnoreRules) -> Iterator[FoundFile]:
    """Every indexable file under the root: known language, not secret, not ignored, not over the size cap."""
    seen: set[tuple[int, int]] = set()
    rel_root = rules.root_rel_top
    parent = rel_root.rpartition("/")[0]
    stack = [(str(rules.root), rel_root, rules.chain(parent) if rel_root else [])]
    extensions = LANGUAGE_EXTENSIONS
    max_bytes = rules.max_file_bytes
    while stack:
        abs_dir, rel_dir, chain = stack.pop()
        entries = _list_once(abs_dir, seen)
        if entries is None:
            continue
        if any(e.name == ".gitignore" for e in entries):
            spec = rules.spec_for_dir(rel_dir)
            if spec is not None:
                chain = [*chain, (rel_dir + "/" if rel_dir else "", spec)]
        prefix = rel_dir + "/" if rel_dir else ""
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir():
                    rel = prefix + name
                    if not rules.is_ignored(rel, True, chain):
                        stack.append((entry.path, rel, chain))
                    continue
                if "." + name.rpartition(".")[2].lower() not in extensions:
                    continue
                rel = prefix + name
                if is_secret_path(rel) or rules.is_ignored(rel, False, chain):
                    continue
                st = entry.stat()
            except OSError:
                continue  # broken symlink, vanished file, permission
            if st.st_size <= max_bytes:
                yield FoundFile(entry.path, st.st_size, st.st_mtime_ns)


def _list_once(abs_dir: str, seen: set[tuple[int, int]]) -> list[os.DirEntry[str]] | None:
    """The entries of a directory, or None if it cannot be read or was already listed (a symlink loop or a
    second way into the same directory)."""
    try:
        st = os.stat(abs_dir)
        if (st.st_dev, st.st_ino) in seen:
            return None
        seen.add((st.st_dev, st.st_ino))
        return list(os.scandir(abs_dir))
    except OSError as exc:
        log.debug("cannot list %s: %s", abs_dir, exc)
        return None


def walk_all(rules: IgnoreRules) -> list[FoundFile]:
    return list(walk(rules))


def _repo_top(root: Path) -> Path:
    for candidate in (root, *root.parents):
        if (candidate / ".git").exists():
            return candidate
    return root


def _read_spec(path: Path) -> GitIgnoreSpec | None:
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return None
    lines = text.splitlines()
    return GitIgnoreSpec.from_lines(lines) if any(line.strip() for line in lines) else None
