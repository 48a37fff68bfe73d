"""Stand-in for torchvision.transforms (see torchvision/__init__.py)."""
from torchvision._unavailable import InterpolationMode, module_getattr

__all__ = ["InterpolationMode"]
__getattr__ = module_getattr("torchvision.transforms")
