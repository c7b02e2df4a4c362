"""ardor.vision: datasets and transforms with torchvision's names."""
from . import datasets, transforms  # noqa: F401
