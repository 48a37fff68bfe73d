"""The router: which experts each token goes to, and with what weight (pure torch).

Two scorings: `softmax` top-k (Qwen3-MoE, today's kimi-tiny; weights renormalised over the chosen k when
`renormalize`) and `sigmoid` (Kimi K2 / DeepSeek-V3 "noaux_tc"): experts are *chosen* by sigmoid score plus a
per-expert score-correction bias, but *weighted* by the uncorrected sigmoid score, renormalised, then multiplied
by `routed_scaling_factor`. Ties break toward the lower expert id (torch.topk on CPU), identically on every rank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch


class TopKOutput(NamedTuple):
    """The fields of SGLang's StandardTopKOutput: [T, k] weights (float32), [T, k] expert ids, [T, E] logits."""

    topk_weights: torch.Tensor
    topk_ids: torch.Tensor
    router_logits: torch.Tensor


@dataclass(slots=True, frozen=True)
class RoutingConfig:
    num_experts: int
    top_k: int
    scoring: str = "softmax"  # "softmax" | "sigmoid"
    renormalize: bool = True
    routed_scaling_factor: float = 1.0

    def __post_init__(self) -> None:
        if self.scoring not in ("softmax", "sigmoid"):
            raise ValueError(f"unknown MoE scoring {self.scoring!r} (softmax or sigmoid)")
        if not 0 < self.top_k <= self.num_experts:
            raise ValueError(f"top_k {self.top_k} must be in 1..{self.num_experts}")


def select_experts(
    router_logits: torch.Tensor, cfg: RoutingConfig, correction_bias: torch.Tensor | None = None
) -> TopKOutput:
    """Route each row of `router_logits` [T, E] to cfg.top_k experts."""
    logits = router_logits.float()
    if cfg.scoring == "softmax":
        scores = torch.softmax(logits, dim=-1)
        weights, ids = torch.topk(scores, cfg.top_k, dim=-1)
    else:
        scores = torch.sigmoid(logits)
        choice = scores if correction_bias is None else scores + correction_bias.float()
        _, ids = torch.topk(choice, cfg.top_k, dim=-1)
        weights = scores.gather(1, ids)
    if cfg.renormalize:
        weights = weights / weights.sum(dim=-1, keepdim=True).clamp_min(1e-20)
    if cfg.routed_scaling_factor != 1.0:
        weights = weights * cfg.routed_scaling_factor
    return TopKOutput(weights, ids.to(torch.int64), router_logits)
