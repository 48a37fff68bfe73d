"""The scrubber against what a prompt really holds: every kind of credential, any window of the text (a key
block cut off at either end), any cursor (a secret cut in two), and lines built to make a regex backtrack.
Pure functions only (kimi_lsp/index/secrets.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_lsp.index.secrets import REDACTED, random_looking, scrub_secrets, scrub_text, secret_at

PEM_BODY = [
    "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2J5r8nF0bYJ1t8Q1Y6oMHbtwVx2N",
    "k9Lq4Vb6a+PXmGaE0r4TtKqfO8c3E1Nz5bE0X3m7YpYwQm1hWQm0J3yB8rH5tFqZ",
    "Rk2Jp9yD3sT8uV1wX4zA7bC0dE3fG6hI9jK2lM5nO8pQ1rS4tU7vW0xY3zA6bC9d",
    "E2fG5hI8jK1lM4nO7pQ0rS3tU6vW9xY2zA5bC8dE1fG4hI7jK0lM3nO6pQ9rS2tU==",
]
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(PEM_BODY) + "\n-----END RSA PRIVATE KEY-----\n"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRETS = {
    "aws id": ('aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"', "AKIAIOSFODNN7EXAMPLE"),
    "aws secret": (f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
    "gcp api key": ('maps = "AIzaSyD4bQ9x7Kc2mN8pL5vR3tW6yZ0aB1cD2eF"', "AIzaSyD4bQ9x7Kc2mN8pL5vR3tW6yZ0aB1cD2eF"),
    "gcp client secret": (
        '{"client_secret": "GOCSPX-1a2B3c4D5e6F7g8H9i0JkLmNoPq"}',
        "GOCSPX-1a2B3c4D5e6F7g8H9i0JkLmNoPq",
    ),
    "gcp key id": (
        '"private_key_id": "8f2c1e9a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e"',
        "8f2c1e9a7b6d5c4e3f2a1b0c9d8e7f6a5b4c3d2e",
    ),
    "github": ("GITHUB = 'ghp_1A2b3C4d5E6f7G8h9I0jK1lM2nO3pQ4rS5tU'", "ghp_1A2b3C4d5E6f7G8h9I0jK1lM2nO3pQ4rS5tU"),
    "slack": ("slack = xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-123456789012-1234567890123"),
    "slack webhook": (
        'hook = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"',
        "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    ),
    "stripe": ("stripe.api_key = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'", "4eC39HqLyjWDarjtT1zdp7dc"),
    "signing key": ('SIGNING_KEY = "q8Zr3Lm2Xv9Tk4Wp7Ns1Yb6Hc0Jd5Fg"', "q8Zr3Lm2Xv9Tk4Wp7Ns1Yb6Hc0Jd5Fg"),
    "db pass": ('os.environ.setdefault("DB_PASS", "Xk2!pQ9zLm4@Rt7wVb1#")', "Xk2!pQ9zLm4@Rt7wVb1#"),
    "session secret": ("SESSION_SECRET: 7f3a9c2e1b8d4f6a0c5e9b2d7a1f4c8e", "7f3a9c2e1b8d4f6a0c5e9b2d7a1f4c8e"),
    "token": ('const authToken = "tK9mZ2pL7xQ4wR1vN8bY5cH3jF6gD0sA";', "tK9mZ2pL7xQ4wR1vN8bY5cH3jF6gD0sA"),
    "password": ('DATABASE_PASSWORD = "correct horse battery staple"', "correct horse battery staple"),
    "url password": ("DSN = 'postgres://app:Sup3rS3cret@db:5432/prod'", "Sup3rS3cret"),
    "bearer": ('headers = {"Authorization": "Bearer abcDEF123456ghiJKL789"}', "abcDEF123456ghiJKL789"),
    "jwt": (
        "jwt = eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
}


def _leaks(scrubbed: str, secret: str, length: int = 8) -> list[str]:
    """Pieces of `secret` at least `length` long that survived in `scrubbed`."""
    return [secret[i : i + length] for i in range(len(secret) - length + 1) if secret[i : i + length] in scrubbed]


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_each_kind_of_credential_is_scrubbed(kind: str) -> None:
    line, secret = SECRETS[kind]
    assert _leaks(scrub_text(line + "\n"), secret) == [], kind


@pytest.mark.parametrize("kind", sorted(SECRETS))
def test_a_cursor_anywhere_in_a_credential_sends_nothing_or_nothing_of_it(kind: str) -> None:
    """Each side of the cursor is scrubbed apart: either the request is refused, or neither side leaks."""
    line, secret = SECRETS[kind]
    text = "x = 1\n" + line + "\ny = 2\n"
    for offset in range(len(text) + 1):
        if secret_at(text, offset):
            continue
        shown = scrub_text(text[:offset]) + "\x00" + scrub_text(text[offset:])
        assert _leaks(shown, secret) == [], (kind, offset)


def test_a_cursor_elsewhere_is_not_refused() -> None:
    text = 'token = "tK9mZ2pL7xQ4wR1vN8bY5cH3jF6gD0sA"\ndef f():\n    return 1\n'
    assert secret_at(text, 3)  # in the name: the value would go out in the text after the cursor
    assert not secret_at(text, text.index("return"))
    assert not secret_at("def f(x):\n    return x\n", 12)


def _pem_file() -> str:
    return "import ssl\n\nKEY = '''\n" + PEM + "'''\n\ndef load():\n    return KEY\n"


def test_any_window_of_a_file_with_a_private_key_shows_none_of_its_body() -> None:
    lines = _pem_file().splitlines(keepends=True)
    for first in range(len(lines)):
        for last in range(first, len(lines) + 1):
            window = "".join(lines[first:last])
            scrubbed = scrub_text(window)
            assert scrubbed.count("\n") == window.count("\n")
            for body in PEM_BODY:
                assert _leaks(scrubbed, body, 12) == [], (first, last)


def test_a_window_ending_inside_a_key_line_shows_none_of_it() -> None:
    text = _pem_file()
    start = text.index(PEM_BODY[1])
    for cut in range(start, start + len(PEM_BODY[1])):
        scrubbed = scrub_text(text[:cut])
        assert _leaks(scrubbed, PEM_BODY[0], 12) == [] and _leaks(scrubbed, PEM_BODY[1][: cut - start], 12) == []


def test_a_one_line_json_key_is_scrubbed() -> None:
    body = "\\n".join(PEM_BODY)
    line = f'  "private_key": "-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n",\n'
    scrubbed = scrub_text(line)
    assert all(_leaks(scrubbed, part, 12) == [] for part in PEM_BODY)


@pytest.mark.parametrize(
    "text",
    [
        'if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n    start = i\nx = compute(a, b)\n',
        'BEGIN = "-----BEGIN PRIVATE KEY-----"\nEND = "-----END PRIVATE KEY-----"\ndef parse(text):\n    pass\n',
        "cache_key = 'user_profile_settings'\nmonkey_name = 'George'\nkeyboard = layout('qwerty')\n",
        "digest = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'\n",
        "# ----------------------------------------------------------------------------------------\n",
        "password = get_password()\nprimary_key = 'id'\nsort_key = lambda row: row.created_at\n",
    ],
)
def test_code_that_only_looks_near_a_secret_is_untouched(text: str) -> None:
    assert scrub_text(text) == text


@pytest.mark.parametrize(
    ("value", "random"),
    [
        ("q8Zr3Lm2Xv9Tk4Wp7Ns1Yb6Hc0Jd5Fg", True),
        ("7f3a9c2e1b8d4f6a0c5e9b2d7a1f4c8e", True),
        ("user_profile_settings", False),
        ("application/json+v2", False),
        ("aaaaaaaaaaaaaaaaaaaaaaaa", False),
    ],
)
def test_random_looking(value: str, random: bool) -> None:
    assert random_looking(value) is random


@pytest.mark.parametrize(
    "line",
    ["a." * 50_000, "ab-" * 33_333, "key." * 25_000, "eyJ-" * 25_000, "password='a " * 8_000, "a://b:" * 16_000],
)
def test_lines_built_to_backtrack_are_scrubbed(line: str) -> None:
    """Each of these took minutes with nested quantifiers (O(n^2) starts); the behaviour checked is that the
    scrub finishes at all under the test timeout, and keeps the text's length class."""
    assert len(scrub_secrets(line)) > 0


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ9_.-=:'\" \n/+"), max_size=300))
def test_scrubbing_keeps_line_structure_and_is_idempotent(text: str) -> None:
    once = scrub_text(text)
    assert once.count("\n") == text.count("\n")
    assert scrub_text(once) == once
    assert REDACTED not in text or REDACTED in once
