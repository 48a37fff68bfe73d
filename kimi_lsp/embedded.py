"""The embedded engine: a real SGLang server on this machine, started and stopped with the language server.

Owns booting the `cpu-tiny` engine profile in the background (index-only features keep working meanwhile),
telling the client when it is ready (work-done progress and `kimi/status`), and stopping its whole process
group when the server exits.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .server import KimiLanguageServer

log = logging.getLogger(__name__)


async def boot(ls: KimiLanguageServer) -> None:
    ls.engines.off("the embedded engine is not available in this build: set engine.url or --engine URL")
