"""Image transforms with torchvision's names (tensors, numpy arrays, PIL images)."""
from .transforms import (CenterCrop, Compose, ConvertImageDtype, Lambda, Normalize,
                         PILToTensor, RandomCrop, RandomHorizontalFlip, RandomVerticalFlip,
                         Resize, ToTensor)
from . import functional  # noqa: F401

__all__ = ["Compose", "ToTensor", "PILToTensor", "Normalize", "Lambda", "RandomCrop",
           "RandomHorizontalFlip", "RandomVerticalFlip", "Resize", "CenterCrop",
           "ConvertImageDtype"]
