"""Choosing the cross-file context that fits the budget, laid out for the engine's prefix cache.

Candidates are taken by tier (scope, definitions, similar code, repo map) and score within a tier; one that
does not fit the token budget is skipped and the next one tried. Layout keeps the prompt's head stable from
keystroke to keystroke: what was shown before keeps its place, new pieces go after it, and the scope (which
moves with the cursor) comes last; a piece shown before ranks as if it scored half again as much, so the set
changes only when the ranking really changes. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from .sources import Candidate
from .templates import Snippet
from .tokens import TokenCounter

STICKY = 1.5
FRAME_TOKENS = 4  # the separator and newlines around each snippet


def select(
    candidates: Sequence[Candidate], counter: TokenCounter, budget_tokens: int, previous: Sequence[str] = ()
) -> tuple[Candidate, ...]:
    """The candidates to show, in prompt order, costing at most `budget_tokens`. `previous`: the keys shown
    last time for this document, in their order."""
    shown = {key: at for at, key in enumerate(previous)}
    ranked = sorted(candidates, key=lambda c: (c.tier, -c.score * (STICKY if c.key in shown else 1.0), c.key))
    chosen: list[Candidate] = []
    spent = 0
    for candidate in ranked:
        cost = cost_of(candidate, counter)
        if spent + cost <= budget_tokens:
            chosen.append(candidate)
            spent += cost
    kept = sorted((c for c in chosen if c.key in shown and c.tier >= 0), key=lambda c: shown[c.key])
    new = [c for c in chosen if c.key not in shown and c.tier >= 0]
    return (*kept, *new, *(c for c in chosen if c.tier < 0))


def cost_of(candidate: Candidate, counter: TokenCounter) -> int:
    return counter.count(candidate.path) + counter.count(candidate.text) + FRAME_TOKENS


def snippets(chosen: Sequence[Candidate]) -> tuple[Snippet, ...]:
    return tuple(Snippet(c.path, c.text) for c in chosen)
