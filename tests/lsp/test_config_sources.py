"""Settings without an editor extension, end to end: the config file and the environment set the model profile
(so the prompt template) under the LSP settings the client sends (kimi_lsp/config_file.py)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types as lsp

from .conftest import start_session

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="XDG_CONFIG_HOME is Linux's")


async def _prompt(tmp_path: Path, env: dict[str, str], init_options: dict[str, Any] | None = None) -> str:
    config = tmp_path / "config" / "kimi-lsp"
    config.mkdir(parents=True)
    (config / "config.toml").write_text('[model]\nprofile = "qwen2.5-coder"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "KIMI_LSP_PROFILE": "", **env}
    client, session = await start_session(tmp_path, "visual-studio-code", init_options=init_options, env=env)
    try:
        uri = session.open("add.py", "# case: add\ndef add(a, b):\n    \n")
        await client.text_document_inline_completion_async(
            lsp.InlineCompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=lsp.Position(line=2, character=4),
                context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
            )
        )
        (request,) = session.records("request")
        return str(request["prompt"])
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_the_config_file_sets_the_profile(tmp_path: Path) -> None:
    assert "<|fim_prefix|>" in await _prompt(tmp_path, {})  # qwen2.5-coder's FIM tokens


async def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    prompt = await _prompt(tmp_path, {"KIMI_LSP_PROFILE": "starcoder"})
    assert "<fim_prefix>" in prompt and "<|fim_prefix|>" not in prompt


async def test_the_client_settings_win_over_both(tmp_path: Path) -> None:
    prompt = await _prompt(tmp_path, {"KIMI_LSP_PROFILE": "starcoder"}, {"model": {"profile": "kimi-tiny"}})
    assert "fim_prefix" not in prompt


async def test_engine_python_names_the_interpreter_for_the_embedded_engine(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-engine" / "bin" / "python")
    client, _ = await start_session(
        tmp_path, "visual-studio-code", init_options={"engine": {"python": missing}}, engine="embedded"
    )
    try:
        status: dict[str, Any] = {}
        for _ in range(200):
            status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
            if status["engine"] != "starting":
                break
            await asyncio.sleep(0.05)
        assert status["engine"] == "off" and missing in status["message"], status
    finally:
        await client.shutdown_session()
        await client.stop()
