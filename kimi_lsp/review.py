"""Model review of functions, and the model-written doc comments: everything that is not LSP.

A review looks at one function or method at a time (a `Unit`: an outline definition's lines). The model is
asked, through the pipeline's prompt path, for a JSON object `{"findings": [...]}` whose shape SGLang enforces
with the `json_schema` sampling parameter (`FINDINGS_SCHEMA`); each finding has `startLine` and `endLine` (the
1-based file lines shown to the model), `severity`, `message`, an optional `replacement` (the fixed lines) and a
`confidence` in 0..1. `parse_findings` reads the answer defensively: text that is not that JSON is no findings
(and one log line); a finding outside the function's lines or malformed is dropped. Findings are cached by the
content hash of their function (`Unit.key`) with lines relative to the function's first line, so a function that
only moved keeps its findings and an unchanged file sent again costs no engine request.

`Reviews` schedules reviews per document: an idle timer (restarted by every change) and at most one review task
in flight; a request while one runs makes it run once more when it ends; closing the document cancels both.

Pure functions except `Reviews` (asyncio) and `FindingsCache` (a bounded dict). No I/O, no server.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from .index.model import Definition

log = logging.getLogger(__name__)

Severity = Literal["error", "warning", "information", "hint"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "information", "hint")
FUNCTION_KINDS = frozenset({"function", "method", "constructor"})
DOCUMENTED_KINDS = FUNCTION_KINDS | frozenset({"class", "struct", "interface", "enum", "trait"})
MAX_MESSAGE_CHARS = 500
MAX_FINDINGS = 20  # per function
REVIEW_MAX_TOKENS = 512
CACHE_ENTRIES = 4096  # functions whose findings are kept

FINDINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "findings": {
            "type": "array",
            "maxItems": MAX_FINDINGS,
            "items": {
                "type": "object",
                "properties": {
                    "startLine": {"type": "integer"},
                    "endLine": {"type": "integer"},
                    "severity": {"type": "string", "enum": list(SEVERITIES)},
                    "message": {"type": "string"},
                    "replacement": {"type": "string"},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                },
                "required": ["startLine", "endLine", "severity", "message", "confidence"],
            },
        }
    },
    "required": ["findings"],
}
FINDINGS_SCHEMA_TEXT = json.dumps(FINDINGS_SCHEMA, separators=(",", ":"))


@dataclass(slots=True, frozen=True)
class Unit:
    """One function or method of a document: its name, first and last line (0-based, inclusive), its text
    ("\\n" line ends) and `key`, the content hash its findings are cached by."""

    name: str
    start_line: int
    end_line: int
    text: str
    key: str


@dataclass(slots=True, frozen=True)
class Finding:
    """One problem the model found. Lines are 0-based and inclusive: relative to its function's first line in
    the cache, the document's lines once `placed`. `replacement`: the lines that fix it ("\\n" line ends, no
    final line end), or None."""

    start_line: int
    end_line: int
    severity: Severity
    message: str
    replacement: str | None
    confidence: float

    def placed(self, first_line: int) -> Finding:
        return replace(self, start_line=self.start_line + first_line, end_line=self.end_line + first_line)


def document_lines(text: str) -> list[str]:
    """The lines of `text` without their breaks, split as LSP splits them ("\\n", "\\r\\n", "\\r"). Pure."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def units_of(definitions: Sequence[Definition], lines: Sequence[str], language: str, profile: str) -> tuple[Unit, ...]:
    """The functions and methods of an outline that a review looks at: those not nested inside another
    function (a nested one is reviewed with its outer function). The key hashes the language, the model profile
    and the text. Pure."""
    units: list[Unit] = []
    for definition in definitions:
        if definition.kind not in FUNCTION_KINDS or _inside_function(definitions, definition):
            continue
        first, last = definition.span.start_line, min(definition.span.end_line, len(lines) - 1)
        if first > last:
            continue
        text = "\n".join(lines[first : last + 1])
        key = hashlib.sha256(f"{language}\0{profile}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
        units.append(Unit(definition.name, first, last, text, key))
    return tuple(units)


def _inside_function(definitions: Sequence[Definition], definition: Definition) -> bool:
    parent, seen = definition.parent, 0
    while 0 <= parent < len(definitions) and seen < len(definitions):
        if definitions[parent].kind in FUNCTION_KINDS:
            return True
        parent, seen = definitions[parent].parent, seen + 1
    return False


def review_task(unit: Unit, comment: str) -> str:
    """The instruction that follows the document in a review prompt: the function with its file line numbers,
    and what to answer. Pure."""
    numbered = "\n".join(f"{unit.start_line + 1 + i:>5} | {line}" for i, line in enumerate(unit.text.split("\n")))
    return (
        f"\n\n{comment} Code review of `{unit.name}`, lines {unit.start_line + 1}-{unit.end_line + 1}:\n"
        f"{numbered}\n"
        f'{comment} Report only real bugs in these lines as JSON {{"findings": [...]}}: startLine and endLine '
        f"(the numbers above), severity (error, warning, information or hint), message, replacement (the fixed "
        f"lines, optional) and confidence (0 to 1).\n"
    )


def parse_findings(answer: str, unit: Unit) -> tuple[Finding, ...]:
    """The findings of a model's answer for `unit`, lines relative to its first line. An answer that is not the
    JSON of FINDINGS_SCHEMA gives none (logged once); a finding that is malformed, or whose lines are not inside
    the function, is dropped. Pure (but for the log line)."""
    try:
        data = json.loads(answer)
    except ValueError as error:
        log.info("review of %s: the model's answer is not JSON (%s): no findings", unit.name, error)
        return ()
    items = data.get("findings") if isinstance(data, dict) else data
    if not isinstance(items, list):
        log.info("review of %s: the model's answer has no list of findings", unit.name)
        return ()
    last = unit.end_line - unit.start_line
    found: list[Finding] = []
    for item in items[:MAX_FINDINGS]:
        finding = _finding(item, unit.start_line + 1)
        if finding is not None and 0 <= finding.start_line <= finding.end_line <= last and finding not in found:
            found.append(finding)
    return tuple(found)


def _finding(item: object, first_line_number: int) -> Finding | None:
    """One finding of the answer, lines made relative to the function's first line number (1-based)."""
    if not isinstance(item, dict):
        return None
    start, end, severity = item.get("startLine"), item.get("endLine"), item.get("severity")
    message, replacement, confidence = item.get("message"), item.get("replacement"), item.get("confidence")
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        return None
    if severity not in SEVERITIES or not isinstance(message, str) or not message.strip():
        return None
    if not isinstance(confidence, (int, float)) or isinstance(confidence, bool) or not 0 <= confidence <= 1:
        return None
    fix = replacement.replace("\r\n", "\n").removesuffix("\n") if isinstance(replacement, str) else None
    return Finding(
        start - first_line_number,
        end - first_line_number,
        severity,  # checked against SEVERITIES
        message.strip()[:MAX_MESSAGE_CHARS],
        fix if fix else None,
        float(confidence),
    )


def shown(cached: Iterable[Finding], first_line: int, min_confidence: float) -> list[Finding]:
    """Cached findings of a function whose first line is now `first_line`, placed in the document: those at
    `min_confidence` or above. Pure."""
    return [finding.placed(first_line) for finding in cached if finding.confidence >= min_confidence]


class FindingsCache:
    """Function content hash -> its findings (relative lines); the least recently used go first."""

    def __init__(self, entries: int = CACHE_ENTRIES) -> None:
        self._entries = entries
        self._found: OrderedDict[str, tuple[Finding, ...]] = OrderedDict()

    def get(self, key: str) -> tuple[Finding, ...] | None:
        found = self._found.get(key)
        if found is not None:
            self._found.move_to_end(key)
        return found

    def put(self, key: str, findings: tuple[Finding, ...]) -> None:
        self._found[key] = findings
        self._found.move_to_end(key)
        while len(self._found) > self._entries:
            self._found.popitem(last=False)


class Reviews:
    """When reviews run, per document: `idle` (re)starts its timer, `now` asks at once; at most one review task
    per document is in flight, and a request while it runs makes it run once more afterwards (so a burst of
    saves is one or two reviews, never one each). `close` cancels the timer and the task. `run(uri)` does one
    review of the document as it is then. All methods run on the event loop."""

    def __init__(self, run: Callable[[str], Coroutine[Any, Any, None]]) -> None:
        self._run = run
        self.cache = FindingsCache()
        self.baseline: dict[str, frozenset[str]] = {}  # uri -> keys of its functions when it was opened
        self.reviewed: set[str] = set()  # documents that have had a review (their findings may show)
        self.units: dict[str, tuple[tuple[int, str], tuple[Unit, ...]]] = {}  # uri -> ((version, profile), units)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()

    def idle(self, uri: str, delay_s: float) -> None:
        """The document changed: review it once it has been left alone for `delay_s`."""
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self._timers[uri] = asyncio.get_running_loop().call_later(delay_s, self.now, uri)

    def now(self, uri: str) -> None:
        """Review the document now, or right after the review in flight for it."""
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        if uri in self._tasks:
            self._again.add(uri)
            return
        task = asyncio.create_task(self._run(uri))
        self._tasks[uri] = task
        task.add_done_callback(lambda done: self._ended(uri, done))

    def in_flight(self, uri: str) -> bool:
        return uri in self._tasks

    def close(self, uri: str) -> None:
        """The document closed: its timer and review are cancelled, what it had is forgotten."""
        timer = self._timers.pop(uri, None)
        if timer is not None:
            timer.cancel()
        self._again.discard(uri)
        self.baseline.pop(uri, None)
        self.reviewed.discard(uri)
        self.units.pop(uri, None)
        task = self._tasks.pop(uri, None)
        if task is not None:
            task.cancel()

    def _ended(self, uri: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(uri) is task:
            del self._tasks[uri]
        if not task.cancelled() and task.exception() is not None:
            log.error("review of %s failed: %r", uri, task.exception())
        if uri in self._again:
            self._again.discard(uri)
            self.now(uri)


# Doc comments: what the model writes, in each language's style.

_BLOCK_LANGUAGES = frozenset({"javascript", "typescript", "typescriptreact", "java", "c", "cpp"})
_LINE_DOC = {"go": "//", "rust": "///"}


def doc_comment_title(language: str) -> str:
    return "Add docstring with Kimi" if language == "python" else "Add doc comment with Kimi"


def documentable(language: str) -> bool:
    return language == "python" or language in _BLOCK_LANGUAGES or language in _LINE_DOC


def doc_task(name: str, kind: str, comment: str) -> str:
    """The instruction after the definition in a doc-comment prompt. Pure."""
    return f"\n\n{comment} One or two sentences of documentation for the {kind} `{name}` above, plain text:\n"


def clean_doc(answer: str) -> str:
    """The model's documentation text without the quotes or comment marks it may have written, at most 8
    lines, trailing blanks dropped. Pure."""
    lines: list[str] = []
    for raw in answer.replace("\r\n", "\n").strip().split("\n"):
        line = raw.strip()
        for mark in ('"""', "'''", "/**", "*/", "///", "//", "#", "*"):
            if line.startswith(mark):
                line = line[len(mark) :].strip()
        for mark in ('"""', "'''", "*/"):
            line = line.removesuffix(mark).strip()
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines[:8])


def format_doc(text: str, language: str, indent: str, newline: str) -> str:
    """`text` as a doc comment of `language` at `indent`, whole lines ending in `newline`: a Python docstring
    (to go under the def line, `indent` being the body's), `/** ... */` (JavaScript, TypeScript, Java, C, C++)
    or line comments (`//` in Go, `///` in Rust) to go above the definition. Pure."""
    lines = text.split("\n")
    if language == "python":
        body = text.replace('"""', '\\"\\"\\"').split("\n")
        if len(body) == 1:
            return f'{indent}"""{body[0]}"""{newline}'
        rest = "".join(f"{indent}{line}{newline}" if line else newline for line in body[1:])
        return f'{indent}"""{body[0]}{newline}{rest}{indent}"""{newline}'
    if language in _LINE_DOC:
        mark = _LINE_DOC[language]
        return "".join(f"{indent}{mark} {line}{newline}" if line else f"{indent}{mark}{newline}" for line in lines)
    middle = "".join(
        f"{indent} * {line.replace('*/', '* /')}{newline}" if line else f"{indent} *{newline}" for line in lines
    )
    return f"{indent}/**{newline}{middle}{indent} */{newline}"
