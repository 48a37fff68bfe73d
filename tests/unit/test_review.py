"""review.py's pure parts: functions as review units, the model's findings read defensively, doc comments in
each language's style; and the json_schema sampling parameter on the wire."""

from __future__ import annotations

import json

import httpx
import pytest

from kimi_lsp.index.model import Definition, Span
from kimi_lsp.model.client import GenerateRequest, SGLangEngine
from kimi_lsp.review import (
    FINDINGS_SCHEMA_TEXT,
    Finding,
    Unit,
    clean_doc,
    format_doc,
    parse_findings,
    shown,
    units_of,
)


def _definition(name: str, kind: str, first: int, last: int, parent: int = -1) -> Definition:
    return Definition(name, kind, Span(first, 0, last, 0), Span(first, 4, first, 4 + len(name)), "", "", parent)


UNIT = Unit("total", 10, 14, "", "key")  # file lines 11..15 as the model is shown them


def _item(**fields: object) -> dict[str, object]:
    return {"startLine": 12, "endLine": 12, "severity": "error", "message": "bug", "confidence": 0.8, **fields}


def test_units_are_functions_not_nested_in_functions() -> None:
    definitions = (
        _definition("Shop", "class", 0, 6),
        _definition("pay", "method", 1, 4, parent=0),
        _definition("inner", "function", 2, 3, parent=1),
        _definition("free", "function", 7, 8),
        _definition("RATE", "constant", 9, 9),
    )
    lines = [f"line {i}" for i in range(10)]
    units = units_of(definitions, lines, "python", "kimi-tiny")
    assert [(u.name, u.start_line, u.end_line, u.text) for u in units] == [
        ("pay", 1, 4, "line 1\nline 2\nline 3\nline 4"),
        ("free", 7, 8, "line 7\nline 8"),
    ]
    moved = units_of((_definition("free", "function", 0, 1),), ["line 7", "line 8"], "python", "kimi-tiny")
    assert moved[0].key == units[1].key  # the content, not the place
    assert units_of(definitions, lines, "python", "qwen2.5-coder")[1].key != units[1].key


def test_findings_are_read_defensively() -> None:
    answer = json.dumps(
        {
            "findings": [
                _item(replacement="    fixed\n"),
                _item(startLine=16, endLine=16),  # past the function
                _item(startLine=13, endLine=12),  # ends before it starts
                _item(severity="fatal"),
                _item(confidence=1.5),
                _item(startLine=True),
                _item(message="  "),
                "not an object",
                _item(replacement="    fixed\n"),  # the same again
            ]
        }
    )
    assert parse_findings(answer, UNIT) == (Finding(1, 1, "error", "bug", "    fixed", 0.8),)
    assert parse_findings(json.dumps([_item(replacement="")]), UNIT) == (Finding(1, 1, "error", "bug", None, 0.8),)
    assert parse_findings("not json", UNIT) == ()
    assert parse_findings('{"findings": 3}', UNIT) == ()


def test_findings_are_placed_and_filtered_by_confidence() -> None:
    cached = (Finding(1, 2, "warning", "a", None, 0.4), Finding(0, 0, "hint", "b", None, 0.5))
    assert shown(cached, 20, 0.5) == [Finding(20, 20, "hint", "b", None, 0.5)]


def test_the_schema_constrains_a_list_of_findings() -> None:
    schema = json.loads(FINDINGS_SCHEMA_TEXT)
    item = schema["properties"]["findings"]["items"]
    assert set(item["required"]) == {"startLine", "endLine", "severity", "message", "confidence"}
    assert "replacement" in item["properties"]


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("python", "Sum the items.", '    """Sum the items."""\n'),
        ("python", "Sum.\n\nSlowly.", '    """Sum.\n\n    Slowly.\n    """\n'),
        ("go", "Sum the items.\nFast.", "    // Sum the items.\n    // Fast.\n"),
        ("rust", "Sum the items.", "    /// Sum the items.\n"),
        ("java", "Sum the items.", "    /**\n     * Sum the items.\n     */\n"),
    ],
)
def test_doc_comments_in_each_language_style(language: str, text: str, expected: str) -> None:
    assert format_doc(text, language, "    ", "\n") == expected


def test_the_models_doc_text_is_cleaned_of_its_own_marks() -> None:
    assert clean_doc('  """Sum the items."""\n') == "Sum the items."
    assert clean_doc("/**\n * Adds.\n * Fast.\n */") == "Adds.\nFast."
    assert clean_doc("// one\n// two\n") == "one\ntwo"


async def test_the_json_schema_goes_in_sampling_params() -> None:
    bodies: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, text='data: {"text": "{}", "meta_info": {"finish_reason": "stop"}}\n\n')

    engine = SGLangEngine("http://engine")
    engine._client = httpx.AsyncClient(base_url="http://engine", transport=httpx.MockTransport(answer))
    for schema in (FINDINGS_SCHEMA_TEXT, None):
        async for _ in engine.stream(GenerateRequest("r", "p", 8, 0.0, (), schema)):
            pass
    await engine.close()
    with_schema, without = (body["sampling_params"] for body in bodies)
    assert isinstance(with_schema, dict) and with_schema["json_schema"] == FINDINGS_SCHEMA_TEXT
    assert isinstance(without, dict) and "json_schema" not in without
