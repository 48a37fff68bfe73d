"""WorkspaceIndex end to end on the fixture workspace: symbols, imports, members, cache, disk events."""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kimi_lsp.index.model import FileEvent, Progress
from kimi_lsp.index.workspace import IndexSettings, WorkspaceIndex

from .conftest import count_rewalks


def settings(tmp_path: Path, **kw: object) -> IndexSettings:
    return IndexSettings(cache_path=str(tmp_path / "cache.sqlite"), workers=0, debounce_ms=10, **kw)  # type: ignore[arg-type]


async def started(root: Path, tmp_path: Path, **kw: object) -> WorkspaceIndex:
    index = WorkspaceIndex([root], settings(tmp_path, **kw))
    await index.start()
    return index


def targets(index: WorkspaceIndex, path: Path, root: Path) -> dict[str, list[str]]:
    return {imp.ref.spec + (":" + ",".join(imp.ref.names) if imp.ref.names else ""):
            [os.path.relpath(t, root) for t in imp.targets] for imp in index.imports_of(str(path))}


async def test_imports_resolve_to_workspace_files(fixture_tree: Path, tmp_path: Path) -> None:
    index = await started(fixture_tree, tmp_path)
    r = fixture_tree
    core = targets(index, r / "pyproj/pkg/core.py", r)
    assert core["os"] == []
    assert core[":util"] == ["pyproj/pkg/util.py"]
    assert core["sub:helpers"] == ["pyproj/pkg/sub/helpers.py"]
    assert core["sub.helpers:assist,CONSTANT"] == ["pyproj/pkg/sub/helpers.py"]
    app = targets(index, r / "pyproj/app.py", r)
    assert app["pkg.core"] == ["pyproj/pkg/core.py"]
    assert app["pkg:util"] == ["pyproj/pkg/util.py"]
    assert app["requests"] == []
    assert targets(index, r / "pyproj/pkg/__init__.py", r)["core:Engine"] == ["pyproj/pkg/core.py"]
    js = targets(index, r / "web/src/main.js", r)
    assert js["./lib/helper"] == ["web/src/lib/helper.js"]
    assert js["./util.js"] == ["web/src/util.js"] and js["./util"] == ["web/src/util.js"]
    assert js["./lazy.mjs"] == ["web/src/lazy.mjs"] and js["fs"] == []
    ts = targets(index, r / "web/src/app.ts", r)
    assert ts["./model.js"] == ["web/src/model.ts"] and ts["./model"] == ["web/src/model.ts"]
    assert ts["react"] == []
    go = targets(index, r / "goproj/main.go", r)
    assert go["example.com/goproj/store"] == ["goproj/store/store.go"] and go["fmt"] == []
    rs = targets(index, r / "rustproj/src/lib.rs", r)
    assert rs["self::parser"] == ["rustproj/src/parser.rs"]
    assert rs["self::util"] == ["rustproj/src/util/mod.rs"]
    assert rs["crate::parser:Parser,parse"] == ["rustproj/src/parser.rs"]
    assert rs["self::util::helpers:*"] == ["rustproj/src/util/helpers.rs"]
    assert rs["std::collections::HashMap"] == []
    assert targets(index, r / "rustproj/src/parser.rs", r)["super::Token"] == ["rustproj/src/lib.rs"]
    assert targets(index, r / "rustproj/src/util/helpers.rs", r)["crate::Token"] == ["rustproj/src/lib.rs"]
    java = targets(index, r / "javaproj/src/main/java/com/acme/App.java", r)
    user = ["javaproj/src/main/java/com/acme/model/User.java"]
    assert java["com.acme.model.User"] == user and java["com.acme.model.*"] == user
    assert java["com.acme.model.User.create"] == user and java["java.util.List"] == []
    c = targets(index, r / "cproj/util.c", r)
    assert c["util.h"] == ["cproj/include/util.h"] and c["<stdio.h>"] == []
    assert targets(index, r / "cproj/shape.cpp", r)["shape.hpp"] == ["cproj/shape.hpp"]
    await index.close()


