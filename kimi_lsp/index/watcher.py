"""File changes from outside the editor: a watchdog observer and a debouncer, both feeding the event loop.

watchdog calls us on its own thread; events enter the loop only through `loop.call_soon_threadsafe`. The
debouncer is an asyncio task that waits for a quiet period and hands the batch on. A server whose client
supports workspace/didChangeWatchedFiles uses that instead and feeds the same debouncer; never both.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Sequence

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from kimi_lsp.index.model import FileEvent

log = logging.getLogger(__name__)

_KINDS = {"created": "created", "modified": "changed", "deleted": "deleted"}


class Debouncer:
    """Collects events and calls `flush(batch)` once no new event came for `delay_s`. Loop thread only."""

    def __init__(self, delay_s: float, flush: Callable[[list[FileEvent]], Awaitable[None]]) -> None:
        self.delay_s = delay_s
        self._flush = flush
        self._pending: dict[str, FileEvent] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._flushing: asyncio.Task[object] | None = None

    def add(self, event: FileEvent) -> None:
        self._pending[event.path] = event  # the index re-stats every path, so the latest kind is enough
        if self._task is not None:
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(self._wait_then_flush())

    async def _wait_then_flush(self) -> None:
        await asyncio.sleep(self.delay_s)
        self._task = None
        await self.drain()

    async def drain(self) -> None:
        """Flush what is pending now (after any flush already running)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        async with self._lock:
            if self._pending:
                batch, self._pending = list(self._pending.values()), {}
                self._flushing = asyncio.current_task()
                try:
                    await self._flush(batch)
                finally:
                    self._flushing = None

    def cancel(self) -> None:
        """Drop pending events and stop a flush in progress (unless called from inside it)."""
        for task in (self._task, self._flushing):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self._task = None
        self._pending.clear()


class _Handler(FileSystemEventHandler):
    def __init__(self, loop: asyncio.AbstractEventLoop, sink: Callable[[FileEvent], None]) -> None:
        self.loop = loop
        self.sink = sink

    def on_any_event(self, event: FileSystemEvent) -> None:
        src = _str(event.src_path)
        if event.event_type == "moved":
            self._send(FileEvent("deleted", src))
            self._send(FileEvent("created", _str(event.dest_path)))
        elif event.event_type in _KINDS and not (event.is_directory and event.event_type == "modified"):
            self._send(FileEvent(_KINDS[event.event_type], src))
        elif event.event_type == "closed":  # a write finished: make sure it is seen
            self._send(FileEvent("changed", src))

    def _send(self, event: FileEvent) -> None:
        try:
            self.loop.call_soon_threadsafe(self.sink, event)
        except RuntimeError:
            log.debug("event loop closed; dropping %s", event)


class FileWatcher:
    """Watches roots recursively; each event, a file's or a directory's, is passed to `sink(event)` on the loop."""

    def __init__(
        self, roots: Sequence[str], loop: asyncio.AbstractEventLoop, sink: Callable[[FileEvent], None]
    ) -> None:
        self._observer = Observer()
        handler = _Handler(loop, sink)
        for root in roots:
            if os.path.isdir(root):
                self._observer.schedule(handler, root, recursive=True)
            else:
                log.warning("not watching %s for changes: it is not a directory", root)

    def start(self) -> bool:
        """Start watching (one watch per directory: call it off the loop). False, with one warning, when the
        system refuses - typically at its inotify watch limit on a big tree; the index then runs unwatched."""
        self._observer.daemon = True
        try:
            self._observer.start()
        except OSError as exc:
            log.warning(
                "cannot watch the workspace for changes made outside the editor (%s); they are picked "
                "up at the next start or by the kimi.reindex command",
                exc,
            )
            self.stop()
            return False
        return True

    def stop(self) -> None:
        self._observer.stop()
        if self._observer.is_alive():
            self._observer.join(timeout=5)


def _str(path: str | bytes) -> str:
    return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path
