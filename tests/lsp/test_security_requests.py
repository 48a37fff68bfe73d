"""A workspace seeded with every kind of credential - .env files, a private key (PEM block), AWS and GCP keys,
GitHub and Slack tokens, random-looking values given to *KEY*/*SECRET*/*TOKEN*/*PASSWORD* names - plus
gitignored, .kimiignore'd and excluded files. No request to the engine on any path (inline completion,
completion, the quick fix, cross-file context of a file that imports them), with either prompt layout (left to
right, and fill-in-the-middle, which also sends the text after the cursor), contains any of them: the
recording engine sees every prompt. And the quick fix edits only the document it was asked for, inside the
workspace folders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types as lsp

from .conftest import Session, start_session

PEM_BODY = [
    "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2J5r8nF0bYJ1t8Q1Y6oMHbtwVx2N",
    "k9Lq4Vb6a+PXmGaE0r4TtKqfO8c3E1Nz5bE0X3m7YpYwQm1hWQm0J3yB8rH5tFqZ",
    "Rk2Jp9yD3sT8uV1wX4zA7bC0dE3fG6hI9jK2lM5nO8pQ1rS4tU7vW0xY3zA6bC9d",
]
SECRETS = {
    "aws id": "AKIA" + "Q3EGRY6ZKDW7XN4P",
    "aws secret": "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzQ8mKx2LpV",
    "gcp api key": "AIza" + "SyD4bQ9x7Kc2mN8pL5vR3tW6yZ0aB1cD2eF",
    "gcp client secret": "GOCSPX-" + "1a2B3c4D5e6F7g8H9i0JkLmNoPq",
    "gcp key id": "8f2c1e9a7b6d5c4e" + "3f2a1b0c9d8e7f6a5b4c3d2e",
    "github": "ghp_" + "1A2b3C4d5E6f7G8h9I0jK1lM2nO3pQ4rS5tU",
    "slack": "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "signing key": "q8Zr3Lm2Xv9Tk4Wp" + "7Ns1Yb6Hc0Jd5Fg",
    "session secret": "7f3a9c2e1b8d4f6a" + "0c5e9b2d7a1f4c8e",
    "auth token": "tK9mZ2pL7xQ4wR1v" + "N8bY5cH3jF6gD0sA",
    "db password": "Xk2!pQ9zLm4@" + "Rt7wVb1#",
    "env file": "env-file-" + "value-do-not-send",
    "gitignored": "gitignored-" + "module-do-not-send",
    "kimiignored": "kimiignored-" + "module-do-not-send",
    "excluded": "excluded-" + "module-do-not-send",
    "key file": "id-rsa-" + "file-do-not-send",
}
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END RSA PRIVATE KEY-----\n"
CONFIG = f'''"""Settings of the service."""
import os

AWS_ACCESS_KEY_ID = "{SECRETS["aws id"]}"
aws_secret_access_key = {SECRETS["aws secret"]}
MAPS_KEY = "{SECRETS["gcp api key"]}"
GOOGLE = {{"client_secret": "{SECRETS["gcp client secret"]}", "private_key_id": "{SECRETS["gcp key id"]}"}}
GITHUB = '{SECRETS["github"]}'
SLACK_BOT = "{SECRETS["slack"]}"
SIGNING_KEY = "{SECRETS["signing key"]}"
SESSION_SECRET = "{SECRETS["session secret"]}"
os.environ.setdefault("AUTH_TOKEN", "{SECRETS["auth token"]}")
DB_PASSWORD = "{SECRETS["db password"]}"
TLS_KEY = """{PEM}"""


def connect_db(retries: int = 3) -> str:
    """Open the database connection."""
    return "db"
'''
BROKEN = "def broken(:\n    return 1\n"
FILES = {
    ".gitignore": "private/\n",
    ".kimiignore": "internal/\n",
    ".env": f"API_TOKEN={SECRETS['env file']}\n",
    "id_rsa.py": f"KEY = '{SECRETS['key file']}'\n",
    "private/creds.py": f"TOKEN = '{SECRETS['gitignored']}'\n",
    "internal/pricing.py": f"MARGIN = '{SECRETS['kimiignored']}'\n",
    "vendor/keys.py": f"VENDOR = '{SECRETS['excluded']}'\n",
    "config.py": CONFIG + "\n" + BROKEN,
    "app.py": (
        "from config import AWS_ACCESS_KEY_ID, GOOGLE, SIGNING_KEY, TLS_KEY, connect_db\n"
        "from private.creds import TOKEN\n"
        "from internal.pricing import MARGIN\n"
        "from vendor.keys import VENDOR\n\n\n"
        "def main():\n    db = connect_db()\n    return db\n\n\n" + BROKEN
    ),
}


@pytest_asyncio.fixture(params=["kimi-tiny", "kimi-tiny-fim"])
async def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Session]:
    options = {"exclude": ["vendor/"], "model": {"profile": request.param}}
    client, session = await start_session(tmp_path, "neovim", options, files=FILES)
    for _ in range(200):  # the index has the workspace: cross-file context can reach config.py
        if await client.workspace_symbol_async(lsp.WorkspaceSymbolParams(query="connect_db")):
            break
        await asyncio.sleep(0.05)
    yield session
    await client.shutdown_session()
    await client.stop()


async def _ask_everything(session: Session, name: str, positions: list[tuple[int, int]]) -> None:
    """Inline completion and completion at each position, and the quick fix of the document's syntax error."""
    text = (session.root / name).read_text()
    uri = session.open(name, text)
    document = lsp.TextDocumentIdentifier(uri=uri)
    for line, character in positions:
        position = lsp.Position(line=line, character=character)
        await session.client.text_document_inline_completion_async(
            lsp.InlineCompletionParams(
                text_document=document,
                position=position,
                context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
            )
        )
        await session.client.text_document_completion_async(
            lsp.CompletionParams(text_document=document, position=position)
        )
    report = await session.client.text_document_diagnostic_async(lsp.DocumentDiagnosticParams(text_document=document))
    assert isinstance(report, lsp.RelatedFullDocumentDiagnosticReport) and report.items, name
    actions = await session.client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=document, range=report.items[0].range, context=lsp.CodeActionContext(diagnostics=report.items)
        )
    )
    if actions:
        action = actions[0]
        assert isinstance(action, lsp.CodeAction)
        await session.client.code_action_resolve_async(action)


