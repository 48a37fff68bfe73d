"""The SGLang model class: SGLang's Qwen3-MoE with our expert-parallel MoE layer in every decoder layer.

Architecture name `KimiMoeEPForCausalLM` (a launch profile selects it with
`--json-model-override-args {"architectures": ["KimiMoeEPForCausalLM"]}`; the checkpoint is unchanged).
Attention, norms, embeddings, LM head and weight loading are SGLang's own; each layer's MoE block is replaced by
kimi_moe.layer.EPMoE over SGLang's MoE expert-parallel group, and the MoE weights are routed to it. Requires
moe_ep_size == tp_size (tokens replicated over the tensor-parallel ranks, as without DP attention); SGLang's
tensor-parallel exit all-reduce after the MLP adds the ranks' token shares together.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from sglang.srt.distributed.parallel_state import get_moe_ep_group, get_tp_group
from sglang.srt.models.qwen3_moe import Qwen3MoeForCausalLM, Qwen3MoeSparseMoeBlock

from kimi_moe import kernels
from kimi_moe.layer import EPMoE, MoEShape

logger = logging.getLogger("kimi_moe")

MOE_NAMES = (".mlp.experts.", ".mlp.gate.", ".mlp.shared_expert.", ".mlp.shared_experts.")


class KimiMoeEPForCausalLM(Qwen3MoeForCausalLM):  # type: ignore[misc]
    def __init__(self, config: Any, quant_config: Any = None, prefix: str = "") -> None:
        super().__init__(config, quant_config=quant_config, prefix=prefix)
        if quant_config is not None:
            raise ValueError("KimiMoeEPForCausalLM serves unquantised checkpoints only")
        ep, tp = get_moe_ep_group(), get_tp_group()
        if ep.world_size != tp.world_size:
            raise ValueError(
                f"KimiMoeEPForCausalLM needs --ep-size equal to --tp-size (got {ep.world_size}, {tp.world_size})"
            )
        group = ep.device_group if ep.world_size > 1 else None
        shape = MoEShape.from_hf_config(config)
        # the Triton kernels where they compile for the device (CUDA); the torch reference elsewhere (CPU)
        backend = "triton" if torch.cuda.is_available() and kernels.triton is not None else "torch"
        self.ep_layers: dict[int, EPMoE] = {}
        for layer_id, layer in enumerate(self.model.layers):
            if isinstance(getattr(layer, "mlp", None), Qwen3MoeSparseMoeBlock):
                layer.mlp = EPMoE(shape, group=group, layer_id=layer_id, kernel_backend=backend)
                self.ep_layers[layer_id] = layer.mlp
        logger.info(
            "kimi_moe: expert-parallel MoE in %d layers, rank %d of %d owns experts %d..%d of %d",
            len(self.ep_layers),
            ep.rank_in_group,
            ep.world_size,
            ep.rank_in_group * shape.routing.num_experts // ep.world_size,
            (ep.rank_in_group + 1) * shape.routing.num_experts // ep.world_size - 1,
            shape.routing.num_experts,
        )

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]], is_mtp: bool = False) -> None:
        def others() -> Iterator[tuple[str, torch.Tensor]]:
            for name, tensor in weights:
                moe = next((marker for marker in MOE_NAMES if marker in name), None)
                if moe is None:
                    yield name, tensor
                    continue
                layer_id = int(name.split(".layers.")[1].split(".")[0])
                layer = self.ep_layers.get(layer_id)
                if layer is not None and not layer.load_weight(name.split(".mlp.", 1)[1], tensor):
                    logger.warning("kimi_moe: checkpoint tensor %s has no place in the MoE layer", name)

        super().load_weights(others(), is_mtp=is_mtp)


EntryClass = [KimiMoeEPForCausalLM]
