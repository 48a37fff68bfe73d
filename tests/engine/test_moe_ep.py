"""engine/moe (kimi_moe): the expert-parallel MoE layer over two gloo ranks equals the single-rank layer, which
equals a token-by-token float32 MoE; and the Triton kernels equal their torch references (interpreter mode).

torch lives in the engine's environment: each check runs there in fresh interpreters (tests/engine/moe_ep_worker.py
for the ranks). Tolerances: ep=2 vs ep=1 1e-6 (the same arithmetic, only the tokens' rank differs); ep=1 vs the
float32 loop 1e-5 for float32 weights, 1% of the output's largest magnitude for kimi-tiny's bf16 weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
from kimi_engine.launch import MOE_PACKAGE_DIR, free_port

pytestmark = pytest.mark.engine

WORKER = Path(__file__).with_name("moe_ep_worker.py")


def test_two_ranks_equal_one_rank_and_a_plain_moe(engine_python: str, tmp_path: Path) -> None:
    out = tmp_path / "ep.json"
    init = f"tcp://127.0.0.1:{free_port()}"
    ranks = [
        subprocess.Popen(
            [engine_python, str(WORKER), str(rank), "2", init, str(out)], stderr=subprocess.PIPE, text=True
        )
        for rank in range(2)
    ]
    errors = [proc.communicate(timeout=300)[1] for proc in ranks]
    assert [proc.returncode for proc in ranks] == [0, 0], errors
    results = json.loads(out.read_text())
    assert set(results) == {f"{case}/{n}" for case in ("kimi-tiny", "k2-shape") for n in (1, 2, 37)}
    for name, r in results.items():
        assert r["routes"] == r["expected_routes"], name  # every route reached exactly one expert, once
        assert r["max_abs_ref"] > 0.1, name  # the layer did something
        assert r["max_abs_diff"] <= 1e-6, (name, r)
        tolerance = 0.01 * r["max_abs_ref"] if name.startswith("kimi-tiny") else 1e-5
        assert r["max_abs_diff_naive"] <= tolerance, (name, r)
    assert results["k2-shape/37"]["rank0_experts"] == 8  # 16 experts over 2 ranks


def test_triton_kernels_equal_the_torch_references(engine_python: str) -> None:
    check = f"""
    import sys
    sys.path.insert(0, {str(MOE_PACKAGE_DIR)!r})
    import torch
    from kimi_moe import kernels as k
    g = torch.Generator().manual_seed(3)
    for tokens, top_k, experts in ((1, 2, 8), (37, 2, 8), (50, 4, 16)):
        ids = torch.stack([torch.randperm(experts, generator=g)[:top_k] for _ in range(tokens)])
        order, counts = k.align_by_expert_torch(ids, experts)
        t_order, t_counts = k.align_by_expert_triton(ids, experts, block=16)
        assert torch.equal(order, t_order) and torch.equal(counts, t_counts), (order, t_order)
        assert torch.equal(ids.reshape(-1)[order], torch.sort(ids.reshape(-1)).values)
        x = torch.randn(int(counts.sum()), 40, generator=g)
        w = torch.randn(experts, 24, 40, generator=g)
        ref = k.grouped_gemm_torch(x, w, counts)
        got = k.grouped_gemm_triton(x, w, counts, block_m=16, block_n=16, block_k=16)
        assert torch.allclose(ref, got, atol=1e-4, rtol=1e-4), (ref - got).abs().max()
        first = int(counts[0])
        assert torch.allclose(ref[:first], x[:first] @ w[0].T, atol=1e-4)
    print("ok")
    """
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run(
        [engine_python, "-c", textwrap.dedent(check)], capture_output=True, text=True, timeout=300, env=env
    )
    if "No module named 'triton'" in done.stderr:
        pytest.skip("the engine environment has no triton")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
