"""The futures pygls keeps for running handlers: each one leaves once its handler is done, and a shutdown
that cancels the ones still running (while it walks over them) does not trip over their leaving."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

from kimi_lsp.server import KimiProtocol, build_server


def _protocol() -> KimiProtocol:
    protocol = build_server().protocol
    assert isinstance(protocol, KimiProtocol)
    return protocol


def _notification(gate: asyncio.Event) -> Any:
    """A notification handled the way pygls handles didOpen and didChange: a generator that yields an async
    handler (here one that waits for `gate`)."""

    async def handler() -> None:
        await gate.wait()

    def wrapped() -> Generator[Any, Any, None]:
        yield handler, (), None

    return wrapped


async def test_a_finished_handler_leaves_the_futures() -> None:
    protocol = _protocol()
    gate = asyncio.Event()
    protocol._execute_handler("note-1", _notification(gate), protocol._check_handler_result)
    assert "note-1" in protocol._request_futures
    gate.set()
    for _ in range(10):
        await asyncio.sleep(0)
    assert protocol._request_futures == {}


async def test_shutdown_cancels_running_handlers_while_walking_over_them() -> None:
    protocol = _protocol()
    gate = asyncio.Event()
    for n in range(3):
        protocol._execute_handler(f"note-{n}", _notification(gate), protocol._check_handler_result)
    outer = [protocol._request_futures[f"note-{n}"] for n in range(3)]

    protocol._ctx_msg_id.set("shutdown-request")
    shutdown = protocol.lsp_shutdown(None)
    next(shutdown)  # the server's own shutdown handler is yielded first; pygls then cancels what still runs
    try:
        shutdown.send(None)
    except StopIteration:
        pass
    assert all(future.cancelled() for future in outer)
    for _ in range(10):
        await asyncio.sleep(0)
    assert not any(future in outer for future in protocol._request_futures.values())
