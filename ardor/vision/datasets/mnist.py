"""MNIST and FashionMNIST from IDX files (optionally gzipped) under ``root``."""
from __future__ import annotations

import gzip
import os
import urllib.error
import urllib.request

import numpy as np

from .vision import VisionDataset

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
               0x0E: ">f8"}


def read_idx(path: str) -> np.ndarray:
    """Read an IDX file (the MNIST format; ``.gz`` is decompressed)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise RuntimeError(f"{path} is not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise RuntimeError(f"{path} is truncated (IDX header)")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dt = np.dtype(_IDX_DTYPES[data[2]])
    count = int(np.prod(shape)) if shape else 1
    if len(data) - header < count * dt.itemsize:
        raise RuntimeError(f"{path} is truncated: expected {count} values of shape {shape}")
    arr = np.frombuffer(data, dtype=dt, count=count, offset=header).reshape(shape)
    return arr.astype(dt.newbyteorder("=")) if dt.byteorder == ">" else arr


class MNIST(VisionDataset):
    """MNIST handwritten digits: (PIL-free) uint8 28x28 images and int labels.

    Files are looked for in ``root/MNIST/raw`` (and ``root`` itself), plain or ``.gz``."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        prefix = "train" if train else "t10k"
        self.data = read_idx(self._find(f"{prefix}-images-idx3-ubyte"))
        self.targets = read_idx(self._find(f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
        if len(self.data) != len(self.targets):
            raise RuntimeError(f"{type(self).__name__}: {len(self.data)} images but "
                               f"{len(self.targets)} labels")

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, type(self).__name__, "raw")

    def _find(self, name: str) -> str:
        for folder in (self.raw_folder, self.root):
            for candidate in (name, name + ".gz"):
                p = os.path.join(folder, candidate)
                if os.path.exists(p):
                    return p
        raise RuntimeError(
            f"{type(self).__name__} not found: expected {os.path.join(self.raw_folder, name)} "
            f"(or {name}.gz there or in {self.root}). Use download=True to fetch it.")

    def download(self) -> None:
        """Fetch the four IDX files from the mirrors (needs a network)."""
        os.makedirs(self.raw_folder, exist_ok=True)
        for name in self.resources:
            if any(os.path.exists(os.path.join(self.raw_folder, name + ext))
                   for ext in ("", ".gz")):
                continue
            errors = []
            for mirror in self.mirrors:
                url = f"{mirror}{name}.gz"
                try:
                    with urllib.request.urlopen(url, timeout=30) as r:
                        payload = r.read()
                    with open(os.path.join(self.raw_folder, name + ".gz"), "wb") as f:
                        f.write(payload)
                    break
                except (urllib.error.URLError, OSError) as e:
                    errors.append(f"{url}: {e}")
            else:
                raise RuntimeError(
                    f"Could not download {name} (no network?). Tried:\n  " + "\n  ".join(errors)
                    + f"\nPlace the IDX files in {self.raw_folder} yourself, or use "
                    "ardor.vision.datasets.Digits (bundled, offline).")

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        img, target = self.data[index], int(self.targets[index])
        img = _to_image(img)
        return self._apply(img, target)

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: the MNIST format with clothing classes."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


def _to_image(arr: np.ndarray):
    """A PIL image when Pillow is installed (as torchvision returns), else the uint8 array."""
    try:
        from PIL import Image
    except ImportError:
        return arr
    return Image.fromarray(np.ascontiguousarray(arr), mode="L" if arr.ndim == 2 else None)
