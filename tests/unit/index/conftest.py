"""Shared fixtures for the workspace-index tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kimi_lsp.index.workspace import WorkspaceIndex

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixture_tree(tmp_path: Path) -> Path:
    """A private copy of the multi-language fixture workspace."""
    dest = tmp_path / "ws"
    shutil.copytree(FIXTURES, dest)
    return dest.resolve()


def count_rewalks(index: WorkspaceIndex) -> list[object]:
    """Records each full re-walk (`reindex`) of `index` from now on, in the returned list; they still run."""
    rewalks: list[object] = []
    reindex = index.reindex

    async def counted(*args: object) -> None:
        rewalks.append(args)
        await reindex()

    index.reindex = counted  # type: ignore[method-assign]
    return rewalks
