"""Pure-torch stand-in for SGLang's `sgl_kernel` on the CPU (only what the CPU path really calls).

Implements `assign_req_to_token_pool_cpu`; every other name imports (SGLang imports some at module level)
but raises NotImplementedError when called, so a missing kernel fails loudly instead of silently.
Registers no torch.ops: SGLang then keeps its torch-native implementations. Put on the engine process's PYTHONPATH only (engine/launch.py does).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import torch

__version__ = "0.0.0+kimi-lsp-cpu"


def assign_req_to_token_pool_cpu(
    req_pool_indices: torch.Tensor,  # [B] row of each request in req_to_token
    req_to_token: torch.Tensor,  # [R, pool_len] token slot table (mutated)
    start_offset: torch.Tensor,  # [B] first position to write, per request
    end_offset: torch.Tensor,  # [B] one past the last position to write, per request
    out_cache_loc: torch.Tensor,  # [sum(end - start)] new KV slots, requests back to back
    pool_len: int,
) -> None:
    """req_to_token[row_i, start_i:end_i] = out_cache_loc[sum of earlier lengths : + (end_i - start_i)].

    Same contract as SGLang's triton kernel `assign_req_to_token_pool` in mem_cache/allocation.py.
    """
    del pool_len  # implied by req_to_token.shape[1]; kept for signature compatibility
    rows = req_pool_indices.tolist()
    starts = start_offset.tolist()
    ends = end_offset.tolist()
    offset = 0
    for row, start, end in zip(rows, starts, ends):
        n = end - start
        if n > 0:
            req_to_token[row, start:end] = out_cache_loc[offset : offset + n].to(req_to_token.dtype)
        offset += n


def _missing(name: str) -> Callable[..., NoReturn]:
    def kernel(*args: object, **kwargs: object) -> NoReturn:
        raise NotImplementedError(
            f"sgl_kernel.{name} is not available in kimi-lsp's CPU stand-in (engine/cpu/sgl_kernel); "
            "only assign_req_to_token_pool_cpu is implemented"
        )

    kernel.__name__ = kernel.__qualname__ = name
    return kernel


def __getattr__(name: str) -> Callable[..., NoReturn]:
    """Any other kernel: importable (SGLang imports some at module level), raises when called."""
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(name)  # keep Python's import/introspection machinery working
    return _missing(name)
