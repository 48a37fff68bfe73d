"""Import-only stand-in for torchvision on the CPU engine (SGLang imports it at start-up for vision configs).

PyPI's torchvision wheel is a CUDA build that fails to import beside the CPU torch. Text models never call
it; every callable here raises NotImplementedError, every enum it needs at import time is real. On the
engine's PYTHONPATH only (never installed, so the language server's venv does not see it).
"""
from torchvision._unavailable import module_getattr

__version__ = "0.0.0+kimi-lsp-stub"
__getattr__ = module_getattr("torchvision")
