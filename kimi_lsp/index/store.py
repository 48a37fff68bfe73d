"""The on-disk cache: one SQLite file per workspace, keyed by path, size, mtime and content hash.

Owns the schema and every SQL statement. Holds each file's encoded outline (closed files' outlines live here,
not in memory) and a snapshot of the symbol table. A file that is not ours, of another schema version, or
corrupt is deleted and started afresh; callers never see sqlite3 errors from opening. Use from one thread.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import NamedTuple

from kimi_lsp.dirs import cache_dir
from kimi_lsp.index.symtable import Base, base_from_blobs, build_base

log = logging.getLogger(__name__)

SCHEMA_VERSION = 6
WRITE_BATCH = 2000  # file rows per write transaction
APP_ID = 0x6B696D69  # 'kimi'
CACHE_MAX_AGE_S = 30 * 24 * 3600  # a default-directory cache not opened for this long is deleted
_CACHE_NAME = re.compile(r"([0-9a-f]{24})\.sqlite(?:-wal|-shm|-journal)?")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY, path TEXT NOT NULL, language TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, digest BLOB NOT NULL, package TEXT NOT NULL, outline BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS symtab (
    id INTEGER PRIMARY KEY CHECK (id = 1), names BLOB, offsets BLOB, fids BLOB, lines BLOB, colkinds BLOB);
"""


class FileRecord(NamedTuple):
    """What the index keeps in memory per file (outlines stay in the cache)."""

    fid: int
    path: str
    language: str
    size: int
    mtime_ns: int
    digest: bytes
    package: str


def default_cache_path(roots: Sequence[str]) -> Path:
    """<the cache folder (dirs.py; ${XDG_CACHE_HOME:-~/.cache}/kimi-lsp on Linux)>/index/<hash of the roots>.sqlite"""
    key = hashlib.sha256("\n".join(sorted(roots)).encode()).hexdigest()[:24]
    return cache_dir() / "index" / f"{key}.sqlite"


def prune_caches(directory: Path, keep: str, max_age_s: float = CACHE_MAX_AGE_S) -> list[str]:
    """Delete the caches in the default cache `directory` that no server has opened or written for max_age_s
    (opening one marks it used): those of workspaces, or sets of folders, no longer worked on. Only the file
    names default_cache_path makes are touched, a cache with its -wal/-shm companions together, and never
    `keep`. Returns the names deleted."""
    newest: dict[str, float] = {}
    names: dict[str, list[str]] = {}
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        match = _CACHE_NAME.fullmatch(entry.name)
        if match is None or os.path.join(directory, match[1] + ".sqlite") == keep:
            continue
        try:
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        newest[match[1]] = max(newest.get(match[1], 0.0), mtime)
        names.setdefault(match[1], []).append(entry.name)
    cutoff = time.time() - max_age_s
    deleted = []
    for key, mtime in newest.items():
        if mtime >= cutoff:
            continue
        for name in names[key]:
            try:
                os.unlink(os.path.join(directory, name))
                deleted.append(name)
            except OSError:  # gone meanwhile, or not ours to delete: no harm either way
                pass
    return sorted(deleted)


