"""Train the tiny Qwen3-MoE code model on the CPython standard library (CPU, seeded, time-budgeted).

    python -m kimi_engine.models.train --minutes 30 --out engine/models/kimi-tiny

The run is reproducible: the seed fixes tokenizer, init and data order. The learning rate follows the
wall clock (warmup, then cosine over --minutes), and every step's rate is written to train_log.json;
`--replay train_log.json` re-runs exactly that schedule (same steps, same rates) without a time budget.
Writes safetensors weights, config, generation config, tokenizer files and train_log.json into --out.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from kimi_engine.models.corpus import EOS, iter_sources, training_texts
from kimi_engine.models.tokenizer import save_tokenizer, train_tokenizer
from tokenizers import Tokenizer
from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM


@dataclass(slots=True, frozen=True)
class TrainConfig:
    minutes: float = 30.0
    replay: str = ""  # a train_log.json: replay its exact learning-rate schedule, ignore --minutes
    init: str = ""  # a model dir to continue from (its tokenizer and weights), e.g. for a FIM stage
    seed: int = 1234
    vocab_size: int = 6144
    hidden_size: int = 192
    num_layers: int = 3
    num_heads: int = 6
    num_kv_heads: int = 2
    head_dim: int = 32
    num_experts: int = 8
    experts_per_token: int = 2
    moe_intermediate_size: int = 256
    seq_len: int = 512
    batch_size: int = 8
    lr: float = 3e-3
    warmup_steps: int = 60
    fim_rate: float = 0.5
    threads: int = 2
    out: str = "engine/models/kimi-tiny"


def model_config(cfg: TrainConfig, eos_id: int) -> Qwen3MoeConfig:
    return Qwen3MoeConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.moe_intermediate_size * 2,
        moe_intermediate_size=cfg.moe_intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        head_dim=cfg.head_dim,
        num_experts=cfg.num_experts,
        num_experts_per_tok=cfg.experts_per_token,
        decoder_sparse_step=1,
        mlp_only_layers=[],
        norm_topk_prob=True,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        output_router_logits=True,
        router_aux_loss_coef=0.01,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )


def epoch_rows(tok, files, cfg: TrainConfig, epoch: int) -> torch.Tensor:
    """Token rows [N, seq_len] of one pass: fresh FIM draws and order per epoch, packed back to back."""
    texts = training_texts(files, seed=cfg.seed * 1000 + epoch, fim_rate=cfg.fim_rate, max_chars=cfg.seq_len * 4)
    ids = [i for enc in tok.encode_batch(texts) for i in enc.ids]
    n = len(ids) // cfg.seq_len
    return torch.tensor(ids[: n * cfg.seq_len], dtype=torch.long).view(n, cfg.seq_len)


def lr_at(progress: float, step: int, cfg: TrainConfig) -> float:
    """Linear warmup over warmup_steps, then cosine from lr to lr/10 over progress in [0, 1]."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def batches(tok, files, cfg: TrainConfig):
    """Endless (epoch, batch [B, T]) stream in a seeded order."""
    epoch = 0
    while True:
        rows = epoch_rows(tok, files, cfg, epoch)
        order = torch.randperm(rows.shape[0], generator=torch.Generator().manual_seed(cfg.seed + epoch))
        for i in range(0, len(order) - cfg.batch_size + 1, cfg.batch_size):
            yield epoch, rows[order[i : i + cfg.batch_size]]
        epoch += 1


def train(cfg: TrainConfig) -> dict:
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    files = list(iter_sources(held_out=False))
    tok = (
        Tokenizer.from_file(str(Path(cfg.init) / "tokenizer.json"))
        if cfg.init
        else train_tokenizer(files, cfg.vocab_size)
    )
    save_tokenizer(tok, out, model_max_length=4096)
    eos_id = tok.token_to_id(EOS)
    print(f"tokenizer: {tok.get_vocab_size()} tokens, {len(files)} files, {time.monotonic() - t0:.0f}s", flush=True)

    if cfg.init:
        model = Qwen3MoeForCausalLM.from_pretrained(cfg.init, dtype=torch.float32)
        model.config.output_router_logits = True
        model.config.tie_word_embeddings = True  # export() unties for SGLang; training stays tied
        model.lm_head.weight = model.get_input_embeddings().weight
    else:
        model = Qwen3MoeForCausalLM(model_config(cfg, eos_id))
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M parameters", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.1)
    replay = json.loads(Path(cfg.replay).read_text())["lr_schedule"] if cfg.replay else None
    budget_s = cfg.minutes * 60
    train_start = time.monotonic()
    losses: list[float] = []
    lrs: list[float] = []
    step, epoch = 0, 0
    model.train()
    for epoch, batch in batches(tok, files, cfg):
        elapsed = time.monotonic() - train_start
        if (replay is not None and step >= len(replay)) or (replay is None and elapsed >= budget_s):
            break
        lr = replay[step] if replay is not None else round(lr_at(elapsed / budget_s, step, cfg), 9)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        lrs.append(lr)
        step += 1
        if step % 20 == 0:
            print(
                f"step {step} epoch {epoch} loss {sum(losses[-20:]) / 20:.3f} lr {lr:.2e} "
                f"{time.monotonic() - train_start:.0f}s",
                flush=True,
            )
    train_s = time.monotonic() - train_start
    export(model, out)
    log = {
        "config": asdict(cfg),
        "steps": step,
        "epochs_started": epoch + 1,
        "tokens": step * cfg.batch_size * cfg.seq_len,
        "train_seconds": round(train_s),
        "total_seconds": round(time.monotonic() - t0),
        "params": n_params,
        "final_loss": round(sum(losses[-50:]) / max(1, len(losses[-50:])), 4),
        "torch": torch.__version__,
        "lr_schedule": lrs,
    }
    (out / "train_log.json").write_text(json.dumps(log, indent=2) + "\n")
    return log


def export(model: Qwen3MoeForCausalLM, out: Path) -> None:
    """Save as bf16 safetensors with an explicit lm_head: SGLang's Qwen3MoeForCausalLM ignores
    tie_word_embeddings, so a tied checkpoint would serve with an empty output layer."""
    model.config.output_router_logits = False
    model.config.tie_word_embeddings = False
    model.lm_head.weight = torch.nn.Parameter(model.get_input_embeddings().weight.detach().clone())
    model.to(torch.bfloat16).save_pretrained(str(out), safe_serialization=True)


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = TrainConfig()
    for name, value in asdict(defaults).items():
        p.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    return TrainConfig(**vars(p.parse_args(argv)))


if __name__ == "__main__":
    summary = {k: v for k, v in train(parse_args()).items() if k != "lr_schedule"}
    print(json.dumps(summary, indent=2))
