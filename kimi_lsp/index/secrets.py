"""Secret files and secret-looking text.

`is_secret_path` decides from the path alone (it never opens anything) whether a file may hold credentials; the
indexer and the context builder never read such files. `scrub_secrets` redacts credential-looking strings from
text before it leaves the machine (prompts to a model): cloud and API tokens, private key blocks (whole or cut
off by a window), bearer credentials, passwords in URLs, literals assigned to secret-sounding names, and
random-looking values assigned to names like *KEY*, *PASS*, *TOKEN*; every pattern runs in linear time.
`secret_at` tells whether a cursor sits inside a credential (the pipeline then sends nothing). All are pure;
none does I/O.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
from collections import Counter
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
    if is_secret_path(path):
        return True
    try:
        return is_secret_path(os.path.realpath(path))
    except ValueError:  # a NUL in the name: no such file can exist, and nothing of it is sent
        return True


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

# Private key blocks. A block is scrubbed even when the text holds only part of it (a prompt window that starts
# or ends inside it): text after a BEGIN with no END, and the body lines right before an END with no BEGIN.
# A marker counts only where a key would have it (BEGIN ending its line, END starting one; a "\n" escape counts
# as a line break), so code that merely names the markers (a PEM parser) is left alone.
_KEY_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?=[ \t]*(?:\r?\n|\r|\\n|$))", re.M)
_KEY_END = re.compile(r"(?:^[ \t]*|(?<=\\n))(-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)", re.M)
_KEY_BODY_LINE = re.compile(r"[ \t]*[\"']?(?:[A-Za-z0-9+/=]|\\n)*[\"']?[ \t]*,?[ \t]*\\?[\r\n]*")
# every regex below runs in time linear in the line: names are matched from the start of a name only and
# possessively, so a 100,000-character line of `a.a.a...` costs what its length does
_TOKENS = re.compile(
    r"\b(?:(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}"  # AWS access key ids
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|xox[abposre]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|hooks\.slack\.com/services/[A-Za-z0-9/]{20,}"  # Slack webhooks
    r"|sk-[A-Za-z0-9_-]{20,}"  # OpenAI-style API keys
    r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe keys
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|GOCSPX-[A-Za-z0-9_-]{20,}"  # Google OAuth client secrets
    r"|ya29\.[A-Za-z0-9_-]{20,}"  # Google OAuth access tokens
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab tokens
    r"|npm_[A-Za-z0-9]{36}"  # npm tokens
    r"|(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}+\.eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,})"  # JWTs
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9\-._~+/]{8,}=*)")
_KEY_WORDS = r"(?:password|passwd|pwd|secret|api[_-]?key|apikey|access[_-]?key|private[_-]?key|token|auth[_-]?token|client[_-]?secret|credentials?)"
_NAME_START = r"(?<![\w.-])"
_SEPARATOR = r"[\"']?\s*(?::=|=>|=|:)\s*"
# name = "literal" | name: 'literal' | NAME=literal (unquoted: at least 8 token characters incl. a digit, not a
# call). A literal the text cuts off (a window ending inside it) runs to the end of its line.
_QUOTED_ASSIGN = re.compile(
    rf"(?im)({_NAME_START}(?=[\w.-]*?{_KEY_WORDS})[\w.-]++{_SEPARATOR})([rbuf]?)([\"'`])((?:(?!\3).){{1,}}?)(\3|$)"
)
_BARE_ASSIGN = re.compile(
    rf"(?i)({_NAME_START}(?=[\w.-]*?{_KEY_WORDS})[\w.-]++\s*(?:=|:)\s*)(?=[A-Za-z0-9_\-+/=]*\d)"
    r"([A-Za-z0-9_\-+/=]{8,}+)(?![\w(.\[])"
)
# a random-looking value given to any name that says key, pass, secret, token, auth, credential, signature or
# salt (SIGNING_KEY = "...", setdefault("DB_PASS", "...")): scrubbed when it looks generated (random_looking)
_KEYISH = r"(?:key|pass|secret|token|auth|cred|signature|salt)"
_RANDOM_ASSIGN = re.compile(
    rf"(?im)({_NAME_START}(?=[\w.-]*?{_KEYISH})[\w.-]++[\"']?\s*(?::=|=>|=|:|,)\s*[rbuf]?)"
    r"(?:([\"'`])([^\s\"'`\\]{16,}+)(?=\2|$)|([A-Za-z0-9+/=_\-.~]{16,}+))"
)
_URL_PASSWORD = re.compile(r"((?<![a-z0-9+.-])[a-z][a-z0-9+.-]*+://[^\s:/@]++:)([^\s@/]++)(@)")
_BASE64_LINE = re.compile(r"(?m)^([ \t]*[\"']?)([A-Za-z0-9+/]{40,}+={0,2})((?:\\n)?[\"']?,?[ \t]*\r?)$")


def random_looking(value: str) -> bool:
    """Whether `value` looks generated rather than written: upper and lower case letters and digits with at
    least 3.5 bits of entropy per character, or 32+ hex digits with 3. Pure."""
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    mixed = any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value)
    hex_digits = len(value) >= 32 and all(c in "0123456789abcdefABCDEF" for c in value)
    return (mixed and entropy >= 3.5) or (hex_digits and entropy >= 3.0)


def scrub_secrets(text: str) -> str:
    """The text with credential-looking strings replaced by [REDACTED]; line structure is kept."""
    if "PRIVATE KEY" in text:
        text = _scrub_key_blocks(text)
    text = _BASE64_LINE.sub(_redact_base64_line, text)
    text = _TOKENS.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)
    text = _QUOTED_ASSIGN.sub(_redact_quoted, text)
    text = _BARE_ASSIGN.sub(lambda m: m.group(1) + REDACTED, text)
    return _RANDOM_ASSIGN.sub(_redact_random, text)


def secret_at(text: str, offset: int) -> bool:
    """Whether the cursor at `offset` is inside a line (not at its start or end) that holds a credential. The
    text on each side of a cursor is scrubbed apart, so a credential the cursor cuts in two (in its value, or
    in the name that marks it) could pass as two harmless halves: a request there is not sent at all."""
    start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    ends = [i for i in (text.find("\n", offset), text.find("\r", offset)) if i >= 0]
    end = min(ends) if ends else len(text)
    if offset in (start, end):  # the whole line is on one side of the cursor
        return False
    line = text[start:end]
    return _scrub_line(line) != line


@lru_cache(maxsize=16_384)
def _scrub_line(line: str) -> str:
    return scrub_secrets(line)


def scrub_text(text: str) -> str:
    """`scrub_secrets`, line by line with a cache: on every keystroke only the edited line costs anything.
    Text holding a private key block (the one multi-line pattern) is scrubbed whole."""
    if "PRIVATE KEY" in text:
        return scrub_secrets(text)
    return "".join(_scrub_line(line) for line in text.splitlines(keepends=True))


def _blank(body: str) -> str:
    """A key's body redacted, its line breaks kept."""
    newlines = body.count("\n")
    return "\n" + REDACTED + "\n" * (newlines - 1) if newlines else REDACTED


