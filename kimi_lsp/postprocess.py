"""Post-processing of model output before an editor shows it.

Pure functions, applied by `finish` to every suggestion, in this order (the tabby-agent filter each mirrors is
named; clients/tabby-agent/src/codeCompletion/postprocess/):

1. cut where the completion leaves the cursor's block, or after MAX_LINES (limitScope, by indentation);
2. a trailing run of near-identical blank-line-separated blocks is cut to its first block (removeRepetitiveBlocks);
3. a trailing run of near-identical lines is cut to its first line (removeRepetitiveLines);
4. a last line that ends in a repeated pattern is dropped (removeLineEndsWithRepetition);
5. a last line that closes a block the text after the cursor already closes is dropped
   (removeDuplicatedBlockClosingLine); text that the rest of the line or the next lines already hold is
   dropped from the end (removeDuplicateSuffixLines);
6. no suggestion when it (nearly) equals the text after the cursor (dropDuplicated), or when it only repeats
   the line or lines right above the cursor (ours: the prefix side of dropDuplicated);
7. a completion that adds syntax errors is cut to its first line, or dropped (the caller passes a function that
   counts them).

"Near-identical" is tabby's: a Levenshtein distance of at most 10% of the longer text (5% against the suffix).
Unlike tabby, the first line is compared as it will read, completed by the text before the cursor on its line,
so `self.` + `x()` and a following `self.x()` count as the same line. `block_end` is also used while streaming,
to stop decoding early.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MAX_LINES = 16
REPEATED_LINES = 5  # removeRepetitiveLines: this many repetitions of a line (so one more line) are cut
REPEATED_BLOCKS = 2  # removeRepetitiveBlocks: the same for blocks separated by blank lines
MAX_REPEATED_GROUP = 4  # repeats_prefix: the longest group of lines above the cursor that a repetition copies
# removeLineEndsWithRepetition's patterns /(.{3,}?)\1{5,}$/ and /(.{10,}?)\1{3,}$/: (shortest unit, times in all)
_LINE_ENDS_IN_REPETITION = ((3, 6), (10, 4))
_BLOCK_SEPARATOR = re.compile(r"\n\s*\n")


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def block_end(completion: str, cursor_line_prefix: str) -> int | None:
    """Offset in `completion` where it leaves the cursor's block, or None if it has not (yet).

    The first line continues the cursor's line and is always kept. A later non-blank line that is indented
    less than the cursor's line ends the block, as does the line after MAX_LINES."""
    base = indent_of(cursor_line_prefix) if cursor_line_prefix.strip() else len(cursor_line_prefix)
    offset = 0
    for number, line in enumerate(completion.splitlines(keepends=True)):
        complete = line.endswith("\n")
        if number > 0 and complete and line.strip() and indent_of(line) < base:
            return offset
        if number >= MAX_LINES:
            return offset
        offset += len(line)
    return None


def drop_suffix_overlap(completion: str, suffix: str) -> str:
    """Remove the tail of `completion` that the text after the cursor already contains: the rest of the
    cursor's line (e.g. closing brackets) or whole following lines."""
    rest_of_line = suffix.split("\n", 1)[0].strip()
    text = completion.rstrip()
    if rest_of_line and text.endswith(rest_of_line):
        text = text[: -len(rest_of_line)]
    lines = text.split("\n")
    following = next((line.strip() for line in suffix.split("\n", MAX_LINES + 1)[1:] if line.strip()), None)
    while len(lines) > 1 and following is not None and lines[-1].strip() == following:
        lines.pop()
    return "\n".join(lines).rstrip() if len(lines) > 1 else lines[0]


