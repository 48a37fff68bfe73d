"""WorkspaceIndex and its cache: a warm start equals a cold one and re-parses only what changed; a damaged,
foreign, unreadable or unwritable cache is rebuilt or replaced by memory; the symbol-table snapshot; a new set
of folders seeded from the old cache; the default cache directory's clean-up."""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kimi_lsp.index.workspace import IndexSettings, WorkspaceIndex

from .conftest import settings, snapshot, started


async def test_warm_start_equals_cold_start_and_reparses_only_changes(
    fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = await started(fixture_tree, tmp_path)
    expected = snapshot(cold)
    await cold.close()
    parsed: list[str] = []
    import kimi_lsp.index.worker as worker

    real = worker.raw_outline_of_source
    monkeypatch.setattr(
        worker, "raw_outline_of_source", lambda spec, data: parsed.append(spec.name) or real(spec, data)
    )
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
    fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    db.execute(
        "INSERT INTO files SELECT (SELECT max(id) + 1 FROM files), path, language, size, mtime_ns, digest, "
        "package, outline FROM files WHERE path = ?",
        (util,),
    )
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
    fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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


async def test_unusable_cache_location_falls_back_to_memory(fixture_tree: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    index = WorkspaceIndex([fixture_tree], IndexSettings(cache_path=str(blocker / "sub" / "c.sqlite"), workers=0))
    await index.start()
    assert len(index.definitions_named("make_engine")) == 1
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
    fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
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


async def test_a_new_set_of_folders_starts_warm_for_the_folders_it_keeps(
    fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kimi_lsp.index.worker as worker

    web, py = fixture_tree / "web", fixture_tree / "pyproj"
    before = WorkspaceIndex([web], replace(settings(tmp_path), cache_path=str(tmp_path / "web.sqlite")))
    await before.start()
    seed = before.cache_path
    await before.close()
    parsed: list[str] = []
    real = worker.raw_outline_of_source
    monkeypatch.setattr(
        worker, "raw_outline_of_source", lambda spec, data: parsed.append(spec.name) or real(spec, data)
    )
    after = WorkspaceIndex([web, py], replace(settings(tmp_path), cache_path=str(tmp_path / "both.sqlite")), seed=seed)
    await after.start()  # the folder added
    assert set(parsed) == {"python"}  # only the added folder was parsed; the kept one came from the old cache
    assert after.definitions_named("util") and after.definitions_named("tool")
    await after.close()
    parsed.clear()
    web_only = WorkspaceIndex(
        [web], replace(settings(tmp_path), cache_path=str(tmp_path / "w2.sqlite")), seed=str(tmp_path / "both.sqlite")
    )
    await web_only.start()  # the folder removed: nothing to parse, nothing of it left
    assert parsed == [] and not [p for p in web_only.files if "/pyproj/" in p] and web_only.definitions_named("util")
    await web_only.close()
    (tmp_path / "garbage.sqlite").write_bytes(b"not a database" * 100)
    fresh = WorkspaceIndex(
        [web],
        replace(settings(tmp_path), cache_path=str(tmp_path / "w3.sqlite")),
        seed=str(tmp_path / "garbage.sqlite"),
    )
    await fresh.start()  # a seed it cannot read: a cold start
    assert fresh.definitions_named("util")
    await fresh.close()


async def test_default_cache_directory_loses_caches_unused_for_30_days(
    fixture_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
        [mine.name, recent, written, written + "-wal", "notes.sqlite"]
    )