def _scrub_key_blocks(text: str) -> str:
    """Redact the body of every private key block, whole or cut off by the text's start or end."""
    markers = sorted(
        [(m.end(), "begin") for m in _KEY_BEGIN.finditer(text)] + [(m.start(1), "end") for m in _KEY_END.finditer(text)]
    )
    out: list[str] = []
    done = 0  # text[:done] is in `out`
    inside = False
    for at, kind in markers:
        if kind == "begin" and not inside:
            out.append(text[done:at])
            done, inside = at, True
        elif kind == "end" and inside:
            out.append(_blank(text[done:at]))
            done, inside = at, False
        elif kind == "end":  # the text starts inside a block: its body lines are those right before the END
            head = text[done:at]
            lines = head.splitlines(keepends=True)
            body = 0
            while body < len(lines) and _KEY_BODY_LINE.fullmatch(lines[len(lines) - 1 - body]):
                body += 1
            keep = "".join(lines[: len(lines) - body])
            if body:
                out.append(keep + _blank(head[len(keep) :]))
                done = at
    out.append(_blank(text[done:]) if inside else text[done:])
    return "".join(out)


def _redact_base64_line(match: re.Match[str]) -> str:
    """A line that is nothing but a long run of base64 (a key's body, cut off from its markers) goes; runs of
    one kind of character (a row of dashes, a hex digest in lower case) stay."""
    value = match.group(2)
    kinds = any(c.islower() for c in value) + any(c.isupper() for c in value) + any(c.isdigit() for c in value)
    return match.group(1) + REDACTED + match.group(3) if kinds == 3 else match.group(0)


def _redact_random(match: re.Match[str]) -> str:
    quote, value = match.group(2) or "", match.group(3) or match.group(4)
    return match.group(1) + quote + REDACTED if random_looking(value) else match.group(0)


def _redact_quoted(match: re.Match[str]) -> str:
    value = match.group(4)
    if value == REDACTED or not value.strip():
        return match.group(0)
    return match.group(1) + match.group(2) + match.group(3) + REDACTED + match.group(5)
