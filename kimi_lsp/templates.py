"""Prompt templates, one per model profile.

Owns the exact text a model sees: its fill-in-the-middle tokens and order, how cross-file snippets are laid
out, and the stop strings. A profile names its template; an unknown profile is an error, never a silent
fallback. Layout rule (RadixAttention): the most stable text first, the cursor last. Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Snippet:
    """Code from another file, shown to the model as context."""

    path: str
    text: str


Render = Callable[[str, str, tuple[Snippet, ...]], str]


@dataclass(slots=True, frozen=True)
class Template:
    name: str
    render: Render  # (prefix, suffix, snippets) -> prompt
    stop: tuple[str, ...]


def _fim(prefix_tok: str, suffix_tok: str, middle_tok: str, file_sep: str, order: str) -> Render:
    def render(prefix: str, suffix: str, snippets: tuple[Snippet, ...]) -> str:
        context = "".join(f"{file_sep}{s.path}\n{s.text}\n" for s in snippets) if file_sep else ""
        if order == "spm":
            return f"{context}{suffix_tok}{suffix}{prefix_tok}{prefix}{middle_tok}"
        return f"{context}{prefix_tok}{prefix}{suffix_tok}{suffix}{middle_tok}"

    return render


_KIMI_K2_SYSTEM = (
    "You are a code completion engine. The user sends a file with one hole marked <|hole|>. "
    "Reply with exactly the code that fills the hole: no explanation, no code fences, no repeated context."
)


def _kimi_k2(prefix: str, suffix: str, snippets: tuple[Snippet, ...]) -> str:
    context = "".join(f"### {s.path}\n{s.text}\n" for s in snippets)
    user = f"{context}### current file\n{prefix}<|hole|>{suffix}"
    return (
        f"<|im_system|>system<|im_middle|>{_KIMI_K2_SYSTEM}<|im_end|>"
        f"<|im_user|>user<|im_middle|>{user}<|im_end|>"
        "<|im_assistant|>assistant<|im_middle|>"
    )


TEMPLATES: dict[str, Template] = {
    "kimi-tiny": Template(
        "kimi-tiny",
        _fim("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>", "spm"),
        ("<|endoftext|>", "<|file_sep|>"),
    ),
    "qwen2.5-coder": Template(
        "qwen2.5-coder",
        _fim("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>", "psm"),
        ("<|endoftext|>", "<|file_sep|>", "<|fim_pad|>", "<|repo_name|>"),
    ),
    "deepseek-coder": Template(
        "deepseek-coder",
        _fim("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "", "psm"),
        ("<｜end▁of▁sentence｜>", "<｜fim▁begin｜>", "<|EOT|>"),
    ),
    "starcoder": Template(
        "starcoder",
        _fim("<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>", "psm"),
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
