"""Digits: 10 000 + 2 000 real MNIST images bundled with ardor (offline, CC BY-SA 3.0)."""
from __future__ import annotations

import os

import numpy as np

from .vision import VisionDataset

_PATH = os.path.join(os.path.dirname(__file__), "_data", "digits.npz")
_cache: dict = {}


def _arrays():
    if not _cache:
        with np.load(_PATH) as z:
            _cache.update({k: z[k] for k in z.files})
    return _cache


class Digits(VisionDataset):
    """The bundled MNIST subset: ``train=True`` gives 10 000 images, else 2 000.

    Items are ``(image, label)`` with the image a 28x28 uint8 numpy array (apply
    ``transforms.ToTensor()`` for a 1x28x28 float tensor in [0, 1])."""

    classes = [str(i) for i in range(10)]

    def __init__(self, train: bool = True, transform=None, target_transform=None) -> None:
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.train = train
        a = _arrays()
        split = "train" if train else "test"
        self.data = a[f"{split}_images"]
        self.targets = a[f"{split}_labels"].astype(np.int64)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        return self._apply(self.data[index], int(self.targets[index]))

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'} (bundled MNIST subset)"
