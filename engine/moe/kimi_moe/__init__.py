"""An SGLang model package with an expert-parallel MoE layer (see engine/moe/README.md)."""
