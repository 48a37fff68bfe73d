from __future__ import annotations

from kimi_lsp.pipeline import ranked


def test_alternatives_are_distinct_from_the_suggestion_and_ranked_by_votes() -> None:
    candidates = ["b()", None, "a()", "c()", "c()\n", "", "c()", "b()"]
    assert ranked("a()", candidates) == ("c()", "b()")  # c(): three votes (trailing whitespace aside), b(): two


def test_ties_keep_the_samples_order_and_no_candidate_is_none() -> None:
    assert ranked("x", ["z", "y", None, "x "]) == ("z", "y")
    assert ranked("x", [None, "  "]) == ()
