"""Placeholders for the torchvision API that SGLang imports at start-up but a text model never calls."""
from __future__ import annotations

from enum import Enum


class InterpolationMode(Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


class Unavailable:
    """Stands for any torchvision callable; calling it raises NotImplementedError."""

    def __init__(self, qualname: str) -> None:
        self.qualname = qualname

    def __call__(self, *args: object, **kwargs: object) -> object:
        raise NotImplementedError(
            f"{self.qualname} is not available: kimi-lsp's engine serves text models only "
            "(engine/cpu/torchvision is a stand-in for the CUDA-only torchvision wheel)"
        )

    def __getattr__(self, name: str) -> Unavailable:
        if name.startswith("__"):
            raise AttributeError(name)
        return Unavailable(f"{self.qualname}.{name}")


def module_getattr(module: str):  # noqa: ANN201 - returns a module-level __getattr__
    def __getattr__(name: str) -> Unavailable:
        if name.startswith("__"):
            raise AttributeError(name)
        return Unavailable(f"{module}.{name}")

    return __getattr__
