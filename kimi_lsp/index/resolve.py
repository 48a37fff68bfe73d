"""Import resolution: an ImportRef of one file -> the workspace files it names.

Python modules and packages (absolute, relative, `src/` layouts), relative JS/TS specifiers (extensions, index
files, `.js` written for a `.ts` file), Go packages under a go.mod module path, Rust `mod`/`use` paths (crate,
self, super), Java classes and packages, C/C++ quoted includes. Works on a snapshot of the file set; the only
I/O is reading go.mod files. External imports resolve to nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from functools import cached_property

from kimi_lsp.index.model import ImportRef, ResolvedImport

_INIT_FILES = ("__init__.py", "__init__.pyi")
_JS_EXTS = (".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_GO_MODULE = re.compile(r"^\s*module\s+(\S+)", re.MULTILINE)


class Resolver:
    """Resolution over one snapshot of the workspace: roots, file paths and each file's package declaration."""

    def __init__(self, roots: Iterable[str], paths: Iterable[str], packages: Mapping[str, str]) -> None:
        self.roots = tuple(roots)
        self.paths = frozenset(paths)
        self.packages = packages
        self._resolved: dict[tuple[str, str, str, tuple[str, ...], int], tuple[str, ...]] = {}

    @cached_property
    def python_bases(self) -> tuple[str, ...]:
        """Directories absolute Python imports resolve from: each root, its src/ and lib/, and the parent of
        every top-level package (a directory with __init__.py whose parent has none). Cheap: it looks only at
        __init__ files, so it can be rebuilt whenever files come and go."""
        bases = dict.fromkeys(b for r in self.roots for b in (r, os.path.join(r, "src"), os.path.join(r, "lib")))
        for path in self.paths:
            if os.path.basename(path) in _INIT_FILES:
                d = os.path.dirname(path)
                while _exists_any(self.paths, os.path.dirname(d), _INIT_FILES):
                    d = os.path.dirname(d)
                bases.setdefault(os.path.dirname(d))
        return tuple(bases)

    def python_module(self, dotted: str, near: str | None = None) -> str | None:
        """The file of a dotted module name; `near` (the importing file) adds its own directory, last."""
        parts = dotted.split(".")
        if not dotted or not all(p.isidentifier() for p in parts):
            return None
        extra = (os.path.dirname(near),) if near is not None else ()
        for base in (*self.python_bases, *extra):
            found = self._py_module_at(os.path.join(base, *parts))
            if found is not None:
                return found
        return None

    @cached_property
    def _dirs(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for path in sorted(self.paths):
            out.setdefault(os.path.dirname(path), []).append(path)
        return out

    @cached_property
    def _java_classes(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for path in self.paths:
            if path.endswith(".java"):
                stem = os.path.splitext(os.path.basename(path))[0]
                package = self.packages.get(path, "")
                out[f"{package}.{stem}" if package else stem] = path
        return out

    @cached_property
    def _go_modules(self) -> list[tuple[str, str]]:
        found: dict[str, str] = {}
        for d in {os.path.dirname(p) for p in self.paths if p.endswith(".go")}:
            while d and d not in found:
                gomod = os.path.join(d, "go.mod")
                found[d] = _go_module_path(gomod)
                if found[d] or not any(d.startswith(r) and d != r for r in self.roots):
                    break
                d = os.path.dirname(d)
        return sorted(((mod, d) for d, mod in found.items() if mod), key=lambda t: -len(t[0]))

    @cached_property
    def _by_basename(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for path in sorted(self.paths):
            out.setdefault(os.path.basename(path), []).append(path)
        return out

    def resolve(self, path: str, language: str, ref: ImportRef) -> tuple[str, ...]:
        """The workspace files an import of `path` names (deduplicated, in a stable order). Remembered for the
        resolver's life (its file set does not change), so a document's imports cost nothing after the first
        build however often it is edited."""
        key = (path, language, ref.spec, ref.names, ref.level)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve(path, language, ref)
        return found

    def _resolve(self, path: str, language: str, ref: ImportRef) -> tuple[str, ...]:
        if language == "python":
            found = self._python(path, ref)
        elif language in ("javascript", "typescript", "typescriptreact"):
            found = self._js(path, ref.spec)
        elif language == "go":
            found = self._go(ref.spec)
        elif language == "rust":
            found = self._rust(path, ref)
        elif language == "java":
            found = self._java(ref.spec)
        else:
            found = self._include(path, ref.spec)
        return tuple(dict.fromkeys(f for f in found if f != path))

    def _python(self, path: str, ref: ImportRef) -> list[str]:
        if ref.level == 0:
            out = [f for n in ref.names if n != "*" and (f := self.python_module(f"{ref.spec}.{n}", path))]
            if len(out) < max(len(ref.names), 1) and (own := self.python_module(ref.spec, path)):
                out.insert(0, own)
            return out
        base = os.path.dirname(path)
        for _ in range(ref.level - 1):
            base = os.path.dirname(base)
        if ref.spec:
            base = os.path.join(base, *ref.spec.split("."))
        subs = [self._py_module_at(os.path.join(base, n)) for n in ref.names if n != "*"]
        out = [s for s in subs if s]
        if len(out) < max(len(ref.names), 1):
            own = self._py_module_at(base)
            if own:
                out.insert(0, own)
        return out

    def _py_module_at(self, base: str) -> str | None:
        for candidate in (
            base + ".py",
            base + ".pyi",
            os.path.join(base, "__init__.py"),
            os.path.join(base, "__init__.pyi"),
        ):
            if candidate in self.paths:
                return candidate
        return None

    def _js(self, path: str, spec: str) -> list[str]:
        if not spec.startswith("."):
            return []
        base = os.path.normpath(os.path.join(os.path.dirname(path), spec))
        stems = [base]
        stem, ext = os.path.splitext(base)
        if ext in (".js", ".jsx", ".mjs", ".cjs"):
            stems.append(stem)
        for s in stems:
            for candidate in (s, *(s + e for e in _JS_EXTS), *(os.path.join(s, "index" + e) for e in _JS_EXTS)):
                if candidate in self.paths:
                    return [candidate]
        return []

    def module_files(self, module: str, imports: Iterable[ResolvedImport] = ()) -> list[str]:
        """The files of a module named in code: a dotted Python module, a name one of `imports` brought in, a
        Java/Go package declaration, or a Go import path."""
        if (found := self.python_module(module)) is not None:
            return [found]
        for imp in imports:
            last = imp.ref.spec.replace("::", ".").replace("/", ".").rsplit(".", 1)[-1]
            if imp.targets and (last == module or module in imp.ref.names or imp.ref.spec == module):
                return list(imp.targets)
        packaged = sorted(p for p, pkg in self.packages.items() if pkg == module)
        return packaged or self.go_package_files(module)

    def go_package_files(self, import_path: str) -> list[str]:
        """The non-test files of a Go package of this workspace, by import path."""
        return self._go(import_path)

    def _go(self, spec: str) -> list[str]:
        for module, d in self._go_modules:
            if spec == module or spec.startswith(module + "/"):
                pkg_dir = os.path.join(d, *spec[len(module) :].strip("/").split("/")) if spec != module else d
                return [p for p in self._dirs.get(pkg_dir, []) if p.endswith(".go") and not p.endswith("_test.go")]
        return []

    def _rust(self, path: str, ref: ImportRef) -> list[str]:
        segments = ref.spec.split("::")
        head = segments[0]
        if head == "crate":
            base = self._crate_root(path)
        elif head == "self":
            base = _rust_module_dir(path)
        elif head == "super":
            base = os.path.dirname(_rust_module_dir(path))
            while len(segments) > 1 and segments[1] == "super":
                base, segments = os.path.dirname(base), segments[1:]
        else:
            base, segments = self._crate_root(path), ["crate", *segments]
        if base is None:
            return []
        names = [n for n in ref.names if n not in ("*", "self")]
        tails = [[*segments[1:], n] for n in names] or [segments[1:]]
        out = [f for tail in tails if (f := self._rust_file(base, tail))]
        if not out and names:
            out = [f] if (f := self._rust_file(base, segments[1:])) else []
        if out or head not in ("crate", "self", "super") or len(segments) > 2:
            return out
        return [f] if (f := self._rust_module_file(base)) else []  # an item of that module itself

    def _rust_module_file(self, base: str) -> str | None:
        """The file of the module whose directory is `base` (its items are named directly, e.g. super::Token)."""
        for candidate in (
            os.path.join(base, "lib.rs"),
            os.path.join(base, "main.rs"),
            os.path.join(base, "mod.rs"),
            base + ".rs",
        ):
            if candidate in self.paths:
                return candidate
        return None

    def _rust_file(self, base: str, segments: list[str]) -> str | None:
        for n in range(len(segments), 0, -1):
            stem = os.path.join(base, *segments[:n])
            for candidate in (stem + ".rs", os.path.join(stem, "mod.rs")):
                if candidate in self.paths:
                    return candidate
        return None

    def _crate_root(self, path: str) -> str | None:
        d = os.path.dirname(path)
        while True:
            if _exists_any(self.paths, d, ("lib.rs", "main.rs")):
                return d
            parent = os.path.dirname(d)
            if parent == d or not any(parent.startswith(r) for r in self.roots):
                return None
            d = parent

    def _java(self, spec: str) -> list[str]:
        if spec.endswith(".*"):
            package = spec[:-2]
            return sorted(p for p, pkg in self.packages.items() if pkg == package and p.endswith(".java"))
        parts = spec.split(".")
        for n in range(len(parts), 0, -1):
            hit = self._java_classes.get(".".join(parts[:n]))
            if hit:
                return [hit]
        return []

    def _include(self, path: str, spec: str) -> list[str]:
        system = spec.startswith("<")
        name = spec.strip("<>")
        bases = ([] if system else [os.path.dirname(path)]) + [
            b for r in self.roots for b in (r, os.path.join(r, "include"))
        ]
        for base in bases:
            candidate = os.path.normpath(os.path.join(base, name))
            if candidate in self.paths:
                return [candidate]
        suffix = os.sep + name.replace("/", os.sep)
        matches = [p for p in self._by_basename.get(os.path.basename(name), []) if p.endswith(suffix)]
        return matches[:1] if not system or len(matches) == 1 else []


def _rust_module_dir(path: str) -> str:
    name = os.path.basename(path)
    if name in ("mod.rs", "lib.rs", "main.rs"):
        return os.path.dirname(path)
    return os.path.splitext(path)[0]


def _exists_any(paths: frozenset[str], d: str, names: tuple[str, ...]) -> bool:
    return any(os.path.join(d, n) in paths for n in names)


def _go_module_path(gomod: str) -> str:
    try:
        with open(gomod, encoding="utf-8", errors="replace") as f:
            m = _GO_MODULE.search(f.read(65536))
    except OSError:
        return ""
    return m.group(1) if m else ""
