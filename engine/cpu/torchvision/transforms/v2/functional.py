"""Stand-in for torchvision.transforms.v2.functional (see torchvision/__init__.py)."""
from torchvision._unavailable import InterpolationMode, module_getattr

__all__ = ["InterpolationMode"]
__getattr__ = module_getattr("torchvision.transforms.v2.functional")