def _leaks(prompt: str) -> list[str]:
    found = [kind for kind, secret in SECRETS.items() if secret in prompt]
    found += [f"pem line {i}" for i, body in enumerate(PEM_BODY) if body[:16] in prompt or body[-16:] in prompt]
    return found


async def test_no_request_on_any_path_carries_a_secret(workspace: Session) -> None:
    config_lines = CONFIG.splitlines()
    ends = [(i, len(line)) for i, line in enumerate(config_lines)]
    pem_line = next(i for i, line in enumerate(config_lines) if line == PEM_BODY[1])
    secret_line = next(i for i, line in enumerate(config_lines) if line.startswith("SIGNING_KEY"))
    positions = [ends[-1], (pem_line, 10), (pem_line + 3, 0), (secret_line, 20), (secret_line, 3), (3, 0)]
    await _ask_everything(workspace, "config.py", positions)
    await _ask_everything(workspace, "app.py", [(7, 8), (8, 13), (0, 5)])
    for name in (".env", "id_rsa.py", "private/creds.py", "internal/pricing.py", "vendor/keys.py"):
        uri = workspace.open(name, (workspace.root / name).read_text())
        await workspace.client.text_document_inline_completion_async(
            lsp.InlineCompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=lsp.Position(line=0, character=3),
                context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
            )
        )
    prompts = [request["prompt"] for request in workspace.records("request")]
    assert len(prompts) >= 6, "the requests reached the engine"
    cross_file = [p for p in prompts if "def main" in p and "Open the database connection" in p]
    assert cross_file, "app.py's prompts carry config.py's definitions (cross-file context)"
    assert any("AWS_ACCESS_KEY_ID = " in p for p in cross_file)  # the imported constant is shown, scrubbed
    assert any("TLS_KEY" in p for p in prompts)  # the key's surroundings were sent, its body not
    for prompt in prompts:
        assert _leaks(prompt) == [], prompt


async def test_a_cursor_inside_a_credential_sends_nothing(workspace: Session) -> None:
    lines = CONFIG.splitlines()
    line = next(i for i, text in enumerate(lines) if text.startswith("SIGNING_KEY"))
    uri = workspace.open("config.py", (workspace.root / "config.py").read_text())
    for character in (2, 16, 30):  # in the name, at the value, inside the value
        answer = await workspace.client.text_document_inline_completion_async(
            lsp.InlineCompletionParams(
                text_document=lsp.TextDocumentIdentifier(uri=uri),
                position=lsp.Position(line=line, character=character),
                context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
            )
        )
        assert answer is None
    assert workspace.records("request") == []
