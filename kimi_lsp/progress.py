"""Server-initiated work-done progress ("Starting engine", "Indexing 1,234/5,000") for clients that show it.

`ServerProgress` is an async context manager; with clients that did not advertise
`window.workDoneProgress` it does nothing, so callers never branch on capabilities.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING

from lsprotocol import types as lsp

if TYPE_CHECKING:
    from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)


class ServerProgress:
    def __init__(self, ls: LanguageServer, title: str) -> None:
        self.ls = ls
        self.title = title
        self.token: str | None = None
        self._last: tuple[str, int | None] | None = None

    async def __aenter__(self) -> ServerProgress:
        window = self.ls.client_capabilities.window
        if window is None or not window.work_done_progress:
            return self
        token = f"kimi-{uuid.uuid4().hex[:12]}"
        try:
            await asyncio.wait_for(self.ls.work_done_progress.create_async(token), timeout=5)
        except (TimeoutError, Exception) as error:  # a client that refuses gets no progress, nothing else
            log.info("client refused progress token: %s", error)
            return self
        self.token = token
        self.ls.work_done_progress.begin(token, lsp.WorkDoneProgressBegin(title=self.title, cancellable=False))
        return self

    def report(self, message: str, percentage: int | None = None) -> None:
        """Send a step, unless it repeats the one before (a sync's last batch and its end read the same)."""
        if self.token is not None and (message, percentage) != self._last:
            self._last = (message, percentage)
            self.ls.work_done_progress.report(
                self.token, lsp.WorkDoneProgressReport(message=message, percentage=percentage)
            )

    async def __aexit__(self, *exc: object) -> None:
        if self.token is not None:
            self.ls.work_done_progress.end(self.token, lsp.WorkDoneProgressEnd())
