"""The token counter for a model profile: its own tokenizer where the project ships one, else an estimate.

Only the embedded model's tokenizer (kimi-tiny's tokenizer.json in the engine package) is on disk; other
profiles run on remote engines whose tokenizers we do not download, so they count with `Estimate`. Loading
never raises: a missing `tokenizers` package or file falls back to the estimate with one log line.
"""

from __future__ import annotations

import importlib.util
import logging
from functools import cache
from pathlib import Path

from ..prompt.tokens import Estimate, TokenCounter, TokenizerCounter

log = logging.getLogger(__name__)

_SHIPPED = {"kimi-tiny": "kimi-tiny", "kimi-tiny-fim": "kimi-tiny"}  # profile -> model folder in the engine package


@cache
def counter_for(profile: str) -> TokenCounter:
    """The counter for `profile` (made once per profile)."""
    folder = _SHIPPED.get(profile)
    path = _model_dir(folder) / "tokenizer.json" if folder is not None else None
    if path is None or not path.is_file():
        return Estimate()
    try:
        from tokenizers import Tokenizer

        return TokenizerCounter(Tokenizer.from_file(str(path)))
    except Exception as error:  # tokenizers raises bare Exceptions on a bad file; it must not cost completions
        log.warning("cannot load the tokenizer %s (%s): estimating token counts", path, error)
        return Estimate()


def _model_dir(folder: str) -> Path:
    spec = importlib.util.find_spec("kimi_engine")
    if spec is None or not spec.submodule_search_locations:
        return Path("/nonexistent")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / folder
