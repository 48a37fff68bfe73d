"""Stand-in for torchvision.io (see torchvision/__init__.py)."""
from enum import Enum

from torchvision._unavailable import module_getattr


class ImageReadMode(Enum):
    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4
    RGBA = 4


__getattr__ = module_getattr("torchvision.io")
