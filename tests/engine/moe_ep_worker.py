"""One rank of the expert-parallel MoE check (tests/engine/test_moe_ep.py), run in the engine's environment:

    python moe_ep_worker.py RANK WORLD INIT_METHOD OUT_JSON

Each rank builds the same checkpoint (seeded), loads it into an EPMoE over a gloo group of WORLD ranks, runs the
same tokens and all-reduces its zero-padded output (what SGLang's tensor-parallel MLP exit does). Rank 0 also runs
a single-rank EPMoE on the same weights and writes, per case, the largest difference and the expert load.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "engine" / "moe"))
from kimi_moe.layer import EPMoE, MoEShape

TINY = Path(__file__).resolve().parents[2] / "engine" / "models" / "kimi-tiny"


def tiny_case() -> tuple[MoEShape, dict[str, torch.Tensor], torch.dtype]:
    """kimi-tiny's layer-1 MoE (softmax top-2 of 8) with its trained bf16 weights."""
    from safetensors.torch import load_file

    config = json.loads((TINY / "config.json").read_text())
    prefix = "model.layers.1.mlp."
    weights = {
        k[len(prefix) :]: v for k, v in load_file(str(TINY / "model.safetensors")).items() if k.startswith(prefix)
    }
    return MoEShape.from_hf_config(SimpleNamespace(**config)), weights, torch.bfloat16


def k2_case() -> tuple[MoEShape, dict[str, torch.Tensor], torch.dtype]:
    """Kimi K2's routing shape, scaled down: sigmoid top-4 of 16 with correction bias, scaling 2.827, 1 shared."""
    config = SimpleNamespace(
        n_routed_experts=16,
        num_experts_per_tok=4,
        hidden_size=64,
        moe_intermediate_size=32,
        n_shared_experts=1,
        scoring_func="sigmoid",
        topk_method="noaux_tc",
        norm_topk_prob=True,
        routed_scaling_factor=2.827,
    )
    g = torch.Generator().manual_seed(7)
    w: dict[str, torch.Tensor] = {"gate.weight": torch.randn(16, 64, generator=g) * 0.3}
    w["gate.e_score_correction_bias"] = torch.randn(16, generator=g) * 0.5
    for e in range(16):
        for name, shape in (("gate_proj", (32, 64)), ("up_proj", (32, 64)), ("down_proj", (64, 32))):
            w[f"experts.{e}.{name}.weight"] = torch.randn(*shape, generator=g) * 0.1
    for name, shape in (("gate_proj", (32, 64)), ("up_proj", (32, 64)), ("down_proj", (64, 32))):
        w[f"shared_experts.{name}.weight"] = torch.randn(*shape, generator=g) * 0.1
    return MoEShape.from_hf_config(config), w, torch.float32


def naive(shape: MoEShape, w: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The MoE written out token by token in float32, sharing no code with kimi_moe."""
    r = shape.routing
    out = torch.zeros(x.shape, dtype=torch.float32)
    for t, row in enumerate(x.float()):
        logits = w["gate.weight"].float() @ row
        if r.scoring == "softmax":
            scores = torch.softmax(logits, 0)
            weights, ids = torch.topk(scores, r.top_k)
        else:
            scores = torch.sigmoid(logits)
            ids = torch.topk(scores + w["gate.e_score_correction_bias"].float(), r.top_k).indices
            weights = scores[ids]
        weights = weights / weights.sum() * r.routed_scaling_factor
        experts = [(f"experts.{int(e)}.", float(g)) for e, g in zip(ids, weights, strict=True)]
        if shape.shared_intermediate_size:
            experts.append(("shared_experts.", 1.0))
        for prefix, g in experts:
            gate = torch.nn.functional.silu(w[prefix + "gate_proj.weight"].float() @ row)
            hidden = gate * (w[prefix + "up_proj.weight"].float() @ row)
            out[t] += g * (w[prefix + "down_proj.weight"].float() @ hidden)
    return out


def build(shape: MoEShape, weights: dict[str, torch.Tensor], dtype: torch.dtype, group: object) -> EPMoE:
    layer = EPMoE(shape, group=group, dtype=dtype, log_every=0)  # type: ignore[arg-type]
    for name, tensor in weights.items():
        assert layer.load_weight(name, tensor.to(dtype)), name
    return layer


def main() -> None:
    rank, world, init, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    group = dist.group.WORLD
    results = {}
    for name, case in (("kimi-tiny", tiny_case), ("k2-shape", k2_case)):
        shape, weights, dtype = case()
        for tokens in (1, 2, 37):  # a decode step with fewer tokens than ranks, an even and an odd prefill
            x = torch.randn(tokens, shape.hidden_size, generator=torch.Generator().manual_seed(tokens)).to(dtype)
            ep = build(shape, weights, dtype, group)
            y = ep(x)
            dist.all_reduce(y, group=group)
            load = torch.zeros(shape.routing.num_experts, dtype=torch.int64)
            load[ep.first_expert : ep.first_expert + ep.load.numel()] = ep.load
            dist.all_reduce(load, group=group)
            if rank == 0:
                ref = build(shape, weights, dtype, None)(x)
                plain = naive(shape, {k: v.to(dtype) for k, v in weights.items()}, x)
                results[f"{name}/{tokens}"] = {
                    "max_abs_diff": float((y.float() - ref.float()).abs().max()),
                    "max_abs_ref": float(ref.float().abs().max()),
                    "max_abs_diff_naive": float((ref.float() - plain).abs().max()),
                    "routes": int(load.sum()),
                    "expected_routes": tokens * shape.routing.top_k,
                    "rank0_experts": ep.load.numel(),
                }
    if rank == 0:
        Path(out).write_text(json.dumps(results))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
