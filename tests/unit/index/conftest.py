"""Shared fixtures for the workspace-index tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixture_tree(tmp_path: Path) -> Path:
    """A private copy of the multi-language fixture workspace."""
    dest = tmp_path / "ws"
    shutil.copytree(FIXTURES, dest)
    return dest.resolve()