def distance(a: str, b: str) -> int:
    """The Levenshtein distance of `a` and `b` (Hyyro's bit-parallel form: one pass over the longer text with the
    shorter one's character positions as the bits of an integer; two lines take microseconds)."""
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    positions: dict[str, int] = {}
    for i, char in enumerate(b):
        positions[char] = positions.get(char, 0) | 1 << i
    full, top = (1 << m) - 1, 1 << (m - 1)
    plus, minus, score = full, 0, m
    for char in a:
        eq = positions.get(char, 0)
        xv = eq | minus
        xh = (((eq & plus) + plus) ^ plus) | eq
        ph = minus | (~(xh | plus) & full)
        mh = plus & xh
        if ph & top:
            score += 1
        elif mh & top:
            score -= 1
        ph = (ph << 1 | 1) & full
        mh = (mh << 1) & full
        plus = mh | (~(xv | ph) & full)
        minus = ph & xv
    return score


def similar(a: str, b: str, ratio: float = 0.1) -> bool:
    """Within a Levenshtein distance of `ratio` of the longer of the two (tabby's threshold)."""
    limit = ratio * max(len(a), len(b))
    return abs(len(a) - len(b)) <= limit and distance(a, b) <= limit


def _trailing_run(units: list[str], threshold: int) -> int | None:
    """The index of the first unit of the run of near-identical non-blank units that ends the list (its last
    unit left out: it may be unfinished), if that run holds at least `threshold` repetitions; else None."""
    index, count = len(units) - 2, 0
    while index >= 1:
        if not units[index].strip():
            index -= 1
            continue
        prev = index - 1
        while prev >= 0 and not units[prev].strip():
            prev -= 1
        if prev < 0 or not similar(units[index].strip(), units[prev].strip()):
            break
        count, index = count + 1, prev
    return index if count >= threshold else None


def remove_repetitive_lines(completion: str, cursor_line_prefix: str = "") -> str:
    """Cut a completion that ends in a run of near-identical lines after its first one (removeRepetitiveLines:
    a model stuck in a loop writes the same line until it runs out of tokens)."""
    lines = completion.split("\n")
    first = _trailing_run([cursor_line_prefix + lines[0], *lines[1:]], REPEATED_LINES)
    return completion if first is None else "\n".join(lines[: first + 1]).rstrip()


def remove_repetitive_blocks(completion: str, cursor_line_prefix: str = "") -> str:
    """The same for blocks separated by blank lines (removeRepetitiveBlocks: function after similar function)."""
    ends = [m.start() for m in _BLOCK_SEPARATOR.finditer(completion)] + [len(completion)]
    starts = [0] + [m.end() for m in _BLOCK_SEPARATOR.finditer(completion)]
    blocks = [completion[start:end] for start, end in zip(starts, ends)]
    blocks[0] = cursor_line_prefix + blocks[0]
    first = _trailing_run(blocks, REPEATED_BLOCKS)
    return completion if first is None else completion[: ends[first]].rstrip()


def remove_line_ends_with_repetition(completion: str) -> str | None:
    """Drop the last non-blank line when it ends in a short pattern repeated many times (`foo = foo = foo =`,
    `1000000000000000000000`); None when that is the only line (removeLineEndsWithRepetition)."""
    lines = completion.split("\n")
    index = len(lines) - 1
    while index >= 0 and not lines[index].strip():
        index -= 1
    if index < 0:
        return completion
    if not ends_in_repetition(lines[index].rstrip("\r")):
        return completion
    return "\n".join(lines[:index]).rstrip() if index > 0 else None


