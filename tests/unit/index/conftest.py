"""Shared fixtures and helpers for the workspace-index tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kimi_lsp.index.workspace import IndexSettings, ProgressCallback, WorkspaceIndex

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixture_tree(tmp_path: Path) -> Path:
    """A private copy of the multi-language fixture workspace."""
    dest = tmp_path / "ws"
    shutil.copytree(FIXTURES, dest)
    return dest.resolve()


def count_rewalks(index: WorkspaceIndex) -> list[object]:
    """Records each full re-walk of `index` from now on (`reindex`, or one a disk event asks for), in the
    returned list; they still run."""
    rewalks: list[object] = []
    builder = index._builder
    rewalk = builder.rewalk

    async def counted(progress: ProgressCallback | None = None) -> None:
        rewalks.append(progress)
        await rewalk(progress)

    builder.rewalk = counted  # type: ignore[method-assign]
    return rewalks


def settings(tmp_path: Path, **kw: object) -> IndexSettings:
    return IndexSettings(cache_path=str(tmp_path / "cache.sqlite"), workers=0, debounce_ms=10, **kw)  # type: ignore[arg-type]


async def started(root: Path, tmp_path: Path, **kw: object) -> WorkspaceIndex:
    index = WorkspaceIndex([root], settings(tmp_path, **kw))
    await index.start()
    return index


def snapshot(index: WorkspaceIndex) -> tuple[object, ...]:
    files = sorted((r.path, r.language, r.size, r.digest) for r in index.files.values())
    symbols = sorted((s.name, s.kind, s.path, s.line, s.col) for s in index.workspace_symbols("", 100_000))
    outlines = {p: index.document_symbols(p) for p in index.files}
    return files, symbols, outlines
