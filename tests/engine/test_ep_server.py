"""A real SGLang server running kimi-tiny expert parallel on 2 CPU ranks (profile cpu-tiny-ep2: --tp-size 2
--ep-size 2, engine/moe's all-to-all MoE layer), in float32, against a single-process reference on the same
weights (transformers' Qwen3-MoE, float32): identical greedy tokens and per-token logprobs within 1e-3; ghost text
through kimi-lsp; RadixAttention still reporting cached tokens; each rank logging its per-expert load.

Why float32: in bf16, splitting attention over two ranks changes the order of the sums and moves logprobs by up to
0.03 (measured against the cpu-tiny server), enough to flip a near tie of this small model's greedy choice."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kimi_engine.launch import TINY_MODEL_DIR, EngineConfig, EngineProcess, free_port
from lsprotocol import types as lsp

from tests.engine.test_lsp_engine import PATIENT
from tests.lsp.conftest import start_session

pytestmark = pytest.mark.engine

PROMPTS = ("def add(a, b):\n    return", "import os\n\n\ndef main():\n    path = os.path.")
CODE = "".join(f"def helper_{i}(value):\n    return value * {i} + {i * 7}\n\n\n" for i in range(30))
LOGPROB_TOLERANCE = 1e-3
NEW_TOKENS = 12
REFERENCE = """
import json, sys, torch
from tokenizers import Tokenizer
from transformers import Qwen3MoeForCausalLM
model_dir, prompts, new_tokens = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
tokenizer = Tokenizer.from_file(model_dir + "/tokenizer.json")
model = Qwen3MoeForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
out = []
for prompt in prompts:
    ids = tokenizer.encode(prompt).ids
    prompt_ids, logprobs = list(ids), []
    with torch.no_grad():
        for _ in range(new_tokens):
            logits = model(torch.tensor([ids])).logits[0, -1].float()
            token = int(torch.argmax(logits))
            logprobs.append(float(torch.log_softmax(logits, -1)[token]))
            ids.append(token)
    out.append({"input_ids": prompt_ids, "output_ids": ids[len(prompt_ids):], "logprobs": logprobs})
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def ep2_engine(tmp_path_factory: pytest.TempPathFactory, engine_python: str) -> Iterator[EngineProcess]:
    log = tmp_path_factory.mktemp("engine-ep2") / "sglang.log"
    config = EngineConfig(
        profile="cpu-tiny-ep2",
        port=free_port(),
        python=engine_python,
        log_file=str(log),
        startup_timeout=600,
        extra_args=("--dtype", "float32"),
    )
    engine = EngineProcess(config)
    engine.start()
    try:
        engine.wait_ready()
        yield engine
    finally:
        engine.stop()


def _greedy(base_url: str, input_ids: list[int]) -> tuple[list[int], list[float], int]:
    body = {
        "input_ids": input_ids,
        "sampling_params": {"max_new_tokens": NEW_TOKENS, "temperature": 0, "ignore_eos": True},
        "return_logprob": True,
    }
    meta = httpx.post(f"{base_url}/generate", json=body, timeout=120).raise_for_status().json()
    logprobs = [float(entry[0]) for entry in meta["meta_info"]["output_token_logprobs"]]
    return meta["output_ids"], logprobs, int(meta["meta_info"]["cached_tokens"])


def test_ep2_greedy_tokens_and_logprobs_match_a_single_process_model(
    ep2_engine: EngineProcess, engine_python: str
) -> None:
    done = subprocess.run(
        [engine_python, "-c", textwrap.dedent(REFERENCE), str(TINY_MODEL_DIR), json.dumps(PROMPTS), str(NEW_TOKENS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for ref in json.loads(done.stdout):
        ids, logprobs, _ = _greedy(ep2_engine.base_url, ref["input_ids"])
        assert ids == ref["output_ids"] and len(ids) == NEW_TOKENS
        assert max(abs(a - b) for a, b in zip(logprobs, ref["logprobs"])) <= LOGPROB_TOLERANCE, (logprobs, ref)
    _, _, cached = _greedy(ep2_engine.base_url, ref["input_ids"])
    assert cached > 0  # the same prompt again: RadixAttention found its prefix
    log = Path(ep2_engine.log_path).read_text(errors="replace")
    assert "rank 0 of 2 owns experts 0..3 of 8" in log and "rank 1 of 2 owns experts 4..7 of 8" in log
    loads = re.findall(r"kimi_moe expert load: rank (\d)/2 layer \d tokens per expert \{([^}]*)\}", log)
    assert {rank for rank, _ in loads} == {"0", "1"}
    assert all(len(per_expert.split(",")) == 4 for _, per_expert in loads)


def _inline(uri: str, line: int, character: int) -> lsp.InlineCompletionParams:
    return lsp.InlineCompletionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        position=lsp.Position(line=line, character=character),
        context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
    )


async def test_ghost_text_through_kimi_lsp_on_ep2(ep2_engine: EngineProcess, tmp_path: Path) -> None:
    client, session = await start_session(
        tmp_path, "visual-studio-code", {"model": {"maxTokens": 16}, "engine": PATIENT}, engine=ep2_engine.base_url
    )
    try:
        ghosts = []
        # where this small model has something to say: mid-expression, after `return`
        for name, text in (("paths.py", CODE + PROMPTS[1]), ("add.py", CODE + PROMPTS[0])):
            uri = session.open(name, text)
            line, column = text.count("\n"), len(text.rsplit("\n", 1)[1])
            answer = await client.text_document_inline_completion_async(_inline(uri, line, column))
            items = answer.items if isinstance(answer, lsp.InlineCompletionList) else []
            assert all(
                item.range is None or item.range.start == lsp.Position(line=line, character=column) for item in items
            )
            ghosts += [str(item.insert_text) for item in items if str(item.insert_text).strip()]
        assert ghosts  # ghost text came back from the expert-parallel engine
        session.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
                content_changes=[
                    lsp.TextDocumentContentChangePartial(
                        range=lsp.Range(
                            start=lsp.Position(line=line, character=column),
                            end=lsp.Position(line=line, character=column),
                        ),
                        text=" a",
                    )
                ],
            )
        )
        await client.text_document_inline_completion_async(_inline(uri, line, column + 2))
        status = await client.workspace_execute_command_async(lsp.ExecuteCommandParams(command="kimi.status"))
        assert isinstance(status, dict) and status["engine"] == "ready"
        assert isinstance(status["cacheRatio"], float) and status["cacheRatio"] > 0.5  # the keystroke hit the cache
    finally:
        await client.shutdown_session()
        await client.stop()
