"""initialize / initialized / shutdown and settings changes; starting and stopping the engine."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp

from .. import embedded
from ..engine_client import EngineError
from ..engine_host import EngineChoice, make_engine
from ..settings import Settings, parse_settings

if TYPE_CHECKING:
    from ..server import KimiLanguageServer

log = logging.getLogger(__name__)


def apply_settings(ls: KimiLanguageServer, raw: Any) -> None:
    """Parse `raw` over the current settings; name every invalid value once, in one message."""
    result = parse_settings(raw, ls.settings)
    ls.settings = result.settings
    if result.invalid:
        ls.tell(f"invalid setting(s) {', '.join(result.invalid)}: using the default(s)")


def initialize(ls: KimiLanguageServer, params: lsp.InitializeParams) -> None:
    ls.settings = Settings()
    apply_settings(ls, params.initialization_options)


async def initialized(ls: KimiLanguageServer, params: lsp.InitializedParams) -> None:
    await start_engine(ls)


async def shutdown(ls: KimiLanguageServer, params: None) -> None:
    await stop_engine(ls)


async def did_change_configuration(ls: KimiLanguageServer, params: lsp.DidChangeConfigurationParams) -> None:
    old_engine = ls.settings.engine
    apply_settings(ls, params.settings)
    if ls.settings.engine != old_engine and ls.engine_choice is None:
        await stop_engine(ls)
        await start_engine(ls)


def _choice(ls: KimiLanguageServer) -> EngineChoice:
    if ls.engine_choice is not None:
        return ls.engine_choice
    if ls.settings.engine.url:
        return EngineChoice("url", ls.settings.engine.url)
    return EngineChoice("embedded")


async def start_engine(ls: KimiLanguageServer) -> None:
    """Attach the configured engine. Never raises: a bad choice leaves the engine off with a message."""
    choice = _choice(ls)
    if choice.kind == "none":
        ls.engines.off("engine disabled (--engine none): index-only features")
        return
    if choice.kind == "embedded":
        task = asyncio.create_task(embedded.boot(ls))
        ls.background.add(task)
        task.add_done_callback(ls.background.discard)
        return
    try:
        engine = make_engine(choice, ls.settings.engine.api_key, ls.settings.engine.timeout_ms / 1000)
    except EngineError as error:
        ls.engines.off(str(error))
        ls.tell(str(error), lsp.MessageType.Error)
        return
    if engine is not None:
        ls.engines.attach(engine, choice.value)


async def stop_engine(ls: KimiLanguageServer) -> None:
    for task in list(ls.background):
        task.cancel()
    await ls.engines.close()
    embedded.stop(ls)
