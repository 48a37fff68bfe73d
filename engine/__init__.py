"""The serving side of kimi-lsp: SGLang launch profiles, the CPU stand-ins and the tiny MoE model.

May import torch and sglang (in the engine process); kimi_lsp/ must never import torch through it:
only `kimi_engine.launch` is safe to import from the language server (stdlib only).
"""
