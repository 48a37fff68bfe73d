"""The expert-parallel MoE layer (engine/moe, kimi_moe) on the CPU, in one run:

1. ep=1: tokens/s of our MoE experts path (align by expert -> grouped GEMMs -> weighted combine, torch backend)
   against SGLang's native MoE (`moe_forward_native`, what SGLang's CPU path runs) on the same weights, routing
   and tokens; both on one thread, outputs checked equal first.
2. ep=2 overhead: the whole layer (router, dispatch, experts, combine) on 2 gloo ranks (2 processes, 1 thread
   each) against the same layer on 1 rank (1 thread), as tokens/s of the layer; the ranks' expert load
   (tokens per expert, from the layer's counters) as max/mean.

    .venv-engine/bin/python bench/moe.py [--tokens 16,256,2048] [--repeat 5]

Shapes: kimi-tiny (hidden 192, 8 experts of width 256, top 2) and a K2-like shape scaled for a CPU (hidden 1024,
64 experts of width 256, top 8, sigmoid routing with correction bias, one shared expert). Prints the median time.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
import torch.distributed as dist

ENGINE = Path(__file__).resolve().parents[1] / "engine"
# as the engine process has them (engine/launch.py, cpu-tiny profiles): the CPU stand-ins and our model package
sys.path[:0] = [str(ENGINE / "moe"), str(ENGINE / "cpu")]
os.environ.setdefault("SGLANG_USE_CPU_ENGINE", "1")
from kimi_moe.layer import EPMoE, MoEShape  # noqa: E402
from kimi_moe.routing import RoutingConfig  # noqa: E402

SHAPES = {
    "kimi-tiny": MoEShape(192, 256, RoutingConfig(8, 2)),
    "k2-like": MoEShape(1024, 256, RoutingConfig(64, 8, "sigmoid", True, 2.827), 256, True),
}


def make_layer(shape: MoEShape, group: Any, seed: int = 0) -> EPMoE:
    torch.manual_seed(seed)
    layer = EPMoE(shape, group=group, dtype=torch.bfloat16, log_every=0)
    e, h, i = shape.routing.num_experts, shape.hidden_size, shape.intermediate_size
    full_w13 = torch.randn(e, 2 * i, h) * h**-0.5
    full_w2 = torch.randn(e, h, i) * i**-0.5
    lo = layer.first_expert
    layer.w13.data.copy_(full_w13[lo : lo + layer.w13.shape[0]])
    layer.w2.data.copy_(full_w2[lo : lo + layer.w2.shape[0]])
    layer.gate_weight.data.copy_(torch.randn(e, h) * h**-0.5)
    if layer.correction_bias is not None:
        layer.correction_bias.data.copy_(torch.randn(e) * 0.1)
    if layer.shared_gate_up is not None and layer.shared_down is not None:
        layer.shared_gate_up.data.copy_(torch.randn(layer.shared_gate_up.shape) * h**-0.5)
        layer.shared_down.data.copy_(torch.randn(layer.shared_down.shape) * i**-0.5)
    return layer


def tokens_for(shape: MoEShape, n: int) -> torch.Tensor:
    return torch.randn(n, shape.hidden_size, generator=torch.Generator().manual_seed(n)).to(torch.bfloat16)


def timed(fn: Any, repeat: int) -> float:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def ep1_vs_native(shape: MoEShape, n: int, repeat: int) -> tuple[float, float]:
    from kimi_moe.dispatch import EPCombineInput
    from kimi_moe.routing import select_experts
    from sglang.srt.layers.moe.fused_moe_native import moe_forward_native
    from sglang.srt.layers.moe.moe_runner import MoeRunnerConfig
    from sglang.srt.layers.moe.topk import StandardTopKOutput

    layer = make_layer(shape, None)
    x = tokens_for(shape, n)
    topk = select_experts(torch.nn.functional.linear(x, layer.gate_weight), shape.routing, layer.correction_bias)
    native_layer = SimpleNamespace(num_experts=shape.routing.num_experts, w13_weight=layer.w13, w2_weight=layer.w2)
    config = MoeRunnerConfig(activation="silu")

    def ours() -> torch.Tensor:
        d = layer.dispatcher.dispatch(x, topk)
        return layer.dispatcher.combine(EPCombineInput(layer.experts(d.hidden_states, d.local_counts), d.handle))

    def native() -> torch.Tensor:
        weights = topk.topk_weights.to(torch.bfloat16)
        out: torch.Tensor = moe_forward_native(
            native_layer, x, StandardTopKOutput(weights, topk.topk_ids, topk.router_logits), config
        )
        return out

    a, b = ours().float(), native().float()
    diff = float((a - b).abs().max() / b.abs().max())
    if diff > 0.02:
        raise SystemExit(f"{shape} {n} tokens: ours and SGLang's native MoE differ by {diff:.3%}")
    return n / timed(ours, repeat), n / timed(native, repeat)


def layer_rate(group: Any, shape: MoEShape, n: int, repeat: int) -> tuple[float, list[int]]:
    layer = make_layer(shape, group)
    x = tokens_for(shape, n)
    if group is not None:
        dist.barrier(group)

    def run() -> None:
        layer(x)
        if group is not None:
            dist.barrier(group)  # a step ends when the slowest rank is done

    seconds = timed(run, repeat)
    return n / seconds, layer.load.tolist()


def rank_main(rank: int, init: str, tokens: list[int], repeat: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    rows = []
    for name, shape in SHAPES.items():
        for n in tokens:
            rate, load = layer_rate(dist.group.WORLD, shape, n, repeat)
            loads: list[list[int]] = [[] for _ in range(2)]
            dist.all_gather_object(loads, load)
            rows.append({"shape": name, "tokens": n, "rate": rate, "load": loads})
    if rank == 0:
        Path(out).write_text(json.dumps(rows))
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", default="16,256,2048")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rank", type=int, default=-1, help=argparse.SUPPRESS)
    parser.add_argument("--init", default="", help=argparse.SUPPRESS)
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    tokens = [int(t) for t in args.tokens.split(",")]
    if args.rank >= 0:
        return rank_main(args.rank, args.init, tokens, args.repeat, args.out)
    torch.set_num_threads(1)

    print("ep=1, one thread: our experts path vs SGLang's moe_forward_native (same routing), tokens/s")
    print(f"{'shape':10} {'tokens':>6} {'ours':>10} {'native':>10} {'ratio':>6}")
    for name, shape in SHAPES.items():
        for n in tokens:
            ours, native = ep1_vs_native(shape, n, args.repeat)
            print(f"{name:10} {n:>6} {ours:>10.0f} {native:>10.0f} {ours / native:>6.2f}")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        init = f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    out = f"/tmp/kimi-moe-bench-{os.getpid()}.json"
    cmd = [
        sys.executable,
        __file__,
        "--tokens",
        args.tokens,
        "--repeat",
        str(args.repeat),
        "--init",
        init,
        "--out",
        out,
    ]
    ranks = [subprocess.Popen([*cmd, "--rank", str(r)]) for r in range(2)]
    if any(p.wait() for p in ranks):
        raise SystemExit("an ep=2 rank failed")
    ep2 = json.loads(Path(out).read_text())
    Path(out).unlink()

    print(
        "\nwhole layer (router, dispatch, experts, combine, shared): ep=2 (2 gloo ranks x 1 thread) vs ep=1 (1 thread)"
    )
    print(f"{'shape':10} {'tokens':>6} {'ep1 tok/s':>10} {'ep2 tok/s':>10} {'ep2/ep1':>7} {'load max/mean':>13}")
    for row in ep2:
        shape = SHAPES[row["shape"]]
        ep1, _ = layer_rate(None, shape, row["tokens"], args.repeat)
        load = [c for rank in row["load"] for c in rank]
        balance = max(load) / (sum(load) / len(load)) if sum(load) else 0.0
        print(
            f"{row['shape']:10} {row['tokens']:>6} {ep1:>10.0f} {row['rate']:>10.0f} {row['rate'] / ep1:>7.2f} {balance:>13.2f}"
        )


if __name__ == "__main__":
    main()
