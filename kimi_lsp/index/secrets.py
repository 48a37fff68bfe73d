"""Secret files and secret-looking text.

`is_secret_path` decides from the path alone (it never opens anything) whether a file may hold credentials; the
indexer and the context builder never read such files. `scrub_secrets` redacts credential-looking strings from
text before it leaves the machine (prompts to a model). Both are pure; neither does I/O.
"""

from __future__ import annotations

import fnmatch
import os
import re
from functools import lru_cache
from pathlib import PurePath

_SECRET_NAMES = frozenset(
    {
        ".npmrc",
        ".pypirc",
        ".netrc",
        "_netrc",
        ".pgpass",
        ".git-credentials",
        ".htpasswd",
        ".dockercfg",
        "credentials.json",
        "credentials.yml",
        "credentials.yaml",
        "client_secret.json",
        "service-account.json",
        "secrets.json",
        "secrets.yml",
        "secrets.yaml",
        ".boto",
        ".s3cfg",
        "terraform.tfvars",
        ".vault-token",
    }
)
_SECRET_GLOBS = (
    ".env*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.ovpn",
    "*.asc",
    "*.gpg",
    "*.tfstate",
    "*.tfstate.*",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "*.ppk",
    "client_secret*.json",
    "service-account*.json",
    "*-credentials.json",
)
_SECRET_GLOB_RE = re.compile("|".join(fnmatch.translate(g) for g in _SECRET_GLOBS))
_SECRET_PARENTS: dict[str, frozenset[str] | None] = {
    ".aws": frozenset({"credentials", "config"}),
    ".docker": frozenset({"config.json"}),
    ".kube": frozenset({"config"}),
    ".ssh": None,  # everything under .ssh
    ".gnupg": None,
}

_PARENT_HINT = re.compile(r"(?i)\.(?:aws|docker|kube|ssh|gnupg)")


def is_secret_file(path: str) -> bool:
    """is_secret_path for the file itself or, through symlinks, the file it is (`notes.py -> ~/.aws/credentials`).
    Costs a system call per path component: for single files, not for a walk's every entry."""
    return is_secret_path(path) or is_secret_path(os.path.realpath(path))


def is_secret_path(path: str | PurePath) -> bool:
    """True when a file, by its name or place, may hold credentials and must never be read."""
    text = str(path).replace("\\", "/")
    name = text.rpartition("/")[2].lower()
    if name in _SECRET_NAMES or _SECRET_GLOB_RE.match(name):
        return True
    if not _PARENT_HINT.search(text):
        return False
    parts = text.lower().split("/")
    for parent in parts[:-1]:
        if parent in _SECRET_PARENTS and _SECRET_PARENTS[parent] is None:
            return True
    inside = _SECRET_PARENTS.get(parts[-2]) if len(parts) > 1 else None
    return inside is not None and name in inside


REDACTED = "[REDACTED]"

_PRIVATE_KEY = re.compile(
    r"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)(.*?)(-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)",
    re.DOTALL,
)
_TOKENS = re.compile(
    r"\b(?:(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|sk-[A-Za-z0-9_-]{20,}"  # OpenAI-style API keys
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"  # JWTs
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9\-._~+/]{8,}=*)")
_KEY_WORDS = r"(?:password|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|token|auth[_-]?token|client[_-]?secret|credentials?)"
# name = "literal" | name: 'literal' | NAME=literal (unquoted: at least 8 token characters incl. a digit, not a call)
_QUOTED_ASSIGN = re.compile(
    rf"(?i)(\b[\w.-]*{_KEY_WORDS}[\w.-]*[\"']?\s*(?::=|=|:|=>)\s*)([rbuf]?)([\"'`])((?:(?!\3).){{1,}}?)(\3)"
)
_BARE_ASSIGN = re.compile(
    rf"(?i)(\b[\w.-]*{_KEY_WORDS}[\w.-]*\s*(?:=|:)\s*)(?=[A-Za-z0-9_\-+/=]*\d)([A-Za-z0-9_\-+/=]{{8,}})(?![\w(.\[])"
)
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@)")


def scrub_secrets(text: str) -> str:
    """The text with credential-looking strings replaced by [REDACTED]; line structure is kept."""
    text = _PRIVATE_KEY.sub(_redact_key_block, text)
    text = _TOKENS.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    text = _QUOTED_ASSIGN.sub(_redact_quoted, text)
    return _BARE_ASSIGN.sub(lambda m: m.group(1) + REDACTED, text)


@lru_cache(maxsize=16_384)
def _scrub_line(line: str) -> str:
    return scrub_secrets(line)


def scrub_text(text: str) -> str:
    """`scrub_secrets`, line by line with a cache: on every keystroke only the edited line costs anything.
    Text holding a private key block (the one multi-line pattern) is scrubbed whole."""
    if "PRIVATE KEY" in text:
        return scrub_secrets(text)
    return "".join(_scrub_line(line) for line in text.splitlines(keepends=True))


def _redact_key_block(match: re.Match[str]) -> str:
    newlines = match.group(2).count("\n")
    middle = "\n" + REDACTED + "\n" * (newlines - 1) if newlines else REDACTED
    return match.group(1) + middle + match.group(3)


def _redact_quoted(match: re.Match[str]) -> str:
    value = match.group(4)
    if value == REDACTED or not value.strip():
        return match.group(0)
    return match.group(1) + match.group(2) + match.group(3) + REDACTED + match.group(5)
