from __future__ import annotations

import pytest

from kimi_lsp.prompt.context import PREFIX_ALIGN_LINES, Budget, build, window_prefix, window_suffix
from kimi_lsp.prompt.templates import TEMPLATES, Snippet, template_for
from kimi_lsp.settings import MODEL_PROFILES
from kimi_lsp.snapshot import DocumentSnapshot


def _snap(text: str, cursor: int) -> DocumentSnapshot:
    return DocumentSnapshot("file:///a.py", "python", 1, text, cursor)


def test_every_settings_profile_has_a_template_and_unknown_ones_fail() -> None:
    assert set(MODEL_PROFILES) == set(TEMPLATES)
    with pytest.raises(KeyError, match="no prompt template"):
        template_for("gpt-5")


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("kimi-tiny", "<|file_sep|>b.py\nB\nPRE"),  # left to right: no suffix
        ("kimi-tiny-fim", "<|file_sep|>b.py\nB\n<|fim_prefix|>PRE<|fim_suffix|>SUF<|fim_middle|>"),
        ("qwen2.5-coder", "<|file_sep|>b.py\nB\n<|fim_prefix|>PRE<|fim_suffix|>SUF<|fim_middle|>"),
        ("deepseek-coder", "# b.py\nB\n<｜fim▁begin｜>PRE<｜fim▁hole｜>SUF<｜fim▁end｜>"),  # no file separator
        ("starcoder", "<file_sep>b.py\nB\n<fim_prefix>PRE<fim_suffix>SUF<fim_middle>"),
    ],
)
def test_layouts(profile: str, expected: str) -> None:
    assert template_for(profile).render("PRE", "SUF", (Snippet("b.py", "B"),)) == expected


def test_kimi_k2_has_no_fim_tokens_and_asks_to_fill_the_hole() -> None:
    prompt = template_for("kimi-k2").render("def f():\n    ", "\n", ())
    assert "<|fim" not in prompt
    assert "def f():\n    <|hole|>\n" in prompt
    assert prompt.endswith("<|im_assistant|>assistant<|im_middle|>")
    assert "<|im_end|>" in template_for("kimi-k2").stop


def test_prefix_window_moves_in_aligned_steps_while_typing() -> None:
    lines = [f"line {i} = {i}\n" for i in range(400)]
    text = "".join(lines)
    starts = {window_prefix(text[:cursor], 2000).splitlines()[0] for cursor in range(len(text) - 200, len(text))}
    # 200 keystrokes (15 lines) move the window start at most once, in an aligned step
    assert len(starts) <= 2
    assert all(int(start.split()[1]) % PREFIX_ALIGN_LINES == 0 for start in starts)


def test_windows_respect_their_budgets() -> None:
    text = "x = 1\n" * 5000
    assert len(window_prefix(text, 1000)) <= 1000
    assert window_suffix(text, 100).endswith("\n") and len(window_suffix(text, 100)) <= 100
    assert window_prefix("a" * 5000, 100) == "a" * 100  # one huge line


def test_build_puts_the_cursor_last_and_scrubs() -> None:
    text = "API_KEY = 'sk-123'\ndef f():\n    "
    prompt = build(
        _snap(text, len(text)),
        template_for("qwen2.5-coder"),
        (Snippet("b.py", "b = 1"),),
        scrub=lambda s: s.replace("sk-123", "<redacted>"),
    )
    assert prompt.text.endswith("def f():\n    <|fim_suffix|><|fim_middle|>")
    assert "sk-123" not in prompt.text and "<redacted>" in prompt.text
    assert prompt.text.startswith("<|file_sep|>b.py\nb = 1\n")


def test_build_heals_when_the_template_asks() -> None:
    text = "def f():\n    "
    healed = build(_snap(text, len(text)), template_for("kimi-tiny"))  # left to right: healed
    assert healed.text == "def f():" and healed.tail == "\n    " and healed.prefix == text
    plain = build(_snap(text, len(text)), template_for("kimi-tiny-fim"))  # FIM: the prompt ends at a token
    assert plain.text == f"<|fim_prefix|>{text}<|fim_suffix|><|fim_middle|>" and plain.tail == ""


def test_without_a_file_separator_snippets_are_headed_by_a_comment_in_the_files_language() -> None:
    render = template_for("deepseek-coder").render
    assert render("P", "S", (Snippet("b.ts", "B"),), "a.go", "//").startswith("// b.ts\nB\n")


def test_the_document_gets_the_prompt_budget_less_the_cross_file_budget_and_crlf_becomes_lf() -> None:
    text = "x = 1\r\n" * 5000
    small = build(_snap(text, len(text)), template_for("kimi-tiny"), budget=Budget(1024, 512))
    large = build(_snap(text, len(text)), template_for("kimi-tiny"), budget=Budget(4096, 512))
    assert "\r" not in small.text and len(small.prefix) <= (1024 - 512) * 3 < len(large.prefix) <= (4096 - 512) * 3
    fim = build(_snap(text, 3000), template_for("qwen2.5-coder"), budget=Budget(4096, 2048))
    assert len(fim.prefix) + len(fim.suffix) <= (4096 - 2048) * 3 and fim.suffix


def test_line_by_line_scrubbing_matches_whole_text_scrubbing() -> None:
    from kimi_lsp.index.secrets import scrub_secrets, scrub_text

    text = 'x = 1\ntoken = "abcd1234efgh"\nurl = "https://user:pw12345@host/"\nkey = "AKIA' + "A" * 16 + '"\n'
    assert scrub_text(text) == scrub_secrets(text) != text
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\nabcd\n-----END RSA PRIVATE KEY-----\n"
    assert scrub_text(block) == scrub_secrets(block) and "MIIE" not in scrub_text(block)
