"""The tiny MoE code model: corpus, tokenizer, training and evaluation scripts.

Owns everything needed to rebuild `engine/models/kimi-tiny/` from the CPython standard library on this
machine. Must not be imported by kimi_lsp/ (it imports torch and transformers).
"""
