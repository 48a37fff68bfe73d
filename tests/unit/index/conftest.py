"""Shared fixtures for the workspace-index tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kimi_lsp.index.workspace import ProgressCallback, WorkspaceIndex

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
