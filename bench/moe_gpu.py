"""Grouped GEMM of the local experts on one GPU at Kimi K2's expert shapes: engine/moe's Triton kernel against
its torch reference (one matmul per expert), TFLOP/s and the ratio to the chip's dense bf16 peak.

K2: hidden 7168, expert width 2048, 384 routed experts, 8 per token. For each batch of T tokens (1..4096) every
token picks 8 distinct experts uniformly at random (seeded); the routes are laid out expert by expert and both
GEMMs of the expert FFN are timed: gate_up ([8T, 7168] x [7168, 4096] per expert) and down ([8T, 2048] x
[2048, 7168]). All 384 experts' bf16 weights live on the GPU (34 GB). Outputs are checked against the reference
before timing. FLOPs = 2 * rows * N * K; "weights GB/s" counts each hit expert's weights read once (small
batches are bound by it). Median of --repeat CUDA-event timings. Finishes in well under 5 minutes on an H100.

    .venv-engine/bin/python bench/moe_gpu.py [--tokens 1,16,128,512,1024,4096] [--repeat 10]

Needs a CUDA GPU with torch and triton (the CPU-only engine environment cannot run it).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine" / "moe"))
from kimi_moe.kernels import align_by_expert, grouped_gemm_torch, grouped_gemm_triton

HIDDEN, WIDTH, EXPERTS, TOP_K = 7168, 2048, 384, 8
# dense bf16 tensor-core peak, TFLOP/s (vendor data sheets, SXM parts unless named)
PEAK_BF16 = {
    "H200": 989.4,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.4,
    "A100": 312.0,
    "L40S": 362.1,
    "B200": 2250.0,
}


def peak_tflops(name: str) -> float | None:
    return next((peak for key, peak in PEAK_BF16.items() if key in name), None)


def cuda_time(fn: Callable[[], object], repeat: int) -> float:
    fn()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeat):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        samples.append(start.elapsed_time(end) / 1e3)
    return statistics.median(samples)


def blocks(rows: int) -> dict[str, int]:
    """Tile sizes: decode-sized segments (a few rows per expert) waste less of a 16-row tile."""
    per_expert = rows / EXPERTS
    if per_expert <= 16:
        return {"block_m": 16, "block_n": 128, "block_k": 128, "num_warps": 4, "num_stages": 4}
    if per_expert <= 64:
        return {"block_m": 64, "block_n": 128, "block_k": 64, "num_warps": 4, "num_stages": 4}
    return {"block_m": 128, "block_n": 128, "block_k": 64, "num_warps": 8, "num_stages": 3}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", default="1,16,128,512,1024,4096")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench/moe_gpu.py needs a CUDA GPU")
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(device)
    peak = peak_tflops(name)
    print(
        f"{name}: dense bf16 peak {peak or 'unknown'} TFLOP/s; K2 experts: {EXPERTS} x (hidden {HIDDEN}, width {WIDTH}), top {TOP_K}"
    )
    torch.manual_seed(0)
    w13 = torch.empty(EXPERTS, 2 * WIDTH, HIDDEN, dtype=torch.bfloat16, device=device)
    w2 = torch.empty(EXPERTS, HIDDEN, WIDTH, dtype=torch.bfloat16, device=device)
    for e in range(EXPERTS):  # per expert: no float32 temporary of the whole tensor
        w13[e].normal_(0, HIDDEN**-0.5)
        w2[e].normal_(0, WIDTH**-0.5)
    gen = torch.Generator().manual_seed(1)
    header = f"{'tokens':>6} {'gemm':>7} {'rows':>6} {'experts':>7} {'torch TF/s':>10} {'triton TF/s':>11} {'speedup':>7} {'triton/peak':>11} {'weights GB/s':>12}"
    print(header)
    for tokens in (int(t) for t in args.tokens.split(",")):
        ids = torch.stack([torch.randperm(EXPERTS, generator=gen)[:TOP_K] for _ in range(tokens)]).to(device)
        order, counts = align_by_expert(ids, EXPERTS, backend="triton")
        assert torch.equal(order, align_by_expert(ids, EXPERTS)[0])
        rows = order.numel()
        hit = int((counts > 0).sum())
        x1 = torch.randn(rows, HIDDEN, dtype=torch.bfloat16, device=device)
        x2 = torch.randn(rows, WIDTH, dtype=torch.bfloat16, device=device)
        for gemm, x, w in (("gate_up", x1, w13), ("down", x2, w2)):
            n, k = w.shape[1], w.shape[2]
            cfg = blocks(rows)
            ref = grouped_gemm_torch(x, w, counts)
            got = grouped_gemm_triton(x, w, counts, **cfg)
            err = float((ref.float() - got.float()).abs().max() / ref.float().abs().max())
            if err > 2e-2:
                raise SystemExit(f"{tokens} tokens {gemm}: triton differs from torch by {err:.2%}")
            flops = 2.0 * rows * n * k
            t_torch = cuda_time(lambda x=x, w=w, c=counts: grouped_gemm_torch(x, w, c), args.repeat)
            t_triton = cuda_time(lambda x=x, w=w, c=counts, cfg=cfg: grouped_gemm_triton(x, w, c, **cfg), args.repeat)
            tf_torch, tf_triton = flops / t_torch / 1e12, flops / t_triton / 1e12
            ratio = f"{tf_triton / peak:.1%}" if peak else "n/a"
            gbs = hit * n * k * 2 / t_triton / 1e9
            print(
                f"{tokens:>6} {gemm:>7} {rows:>6} {hit:>7} {tf_torch:>10.1f} {tf_triton:>11.1f} "
                f"{t_torch / t_triton:>7.2f} {ratio:>11} {gbs:>12.0f}"
            )


if __name__ == "__main__":
    main()
