"""The way to the engine: TLS verified by default (a local TLS engine with a CA the test makes), a private CA
given by engine.caBundle or SSL_CERT_FILE, an HTTPS proxy (a local CONNECT proxy), and the API key: from the
settings or KIMI_LSP_API_KEY, sent to the configured engine only (no redirects followed), never logged."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp
from pytest_lsp import LanguageClient

from .conftest import Session, start_session
from .fault_engine import FaultEngine
from .network import Certificates, ConnectProxy, make_certificates

KEY = "kimi-test-key-" + "Zq8Lm2Xv9Tk4Wp7N"
NO_PROXY = {"NO_PROXY": "", "no_proxy": "", "HTTPS_PROXY": "", "https_proxy": "", "ALL_PROXY": "", "all_proxy": ""}


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_engine(certificates: Certificates) -> Iterator[FaultEngine]:
    with FaultEngine(tls=certificates.server_context()) as engine:
        yield engine


def _inline(uri: str) -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=3, character=3),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
    )


async def _status(client: LanguageClient) -> dict[str, Any]:
    status: dict[str, Any] = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="kimi.status")
    )
    return status


async def _suggestion(session: Session) -> str | None:
    uri = session.open("a.py", "def helper():\n    pass\n\nhel")
    answer = await session.client.text_document_inline_completion_async(_inline(uri))
    return answer.items[0].insert_text if isinstance(answer, lsp.InlineCompletionList) else None  # type: ignore[return-value]


async def _stop(client: LanguageClient) -> None:
    await client.shutdown_session()
    await client.stop()


async def test_an_engine_whose_certificate_is_not_trusted_is_down_and_says_why(
    tmp_path: Path, tls_engine: FaultEngine
) -> None:
    client, session = await start_session(tmp_path, "neovim", engine=tls_engine.url, env=NO_PROXY)
    try:
        for _ in range(100):  # /health fails the handshake (the check runs beside the first requests)
            if (await _status(client))["engine"] == "down":
                break
            await asyncio.sleep(0.05)
        assert (await _status(client))["engine"] == "down"
        assert await _suggestion(session) is None
        assert tls_engine.requests == []  # nothing was sent over a connection we could not verify
        await asyncio.sleep(1.1)  # the first backoff: then a request tries, and fails the same way
        assert await _suggestion(session) is None
        status = await _status(client)
        assert "certificate verify failed" in status["message"].lower(), status
        assert len([m for m in client.messages if m.type == lsp.MessageType.Warning]) == 1
        symbols = await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="helper"))
        assert symbols is not None  # index features keep working
    finally:
        await _stop(client)


async def test_the_ca_bundle_setting_trusts_a_private_ca(
    tmp_path: Path, tls_engine: FaultEngine, certificates: Certificates
) -> None:
    options = {"engine": {"caBundle": str(certificates.ca)}}
    client, session = await start_session(tmp_path, "neovim", options, engine=tls_engine.url, env=NO_PROXY)
    try:
        assert (await _status(client))["engine"] == "ready"
        assert await _suggestion(session) == "al_count"
        assert len(tls_engine.requests) == 1
    finally:
        await _stop(client)


async def test_ssl_cert_file_trusts_a_private_ca(
    tmp_path: Path, tls_engine: FaultEngine, certificates: Certificates
) -> None:
    env = {**NO_PROXY, "SSL_CERT_FILE": str(certificates.ca)}
    client, session = await start_session(tmp_path, "visual-studio-code", engine=tls_engine.url, env=env)
    try:
        assert await _suggestion(session) == "al_count"
    finally:
        await _stop(client)


async def test_a_ca_bundle_that_cannot_be_loaded_leaves_the_engine_off_with_one_message(
    tmp_path: Path, tls_engine: FaultEngine
) -> None:
    options = {"engine": {"caBundle": str(tmp_path / "missing.pem")}}
    client, session = await start_session(tmp_path, "neovim", options, engine=tls_engine.url, env=NO_PROXY)
    try:
        status = await _status(client)
        assert status["engine"] == "off" and "engine.caBundle" in status["message"]
        assert [m.type for m in client.messages] == [lsp.MessageType.Error]
        assert await _suggestion(session) is None
    finally:
        await _stop(client)


async def test_an_https_proxy_tunnels_to_the_engine_and_never_sees_the_key(
    tmp_path: Path, tls_engine: FaultEngine, certificates: Certificates
) -> None:
    with ConnectProxy() as proxy:
        env = {**NO_PROXY, "HTTPS_PROXY": proxy.url, "https_proxy": proxy.url, "KIMI_LSP_API_KEY": KEY}
        options = {"engine": {"caBundle": str(certificates.ca)}}
        client, session = await start_session(tmp_path, "neovim", options, engine=tls_engine.url, env=env)
        try:
            assert await _suggestion(session) == "al_count"
        finally:
            await _stop(client)
    assert proxy.heads and all(h.startswith(f"CONNECT 127.0.0.1:{tls_engine.port} ") for h in proxy.heads)
    assert not any(KEY in head or "authorization" in head.lower() for head in proxy.heads)
    assert set(tls_engine.authorizations()) == {f"Bearer {KEY}"}  # inside the tunnel, to the engine


async def test_the_api_key_from_the_environment_reaches_the_engine_on_every_path(tmp_path: Path) -> None:
    with FaultEngine(slow_tokens=100) as engine:
        options = {"engine": {"deadlineMs": 1000}}
        env = {**NO_PROXY, "KIMI_LSP_API_KEY": KEY}
        client, session = await start_session(tmp_path, "neovim", options, engine=engine.url, env=env)
        try:
            assert await _suggestion(session) == "al_count"
            engine.mode = "slow"  # the deadline aborts it: /abort_request carries the key too
            uri = session.open("b.py", "def helper():\n    pass\n\nhel")
            assert await client.text_document_inline_completion_async(_inline(uri)) is None
            for _ in range(100):
                if engine.aborts:
                    break
                await asyncio.sleep(0.05)
        finally:
            await _stop(client)
    paths = {seen.path for seen in engine.seen}
    assert {"/health", "/generate", "/abort_request"} <= paths
    assert set(engine.authorizations()) == {f"Bearer {KEY}"}


async def test_the_api_key_setting_wins_over_the_environment(tmp_path: Path) -> None:
    with FaultEngine() as engine:
        options = {"engine": {"apiKey": "from-settings-" + KEY}}
        env = {**NO_PROXY, "KIMI_LSP_API_KEY": KEY}
        client, session = await start_session(tmp_path, "neovim", options, engine=engine.url, env=env)
        try:
            assert await _suggestion(session) == "al_count"
        finally:
            await _stop(client)
    assert set(engine.authorizations()) == {f"Bearer from-settings-{KEY}"}


async def test_a_redirect_to_another_host_is_not_followed_and_the_key_stays_home(tmp_path: Path) -> None:
    with FaultEngine() as elsewhere, FaultEngine() as engine:
        engine.redirect_to = elsewhere.url.replace("127.0.0.1", "localhost")  # another host name, another port
        client, session = await start_session(
            tmp_path, "neovim", engine=engine.url, env={**NO_PROXY, "KIMI_LSP_API_KEY": KEY}
        )
        try:
            assert await _suggestion(session) == "al_count"
            engine.mode = "redirect"
            uri = session.open("c.py", "def helper():\n    pass\n\nhel")
            assert await client.text_document_inline_completion_async(_inline(uri)) is None
            status = await _status(client)
            assert status["engine"] == "down" and "307" in status["message"], status
        finally:
            await _stop(client)
        assert elsewhere.seen == []  # nothing, and so no key, ever reached the other host
        assert [seen.path for seen in engine.seen].count("/generate") == 2  # the second one was redirected


@pytest.mark.parametrize("source", ["environment", "settings"])
async def test_the_api_key_never_reaches_the_log(tmp_path: Path, source: str) -> None:
    log = tmp_path / "server.log"
    with FaultEngine() as engine:
        options = {"engine": {"apiKey": KEY}} if source == "settings" else {}
        env = {**NO_PROXY, "KIMI_LSP_API_KEY": KEY} if source == "environment" else NO_PROXY
        client, session = await start_session(
            tmp_path, "neovim", options, engine=engine.url, env=env, args=["-vv", "--log-file", str(log)]
        )
        try:
            assert await _suggestion(session) == "al_count"
            client.workspace_did_change_configuration(
                lsp.DidChangeConfigurationParams(settings={"kimi": {"engine": {"apiKey": KEY, "timeoutMs": 5000}}})
            )
            await _status(client)
        finally:
            await _stop(client)
    text = log.read_text()
    assert "DEBUG" in text and "/generate" in text  # the log is the verbose one
    assert KEY not in text
    assert set(engine.authorizations()) == {f"Bearer {KEY}"}
