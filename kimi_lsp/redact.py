"""Secrets kept out of the log.

Owns `RedactingFilter`, which `__main__` puts on the log handler, and `keep_out`, which registers a secret value
(the engine's API key, from the settings or KIMI_LSP_API_KEY) to be replaced by [REDACTED] in every record
from then on. The filter also redacts the value of any `apiKey` / `api_key` member wherever a record shows
one, since pygls logs the initialize params and configuration answers (at -v and -vv) before the server has
parsed the settings. No I/O.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[REDACTED]"
_API_KEY_MEMBER = re.compile(r"""(?i)(["']?api_?key["']?\s*[:=]\s*)(["'])((?:(?!\2).)*)\2""")
_secrets: set[str] = set()


def keep_out(value: str | None) -> None:
    """Never log `value` (a credential) again."""
    if value:
        _secrets.add(value)


def redact(text: str) -> str:
    """`text` without any registered secret or apiKey member value."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _API_KEY_MEMBER.sub(lambda m: m.group(1) + m.group(2) + REDACTED + m.group(2), text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (arguments formatted in) and exception text through `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
