"""WorkspaceIndex after its start: disk events (files and whole directories created, changed, deleted;
batches cut by bytes, big ones sent to the pool; .git and node_modules dropped early), open documents that
follow the editor, and re-syncs (reindex, new excludes) that run one at a time."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from kimi_lsp.index.model import FileEvent
from kimi_lsp.index.workspace import WorkspaceIndex

from .conftest import count_rewalks, settings, started


async def test_file_events_add_change_delete(fixture_tree: Path, tmp_path: Path) -> None:
    index = await started(fixture_tree, tmp_path)
    new = fixture_tree / "pyproj/pkg/fresh.py"
    new.write_text("def brand_new():\n    pass\n")
    index.file_events([FileEvent("created", str(new))])
    await index.flush_events()
    assert [s.path for s in index.definitions_named("brand_new")] == [str(new)]
    new.write_text("def renamed_fn():\n    pass\n")
    index.file_events([FileEvent("changed", str(new))])
    await index.flush_events()
    assert index.definitions_named("brand_new") == [] and len(index.definitions_named("renamed_fn")) == 1
    new.unlink()
    index.file_events([FileEvent("deleted", str(new))])
    await index.flush_events()
    assert index.definitions_named("renamed_fn") == [] and str(new) not in index.files
    await index.close()


async def test_open_document_symbols_follow_the_editor(fixture_tree: Path, tmp_path: Path) -> None:
    index = await started(fixture_tree, tmp_path)
    path = fixture_tree / "pyproj/pkg/util.py"
    uri = path.as_uri()
    text = path.read_text()
    index.did_open(uri, text, 1)
    edited = text.replace("def tool", "def tool_v2")
    index.did_change(uri, edited, [], 2)
    assert [d.name for d in index.document_symbols(uri)] == ["tool_v2"]
    await index._tracker.open_refresh[uri]  # the debounced refresh of the workspace table
    assert [s.name for s in index.definitions_named("tool_v2")] == ["tool_v2"]
    index.did_close(uri)
    await index.flush_events()
    assert index.definitions_named("tool_v2") == [] and len(index.definitions_named("tool")) == 1
    await index.close()


async def test_syncs_run_one_at_a_time(fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from kimi_lsp.index.builder import IndexBuilder

    index = await started(fixture_tree, tmp_path)
    events: list[str] = []
    real = IndexBuilder._walk_and_index

    async def traced(self: IndexBuilder, progress: object, load_cache: bool, rules: object) -> None:
        events.append("in")
        await asyncio.sleep(0.05)
        await real(self, progress, load_cache, rules)  # type: ignore[arg-type]
        events.append("out")

    monkeypatch.setattr(IndexBuilder, "_walk_and_index", traced)
    await asyncio.gather(index.reindex(), index.configure(["pyproj/"]), index.reindex())
    assert events == ["in", "out"] * 3
    assert not [p for p in index.files if "/pyproj/" in p]  # the new globs hold whatever the order
    await index.close()


async def test_new_excludes_before_or_during_the_first_index_hold_once_it_is_ready(
    fixture_tree: Path, tmp_path: Path
) -> None:
    import asyncio

    index = WorkspaceIndex([fixture_tree], settings(tmp_path))
    await index.configure(["web/"])  # before the start: its walk uses them
    task = asyncio.create_task(index.start())
    await asyncio.sleep(0)  # the start runs
    await index.configure(["web/", "pyproj/"])  # during it: it walks again before it is ready
    await task
    assert index.files and not [p for p in index.files if "/web/" in p or "/pyproj/" in p]
    await index.close()
    await WorkspaceIndex([], settings(tmp_path)).configure(["x/"])  # no folder: nothing to wait for


async def test_a_big_batch_of_disk_changes_uses_the_pool(
    fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kimi_lsp.index.jobs as jobs

    index = WorkspaceIndex([fixture_tree], replace(settings(tmp_path), workers=2))
    await index.start()  # few files: indexed in a thread
    pools: list[object] = []
    new_pool = jobs._new_pool
    monkeypatch.setattr(jobs, "_new_pool", lambda workers: pools.append(workers) or new_pool(workers))
    monkeypatch.setattr(jobs, "POOL_THRESHOLD", 3)
    paths = [fixture_tree / f"branch_{i}.py" for i in range(3)]  # a branch switch: many files at once
    for i, path in enumerate(paths):
        path.write_text(f"def switched_{i}():\n    pass\n")
    index.file_events([FileEvent("created", str(p)) for p in paths])
    await index.flush_events()
    assert pools == [2]
    assert [s.path for s in index.definitions_named("switched_2")] == [str(paths[2])]
    await index.close()


async def test_disk_changes_are_cut_into_tasks_by_bytes(
    fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kimi_lsp.index.batches as batching
    import kimi_lsp.index.merge as merge

    index = await started(fixture_tree, tmp_path)
    tasks: list[list[str]] = []
    run_jobs = merge.run_jobs

    async def recorded(batches, *args):  # type: ignore[no-untyped-def]
        async def seen():  # type: ignore[no-untyped-def]
            async for batch in batches:
                tasks.append([os.path.basename(path) for path, _ in batch])
                yield batch

        async for results in run_jobs(seen(), *args):
            yield results

    monkeypatch.setattr(merge, "run_jobs", recorded)
    monkeypatch.setattr(batching, "BATCH_BYTES", 1000)
    (fixture_tree / "big.py").write_text("def big():\n    pass\n" + "# padding\n" * 120)
    for name in ("s1.py", "s2.py", "gone.py"):
        (fixture_tree / name).write_text("x = 1\n")
    (fixture_tree / "gone.py").unlink()
    index.file_events([FileEvent("created", str(fixture_tree / n)) for n in ("big.py", "s1.py", "gone.py", "s2.py")])
    await index.flush_events()
    assert tasks == [["big.py"], ["s1.py", "s2.py"]]
    assert [s.path for s in index.definitions_named("big")] == [str(fixture_tree / "big.py")]
    await index.close()


async def test_a_directory_made_or_removed_in_one_event_is_walked_or_forgotten(
    fixture_tree: Path, tmp_path: Path
) -> None:
    """Clients report a folder copied in, or deleted, as one event for the folder, not one per file in it."""
    import shutil

    index = await started(fixture_tree, tmp_path)
    pkg = fixture_tree / "pyproj" / "pkg"
    under_pkg = sorted(p for p in index.files if p.startswith(str(pkg) + os.sep))
    assert len(under_pkg) >= 3 and index.definitions_named("assist")
    shutil.rmtree(pkg)
    index.file_events([FileEvent("deleted", str(pkg))])
    await index.flush_events()
    assert not [p for p in index.files if p.startswith(str(pkg) + os.sep)]
    assert not index.definitions_named("assist")
    assert str(fixture_tree / "pyproj" / "app.py") in index.files  # its neighbour stays

    rewalks = count_rewalks(index)
    copied = fixture_tree / "generated" / "api"
    copied.mkdir(parents=True)
    (copied / "routes.py").write_text("def generated_route():\n    pass\n")
    (copied / "scratch.py").write_text("def scratch_only():\n    pass\n")
    # the new folder's own rules apply; as in git, a file under an ignored folder cannot be re-included
    (copied / ".gitignore").write_text("scratch.py\ncache/\n!cache/c.py\n")
    (copied / "cache").mkdir()
    (copied / "cache" / "c.py").write_text("def cached_only():\n    pass\n")
    index.file_events(
        [
            FileEvent("created", str(fixture_tree / "generated")),
            FileEvent("created", str(copied)),  # inside the other: its files are indexed once
            FileEvent("created", str(copied / "cache")),
        ]
    )  # ignored: not walked on its own either
    await index.flush_events()
    assert [s.path for s in index.definitions_named("generated_route")] == [str(copied / "routes.py")]
    assert not index.definitions_named("scratch_only") and not index.definitions_named("cached_only")
    assert rewalks == []
    await index.close()


async def test_events_in_git_or_node_modules_are_dropped_before_any_work(
    fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kimi_lsp.index.tracker as tracker

    index = await started(fixture_tree, tmp_path)
    stat_of = tracker._stat_of
    looked_at: list[str] = []
    monkeypatch.setattr(tracker, "_stat_of", lambda path: looked_at.append(path) or stat_of(path))
    index.file_events(
        [
            FileEvent("deleted", str(fixture_tree / ".git" / "index.lock")),
            FileEvent("created", str(fixture_tree / "node_modules" / "left" / "index.js")),
            FileEvent("created", str(fixture_tree / "new.py")),
        ]
    )
    await index.flush_events()
    assert looked_at == [str(fixture_tree / "new.py")]
    await index.close()
