"""Which files of a workspace root we index: discovery walk and the ignore rules.

Git semantics: a .gitignore in any directory (deeper files win, negations included), .git/info/exclude at the
repository top (lowest precedence), .gitignore files above the root up to the repository top; an excluded
directory is not entered, so nothing below it can be re-included. On top of that: built-in and settings
exclude globs (gitignore syntax, relative to the root), secret files, files over the size cap, symlink loops.
`.kimiignore` files keep content that git tracks away from the model: same syntax and places as .gitignore,
read after the .gitignore of the same directory (so its patterns win there).
Files are only stat-ed here, never opened (binary detection happens when the indexer reads a file).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from pathspec import GitIgnoreSpec

from kimi_lsp.index.languages import LANGUAGES, spec_for_path
from kimi_lsp.index.secrets import is_secret_path

log = logging.getLogger(__name__)

DEFAULT_EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        "__pycache__",
        ".venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".direnv",
    }
)
DEFAULT_MAX_FILE_BYTES = 1_000_000
IGNORE_FILES = (".gitignore", ".kimiignore")  # per directory, in this order
LANGUAGE_EXTENSIONS = frozenset(ext for spec in LANGUAGES for ext in spec.extensions)


class FoundFile(NamedTuple):
    path: str
    size: int
    mtime_ns: int


class Patterns(NamedTuple):
    """The patterns of one ignore file (or of the exclude setting), and one regex that matches a path exactly
    when at least one of them finds it. Most paths match no pattern; for them that one match replaces a search
    per pattern."""

    spec: GitIgnoreSpec
    any_pattern: re.Pattern[str] | None  # None: the patterns did not combine; every path takes the full check

    def check(self, rel: str) -> bool | None:
        """For a normalised relative path (no leading '/' or './'; a trailing '/' marks a directory): True if
        the last pattern that matches ignores it, False if it re-includes it (`!`), None if none matches."""
        if self.any_pattern is not None and self.any_pattern.match(rel) is None:
            return None
        return self.spec.check_file(rel).include


class IgnoreRules:
    """The ignore rules of one workspace root. Reads .gitignore files lazily and caches them per directory;
    build a new instance when a .gitignore or the settings change."""

    def __init__(self, root: str | Path, exclude: Sequence[str] = (), max_file_bytes: int = DEFAULT_MAX_FILE_BYTES):
        self.root = Path(root).resolve()
        self.max_file_bytes = max_file_bytes
        self.top = _repo_top(self.root)
        self.exclude = _patterns(list(exclude), "the exclude setting")
        self.info_exclude = _read_spec(self.top / ".git" / "info" / "exclude")
        self._specs: dict[str, Patterns | None] = {}
        self._root_prefix = "" if self.top == self.root else self.root.relative_to(self.top).as_posix() + "/"
        if self._root_prefix and self._root_ignored():
            log.info("%s is ignored by the repository around it; applying only the rules inside it", self.root)
            self.top, self.info_exclude, self._root_prefix, self._specs = self.root, None, "", {}
        self.root_rel_top = self._root_prefix.rstrip("/")

    def spec_for_dir(self, rel_dir: str) -> Patterns | None:
        """The .gitignore spec of a directory given relative to the repository top ('' for the top)."""
        if rel_dir not in self._specs:
            self._specs[rel_dir] = _read_specs([self.top / rel_dir / name for name in IGNORE_FILES])
        return self._specs[rel_dir]

    def chain(self, rel_dir: str) -> list[tuple[str, Patterns]]:
        """(prefix, spec) for every directory from the top down to rel_dir that has a .gitignore."""
        parts = rel_dir.split("/") if rel_dir else []
        out = []
        for i in range(len(parts) + 1):
            prefix = "/".join(parts[:i])
            spec = self.spec_for_dir(prefix)
            if spec is not None:
                out.append((prefix + "/" if prefix else "", spec))
        return out

    def is_ignored(self, rel_top: str, is_dir: bool, chain: list[tuple[str, Patterns]]) -> bool:
        """One path (relative to the repository top) against the exclude globs and the gitignore chain."""
        if is_dir and rel_top.rpartition("/")[2] in DEFAULT_EXCLUDED_DIRS:
            return True
        if self.exclude is not None:
            rel_root = rel_top[len(self._root_prefix) :]
            if self.exclude.check(rel_root + "/" if is_dir else rel_root):
                return True
        probe = rel_top + "/" if is_dir else rel_top
        for prefix, patterns in reversed(chain):
            include = patterns.check(probe[len(prefix) :])
            if include is not None:
                return include
        return self.info_exclude is not None and bool(self.info_exclude.check(probe))

    def accepts(self, path: str | Path) -> bool:
        """Would the walk index this file? For single paths (file events); checks every ancestor directory."""
        rel = self._rel_top(path)
        if rel is None or spec_for_path(rel) is None or is_secret_path(rel) or is_secret_path(os.path.realpath(path)):
            return False
        return self._walked_to(rel) and not self.is_ignored(rel, False, self.chain(rel.rpartition("/")[0]))

    def excludes(self, path: str | Path) -> bool:
        """Do these rules keep `path` (a file under the root) from the index and from the model: an ignore file,
        the exclude setting, a built-in excluded directory, here or above it? False for paths outside the root."""
        rel = self._rel_top(path)
        if rel is None:
            return False
        return not self._walked_to(rel) or self.is_ignored(rel, False, self.chain(rel.rpartition("/")[0]))

    def walks_into(self, path: str | Path) -> bool:
        """Would the walk enter this directory? For a directory made on disk (file events)."""
        rel = self._rel_top(path)
        return (
            rel is not None
            and self._walked_to(rel)
            and not self.is_ignored(rel, True, self.chain(rel.rpartition("/")[0]))
        )

    def _rel_top(self, path: str | Path) -> str | None:
        """`path` relative to the repository top, if it lies under the root."""
        p = Path(os.path.abspath(path))
        try:
            p.relative_to(self.root)
            return p.relative_to(self.top).as_posix()
        except ValueError:
            return None

    def _walked_to(self, rel: str) -> bool:
        """Does the walk enter every directory above `rel` that lies under the root?"""
        parts = rel.split("/")
        for i in range(1, len(parts)):
            parent = "/".join(parts[:i])
            if self._under_root(parent) and self.is_ignored(parent, True, self.chain("/".join(parts[: i - 1]))):
                return False
        return True

    def _root_ignored(self) -> bool:
        rel = self._root_prefix.rstrip("/")
        parts = rel.split("/")
        for i in range(1, len(parts) + 1):
            probe = "/".join(parts[:i]) + "/"
            for prefix, patterns in reversed(self.chain("/".join(parts[: i - 1]))):
                include = patterns.check(probe[len(prefix) :])
                if include is not None:
                    if include:
                        return True
                    break
            else:
                if self.info_exclude is not None and self.info_exclude.check(probe):
                    return True
        return False

    def _under_root(self, rel_top: str) -> bool:
        return rel_top.startswith(self._root_prefix)


def walk(rules: IgnoreRules, start: str | None = None) -> Iterator[FoundFile]:
    """Every indexable file under the root: known language, not secret, not ignored, not over the size cap.
    With `start`, a directory under the root that the walk enters (IgnoreRules.walks_into), only those under it."""
    seen: set[tuple[int, int]] = set()
    rel_start = rules.root_rel_top if start is None else rules._rel_top(start)
    if rel_start is None:
        return
    parent = rel_start.rpartition("/")[0]
    stack = [(start or str(rules.root), rel_start, rules.chain(parent) if rel_start else [])]
    extensions = LANGUAGE_EXTENSIONS
    max_bytes = rules.max_file_bytes
    while stack:
        abs_dir, rel_dir, chain = stack.pop()
        entries = _list_once(abs_dir, seen)
        if entries is None:
            continue
        if any(e.name in IGNORE_FILES for e in entries):
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
                if is_secret_path(rel) or rules.is_ignored(rel, False, chain) or _links_to_secret(entry):
                    continue
                st = entry.stat()
            except OSError:
                continue  # broken symlink, vanished file, permission
            if st.st_size <= max_bytes:
                yield FoundFile(entry.path, st.st_size, st.st_mtime_ns)


def _links_to_secret(entry: os.DirEntry[str]) -> bool:
    """A symlink whose target is a secret file, whatever the link's own name (`notes.py -> ~/.aws/credentials`).
    is_symlink() comes with the directory listing: no extra system call for other files."""
    return entry.is_symlink() and is_secret_path(os.path.realpath(entry.path))


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


def _repo_top(root: Path) -> Path:
    for candidate in (root, *root.parents):
        if (candidate / ".git").exists():
            return candidate
    return root


def _read_spec(path: Path) -> Patterns | None:
    return _read_specs([path])


def _read_specs(paths: list[Path]) -> Patterns | None:
    """The patterns of the ignore files that exist among `paths`, later files' patterns after earlier ones'."""
    lines: list[str] = []
    read: list[str] = []
    for path in paths:
        try:
            lines += path.read_text("utf-8", errors="replace").splitlines()
        except OSError:
            continue
        read.append(str(path))
    return _patterns(lines, " + ".join(read)) if read else None


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_FLOATING = "^(?:.+/)?"  # how pathspec starts the regex of a pattern without a '/' before its end


def _patterns(lines: list[str], source: str) -> Patterns | None:
    """The patterns of gitignore-syntax lines, or None if no line is a pattern. A line that is not a valid
    pattern (a lone '!', a range like '[z-a]') is skipped with one warning naming `source`, as git skips it:
    it must not cost the rest of the file, let alone the index."""
    try:
        spec = GitIgnoreSpec.from_lines(lines)
    except (ValueError, re.error):  # pathspec's pattern errors are ValueErrors
        valid: list[str] = []
        invalid: list[str] = []
        for line in lines:
            (valid if _is_pattern_line(line) else invalid).append(line)
        log.warning(
            "ignoring %d invalid pattern line(s) in %s: %s", len(invalid), source, ", ".join(map(repr, invalid))[:300]
        )
        spec = GitIgnoreSpec.from_lines(valid)
    regexes = [p.regex for p in spec.patterns if p.include is not None]
    if not regexes:
        return None
    any_pattern = None
    if all(isinstance(r, re.Pattern) and isinstance(r.pattern, str) and r.flags == re.UNICODE for r in regexes):
        try:
            any_pattern = _combined([r.pattern for r in regexes if r is not None])
        except re.error:
            pass
    return Patterns(spec, any_pattern)


def _is_pattern_line(line: str) -> bool:
    try:
        GitIgnoreSpec.from_lines([line])
    except (ValueError, re.error):
        return False
    return True


def _combined(sources: list[str]) -> re.Pattern[str]:
    """One regex that matches at the start of a path exactly when one of the regexes `sources` finds the path
    (`search`). The patterns without a '/' before their end share pathspec's '^(?:.+/)?' prefix: factored out,
    the regex engine tries each directory boundary once for all of them, not once per pattern. With GitHub's
    Python and Node templates as the .gitignore (133 lines), the walk of 50,000 files took 33 us per file with
    a search per pattern, 8 us with this."""
    sources = [_NAMED_GROUP.sub("(?:", s) for s in sources]  # a group name may not repeat in one regex
    floating, branches = [], []
    for source in sources:
        whole = not _has_top_level_bar(source)
        if whole and source.startswith(_FLOATING):
            floating.append(source[len(_FLOATING) :])
        elif whole and source.startswith("^"):
            branches.append(source[1:])
        else:  # found anywhere, as `search` finds it
            branches.append(f"[\\s\\S]*?(?:{source})")
    if floating:
        branches.append("(?:.+/)?(?:" + "|".join(floating) + ")")
    return re.compile("^(?:" + "|".join(f"(?:{b})" for b in branches) + ")")


def _has_top_level_bar(source: str) -> bool:
    """Whether a regex source has a '|' outside every group and character class (it would not survive having
    its first characters factored out)."""
    depth, i, in_class = 0, 0, False
    while i < len(source):
        c = source[i]
        if c == "\\":
            i += 1
        elif in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if source[i + 1 : i + 2] == "^":
                i += 1
            if source[i + 1 : i + 2] == "]":  # a ']' first in a class is a literal
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return True
        i += 1
    return False
