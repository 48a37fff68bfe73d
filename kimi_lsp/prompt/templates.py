"""Prompt templates, one per model profile.

Owns the exact text a model sees: its fill-in-the-middle tokens (or none: left to right), how cross-file
snippets are laid out, the stop strings, and whether the prompt is healed. A profile names its template; an
unknown profile is an error, never a silent fallback. Layout rule (RadixAttention): the most stable text
first, the cursor last. Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Snippet:
    """Code from another file, shown to the model as context."""

    path: str
    text: str


# (prefix, suffix, snippets, file path, the file's line comment) -> prompt
Render = Callable[[str, str, tuple[Snippet, ...], str, str], str]


@dataclass(slots=True, frozen=True)
class Template:
    name: str
    render: Render
    stop: tuple[str, ...]
    # the model continues the prefix (no suffix, no end of its own): prompts are healed (healing.py) and what
    # it writes is bounded by the caller
    left_to_right: bool = False


def _files(file_sep: str, snippets: tuple[Snippet, ...], comment: str) -> str:
    """Cross-file snippets, each behind its file separator and path; without a separator token, each headed by
    a comment in the current file's language naming its path."""
    head = file_sep or f"{comment} "
    return "".join(f"{head}{s.path}\n{s.text}\n" for s in snippets)


def _fim(prefix_tok: str, suffix_tok: str, middle_tok: str, file_sep: str) -> Render:
    """Prefix-suffix-middle, as these models were trained."""

    def render(prefix: str, suffix: str, snippets: tuple[Snippet, ...], path: str = "", comment: str = "#") -> str:
        return f"{_files(file_sep, snippets, comment)}{prefix_tok}{prefix}{suffix_tok}{suffix}{middle_tok}"

    return render


def _left_to_right(file_sep: str) -> Render:
    """The snippets, then the file's own header and its text up to the cursor: no suffix (the model continues
    the text)."""

    def render(prefix: str, suffix: str, snippets: tuple[Snippet, ...], path: str = "", comment: str = "#") -> str:
        header = f"{file_sep}{path}\n" if path else ""
        return _files(file_sep, snippets, comment) + header + prefix

    return render


_KIMI_K2_SYSTEM = (
    "You are a code completion engine. The user sends a file with one hole marked <|hole|>. "
    "Reply with exactly the code that fills the hole: no explanation, no code fences, no repeated context."
)


def _kimi_k2(prefix: str, suffix: str, snippets: tuple[Snippet, ...], path: str = "", comment: str = "#") -> str:
    context = "".join(f"### {s.path}\n{s.text}\n" for s in snippets)
    user = f"{context}### current file\n{prefix}<|hole|>{suffix}"
    return (
        f"<|im_system|>system<|im_middle|>{_KIMI_K2_SYSTEM}<|im_end|>"
        f"<|im_user|>user<|im_middle|>{user}<|im_end|>"
        "<|im_assistant|>assistant<|im_middle|>"
    )


TEMPLATES: dict[str, Template] = {
    # Left to right: on held-out code our tiny model completes a line better from the prefix alone than from
    # either FIM order (docs/engine.md).
    "kimi-tiny": Template(
        "kimi-tiny",
        _left_to_right("<|file_sep|>"),
        ("<|endoftext|>", "<|file_sep|>"),
        left_to_right=True,
    ),
    # the same model with the FIM tokens it was trained on (it sees the suffix; it completes worse)
    "kimi-tiny-fim": Template(
        "kimi-tiny-fim",
        _fim("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>"),
        ("<|endoftext|>", "<|file_sep|>"),
    ),
    "qwen2.5-coder": Template(
        "qwen2.5-coder",
        _fim("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>"),
        ("<|endoftext|>", "<|file_sep|>", "<|fim_pad|>", "<|repo_name|>"),
    ),
    "deepseek-coder": Template(
        "deepseek-coder",
        _fim("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", ""),
        ("<｜end▁of▁sentence｜>", "<｜fim▁begin｜>", "<|EOT|>"),
    ),
    "starcoder": Template(
        "starcoder",
        _fim("<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>"),
        ("<|endoftext|>", "<file_sep>"),
    ),
    "kimi-k2": Template("kimi-k2", _kimi_k2, ("<|im_end|>", "[EOS]")),
}


def template_for(profile: str) -> Template:
    """The template a model profile names. Raises KeyError for an unknown profile."""
    try:
        return TEMPLATES[profile]
    except KeyError:
        raise KeyError(f"no prompt template for model profile {profile!r}; known: {', '.join(TEMPLATES)}") from None
