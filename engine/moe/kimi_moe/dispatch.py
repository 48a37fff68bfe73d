"""The all-to-all token dispatcher: the three stages of SGLang's dispatcher interface, over torch.distributed.

    out = dispatcher.dispatch(hidden_states, topk_output)   # EPDispatchOutput: rows for *my* experts
    y = local_experts(out.hidden_states, out.local_counts)  # rows laid out expert by expert
    result = dispatcher.combine(EPCombineInput(y, out.handle))

Experts map to ranks in contiguous blocks: rank d of an ep-rank group owns experts
[d * E_local, (d + 1) * E_local). dispatch sorts this rank's routes by expert (kernels.align_by_expert), sends
every rank the counts of its experts (an all-to-all of E_local ints per pair), then sends each route's token row
to the owning rank (an all-to-all of variable-sized row blocks) and re-lays the received rows out by local expert.
combine undoes both moves and returns, for each of this rank's tokens, the routing-weighted sum of its k expert
outputs. With group None (or one rank) no communication happens and the same code runs locally.

Works on any torch.distributed backend with all_to_all_single (gloo on CPUs, NCCL on GPUs). DeepEP's dispatcher
has the same shape (dispatch -> experts -> combine) and can stand in for this one on GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist

from kimi_moe.kernels import align_by_expert
from kimi_moe.routing import TopKOutput


@dataclass(slots=True, frozen=True)
class DispatchHandle:
    """What combine needs to undo dispatch."""

    order: torch.Tensor  # [T*k] route indices, expert-sorted (this rank's sends, in send order)
    send_splits: list[int]  # rows sent to each rank
    recv_splits: list[int]  # rows received from each rank
    by_expert: torch.Tensor  # received row (rank-major) -> its place in the expert-major layout
    topk_weights: torch.Tensor  # [T, k] float32
    num_tokens: int


@dataclass(slots=True, frozen=True)
class EPDispatchOutput:
    hidden_states: torch.Tensor  # [R, H] rows for this rank's experts, expert by expert
    local_counts: torch.Tensor  # [E_local] rows per local expert (int64)
    handle: DispatchHandle
    format: str = "kimi_all_to_all"


@dataclass(slots=True, frozen=True)
class EPCombineInput:
    hidden_states: torch.Tensor  # [R, H] expert outputs, rows as in EPDispatchOutput.hidden_states
    handle: DispatchHandle
    format: str = "kimi_all_to_all"


class AllToAllDispatcher:
    def __init__(self, num_experts: int, group: dist.ProcessGroup | None = None, kernel_backend: str = "torch") -> None:
        self.world = dist.get_world_size(group) if group is not None else 1
        if num_experts % self.world:
            raise ValueError(f"{num_experts} experts do not split evenly over {self.world} expert-parallel ranks")
        self.group = group
        self.num_experts = num_experts
        self.num_local_experts = num_experts // self.world
        self.kernel_backend = kernel_backend

    def dispatch(self, hidden_states: torch.Tensor, topk_output: TopKOutput) -> EPDispatchOutput:
        topk_ids = topk_output.topk_ids
        n, k = topk_ids.shape
        order, counts = align_by_expert(topk_ids, self.num_experts, self.kernel_backend)
        send = hidden_states[order // k]
        if self.world == 1:
            recv_counts = counts.view(1, -1)
            recv = send
            send_splits = recv_splits = [send.shape[0]]
        else:
            recv_counts = torch.empty_like(counts)
            dist.all_to_all_single(recv_counts, counts, group=self.group)
            recv_counts = recv_counts.view(self.world, self.num_local_experts)
            send_splits = counts.view(self.world, -1).sum(1).tolist()
            recv_splits = recv_counts.sum(1).tolist()
            recv = send.new_empty((sum(recv_splits), hidden_states.shape[1]))
            dist.all_to_all_single(recv, send, recv_splits, send_splits, group=self.group)
        experts = torch.arange(self.num_local_experts, device=recv.device).repeat(recv_counts.shape[0])
        row_expert = torch.repeat_interleave(experts, recv_counts.reshape(-1))
        by_expert = torch.sort(row_expert, stable=True).indices
        handle = DispatchHandle(order, send_splits, recv_splits, by_expert, topk_output.topk_weights.float(), n)
        return EPDispatchOutput(recv[by_expert], recv_counts.sum(0), handle)

    def combine(self, combine_input: EPCombineInput) -> torch.Tensor:
        h = combine_input.handle
        y = combine_input.hidden_states
        rank_major = torch.empty_like(y)
        rank_major[h.by_expert] = y
        if self.world == 1:
            back = rank_major
        else:
            back = y.new_empty((sum(h.send_splits), y.shape[1]))
            dist.all_to_all_single(back, rank_major, h.send_splits, h.recv_splits, group=self.group)
        k = h.topk_weights.shape[1]
        routes = y.new_empty((h.num_tokens * k, y.shape[1]))
        routes[h.order] = back
        weighted = routes.view(h.num_tokens, k, y.shape[1]).float() * h.topk_weights.unsqueeze(-1)
        return weighted.sum(dim=1).to(y.dtype)
