"""watchdog picks up writes, deletes and renames made outside the editor (debounced, applied on the loop)."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable
from pathlib import Path

import pytest

from kimi_lsp.index.model import FileEvent
from kimi_lsp.index.watcher import Debouncer
from kimi_lsp.index.workspace import IndexSettings, WorkspaceIndex

from .conftest import count_rewalks


async def eventually(condition: Callable[[], bool], limit_s: float = 20.0) -> bool:
    """Poll until `condition` holds; the limit only keeps a broken watcher from hanging the suite."""
    for _ in range(int(limit_s / 0.02)):
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


async def test_external_write_delete_and_rename(tmp_path: Path) -> None:
    root = (tmp_path / "ws").resolve()
    root.mkdir()
    (root / "a.py").write_text("def alpha(): pass\n")
    index = WorkspaceIndex([root], IndexSettings(cache_path=":memory:", workers=0, debounce_ms=20))
    await index.start(watch=True)
    try:
        assert len(index.definitions_named("alpha")) == 1
        (root / "b.py").write_text("def beta(): pass\n")
        assert await eventually(lambda: len(index.definitions_named("beta")) == 1)
        (root / "a.py").write_text("def alpha2(): pass\n")
        assert await eventually(lambda: len(index.definitions_named("alpha2")) == 1)
        assert index.definitions_named("alpha") == []
        (root / "b.py").rename(root / "c.py")
        assert await eventually(lambda: [s.path for s in index.definitions_named("beta")] == [str(root / "c.py")])
        (root / "c.py").unlink()
        assert await eventually(lambda: index.definitions_named("beta") == [])
        (root / "pkg").mkdir()
        (root / "pkg" / "d.py").write_text("def delta(): pass\n")
        assert await eventually(lambda: len(index.definitions_named("delta")) == 1)
        (root / ".gitignore").write_text("pkg/\n")
        assert await eventually(lambda: index.definitions_named("delta") == [])
    finally:
        await index.close()


async def test_directories_made_moved_and_removed_are_followed_without_a_full_rewalk(tmp_path: Path) -> None:
    import shutil

    root = (tmp_path / "ws").resolve()
    root.mkdir()
    (root / "a.py").write_text("def alpha(): pass\n")
    index = WorkspaceIndex([root], IndexSettings(cache_path=":memory:", workers=0, debounce_ms=20))
    await index.start(watch=True)
    rewalks = count_rewalks(index)
    try:
        made = tmp_path / "made"  # made outside the workspace, then moved in whole: one event for the folder
        (made / "sub").mkdir(parents=True)
        (made / "sub" / "g.py").write_text("def gamma(): pass\n")
        made.rename(root / "gen")
        assert await eventually(
            lambda: [s.path for s in index.definitions_named("gamma")] == [str(root / "gen" / "sub" / "g.py")]
        )
        (root / "gen").rename(root / "gen2")
        assert await eventually(
            lambda: [s.path for s in index.definitions_named("gamma")] == [str(root / "gen2" / "sub" / "g.py")]
        )
        shutil.rmtree(root / "gen2")
        assert await eventually(lambda: index.definitions_named("gamma") == [])
        assert not [p for p in index.files if "gen" in p]
        await index.flush_events()
        assert rewalks == [] and len(index.definitions_named("alpha")) == 1
    finally:
        await index.close()


async def test_debouncer_batches_bursts() -> None:
    batches: list[list[FileEvent]] = []

    async def flush(batch: list[FileEvent]) -> None:
        batches.append(batch)

    debouncer = Debouncer(0.01, flush)
    for i in range(50):
        debouncer.add(FileEvent("changed", f"/x/{i % 5}.py"))
    await debouncer.drain()
    assert len(batches) == 1 and len(batches[0]) == 5
    await debouncer.drain()
    assert len(batches) == 1


async def test_git_internals_do_not_trigger_rescans(tmp_path: Path) -> None:
    root = (tmp_path / "ws").resolve()
    (root / ".git" / "objects").mkdir(parents=True)
    (root / "a.py").write_text("def alpha(): pass\n")
    index = WorkspaceIndex([root], IndexSettings(cache_path=":memory:", workers=0, debounce_ms=20))
    await index.start(watch=True)
    rescans = count_rewalks(index)
    try:
        (root / ".git" / "objects" / "ab").mkdir()
        (root / ".git" / "objects" / "ab" / "cdef").write_bytes(b"blob")
        (root / "b.py").write_text("def beta(): pass\n")
        assert await eventually(lambda: len(index.definitions_named("beta")) == 1)
        await index.flush_events()
        assert rescans == []
    finally:
        await index.close()


async def test_a_missing_root_is_indexed_as_empty_and_the_rest_still_watched(tmp_path: Path) -> None:
    root = (tmp_path / "ws").resolve()
    root.mkdir()
    index = WorkspaceIndex([tmp_path / "gone", root], IndexSettings(cache_path=":memory:", workers=0, debounce_ms=20))
    await index.start(watch=True)
    try:
        (root / "late.py").write_text("def late(): pass\n")
        assert await eventually(lambda: len(index.definitions_named("late")) == 1)
    finally:
        await index.close()


async def test_a_refused_watch_leaves_the_index_running_unwatched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from watchdog.observers.api import BaseObserver

    def at_the_limit(self: BaseObserver) -> None:
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(BaseObserver, "start", at_the_limit)
    (tmp_path / "a.py").write_text("def alpha(): pass\n")
    index = WorkspaceIndex([tmp_path], IndexSettings(cache_path=":memory:", workers=0))
    await index.start(watch=True)
    assert index.ready and len(index.definitions_named("alpha")) == 1
    assert "cannot watch the workspace for changes made outside the editor" in caplog.text
    await index.close()