async def test_symbols_members_and_outline(fixture_tree: Path, tmp_path: Path) -> None:
    index = await started(fixture_tree, tmp_path)
    found = index.definitions_named("make_engine")
    assert [(s.path, s.line, s.col, s.kind) for s in found] == [
        (str(fixture_tree / "pyproj/pkg/core.py"), 33, 4, "function")]
    names = [s.name for s in index.workspace_symbols("mkeng", 10)]
    assert names[0] == "make_engine"
    assert [s.name for s in index.workspace_symbols("engine", 10)][:1] == ["Engine"]
    assert {d.name for d in index.module_members("pkg.core")} == {
        "MAX_SPEED", "registry", "Engine", "make_engine", "serve"}
    app = (fixture_tree / "pyproj/app.py").as_uri()
    assert {d.name for d in index.module_members("util", from_path=app)} == {"tool"}
    assert {d.name for d in index.module_members("com.acme.model")} == {"User"}
    assert {d.name for d in index.module_members("example.com/goproj/store")} == {"Store", "New"}
    outline = index.document_symbols((fixture_tree / "goproj/main.go").as_uri())
    assert [d.name for d in outline][:2] == ["Version", "debug"]
    await index.close()


async def test_progress_is_reported(fixture_tree: Path, tmp_path: Path) -> None:
    seen: list[Progress] = []
    index = WorkspaceIndex([fixture_tree], settings(tmp_path))
    await index.start(progress=seen.append)
    assert seen[0].done == 0 and seen[-1].done == seen[-1].total == len(index.files)
    assert seen[-1].message == f"Indexing {len(index.files)}/{len(index.files)}"
    await index.close()


def snapshot(index: WorkspaceIndex) -> tuple[object, ...]:
    files = sorted((r.path, r.language, r.size, r.digest) for r in index.files.values())
    symbols = sorted((s.name, s.kind, s.path, s.line, s.col) for s in index.workspace_symbols("", 100_000))
    outlines = {p: index.document_symbols(p) for p in index.files}
    return files, symbols, outlines


