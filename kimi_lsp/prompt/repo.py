"""Cross-file context: what the current file imports, as short outlines the model sees before the file.

Pure: (current path, its resolved imports, outlines of the imported files) -> snippets. Each snippet is a
repo-map entry - the signature lines of an imported file's definitions, in source order - for the files the
current file imports, sorted by path so that the prompt's head stays the same from keystroke to keystroke
(and stays in the engine's prefix cache). Secret files are never included.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from ..index.model import Outline, ResolvedImport
from ..index.secrets import is_secret_path
from .templates import Snippet

MAX_FILES = 8
MAX_LINES_PER_FILE = 40


def outline_text(outline: Outline, max_lines: int = MAX_LINES_PER_FILE) -> str:
    """Signature lines of the definitions, indented as nested."""
    lines: list[str] = []
    depth: list[int] = []
    for definition in outline.definitions:
        level = depth[definition.parent] + 1 if 0 <= definition.parent < len(depth) else 0
        depth.append(level)
        signature = definition.signature.strip() or definition.name
        lines.append("    " * level + signature)
        if len(lines) >= max_lines:
            break
    return "\n".join(lines)


def import_snippets(
    path: str,
    imports: Sequence[ResolvedImport],
    outline_of: Callable[[str], Outline | None],
    root: str | None = None,
) -> tuple[Snippet, ...]:
    """Snippets for the workspace files `path` imports (external imports have no targets and are skipped)."""
    targets = sorted({t for resolved in imports for t in resolved.targets if t != path and not is_secret_path(t)})
    snippets: list[Snippet] = []
    for target in targets[:MAX_FILES]:
        outline = outline_of(target)
        if outline is None or not outline.definitions:
            continue
        shown = os.path.relpath(target, root) if root else target
        snippets.append(Snippet(shown, outline_text(outline)))
    return tuple(snippets)
