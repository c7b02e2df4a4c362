"""FakeData: random images with random labels, reproducible per index."""
from __future__ import annotations

import numpy as np

from .vision import VisionDataset


class FakeData(VisionDataset):
    """``size`` random images of ``image_size`` (C, H, W) with labels in [0, num_classes)."""

    def __init__(self, size: int = 1000, image_size=(3, 224, 224), num_classes: int = 10,
                 transform=None, target_transform=None, random_offset: int = 0) -> None:
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = tuple(image_size)
        self.random_offset = random_offset

    def __getitem__(self, index: int):
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        rng = np.random.default_rng(index + self.random_offset)
        img = (rng.random(self.image_size) * 255).astype(np.uint8)
        target = int(rng.integers(0, self.num_classes))
        c, h, w = self.image_size
        img = img.transpose(1, 2, 0) if c > 1 else img[0]
        from .mnist import _to_image
        return self._apply(_to_image(img), target)

    def __len__(self) -> int:
        return self.size
