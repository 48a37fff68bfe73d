"""is_secret_path (by path alone) and scrub_secrets (redaction of credential-looking text)."""

from __future__ import annotations

import pytest

from kimi_lsp.index.secrets import REDACTED, is_secret_path, scrub_secrets


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        "app/.env.production",
        "prod.env",
        "a/b/server.pem",
        "tls.key",
        "id_rsa",
        "id_rsa.pub",
        "x/id_ed25519",
        ".npmrc",
        ".pypirc",
        ".netrc",
        "credentials.json",
        "cert.p12",
        "cert.pfx",
        "/home/u/.aws/credentials",
        "/home/u/.ssh/known_hosts",
        "C:\\Users\\u\\.aws\\credentials",
        ".git-credentials",
    ],
)
def test_secret_paths(path: str) -> None:
    assert is_secret_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "main.py",
        "env.py",
        "keys.py",
        "src/key.rs",
        "config.json",
        "aws/client.py",
        "docs/credentials.md",
        "environment.ts",
    ],
)
def test_ordinary_paths(path: str) -> None:
    assert not is_secret_path(path)


@pytest.mark.parametrize(
    "text, leaked",
    [
        ('aws_key = "AKIAIOSFODNN7EXAMPLE"', "AKIAIOSFODNN7EXAMPLE"),
        ("password = 'hunter2'", "hunter2"),
        ('DB_PASSWORD: "s3cr3t value"', "s3cr3t value"),
        ("API_KEY=abc123def456ghi", "abc123def456ghi"),
        ('headers = {"Authorization": "Bearer eyJhbGciOi.abc.def123456"}', "eyJhbGciOi.abc.def123456"),
        ("token: ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ('url = "postgres://app:pa55word@db/prod"', "pa55word"),
        ("const apiKey = `sk-live-1234567890abcdefghij`;", "sk-live-1234567890abcdefghij"),
    ],
)
def test_secrets_are_redacted(text: str, leaked: str) -> None:
    scrubbed = scrub_secrets(text)
    assert leaked not in scrubbed and REDACTED in scrubbed


def test_private_key_block_keeps_line_count() -> None:
    text = "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY-----\nb\n"
    scrubbed = scrub_secrets(text)
    assert "MIIEow" not in scrubbed and scrubbed.count("\n") == text.count("\n")


@pytest.mark.parametrize(
    "text",
    [
        "password = get_password()",
        "token = request.token",
        "secret_key = os.environ['SECRET_KEY']",
        "def check_password(password: str) -> bool:",
        "api_key = None",
        "token = ''",
        "x = compute(1, 2)",
    ],
)
def test_code_without_literal_secrets_is_untouched(text: str) -> None:
    assert scrub_secrets(text) == text
