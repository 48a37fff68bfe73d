"""End-to-end fixtures: the real server over stdio, driven by pytest-lsp with recorded client capabilities,
talking to a scripted engine whose requests and aborts are recorded to a file."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types as lsp
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

# Recorded capabilities: VS Code 1.65 negotiates utf-16 and takes pushed diagnostics;
# Neovim 0.11 negotiates utf-8 and pulls diagnostics.
CLIENTS = ("visual-studio-code", "neovim")

# kimi-tiny prompts run left to right and are healed: after indentation, a space or a line start the prompt
# leaves that whitespace out (and the newline before indentation) and the model writes it first
# (kimi_lsp/healing.py), so those answers start with it.
SCRIPT: dict[str, Any] = {
    "responses": [
        {"contains": "# case: slow", "text": "\n    x = 1\n" + "    x = 1\n" * 30, "delay_ms": 100},
        {"contains": "# case: fix", "text": "\ndef broken():\n"},
        {"contains": "# case: add", "text": "\n    return a + b\n\ndef unrelated():\n    pass\n"},
        {"contains": "# case: emoji", "text": " len(s)"},
        {"contains": "# case: dedent", "text": "\nprint(f())\n"},
        {"contains": "# case: complete", "text": "al_count"},
        {
            "contains": "# case: several",
            "text": "\n    return a * b\n",
            "samples": ["\n    return a - b\n", "\n    return a * b\n", "\n    return a - b\n", "\n    return b * a\n"],
        },
    ],
    "default": "",
}


def capabilities(name: str) -> lsp.ClientCapabilities:
    return client_capabilities(name)


STATUSES: dict[int, list[Any]] = {}  # id(client) -> kimi/status notifications received


def make_client() -> LanguageClient:
    """pytest-lsp's test client, also recording the kimi/status notifications."""
    client = make_test_lsp_client()
    received: list[Any] = []
    STATUSES[id(client)] = received

    @client.feature("kimi/status")
    def on_status(params: Any) -> None:
        received.append(params)

    return client


@dataclass
class Session:
    client: LanguageClient
    root: Path
    record: Path
    client_name: str
    capabilities: lsp.ServerCapabilities

    @property
    def pulls_diagnostics(self) -> bool:
        text_document = capabilities(self.client_name).text_document
        return text_document is not None and text_document.diagnostic is not None

    @property
    def statuses(self) -> list[Any]:
        return STATUSES[id(self.client)]

    def records(self, event: str | None = None) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        rows = [json.loads(line) for line in self.record.read_text().splitlines()]
        return [r for r in rows if event is None or r["event"] == event]

    def open(self, name: str, text: str, language_id: str = "python") -> str:
        uri = (self.root / name).as_uri()
        self.client.text_document_did_open(
            lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text))
        )
        return uri


async def start_session(
    tmp_path: Path,
    client_name: str,
    init_options: dict[str, Any] | None = None,
    engine: str | None = None,
    files: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
) -> tuple[LanguageClient, Session]:
    """Start the server on a workspace holding `files` (relative path -> text), with `env` added to its
    environment and `args` to its command line."""
    record = tmp_path / "engine-record.jsonl"
    script = tmp_path / "engine.json"
    script.write_text(json.dumps({**SCRIPT, "record": str(record)}))
    root = tmp_path / "workspace"
    root.mkdir(exist_ok=True)
    for name, text in (files or {}).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    command = [sys.executable, "-m", "kimi_lsp", "--stdio", "--engine", engine or f"scripted:{script}", *args]
    server_env = {**os.environ, **env} if env is not None else None
    client = await ClientServerConfig(server_command=command, client_factory=make_client, server_env=server_env).start()
    assert isinstance(client, LanguageClient)
    result = await client.initialize_session(
        lsp.InitializeParams(
            capabilities=capabilities(client_name),
            root_uri=root.as_uri(),
            workspace_folders=[lsp.WorkspaceFolder(uri=root.as_uri(), name="workspace")],
            initialization_options=_options(init_options or {}),
        )
    )
    return client, Session(client, root, record, client_name, result.capabilities)


def _options(given: dict[str, Any]) -> dict[str, Any]:
    """No debounce, and one inline suggestion per request (these tests count engine requests; alternatives
    are tested where a test asks for them with model.suggestions), under what the test gives."""
    model = given.get("model", {})
    return {"debounceMs": 0, **given, "model": {"suggestions": 1, **model} if isinstance(model, dict) else model}


@pytest_asyncio.fixture(params=CLIENTS)
async def session(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Session]:
    client, session = await start_session(tmp_path, request.param)
    yield session
    await client.shutdown_session()
    await client.stop()