async def test_warm_start_equals_cold_start_and_reparses_only_changes(
        fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cold = await started(fixture_tree, tmp_path)
    expected = snapshot(cold)
    await cold.close()
    parsed: list[str] = []
    import kimi_lsp.index.worker as worker
    real = worker.raw_outline_of_source
    monkeypatch.setattr(worker, "raw_outline_of_source", lambda spec, data: parsed.append(spec.name) or real(spec, data))
    warm = await started(fixture_tree, tmp_path)
    assert snapshot(warm) == expected
    assert parsed == []  # nothing changed: nothing re-parsed
    await warm.close()
    target = fixture_tree / "pyproj/pkg/util.py"
    target.write_text("def tool():\n    return 2\n\n\ndef another():\n    pass\n")
    os.utime(target, ns=(1, 1))
    warm2 = await started(fixture_tree, tmp_path)
    assert parsed == ["python"]
    assert [s.path for s in warm2.definitions_named("another")] == [str(target)]
    await warm2.close()


async def test_same_content_new_mtime_is_not_reparsed(
        fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    await (await started(fixture_tree, tmp_path)).close()
    os.utime(fixture_tree / "pyproj/pkg/util.py", ns=(5, 5))
    import kimi_lsp.index.worker as worker
    monkeypatch.setattr(worker, "raw_outline_of_source", lambda *a: pytest.fail("re-parsed an unchanged file"))
    index = await started(fixture_tree, tmp_path)
    assert index.files[str(fixture_tree / "pyproj/pkg/util.py")].mtime_ns == 5
    await index.close()


@pytest.mark.parametrize("damage", ["garbage", "foreign", "truncated"])
async def test_corrupt_or_foreign_cache_is_rebuilt(fixture_tree: Path, tmp_path: Path, damage: str) -> None:
    cold = await started(fixture_tree, tmp_path)
    expected = snapshot(cold)
    await cold.close()
    cache = tmp_path / "cache.sqlite"
    if damage == "garbage":
        cache.write_bytes(b"this is not a database" * 100)
    elif damage == "foreign":
        cache.unlink()
        db = sqlite3.connect(cache)
        db.execute("CREATE TABLE files (x)")
        db.commit()
        db.close()
    else:
        data = cache.read_bytes()
        cache.write_bytes(data[: len(data) // 3])
    for suffix in ("-wal", "-shm"):
        Path(str(cache) + suffix).unlink(missing_ok=True)
    rebuilt = await started(fixture_tree, tmp_path)
    assert snapshot(rebuilt) == expected
    await rebuilt.close()


async def test_a_second_cache_row_for_a_path_is_dropped_on_load(fixture_tree: Path, tmp_path: Path) -> None:
    cold = await started(fixture_tree, tmp_path)
    expected = snapshot(cold)
    util = str(fixture_tree / "pyproj/pkg/util.py")
    await cold.close()
    db = sqlite3.connect(tmp_path / "cache.sqlite")  # a newer row for util.py, under an id of its own
    db.execute("INSERT INTO files SELECT (SELECT max(id) + 1 FROM files), path, language, size, mtime_ns, digest, "
               "package, outline FROM files WHERE path = ?", (util,))
    db.commit()
    db.close()
    warm = await started(fixture_tree, tmp_path)
    assert snapshot(warm) == expected
    assert [s.path for s in warm.definitions_named("tool")] == [util]
    await warm.close()
    db = sqlite3.connect(tmp_path / "cache.sqlite")
    assert db.execute("SELECT count(*) FROM files WHERE path = ?", (util,)).fetchone() == (1,)
    db.close()


async def test_a_cache_that_fails_to_load_shuts_down_the_pool_started_for_it(
        fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kimi_lsp.index.builder as builder
    from kimi_lsp.index.store import IndexStore

    class Pool:
        shut = False

        def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
            self.shut = True

    pools: list[Pool] = []
    monkeypatch.setattr(builder, "start_pool", lambda workers: pools.append(Pool()) or pools[-1])
    load_files = IndexStore.load_files
    failures = iter([sqlite3.DatabaseError("database disk image is malformed")])

    def failing_once(store: IndexStore) -> list[object]:
        exc = next(failures, None)
        if exc is not None:
            raise exc
        return load_files(store)  # type: ignore[return-value]

    monkeypatch.setattr(IndexStore, "load_files", failing_once)
    index = WorkspaceIndex([fixture_tree], replace(settings(tmp_path), workers=2))
    await index.start()  # the load fails: the cache is rebuilt and the files indexed
    assert index.definitions_named("tool")
    assert len(pools) == 2 and all(p.shut for p in pools)
    await index.close()


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


async def test_queries_answer_while_indexing(fixture_tree: Path, tmp_path: Path) -> None:
    index = WorkspaceIndex([fixture_tree], settings(tmp_path))
    answers: list[int] = []
    index_ref = index

    def progress(p: Progress) -> None:
        answers.append(len(index_ref.workspace_symbols("", 1000)))

    await index.start(progress=progress)
    assert answers[0] == 0 and answers[-1] > 0
    await index.close()


async def test_process_pool_gives_the_same_index(fixture_tree: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import kimi_lsp.index.jobs as jobs
    threaded = await started(fixture_tree, tmp_path / "t")
    expected = snapshot(threaded)
    await threaded.close()
    monkeypatch.setattr(jobs, "POOL_THRESHOLD", 1)
    pooled = WorkspaceIndex([fixture_tree], IndexSettings(cache_path=str(tmp_path / "p.sqlite"), workers=2))
    await pooled.start()
    assert snapshot(pooled) == expected
    await pooled.close()


async def test_close_while_indexing_stops_cleanly(fixture_tree: Path, tmp_path: Path) -> None:
    import asyncio

    index = WorkspaceIndex([fixture_tree], settings(tmp_path))
    task = asyncio.create_task(index.start())
    await asyncio.sleep(0)
    await index.close()
    assert task.done()


async def test_unusable_cache_location_falls_back_to_memory(fixture_tree: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    index = WorkspaceIndex([fixture_tree], IndexSettings(cache_path=str(blocker / "sub" / "c.sqlite"), workers=0))
    await index.start()
    assert len(index.definitions_named("make_engine")) == 1
    await index.close()


async def test_a_failing_progress_callback_does_not_stop_indexing(fixture_tree: Path, tmp_path: Path) -> None:
    def broken(_: Progress) -> None:
        raise RuntimeError("display went away")

    index = WorkspaceIndex([fixture_tree], settings(tmp_path))
    await index.start(progress=broken)
    assert index.ready and len(index.definitions_named("make_engine")) == 1
    await index.close()


async def test_stats_and_references(fixture_tree: Path, tmp_path: Path) -> None:
    index = await started(fixture_tree, tmp_path)
    stats = index.stats()
    assert stats["ready"] is True and stats["files"] == len(index.files) and int(stats["symbols"]) > 50  # type: ignore[call-overload]
    uri = (fixture_tree / "pyproj/pkg/util.py").as_uri()
    index.did_open(uri, "def tool():\n    return tool\n", 1)
    assert [span.start_line for _, span in index.references(uri, "tool")] == [0, 1]
    await index.close()


async def test_a_file_whose_extraction_fails_costs_only_that_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from kimi_lsp.index import worker

    root = tmp_path / "ws"
    root.mkdir()
    (root / "good.py").write_text("def fine():\n    pass\n")
    (root / "bad.py").write_text("def cursed():\n    pass\n")
    real = worker.raw_outline_of_source

    def flaky(spec: object, source: bytes) -> object:
        if b"cursed" in source:
            raise MemoryError("simulated")
        return real(spec, source)  # type: ignore[arg-type]

    monkeypatch.setattr(worker, "raw_outline_of_source", flaky)
    index = await started(root, tmp_path)
    assert [s.name for s in index.workspace_symbols("fine")] == ["fine"]
    assert index.workspace_symbols("cursed") == []
    assert str(root / "bad.py") not in index.files
    assert f"could not index {root / 'bad.py'}: MemoryError: simulated" in caplog.text
    await index.close()


async def test_indexing_pauses_the_cyclic_collector_and_reports_every_file(fixture_tree: Path,
                                                                            tmp_path: Path) -> None:
    import gc

    seen: list[tuple[bool, Progress]] = []
    index = WorkspaceIndex([fixture_tree], settings(tmp_path))
    await index.start(progress=lambda p: seen.append((gc.isenabled(), p)))
    assert gc.isenabled() and gc.get_freeze_count() == 0  # nothing left out of collection for good
    assert seen and not any(enabled for enabled, _ in seen)
    last = seen[-1][1]
    assert last.done == last.total == len(index.files) > 0
    await index.close()


async def test_the_symbol_table_snapshot_follows_a_cold_start(fixture_tree: Path, tmp_path: Path) -> None:
    from kimi_lsp.index.store import IndexStore

    index = await started(fixture_tree, tmp_path)
    await index._builder.compactor.settle()
    store = IndexStore(tmp_path / "cache.sqlite", "\n".join(index.roots))
    base = store.load_symtab()  # written by the start, before any close
    store.close()
    assert base is not None and len(base) == len(index.workspace_symbols("", 100_000)) > 0
    await index.close()


async def test_progress_counts_up_while_the_walk_still_finds_files(fixture_tree: Path, tmp_path: Path) -> None:
    seen: list[Progress] = []
    await (await started(fixture_tree, tmp_path)).close()
    index = WorkspaceIndex([fixture_tree], settings(tmp_path))  # warm: nothing to index, still a last report
    await index.start(progress=seen.append)
    assert seen[0] == Progress(0, 0, counting=True) and seen[0].percentage is None
    assert seen[0].message == "Indexing 0/0+"
    assert seen[-1] == Progress(len(index.files), len(index.files)) and seen[-1].percentage == 100
    await index.close()
    assert Progress(500, 1000, counting=True).percentage is None  # 1,000 found so far: not half done
    assert Progress(500, 1000).percentage == 50 and Progress(500, 1000).message == "Indexing 500/1,000"


async def test_a_file_name_that_is_not_utf8_is_indexed_cached_and_found_by_uri(tmp_path: Path) -> None:
    from kimi_lsp.index.documents import uri_to_path

    root = tmp_path / "ws"
    root.mkdir()
    name = os.fsdecode(b"latin\xe9.py")  # a surrogate escape: SQLite text cannot hold it
    (root / name).write_text("def in_latin():\n    pass\n")
    path = str(root / name)
    assert uri_to_path(Path(path).as_uri()) == path
    for _ in ("cold", "warm"):
        index = await started(root, tmp_path)
        assert [s.path for s in index.definitions_named("in_latin")] == [path]
        assert [d.name for d in index.document_symbols(Path(path).as_uri())] == ["in_latin"]
        await index.close()


async def test_a_cache_that_cannot_be_written_falls_back_to_memory(
        fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from kimi_lsp.index.store import IndexStore

    flush = IndexStore.flush

    def disk_full(store: IndexStore) -> None:
        if store.path != ":memory:" and store._pending:
            raise sqlite3.OperationalError("database or disk is full")
        flush(store)

    monkeypatch.setattr(IndexStore, "flush", disk_full)
    index = await started(fixture_tree, tmp_path)  # the first cache fails, then its fresh copy: memory it is
    assert index.ready and index.definitions_named("tool")
    assert "indexing without a cache file" in caplog.text
    await index.close()


async def test_closing_during_a_cold_start_stops_the_walk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import time

    import kimi_lsp.index.batches as batches
    import kimi_lsp.index.builder as builder
    import kimi_lsp.index.jobs as jobs

    root = tmp_path / "ws"
    root.mkdir()
    for i in range(400):
        (root / f"m{i}.py").write_text(f"def f{i}():\n    pass\n")
    walked: list[str] = []
    real_walk = builder._walk_roots

    def slow_walk(rules: object) -> object:
        for found in real_walk(rules):  # type: ignore[arg-type]
            walked.append(found.path)
            time.sleep(0.005)  # 2 s for the whole walk
            yield found

    monkeypatch.setattr(builder, "_walk_roots", slow_walk)
    monkeypatch.setattr(builder, "WALK_CHUNK", 4)
    monkeypatch.setattr(batches, "MAX_BATCH", 4)
    monkeypatch.setattr(jobs, "POOL_THRESHOLD", 8)
    reports: list[Progress] = []
    index = WorkspaceIndex([root], settings(tmp_path))
    task = asyncio.create_task(index.start(progress=reports.append))
    while not any(r.done for r in reports):  # files are indexed while the walk goes on
        await asyncio.sleep(0.01)
    assert reports[-1].counting
    await index.close()
    assert task.cancelled()
    count = len(walked)
    await asyncio.sleep(0.3)
    assert len(walked) <= count + 4 < 400  # at most the chunk in hand


async def test_a_root_inside_another_is_walked_once(fixture_tree: Path, tmp_path: Path) -> None:
    seen: list[Progress] = []
    index = WorkspaceIndex([fixture_tree, fixture_tree / "pyproj"], settings(tmp_path))
    await index.start(progress=seen.append)
    assert seen[-1].done == seen[-1].total == len(index.files)
    assert len(index.definitions_named("tool")) == 1
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


async def test_new_excludes_before_or_during_the_first_index_hold_once_it_is_ready(fixture_tree: Path,
                                                                                   tmp_path: Path) -> None:
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


async def test_a_big_batch_of_disk_changes_uses_the_pool(fixture_tree: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
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


async def test_a_new_set_of_folders_starts_warm_for_the_folders_it_keeps(
        fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kimi_lsp.index.worker as worker

    web, py = fixture_tree / "web", fixture_tree / "pyproj"
    before = WorkspaceIndex([web], replace(settings(tmp_path), cache_path=str(tmp_path / "web.sqlite")))
    await before.start()
    seed = before.cache_path
    await before.close()
    parsed: list[str] = []
    real = worker.raw_outline_of_source
    monkeypatch.setattr(worker, "raw_outline_of_source", lambda spec, data: parsed.append(spec.name) or real(spec, data))
    after = WorkspaceIndex([web, py], replace(settings(tmp_path), cache_path=str(tmp_path / "both.sqlite")), seed=seed)
    await after.start()  # the folder added
    assert set(parsed) == {"python"}  # only the added folder was parsed; the kept one came from the old cache
    assert after.definitions_named("util") and after.definitions_named("tool")
    await after.close()
    parsed.clear()
    web_only = WorkspaceIndex([web], replace(settings(tmp_path), cache_path=str(tmp_path / "w2.sqlite")),
                              seed=str(tmp_path / "both.sqlite"))
    await web_only.start()  # the folder removed: nothing to parse, nothing of it left
    assert parsed == [] and not [p for p in web_only.files if "/pyproj/" in p] and web_only.definitions_named("util")
    await web_only.close()
    (tmp_path / "garbage.sqlite").write_bytes(b"not a database" * 100)
    fresh = WorkspaceIndex([web], replace(settings(tmp_path), cache_path=str(tmp_path / "w3.sqlite")),
                           seed=str(tmp_path / "garbage.sqlite"))
    await fresh.start()  # a seed it cannot read: a cold start
    assert fresh.definitions_named("util")
    await fresh.close()


async def test_default_cache_directory_loses_caches_unused_for_30_days(fixture_tree: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    index = WorkspaceIndex([fixture_tree], IndexSettings(workers=0))
    await index.start()
    mine = Path(str(index.cache_path))
    await index.close()
    directory = mine.parent
    old = time.time() - 31 * 24 * 3600
    stale, recent, written = "a" * 24 + ".sqlite", "b" * 24 + ".sqlite", "c" * 24 + ".sqlite"
    for name in (stale, stale + "-wal", recent, written, written + "-wal", "notes.sqlite"):
        (directory / name).write_bytes(b"")
    for name in (stale, stale + "-wal", written, "notes.sqlite", mine.name):
        os.utime(directory / name, (old, old))  # `written`: its -wal is fresh, so it is in use

    again = WorkspaceIndex([fixture_tree], IndexSettings(workers=0))
    await again.start()
    assert again.cache_path == str(mine) and len(again.files) == len(index.files)  # its own cache: kept, warm
    await again.close()
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        [mine.name, recent, written, written + "-wal", "notes.sqlite"])


async def test_disk_changes_are_cut_into_tasks_by_bytes(fixture_tree: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
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


async def test_a_directory_made_or_removed_in_one_event_is_walked_or_forgotten(fixture_tree: Path,
                                                                                 tmp_path: Path) -> None:
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
    index.file_events([FileEvent("created", str(fixture_tree / "generated")),
                       FileEvent("created", str(copied)),  # inside the other: its files are indexed once
                       FileEvent("created", str(copied / "cache"))])  # ignored: not walked on its own either
    await index.flush_events()
    assert [s.path for s in index.definitions_named("generated_route")] == [str(copied / "routes.py")]
    assert not index.definitions_named("scratch_only") and not index.definitions_named("cached_only")
    assert rewalks == []
    await index.close()


async def test_events_in_git_or_node_modules_are_dropped_before_any_work(fixture_tree: Path, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import kimi_lsp.index.tracker as tracker

    index = await started(fixture_tree, tmp_path)
    stat_of = tracker._stat_of
    looked_at: list[str] = []
    monkeypatch.setattr(tracker, "_stat_of", lambda path: looked_at.append(path) or stat_of(path))
    index.file_events([FileEvent("deleted", str(fixture_tree / ".git" / "index.lock")),
                       FileEvent("created", str(fixture_tree / "node_modules" / "left" / "index.js")),
                       FileEvent("created", str(fixture_tree / "new.py"))])
    await index.flush_events()
    assert looked_at == [str(fixture_tree / "new.py")]
    await index.close()
