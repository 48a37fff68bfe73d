from __future__ import annotations

import pytest

from kimi_lsp.settings import Settings, camel, parse_settings


def test_defaults_when_nothing_is_sent() -> None:
    assert parse_settings(None) == (Settings(), ())
    assert parse_settings({}) == (Settings(), ())


def test_camel_case_on_the_wire() -> None:
    assert camel("max_tokens") == "maxTokens"
    result = parse_settings(
        {
            "model": {"maxTokens": 128, "temperature": 1},
            "debounceMs": 0,
            "features": {"inlineCompletion": False},
            "exclude": ["**/gen/**"],
        }
    )
    assert result.invalid == ()
    s = result.settings
    assert (s.model.max_tokens, s.model.temperature, s.debounce_ms) == (128, 1.0, 0)
    assert s.features.inline_completion is False and s.features.completion is True
    assert s.exclude == ("**/gen/**",)


def test_vscode_section_is_accepted() -> None:
    assert (
        parse_settings({"kimi": {"engine": {"url": "http://127.0.0.1:30000"}}}).settings.engine.url
        == "http://127.0.0.1:30000"
    )


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ({"model": {"maxTokens": "lots"}}, "model.maxTokens"),
        ({"model": {"maxTokens": 0}}, "model.maxTokens"),
        ({"model": {"maxTokens": True}}, "model.maxTokens"),
        ({"model": {"profile": "gpt-5"}}, "model.profile"),
        ({"model": {"temperature": -1}}, "model.temperature"),
        ({"engine": {"url": "ftp://x"}}, "engine.url"),
        ({"engine": {"timeoutMs": 5}}, "engine.timeoutMs"),
        ({"debounceMs": -5}, "debounceMs"),
        ({"features": {"diagnostics": "yes"}}, "features.diagnostics"),
        ({"features": 3}, "features"),
        ({"exclude": "*.min.js"}, "exclude"),
    ],
)
def test_an_invalid_value_falls_back_to_its_default_and_is_named(raw: dict[str, object], name: str) -> None:
    result = parse_settings(raw)
    assert result.invalid == (name,)
    assert result.settings == Settings()


def test_invalid_value_keeps_the_valid_ones_beside_it() -> None:
    result = parse_settings({"model": {"maxTokens": -1, "temperature": 0.5}})
    assert result.settings.model.temperature == 0.5 and result.settings.model.max_tokens == 64


def test_changes_apply_over_the_current_settings() -> None:
    base = parse_settings({"model": {"maxTokens": 99}}).settings
    assert parse_settings({"debounceMs": 7}, base).settings.model.max_tokens == 99


def test_null_means_unset_for_optional_values() -> None:
    assert parse_settings({"engine": {"url": None, "apiKey": None}}).invalid == ()


def test_several_inline_suggestions_by_default_and_one_to_eight() -> None:
    assert Settings().model.suggestions == 3
    assert parse_settings({"model": {"suggestions": 1}}).settings.model.suggestions == 1
    assert parse_settings({"model": {"suggestions": 9}}).invalid == ("model.suggestions",)
