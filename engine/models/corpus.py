"""Training corpus: the CPython standard library sources, minus a fixed held-out list, plus FIM formatting.

Pure and deterministic given a seed: the same stdlib and seed give the same samples. Never trains on
HELD_OUT modules (they are the evaluation set).
"""

from __future__ import annotations

import random
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

EOS = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_SUFFIX = "<|fim_suffix|>"
FIM_MIDDLE = "<|fim_middle|>"
FILE_SEP = "<|file_sep|>"
SPECIAL_TOKENS = (EOS, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, FILE_SEP)

# Top-level stdlib modules/packages never trained on; evaluate.py measures on these.
HELD_OUT = (
    "textwrap",
    "shlex",
    "fractions",
    "statistics",
    "graphlib",
    "difflib",
    "colorsys",
    "heapq",
    "bisect",
    "fnmatch",
    "glob",
    "string",
    "json",
)
# Not code we want to learn from (tests, vendored data, generated tables, IDLE, 2to3 fixtures).
_SKIP_PARTS = {
    "test",
    "tests",
    "idlelib",
    "lib2to3",
    "site-packages",
    "__pycache__",
    "turtledemo",
    "ensurepip",
    "encodings",
    "pydoc_data",
    "config-3.11-x86_64-linux-gnu",
}
_MAX_FILE_BYTES = 300_000


@dataclass(slots=True, frozen=True)
class SourceFile:
    path: str  # relative to the stdlib root, e.g. "asyncio/tasks.py"
    text: str


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def _top_module(rel: Path) -> str:
    return rel.parts[0].removesuffix(".py")


def iter_sources(held_out: bool) -> Iterator[SourceFile]:
    """Yield stdlib .py files in sorted order: the held-out set if held_out, else the training set."""
    root = stdlib_root()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if _SKIP_PARTS.intersection(rel.parts) or path.stat().st_size > _MAX_FILE_BYTES:
            continue
        if (_top_module(rel) in HELD_OUT) != held_out:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if text.strip():
            yield SourceFile(str(rel), text)


def chunk_lines(text: str, max_chars: int) -> list[str]:
    """Split text into line-aligned chunks of at most ~max_chars characters."""
    chunks: list[str] = []
    cur: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        if cur and size + len(line) > max_chars:
            chunks.append("".join(cur))
            cur, size = [], 0
        cur.append(line)
        size += len(line)
    if cur:
        chunks.append("".join(cur))
    return chunks


def _fim_span(text: str, rng: random.Random) -> tuple[int, int]:
    """Pick the middle span: half the time (the rest of) one line, else a random span of a few lines."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    i = rng.randrange(len(lines))
    if rng.random() < 0.5:  # (the rest of) one line
        begin = starts[i]
        if rng.random() < 0.3:  # from a random column
            begin += rng.randrange(len(lines[i].rstrip("\n")) + 1)
        return begin, starts[i + 1]
    j = min(len(lines), i + 1 + rng.randrange(8))
    return starts[i], starts[j]


def format_sample(src: SourceFile, chunk: str, rng: random.Random, fim_rate: float) -> str:
    """One training sample: plain left-to-right text, or prefix-suffix-middle (PSM) FIM."""
    header = f"{FILE_SEP}{src.path}\n" if rng.random() < 0.5 else ""
    if rng.random() >= fim_rate or not chunk.strip():
        return f"{header}{chunk}{EOS}"
    begin, end = _fim_span(chunk, rng)
    prefix, middle, suffix = chunk[:begin], chunk[begin:end], chunk[end:]
    return f"{FIM_PREFIX}{header}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}{middle}{EOS}"


def training_texts(files: list[SourceFile], seed: int, fim_rate: float, max_chars: int) -> list[str]:
    """All samples of one pass over the training files, shuffled with `seed`."""
    rng = random.Random(seed)
    samples = [format_sample(src, chunk, rng, fim_rate) for src in files for chunk in chunk_lines(src.text, max_chars)]
    rng.shuffle(samples)
    return samples
