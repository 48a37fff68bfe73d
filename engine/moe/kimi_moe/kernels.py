"""The two MoE kernels, each a plain torch reference beside a Triton kernel with the same contract.

- `align_by_expert(topk_ids, num_experts)` -> (order, counts): `order` [T*k] lists route indices (route r is
  token r // k's r % k-th choice) sorted by expert, ties kept in route order (a stable sort); `counts` [E] is the
  number of routes per expert. Gathering rows by `order` lays the tokens out expert by expert.
- `grouped_gemm(x, w, counts)` -> y: `x` [M, K] holds rows laid out expert by expert (`counts` [E] rows each,
  summing to M), `w` [E, N, K]; row i of expert e's segment gets `y[i] = x[i] @ w[e].T` ([M, N]).

`backend="torch"` is the reference and what the CPU serves with; `backend="triton"` runs the Triton kernels
(on a GPU, or anywhere with TRITON_INTERPRET=1 set before triton is imported, which is how tests check them).
"""

from __future__ import annotations

from typing import Any

import torch

try:  # triton ships with SGLang's requirements (through xgrammar); the torch path needs none of it
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised only where triton is absent
    triton = None
    tl = None


def _require_triton() -> None:
    if triton is None:
        raise RuntimeError("the triton backend needs the triton package")


# ----------------------------------------------------------------------------- align (permutation)


def align_by_expert_torch(topk_ids: torch.Tensor, num_experts: int) -> tuple[torch.Tensor, torch.Tensor]:
    flat = topk_ids.reshape(-1)
    order = torch.sort(flat, stable=True).indices
    counts = torch.bincount(flat, minlength=num_experts)
    return order, counts


if triton is not None:

    @triton.jit  # type: ignore[misc]
    def _count_kernel(ids_ptr: Any, counts_ptr: Any, n: Any, BLOCK: tl.constexpr) -> None:
        expert = tl.program_id(0)
        acc = tl.zeros((BLOCK,), dtype=tl.int64)
        for start in range(0, n, BLOCK):
            offs = start + tl.arange(0, BLOCK)
            ids = tl.load(ids_ptr + offs, mask=offs < n, other=-1)
            acc += (ids == expert).to(tl.int64)
        tl.store(counts_ptr + expert, tl.sum(acc, axis=0))

    @triton.jit  # type: ignore[misc]
    def _place_kernel(ids_ptr: Any, offsets_ptr: Any, order_ptr: Any, n: Any, BLOCK: tl.constexpr) -> None:
        # one program per expert: walk the routes in order and write each of this expert's routes at the next
        # free slot of its segment (an in-block prefix sum keeps route order, so the result is a stable sort)
        expert = tl.program_id(0)
        base = tl.load(offsets_ptr + expert)
        for start in range(0, n, BLOCK):
            offs = start + tl.arange(0, BLOCK)
            ids = tl.load(ids_ptr + offs, mask=offs < n, other=-1)
            hit = (ids == expert).to(tl.int64)
            slot = base + tl.cumsum(hit, axis=0) - 1
            tl.store(order_ptr + slot, offs.to(tl.int64), mask=hit > 0)
            base += tl.sum(hit, axis=0)


def align_by_expert_triton(
    topk_ids: torch.Tensor, num_experts: int, block: int = 1024
) -> tuple[torch.Tensor, torch.Tensor]:
    _require_triton()
    flat = topk_ids.reshape(-1).contiguous()
    n = flat.numel()
    counts = torch.empty(num_experts, dtype=torch.int64, device=flat.device)
    order = torch.empty(n, dtype=torch.int64, device=flat.device)
    if n == 0:
        return order, counts.zero_()
    _count_kernel[(num_experts,)](flat, counts, n, BLOCK=block)
    offsets = torch.cumsum(counts, 0) - counts
    _place_kernel[(num_experts,)](flat, offsets, order, n, BLOCK=block)
    return order, counts


def align_by_expert(
    topk_ids: torch.Tensor, num_experts: int, backend: str = "torch"
) -> tuple[torch.Tensor, torch.Tensor]:
    if backend == "triton":
        return align_by_expert_triton(topk_ids, num_experts)
    return align_by_expert_torch(topk_ids, num_experts)


# ----------------------------------------------------------------------------- grouped GEMM


