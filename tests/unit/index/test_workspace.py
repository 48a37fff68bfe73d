"""WorkspaceIndex end to end on the fixture workspace, cold: what a first start answers (imports, symbols,
members, outlines, references), how it reports progress, and how it survives a failing file or a close.
The cache and warm starts are in test_workspace_cache.py; disk events and open documents after the start in
test_workspace_events.py. Shared helpers (`settings`, `started`, `snapshot`) are in conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kimi_lsp.index.model import Progress
from kimi_lsp.index.workspace import IndexSettings, WorkspaceIndex

from .conftest import settings, snapshot, started


def targets(index: WorkspaceIndex, path: Path, root: Path) -> dict[str, list[str]]:
    return {
        imp.ref.spec + (":" + ",".join(imp.ref.names) if imp.ref.names else ""): [
            os.path.relpath(t, root) for t in imp.targets
        ]
        for imp in index.imports_of(str(path))
    }


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
        (str(fixture_tree / "pyproj/pkg/core.py"), 33, 4, "function")
    ]
    names = [s.name for s in index.workspace_symbols("mkeng", 10)]
    assert names[0] == "make_engine"
    assert [s.name for s in index.workspace_symbols("engine", 10)][:1] == ["Engine"]
    assert {d.name for d in index.module_members("pkg.core")} == {
        "MAX_SPEED",
        "registry",
        "Engine",
        "make_engine",
        "serve",
    }
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


async def test_queries_answer_while_indexing(fixture_tree: Path, tmp_path: Path) -> None:
    index = WorkspaceIndex([fixture_tree], settings(tmp_path))
    answers: list[int] = []
    index_ref = index

    def progress(p: Progress) -> None:
        answers.append(len(index_ref.workspace_symbols("", 1000)))

    await index.start(progress=progress)
    assert answers[0] == 0 and answers[-1] > 0
    await index.close()


async def test_process_pool_gives_the_same_index(
    fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
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


async def test_indexing_pauses_the_cyclic_collector_and_reports_every_file(fixture_tree: Path, tmp_path: Path) -> None:
    import gc

    seen: list[tuple[bool, Progress]] = []
    index = WorkspaceIndex([fixture_tree], settings(tmp_path))
    await index.start(progress=lambda p: seen.append((gc.isenabled(), p)))
    assert gc.isenabled() and gc.get_freeze_count() == 0  # nothing left out of collection for good
    assert seen and not any(enabled for enabled, _ in seen)
    last = seen[-1][1]
    assert last.done == last.total == len(index.files) > 0
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
