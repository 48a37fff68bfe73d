"""Explain and rewrite a selection: the instructions the model gets and how its answers are read. Everything
that is not LSP; pure functions.

A selection is worked on in whole lines (`whole_lines`): a range ending at the start of a line stops at the line
before it. The prompt for either is the document up to the selection's last line (the pipeline's prompt path),
followed by the task: the instruction names the lines by their 1-based numbers.
"""

from __future__ import annotations

EXPLAIN_MAX_TOKENS = 256
REWRITE_MAX_TOKENS = 512
MAX_INSTRUCTION_CHARS = 500


def whole_lines(start_line: int, end_line: int, end_character: int, num_lines: int) -> tuple[int, int]:
    """(first, last): the lines (0-based, inclusive) a selection covers; a selection that ends at a line's start
    does not take that line (unless it is empty). Clamped to the document's `num_lines`. Pure."""
    last = end_line - 1 if end_character == 0 and end_line > start_line else end_line
    last = max(0, min(last, num_lines - 1))
    return min(max(0, start_line), last), last


def explain_task(first: int, last: int, comment: str) -> str:
    """The instruction after the selection in a prompt to explain it. Pure."""
    return f"\n\n{comment} Explanation of lines {first + 1}-{last + 1} above, in a few plain sentences:\n{comment}"


def rewrite_task(first: int, last: int, instruction: str, comment: str) -> str:
    """The instruction after the selection in a prompt to rewrite it as `instruction` says (one line, cut). Pure."""
    said = " ".join(instruction.split())[:MAX_INSTRUCTION_CHARS]
    return f"\n\n{comment} Lines {first + 1}-{last + 1} above rewritten ({said}), the new lines only:\n"


def unfence(answer: str) -> str:
    """The model's answer without a Markdown code fence around it or after it ("\\n" line ends). Pure."""
    text = answer.replace("\r\n", "\n")
    if text.lstrip().startswith("```"):
        text = text.lstrip()
        text = text[text.find("\n") + 1 :] if "\n" in text else ""
    fence = text.find("```")
    return text[:fence] if fence >= 0 else text


def explanation(answer: str, comment: str) -> str:
    """The explanation in the model's answer: the comment marks of its lines dropped, one paragraph. Pure."""
    lines = [line.strip().removeprefix(comment).strip() for line in unfence(answer).split("\n")]
    return " ".join(line for line in lines if line)


def rewritten(answer: str) -> str:
    """The new lines in the model's answer, without a code fence and blank lines around them, ending in no
    line end ("\\n" line ends). Pure."""
    lines = unfence(answer).split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(line.rstrip() for line in lines)