def ends_in_repetition(line: str) -> bool:
    """Does `line` end in a unit of 3+ characters written 6+ times, or of 10+ characters written 4+ times? (The
    unit of such an ending is its own last characters, so each length is one comparison, not a regex search.)"""
    return any(
        line.endswith(line[-size:] * times)
        for shortest, times in _LINE_ENDS_IN_REPETITION
        for size in range(shortest, len(line) // times + 1)
    )


def remove_duplicated_block_closing_line(completion: str, cursor_line_prefix: str, suffix: str) -> str:
    """Drop a last line that closes a block (it is indented less than the line before it) when the first
    non-blank line after the cursor's line starts the same way: the block is closed already
    (removeDuplicatedBlockClosingLine: `}` before `} else {`)."""
    lines = completion.split("\n")
    if len(lines) < 2 or indent_of(([cursor_line_prefix + lines[0], *lines[1:]])[-2]) <= indent_of(lines[-1]):
        return completion
    following = next((line for line in suffix.split("\n", MAX_LINES + 1)[1:] if line.strip()), None)
    last = lines[-1]
    if following is not None and (last.startswith(following.rstrip()) or following.startswith(last.rstrip())):
        return "\n".join(lines[:-1]).rstrip()
    return completion


def duplicates_suffix(completion: str, suffix: str) -> bool:
    """Does the completion (nearly) repeat what follows the cursor? Its first lines (up to 3, from the first
    non-blank one) against as many lines of the suffix, from the rest of the cursor's line or the next
    non-blank line (dropDuplicated; unlike tabby, a text is never a duplicate of one it shares nothing with, so
    `x` before `)` stays)."""
    ours, theirs = _from_first_non_blank(completion), _from_first_non_blank(suffix)
    count = min(3, len(ours), len(theirs))
    if count < 1:
        return False
    a, b = "\n".join(ours[:count]).strip(), "\n".join(theirs[:count]).strip()
    d = distance(a, b)
    return d <= max(1.0, 0.05 * len(a), 0.05 * len(b)) and d < max(len(a), len(b))


def repeats_prefix(completion: str, prefix: str, suffix: str = "") -> bool:
    """Does the completion only repeat the lines right above the cursor? The lines it makes (the first one
    completed by the text before the cursor on its line, the last by the rest of the line), blank ones left
    out, are a copy of the last line above, or of a group of up to MAX_REPEATED_GROUP lines, once or over and
    over. Indentation counts: a `}` closing an outer block after one closing an inner block is no copy."""
    above, _, cursor_line = prefix.rpartition("\n")
    made = [line.rstrip() for line in (cursor_line + completion + suffix.split("\n", 1)[0]).split("\n")]
    made = [line for line in made if line.strip()]
    window = 4 * MAX_REPEATED_GROUP  # lines above looked at: blank ones do not count
    before = [line.rstrip() for line in above.rsplit("\n", window)[-window:] if line.strip()]
    for period in range(1, min(MAX_REPEATED_GROUP, len(before), len(made)) + 1):
        sequence = before[-period:] + made
        if all(sequence[i + period] == sequence[i] for i in range(len(made))):
            return True
    return False


def _from_first_non_blank(text: str) -> list[str]:
    lines = text.split("\n", 8)
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    return lines[start:]


def finish(
    completion: str,
    prefix: str,
    suffix: str,
    errors_with: Callable[[str], int] | None = None,
) -> str | None:
    """The text to show, or None for no suggestion (the rules of the module docstring, in order).

    `errors_with(insertion)` counts the syntax errors in the document with `insertion` at the cursor; when
    given, a completion that adds errors is cut to its first line, and dropped if that still adds errors."""
    cursor_line_prefix = prefix.rsplit("\n", 1)[-1]
    end = block_end(completion, cursor_line_prefix)
    text = completion[:end] if end is not None else completion
    text = remove_repetitive_blocks(text, cursor_line_prefix)
    text = remove_repetitive_lines(text, cursor_line_prefix)
    cut = remove_line_ends_with_repetition(text)
    if cut is None:
        return None
    text = remove_duplicated_block_closing_line(cut, cursor_line_prefix, suffix)
    text = drop_suffix_overlap(text, suffix)
    if not worth_showing(text, prefix, suffix):
        return None
    if errors_with is None:
        return text
    baseline = errors_with("")
    first_line = text.split("\n", 1)[0]
    if errors_with(text) <= baseline:
        return text
    if first_line != text and worth_showing(first_line, prefix, suffix) and errors_with(first_line) <= baseline:
        return first_line
    return None


def worth_showing(text: str, prefix: str, suffix: str) -> bool:
    """Not blank, not (nearly) the text after the cursor, not a copy of the lines above it."""
    return bool(text.strip()) and not duplicates_suffix(text, suffix) and not repeats_prefix(text, prefix, suffix)
