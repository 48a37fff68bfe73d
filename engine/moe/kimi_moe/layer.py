"""EPMoE: one expert-parallel MoE layer (pure torch + torch.distributed; SGLang-free).

forward(hidden_states [T, H]) -> [T, H]. Every rank of the expert-parallel group holds the same T tokens (attention
is tensor parallel, so its output is replicated). Rank r takes its contiguous share of the tokens, routes them
(routing.select_experts), dispatches them to the ranks owning their experts (dispatch.AllToAllDispatcher), runs
the experts it owns (grouped GEMMs: gate_up, SiLU-and-multiply, down), combines, adds the shared expert's output
(replicated weights, computed for its own share), and returns a [T, H] tensor that is zero outside its share: the
sum over ranks - the all-reduce that the caller does after a tensor-parallel MLP anyway - is the full output.
With one rank the layer is an ordinary single-device MoE and returns the full output.

Counts the rows each local expert received (`load`, cumulative) and logs them every `log_every` forward passes
as `kimi_moe expert load: rank R/W layer L tokens per expert {expert: count, ...} over P passes`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from kimi_moe.dispatch import AllToAllDispatcher, EPCombineInput
from kimi_moe.kernels import grouped_gemm
from kimi_moe.routing import RoutingConfig, select_experts

logger = logging.getLogger("kimi_moe")


@dataclass(slots=True, frozen=True)
class MoEShape:
    hidden_size: int
    intermediate_size: int  # one routed expert's width
    routing: RoutingConfig
    shared_intermediate_size: int = 0  # 0: no shared expert
    correction_bias: bool = False  # K2's e_score_correction_bias (sigmoid scoring)

    @staticmethod
    def from_hf_config(config: object) -> MoEShape:
        """Qwen3-MoE (num_experts, softmax) or Kimi K2 / DeepSeek-V3 (n_routed_experts, sigmoid, shared experts)."""

        def get(name: str, default: object = None) -> Any:
            return getattr(config, name, default)

        num_experts = get("num_experts") or get("n_routed_experts") or get("num_local_experts")
        width = int(get("moe_intermediate_size"))
        scoring = get("scoring_func") or "softmax"
        shared = int(get("shared_expert_intermediate_size") or 0) or int(get("n_shared_experts") or 0) * width
        routing = RoutingConfig(
            num_experts=int(num_experts),
            top_k=int(get("num_experts_per_tok")),
            scoring=scoring,
            renormalize=bool(get("norm_topk_prob", True)),
            routed_scaling_factor=float(get("routed_scaling_factor") or 1.0),
        )
        return MoEShape(int(get("hidden_size")), width, routing, shared, scoring == "sigmoid")


class EPMoE(nn.Module):
    def __init__(
        self,
        shape: MoEShape,
        *,
        group: dist.ProcessGroup | None = None,
        layer_id: int = 0,
        dtype: torch.dtype | None = None,
        kernel_backend: str = "torch",
        log_every: int = 200,
    ) -> None:
        super().__init__()
        dtype = dtype or torch.get_default_dtype()
        self.shape = shape
        self.layer_id = layer_id
        self.kernel_backend = kernel_backend
        self.log_every = log_every
        self.dispatcher = AllToAllDispatcher(shape.routing.num_experts, group, kernel_backend)
        self.group = group
        self.rank = dist.get_rank(group) if group is not None else 0
        self.world = self.dispatcher.world
        e_all, e_local = shape.routing.num_experts, self.dispatcher.num_local_experts
        self.first_expert = self.rank * e_local
        h, i = shape.hidden_size, shape.intermediate_size
        self.gate_weight = nn.Parameter(torch.empty(e_all, h, dtype=dtype), requires_grad=False)
        self.correction_bias = (
            nn.Parameter(torch.zeros(e_all, dtype=torch.float32), requires_grad=False)
            if shape.correction_bias
            else None
        )
        self.w13 = nn.Parameter(torch.empty(e_local, 2 * i, h, dtype=dtype), requires_grad=False)
        self.w2 = nn.Parameter(torch.empty(e_local, h, i, dtype=dtype), requires_grad=False)
        s = shape.shared_intermediate_size
        self.shared_gate_up = nn.Parameter(torch.empty(2 * s, h, dtype=dtype), requires_grad=False) if s else None
        self.shared_down = nn.Parameter(torch.empty(h, s, dtype=dtype), requires_grad=False) if s else None
        self.register_buffer("load", torch.zeros(e_local, dtype=torch.int64), persistent=False)
        self.passes = 0

    # --------------------------------------------------------------------------- weights

    def load_weight(self, name: str, tensor: torch.Tensor) -> bool:
        """Load one checkpoint tensor named relative to the layer (`experts.3.up_proj.weight`, `gate.weight`,
        `gate.e_score_correction_bias`, `shared_expert(s).down_proj.weight`); experts other ranks own are
        skipped. Returns whether the name belongs to this layer."""
        i = self.shape.intermediate_size
        parts = name.split(".")
        if name == "gate.weight":
            self.gate_weight.data.copy_(tensor)
        elif name == "gate.e_score_correction_bias" and self.correction_bias is not None:
            self.correction_bias.data.copy_(tensor)
        elif parts[0] == "experts" and len(parts) == 4:
            local = int(parts[1]) - self.first_expert
            if 0 <= local < self.dispatcher.num_local_experts:
                target = {"gate_proj": self.w13[local, :i], "up_proj": self.w13[local, i:], "down_proj": self.w2[local]}
                target[parts[2]].data.copy_(tensor)
        elif parts[0] in ("shared_expert", "shared_experts") and self.shared_down is not None:
            assert self.shared_gate_up is not None
            s = self.shape.shared_intermediate_size
            target = {
                "gate_proj": self.shared_gate_up[:s],
                "up_proj": self.shared_gate_up[s:],
                "down_proj": self.shared_down,
            }
            target[parts[1]].data.copy_(tensor)
        else:
            return False
        return True

    # --------------------------------------------------------------------------- forward

    def token_share(self, num_tokens: int) -> tuple[int, int]:
        """The rows [lo, hi) this rank routes: contiguous, sizes differing by at most one."""
        base, extra = divmod(num_tokens, self.world)
        lo = self.rank * base + min(self.rank, extra)
        return lo, lo + base + (self.rank < extra)

    def experts(self, rows: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """The local experts on rows laid out expert by expert (`counts` [E_local] rows each)."""
        gate_up = grouped_gemm(rows, self.w13, counts, self.kernel_backend)
        gate, up = gate_up.chunk(2, dim=-1)
        return grouped_gemm(F.silu(gate) * up, self.w2, counts, self.kernel_backend)

    def forward(self, hidden_states: torch.Tensor, forward_batch: object = None) -> torch.Tensor:
        lo, hi = self.token_share(hidden_states.shape[0])
        x = hidden_states[lo:hi]
        topk = select_experts(F.linear(x, self.gate_weight), self.shape.routing, self.correction_bias)
        dispatched = self.dispatcher.dispatch(x, topk)
        y = self.experts(dispatched.hidden_states, dispatched.local_counts)
        out = self.dispatcher.combine(EPCombineInput(y, dispatched.handle))
        if self.shared_gate_up is not None and self.shared_down is not None:
            gate, up = F.linear(x, self.shared_gate_up).chunk(2, dim=-1)
            out = out + F.linear(F.silu(gate) * up, self.shared_down)
        self._count(dispatched.local_counts)
        if self.world == 1:
            return out
        full = hidden_states.new_zeros(hidden_states.shape)
        full[lo:hi] = out
        return full

    def _count(self, counts: torch.Tensor) -> None:
        self.load += counts.to(self.load.device)
        self.passes += 1
        if self.log_every and (self.passes == 1 or self.passes % self.log_every == 0):
            per_expert = {self.first_expert + e: int(c) for e, c in enumerate(self.load.tolist())}
            logger.info(
                "kimi_moe expert load: rank %d/%d layer %d tokens per expert %s over %d passes",
                self.rank,
                self.world,
                self.layer_id,
                per_expert,
                self.passes,
            )
