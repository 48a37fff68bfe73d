"""kimi-lsp: a language server that brings a self-hosted Mixture-of-Experts code model into every editor."""

__version__ = "0.1.0"