def grouped_gemm_torch(x: torch.Tensor, w: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    y = x.new_empty((x.shape[0], w.shape[1]))
    start = 0
    for expert, rows in enumerate(counts.tolist()):
        if rows:
            torch.matmul(x[start : start + rows], w[expert].t(), out=y[start : start + rows])
            start += rows
    return y


if triton is not None:

    @triton.jit  # type: ignore[misc]
    def _grouped_gemm_kernel(
        x_ptr: Any,
        w_ptr: Any,
        y_ptr: Any,
        tile_expert_ptr: Any,
        tile_row_ptr: Any,
        tile_end_ptr: Any,
        N: Any,
        K: Any,
        stride_xm: Any,
        stride_xk: Any,
        stride_we: Any,
        stride_wn: Any,
        stride_wk: Any,
        stride_ym: Any,
        stride_yn: Any,
        BM: tl.constexpr,
        BN: tl.constexpr,
        BK: tl.constexpr,
    ) -> None:
        # program (t, j): rows [row0, end) of tile t, which all belong to expert e, times columns j*BN.. of w[e]
        t = tl.program_id(0)
        j = tl.program_id(1)
        expert = tl.load(tile_expert_ptr + t).to(tl.int64)
        row0 = tl.load(tile_row_ptr + t)
        end = tl.load(tile_end_ptr + t)
        rm = row0 + tl.arange(0, BM)
        rn = j * BN + tl.arange(0, BN)
        rk = tl.arange(0, BK)
        acc = tl.zeros((BM, BN), dtype=tl.float32)
        w_base = w_ptr + expert * stride_we
        for k0 in range(0, K, BK):
            kk = k0 + rk
            a = tl.load(
                x_ptr + rm[:, None] * stride_xm + kk[None, :] * stride_xk,
                mask=(rm[:, None] < end) & (kk[None, :] < K),
                other=0.0,
            )
            b = tl.load(
                w_base + rn[None, :] * stride_wn + kk[:, None] * stride_wk,
                mask=(rn[None, :] < N) & (kk[:, None] < K),
                other=0.0,
            )
            acc += tl.dot(a, b)
        tl.store(
            y_ptr + rm[:, None] * stride_ym + rn[None, :] * stride_yn,
            acc.to(y_ptr.dtype.element_ty),
            mask=(rm[:, None] < end) & (rn[None, :] < N),
        )


def tile_schedule(counts: torch.Tensor, block_m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(expert, first row, segment end) of every BM-row tile; no tile spans two experts (pure torch)."""
    counts = counts.to(torch.int64)
    ends = torch.cumsum(counts, 0)
    starts = ends - counts
    tiles = (counts + block_m - 1) // block_m
    expert = torch.repeat_interleave(torch.arange(counts.numel(), device=counts.device), tiles)
    first_tile = torch.cumsum(tiles, 0) - tiles
    within = torch.arange(expert.numel(), device=counts.device) - first_tile[expert]
    return expert, starts[expert] + within * block_m, ends[expert]


def grouped_gemm_triton(
    x: torch.Tensor,
    w: torch.Tensor,
    counts: torch.Tensor,
    block_m: int = 64,
    block_n: int = 128,
    block_k: int = 64,
    num_warps: int = 4,
    num_stages: int = 3,
) -> torch.Tensor:
    _require_triton()
    y = x.new_empty((x.shape[0], w.shape[1]))
    expert, row, end = tile_schedule(counts.to(x.device), block_m)
    if expert.numel() == 0:
        return y
    grid = (expert.numel(), triton.cdiv(w.shape[1], block_n))
    _grouped_gemm_kernel[grid](
        x,
        w,
        y,
        expert,
        row,
        end,
        w.shape[1],
        w.shape[2],
        x.stride(0),
        x.stride(1),
        w.stride(0),
        w.stride(1),
        w.stride(2),
        y.stride(0),
        y.stride(1),
        BM=block_m,
        BN=block_n,
        BK=block_k,
        num_warps=num_warps,
        num_stages=num_stages,
    )
    return y


def grouped_gemm(x: torch.Tensor, w: torch.Tensor, counts: torch.Tensor, backend: str = "torch") -> torch.Tensor:
    if backend == "triton":
        return grouped_gemm_triton(x, w, counts)
    return grouped_gemm_torch(x, w, counts)
