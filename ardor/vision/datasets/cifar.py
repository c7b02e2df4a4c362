"""CIFAR10 / CIFAR100 from the 'python version' batches, read with a restricted unpickler."""
from __future__ import annotations

import io
import os
import pickle

import numpy as np

from ...serialization import _codecs_encode
from .vision import VisionDataset


def _reconstruct(subtype, shape, dtype):
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError("CIFAR batch: unexpected array subtype")
    return np.ndarray.__new__(np.ndarray, shape, dtype)


class _SafeBatchUnpickler(pickle.Unpickler):
    """Allows only numpy arrays, numpy dtypes and plain containers (what CIFAR needs)."""

    _ALLOWED = {("_codecs", "encode"): _codecs_encode,  # how protocol 2 writes bytes
                ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
                ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
                ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}

    def find_class(self, module: str, name: str):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"CIFAR batch: global {module}.{name} is not "
                                         "allowed in a data file") from None


def load_batch(path: str) -> dict:
    """One CIFAR python batch as a dict with str keys, read safely (no code runs)."""
    with open(path, "rb") as f:
        raw = f.read()
    d = _SafeBatchUnpickler(io.BytesIO(raw), encoding="latin1").load()
    if not isinstance(d, dict):
        raise RuntimeError(f"{path}: not a CIFAR batch (expected a dict)")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}


class CIFAR10(VisionDataset):
    """CIFAR-10: 32x32 RGB images (HWC uint8) in 10 classes, from ``root/cifar-10-batches-py``."""

    base_folder = "cifar-10-batches-py"
    train_list = [f"data_batch_{i}" for i in range(1, 6)]
    test_list = ["test_batch"]
    meta = {"filename": "batches.meta", "key": "label_names"}
    label_key = "labels"

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            raise RuntimeError(f"{type(self).__name__}: download is not available offline; "
                               f"place the python batches in "
                               f"{os.path.join(self.root, self.base_folder)}")
        folder = os.path.join(self.root, self.base_folder)
        data, targets = [], []
        for name in (self.train_list if train else self.test_list):
            path = os.path.join(folder, name)
            if not os.path.exists(path):
                raise RuntimeError(f"{type(self).__name__} not found: expected {path}")
            entry = load_batch(path)
            data.append(np.asarray(entry["data"], dtype=np.uint8))
            targets.extend(entry[self.label_key] if self.label_key in entry
                           else entry["labels"])
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        self.targets = list(int(t) for t in targets)
        meta_path = os.path.join(folder, self.meta["filename"])
        self.classes = load_batch(meta_path)[self.meta["key"]] if os.path.exists(meta_path) \
            else []
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        from .mnist import _to_image
        return self._apply(_to_image(self.data[index]), self.targets[index])

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100: 100 fine classes, from ``root/cifar-100-python``."""

    base_folder = "cifar-100-python"
    train_list = ["train"]
    test_list = ["test"]
    meta = {"filename": "meta", "key": "fine_label_names"}
    label_key = "fine_labels"
