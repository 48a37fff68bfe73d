"""Counting tokens for the prompt budget.

`TokenCounter` is what the prompt builder needs: the number of tokens a text costs. `TokenizerCounter` counts
with the model's own tokenizer (the `tokenizers` package on its tokenizer.json); `Estimate` counts without
one, from the text's length, and errs on the high side (a unit test bounds its error against a real
tokenizer on code). Both remember recent answers: the same snippets are counted on every keystroke. Loading a
tokenizer is `kimi_lsp.model.tokenizer`'s job; this module does no I/O.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Protocol

CHARS_PER_TOKEN = 3.0  # code runs 3.3-4.5 characters a token in BPE vocabularies; fewer means over-counting
_CACHE_SIZE = 4096


class TokenCounter(Protocol):
    def count(self, text: str) -> int:
        """Tokens `text` costs. Pure: the same text always counts the same."""
        ...


class Estimate:
    """ceil(len / CHARS_PER_TOKEN): never under the truth by much on code, cheap, no tokenizer needed."""

    def count(self, text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)


class _Encoder(Protocol):  # tokenizers.Tokenizer
    def encode(
        self, sequence: Any, pair: Any = ..., is_pretokenized: bool = ..., add_special_tokens: bool = ...
    ) -> _Encoding: ...


class _Encoding(Protocol):
    @property
    def ids(self) -> list[int]: ...


class TokenizerCounter:
    """Counts with a `tokenizers.Tokenizer`; remembers the last few thousand texts it counted."""

    def __init__(self, tokenizer: _Encoder) -> None:
        self._tokenizer = tokenizer
        self._seen: OrderedDict[str, int] = OrderedDict()

    def count(self, text: str) -> int:
        known = self._seen.get(text)
        if known is not None:
            self._seen.move_to_end(text)
            return known
        tokens = len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        self._seen[text] = tokens
        if len(self._seen) > _CACHE_SIZE:
            self._seen.popitem(last=False)
        return tokens
