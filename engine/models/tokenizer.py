"""Byte-level BPE tokenizer for the tiny model, trained with `tokenizers` on the training corpus only.

Writes tokenizer.json + tokenizer_config.json + special_tokens_map.json (transformers' fast-tokenizer format,
which SGLang loads with AutoTokenizer).
"""

from __future__ import annotations

from pathlib import Path

from kimi_engine.models.corpus import EOS, SPECIAL_TOKENS, SourceFile
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers


def train_tokenizer(files: list[SourceFile], vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator((f.text for f in files), trainer=trainer)
    return tok


def save_tokenizer(tok: Tokenizer, out_dir: Path, model_max_length: int) -> None:
    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS,
        pad_token=EOS,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
    )
    fast.add_special_tokens({"additional_special_tokens": [t for t in SPECIAL_TOKENS if t != EOS]})
    fast.save_pretrained(str(out_dir))
