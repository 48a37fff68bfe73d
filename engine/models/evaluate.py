"""Evaluate the tiny model against an n-gram baseline on held-out stdlib modules (never trained on).

    python -m kimi_engine.models.evaluate --model engine/models/kimi-tiny --cases 200

Cases are code lines (no blank, comment-only or docstring lines) drawn with a fixed seed. Figures per
system, on the same cases:
- next-line exact match: given the file up to a line, greedy-complete that whole line;
- FIM exact match: given prefix and suffix around one removed line, produce that line (model: PSM prompt;
  the n-gram baseline can only use the prefix). "model, as served" prompts the model the way the language
  server does (kimi_lsp/templates.py): left to right, the prefix only, healed like the next-line task;
- similarity: mean difflib ratio between predicted and true line (graded, both tasks);
- parse rate: share of non-empty completions that leave the file parseable by `ast` in place of the line
  (empty completions, i.e. "no suggestion", are counted separately as the empty rate);
- after auto-indent (model only, `--indent`): the FIM cases with the cursor after the line's indentation, as an
  editor leaves it, prompted left to right as is and healed (as the language server does): exact match,
  similarity and empty rate.
The model runs through transformers (greedy); the baseline is a token n-gram with stupid backoff trained on
the same training files with the same tokenizer.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import io
import json
import random
import time
import tokenize
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from kimi_engine.models.corpus import EOS, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX, HELD_OUT, SourceFile, iter_sources
from tokenizers import Tokenizer

PREFIX_CHARS = 1000  # keeps prompts within the training sequence length (512 tokens)
SUFFIX_CHARS = 400
MAX_NEW_TOKENS = 48


@dataclass(slots=True, frozen=True)
class Case:
    path: str
    text: str  # the whole file
    line_no: int  # 0-based index of the line to predict
    prefix: str  # text before the line (cut at a line start)
    target: str  # the line, without its newline
    suffix: str  # text after the line


@dataclass(slots=True, frozen=True)
class Scores:
    next_line_exact: float
    fim_exact: float
    similarity: float  # mean difflib ratio of prediction and target, both tasks
    parse_rate: float  # among non-empty completions
    empty_rate: float  # "no suggestion"
    cases: int
    seconds: float


def code_lines(text: str) -> set[int]:
    """0-based numbers of the lines that hold code: not blank, not comment-only, not inside a string
    that spans lines (docstrings), at least 4 non-blank characters."""
    prose: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
            prose.update(range(tok.start[0] - 1, tok.end[0]))
    return {
        i
        for i, line in enumerate(text.splitlines())
        if i not in prose and len(line.strip()) >= 4 and not line.lstrip().startswith("#")
    }


def make_cases(files: list[SourceFile], n: int, seed: int) -> list[Case]:
    """n cases drawn uniformly over the code lines (see code_lines) of the held-out files."""
    pool = [(f, i) for f in files for i in sorted(code_lines(f.text)) if i > 0]
    picked = random.Random(seed).sample(pool, n)
    cases = []
    for f, i in picked:
        lines = f.text.splitlines(keepends=True)
        before = "".join(lines[:i])
        cut = before.find("\n", max(0, len(before) - PREFIX_CHARS)) + 1 if len(before) > PREFIX_CHARS else 0
        after = "".join(lines[i + 1 :])
        cases.append(Case(f.path, f.text, i, before[cut:], lines[i].rstrip("\r\n"), after[:SUFFIX_CHARS]))
    return cases


def parses(case: Case, completion: str) -> bool:
    lines = case.text.splitlines(keepends=True)
    lines[case.line_no] = completion + "\n"
    try:
        ast.parse("".join(lines))
    except (SyntaxError, ValueError):
        return False
    return True


def line_of(generated: str, heal: bool) -> str:
    """The predicted line: the first line of `generated`, or with `heal` the line after its first newline."""
    if heal:
        generated = generated.split("\n", 1)[1] if "\n" in generated else ""
    return generated.split("\n", 1)[0].rstrip()


class ModelCompleter:
    """Greedy decoding with transformers (KV cache), stopping at a newline or <|endoftext|>."""

    def __init__(self, model_dir: Path, tok: Tokenizer) -> None:
        from transformers import AutoModelForCausalLM

        self.model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
        self.tok = tok
        self.eos = tok.token_to_id(EOS)

    @torch.inference_mode()
    def complete(self, prompt: str, heal: bool) -> str:
        ids = torch.tensor([self.tok.encode(prompt).ids])
        out: list[int] = []
        past = None
        for _ in range(MAX_NEW_TOKENS):
            res = self.model(input_ids=ids, past_key_values=past, use_cache=True)
            past = res.past_key_values
            nxt = int(res.logits[0, -1].argmax())
            if nxt == self.eos:
                break
            out.append(nxt)
            if self.tok.decode(out).count("\n") > heal:
                break
            ids = torch.tensor([[nxt]])
        return line_of(self.tok.decode(out), heal)


class NGramCompleter:
    """Token n-gram, greedy with stupid backoff (longest seen context wins); looks up sorted numpy tables."""

    def __init__(self, files: list[SourceFile], tok: Tokenizer, n: int) -> None:
        self.tok, self.n = tok, n
        self.vocab = tok.get_vocab_size()
        eos = tok.token_to_id(EOS)
        ids = np.array(
            [i for enc in tok.encode_batch([f.text for f in files]) for i in [*enc.ids, eos]], dtype=np.int64
        )
        self.tables = [self._table(ids, k) for k in range(n - 1, -1, -1)]

    def _key(self, ctx: np.ndarray) -> np.ndarray:
        key = np.zeros(ctx.shape[0], dtype=np.int64)
        for j in range(ctx.shape[1]):
            key = key * self.vocab + ctx[:, j]
        return key

    def _table(self, ids: np.ndarray, k: int) -> tuple[int, np.ndarray, np.ndarray]:
        """For context length k: sorted unique context keys and the most frequent next token of each."""
        nxt = ids[k:]
        ctx = np.lib.stride_tricks.sliding_window_view(ids[:-1], k) if k else np.zeros((len(nxt), 0), np.int64)
        pair, counts = np.unique(self._key(ctx) * self.vocab + nxt, return_counts=True)
        keys, tokens = pair // self.vocab, pair % self.vocab
        order = np.lexsort((-counts, keys))  # by key, most frequent first
        keys, tokens = keys[order], tokens[order]
        first = np.r_[True, keys[1:] != keys[:-1]]
        return k, keys[first], tokens[first]

    def next_token(self, history: list[int]) -> int:
        for k, keys, tokens in self.tables:
            if len(history) < k:
                continue
            key = self._key(np.array([history[len(history) - k :]], dtype=np.int64))[0]
            pos = int(np.searchsorted(keys, key))
            if pos < len(keys) and keys[pos] == key:
                return int(tokens[pos])
        return 0

    def complete(self, prompt: str, heal: bool) -> str:
        history = self.tok.encode(prompt).ids
        out: list[int] = []
        for _ in range(MAX_NEW_TOKENS):
            out.append(self.next_token(history + out))
            if self.tok.decode(out).count("\n") > heal:
                break
        return line_of(self.tok.decode(out), heal)


Completer = Callable[[str, bool], str]  # (prompt, heal) -> predicted line


class Tally(NamedTuple):
    exact: int
    similarity: float  # sum of difflib ratios
    parsed: int  # non-empty completions that leave the file parseable
    empty: int
    total: int


def score(complete: Completer, cases: list[Case], fim: bool) -> Tally:
    """Next-line prompts stop before the previous line's newline ("token healing"): with byte-level BPE a
    newline is merged with the next line's indentation, so a prompt ending in a bare newline is out of
    distribution. FIM prompts end at a special token, where no merge crosses."""
    exact = parsed = empty = 0
    similarity = 0.0
    for c in cases:
        if fim:
            pred = complete(f"{FIM_PREFIX}{c.prefix}{FIM_SUFFIX}{c.suffix}{FIM_MIDDLE}", False)
        else:
            pred = complete(c.prefix.removesuffix("\n"), True)
        exact += pred == c.target.rstrip()
        similarity += difflib.SequenceMatcher(None, pred, c.target.rstrip()).ratio()
        if not pred.strip():
            empty += 1
        else:
            parsed += parses(c, pred)
    return Tally(exact, similarity, parsed, empty, len(cases))


def score_after_indent(complete: Completer, cases: list[Case], healed: bool) -> dict[str, float]:
    """The cursor after the target line's indentation, as an editor leaves it; prompted left to right, as
    served. Raw: the prompt ends in that indentation. Healed (what the language server does, healing.py): it
    ends before the newline, the model writes newline and indentation, and they are taken off; a line that does
    not start with the indentation is no suggestion."""
    exact = empty = 0
    similarity = 0.0
    for c in cases:
        indent = c.target[: len(c.target) - len(c.target.lstrip())]
        want = c.target[len(indent) :].rstrip()
        if healed:
            line = complete(c.prefix.removesuffix("\n"), True)
            pred = line[len(indent) :].rstrip() if line.startswith(indent) else ""
        else:
            pred = complete(c.prefix + indent, False).rstrip()
        exact += pred == want
        empty += not pred.strip()
        similarity += difflib.SequenceMatcher(None, pred, want).ratio()
    return {
        "exact": round(exact / len(cases), 4),
        "similarity": round(similarity / len(cases), 4),
        "empty_rate": round(empty / len(cases), 4),
    }


def evaluate(
    name: str, complete: Completer, line_cases: list[Case], fim_cases: list[Case], prefix_only: bool = False
) -> Scores:
    t0 = time.monotonic()
    line = score(complete, line_cases, fim=False)
    fim = score(complete, fim_cases, fim=not prefix_only)  # the baseline cannot read a suffix
    total, empty = line.total + fim.total, line.empty + fim.empty
    s = Scores(
        round(line.exact / line.total, 4),
        round(fim.exact / fim.total, 4),
        round((line.similarity + fim.similarity) / total, 4),
        round((line.parsed + fim.parsed) / max(1, total - empty), 4),
        round(empty / total, 4),
        total,
        round(time.monotonic() - t0, 1),
    )
    print(f"{name}: {s}", flush=True)
    return s


def main(argv: list[str] | None = None) -> dict[str, object]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="engine/models/kimi-tiny")
    p.add_argument("--cases", type=int, default=200, help="cases per task")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ngram", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", default="", help="also write the results here")
    p.add_argument("--indent", action="store_true", help="also the after-auto-indent task, raw and healed")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    model_dir = Path(args.model)
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    held_out = list(iter_sources(held_out=True))
    cases = make_cases(held_out, 2 * args.cases, args.seed)
    line_cases, fim_cases = cases[: args.cases], cases[args.cases :]
    completer = ModelCompleter(model_dir, tok)
    model = evaluate("model", completer.complete, line_cases, fim_cases)
    served = evaluate("model, as served", completer.complete, line_cases, fim_cases, prefix_only=True)
    ngram = NGramCompleter(list(iter_sources(held_out=False)), tok, args.ngram)
    baseline = evaluate(f"{args.ngram}-gram", ngram.complete, line_cases, fim_cases, prefix_only=True)
    result: dict[str, object] = {
        "held_out_modules": list(HELD_OUT),
        "held_out_files": len(held_out),
        "cases_per_task": args.cases,
        "seed": args.seed,
        "model": asdict(model),
        "model, as served": asdict(served),
        f"{args.ngram}-gram": asdict(baseline),
    }
    if args.indent:
        result["after_indent"] = {
            mode: score_after_indent(completer.complete, fim_cases, mode == "healed") for mode in ("raw", "healed")
        }
        print(f"after auto-indent: {result['after_indent']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