class IndexStore:
    def __init__(self, path: str | Path, key: str) -> None:
        """Open (or create) the cache at `path` for the workspace `key`; ':memory:' keeps nothing on disk."""
        self.path = str(path)
        self.key = key
        self._pending: dict[int, tuple[FileRecord, bytes]] = {}  # fid -> (record, outline), not yet written
        self.db = self._open_valid()

    def _open_valid(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            db = self._connect()
            if self.path != ":memory:":
                with suppress(OSError):
                    os.utime(self.path)  # in use: see prune_caches
            if self._is_ours(db):
                return db
            db.close()
            log.info("discarding index cache %s (foreign, old schema or other workspace)", self.path)
        except sqlite3.DatabaseError as exc:
            log.warning("discarding corrupt index cache %s: %s", self.path, exc)
        self._delete_files()
        db = self._connect()
        self._init_schema(db)
        return db

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        # takes effect when the file is created: a 5 KB outline fits a 16 KB page, no overflow chain, and a
        # cold index writes its rows with half the CPU of 4 KB pages
        db.execute("PRAGMA page_size=16384")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA cache_size=-512")  # KiB; lookups are by key, a big page cache buys nothing
        return db

    def _is_ours(self, db: sqlite3.Connection) -> bool:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        if app_id == 0 and db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
            self._init_schema(db)
            return True
        if app_id != APP_ID or db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            return False
        row = db.execute("SELECT value FROM meta WHERE key = 'workspace'").fetchone()
        if row is None or row[0] != self.key:
            return False
        db.execute("SELECT count(*) FROM files").fetchone()
        return True

    def _init_schema(self, db: sqlite3.Connection) -> None:
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA application_id = {APP_ID}")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("INSERT OR REPLACE INTO meta VALUES ('workspace', ?)", (self.key,))

    def _delete_files(self) -> None:
        if self.path == ":memory:":
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.unlink(self.path + suffix)
            except FileNotFoundError:
                pass
            except OSError as exc:  # opening it again fails too, and the caller falls back to memory
                log.warning("cannot delete the index cache file %s: %s", self.path + suffix, exc)

    def reset(self, path: str | None = None) -> None:
        """Throw the cache away and start empty (after an error reading or writing it); with `path` (such as
        ':memory:') the new cache lives there."""
        self._pending = {}
        try:
            self.db.close()
        except sqlite3.Error:
            pass
        self._delete_files()
        if path is not None:
            self.path = path
        self.db = self._connect()
        self._init_schema(self.db)

    def load_files(self) -> list[FileRecord]:
        """Every file's record. One row per path is the caller's invariant (an id per path), not an index's: a
        unique index on the paths would cost a cold index 7 us of the loop's time per file. Should a path still
        have two rows, the newer one counts and the other is deleted."""
        rows = [
            FileRecord(fid, path if isinstance(path, str) else _path_from_db(path), *rest)
            for fid, path, *rest in self.db.execute(
                "SELECT id, path, language, size, mtime_ns, digest, package FROM files ORDER BY id"
            )
        ]
        records = {r.path: r for r in rows}
        if len(records) < len(rows):
            stale = [r.fid for r in rows if records[r.path] is not r]
            log.warning("index cache held %d duplicate file rows; dropped them", len(stale))
            self.delete(stale)
        return list(records.values())

    def import_files(self, source: str, roots: Sequence[str]) -> int:
        """Copy the file rows under `roots` from the cache file `source` (another workspace's, of this schema)
        into this empty cache; their outlines and hashes then spare a re-parse. Returns how many; 0 for a
        source that is missing, foreign, of another schema or unreadable."""
        if not os.path.exists(source):
            return 0
        try:
            self.db.execute("ATTACH DATABASE ? AS seed", (source,))
        except sqlite3.Error as exc:
            log.info("cannot read the index cache %s: %s", source, exc)
            return 0
        try:
            if (
                self.db.execute("PRAGMA seed.application_id").fetchone()[0] != APP_ID
                or self.db.execute("PRAGMA seed.user_version").fetchone()[0] != SCHEMA_VERSION
            ):
                return 0
            with self._transaction():
                self._invalidate_symtab()
                for root in roots:  # the paths under root/: from "root/" up to, not including, "root0"
                    self.db.execute(
                        "INSERT INTO files SELECT * FROM seed.files WHERE path >= ? AND path < ?",
                        (root + os.sep, root + chr(ord(os.sep) + 1)),
                    )
            return int(self.db.execute("SELECT count(*) FROM files").fetchone()[0])
        except sqlite3.Error as exc:
            log.info("cannot read the index cache %s: %s", source, exc)
            return 0
        finally:
            self.db.execute("DETACH DATABASE seed")

    def is_empty(self) -> bool:
        return not self._pending and self.db.execute("SELECT 1 FROM files LIMIT 1").fetchone() is None

    def outline(self, fid: int) -> bytes | None:
        pending = self._pending.get(fid)
        if pending is not None:
            return pending[1]
        row = self.db.execute("SELECT outline FROM files WHERE id = ?", (fid,)).fetchone()
        return bytes(row[0]) if row is not None else None

    def upsert(self, rows: Sequence[tuple[FileRecord, bytes]]) -> None:
        """Insert or replace (record, outline) rows under the ids the caller chose (one id per path for the
        cache's life). Rows are buffered and written in big transactions (reads see them at once); `flush`
        writes them now."""
        for record, outline in rows:
            self._pending[record.fid] = (record, outline)
        if len(self._pending) >= WRITE_BATCH:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        rows, self._pending = list(self._pending.values()), {}
        with self._transaction():
            self._invalidate_symtab()
            self.db.executemany(
                "INSERT OR REPLACE INTO files (id, path, language, size, mtime_ns, digest, package, "
                "outline) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(fid, _path_to_db(path), *rest, outline) for (fid, path, *rest), outline in rows],
            )

    def touch(self, items: Iterable[tuple[int, int, int]]) -> None:
        """Record a new (size, mtime) for files whose content hash did not change: (fid, size, mtime_ns)."""
        self.flush()
        with self._transaction():
            self.db.executemany(
                "UPDATE files SET size = ?, mtime_ns = ? WHERE id = ?",
                [(size, mtime, fid) for fid, size, mtime in items],
            )

    def delete(self, fids: Iterable[int]) -> None:
        self.flush()
        with self._transaction():
            self._invalidate_symtab()
            self.db.executemany("DELETE FROM files WHERE id = ?", [(fid,) for fid in fids])

    def save_symtab(self, base: Base) -> None:
        """Snapshot the symbol table; valid until the next file write."""
        blobs = (
            base.names.encode(),
            base.offsets.tobytes(),
            base.fids.tobytes(),
            base.lines.tobytes(),
            base.colkinds.tobytes(),
        )
        self.flush()
        with self._transaction():
            self.db.execute("INSERT OR REPLACE INTO symtab VALUES (1, ?, ?, ?, ?, ?)", blobs)
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('symtab_valid', '1')")

    def load_symtab(self) -> Base | None:
        valid = self.db.execute("SELECT value FROM meta WHERE key = 'symtab_valid'").fetchone()
        row = self.db.execute("SELECT names, offsets, fids, lines, colkinds FROM symtab WHERE id = 1").fetchone()
        if valid is None or valid[0] != "1" or row is None:
            return None
        return base_from_blobs(bytes(row[0]).decode(), *row[1:])

    def rebuild_symtab(self, symbols: Callable[[bytes], Iterable[tuple[str, int, int]]]) -> Base:
        """A symbol table from every stored outline (when the snapshot is stale). Uses its own connection, so
        it may run in a thread while the loop keeps using this store."""
        db = sqlite3.connect(self.path) if self.path != ":memory:" else self.db
        try:
            entries = [
                (name, fid, line, ck)
                for fid, blob in db.execute("SELECT id, outline FROM files")
                for name, line, ck in symbols(bytes(blob))
            ]
        finally:
            if db is not self.db:
                db.close()
        return build_base(entries)

    def _invalidate_symtab(self) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('symtab_valid', '0')")

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)

    def close(self) -> None:
        self.flush()
        self.db.close()


def _path_to_db(path: str) -> str | bytes:
    """A path as SQLite can store it. A file name that is not valid UTF-8 reaches Python with surrogate escapes,
    which SQLite's text cannot hold: such a path is stored as its bytes instead."""
    if path.isascii():
        return path
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape")
    return path


def _path_from_db(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")
