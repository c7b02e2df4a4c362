"""DatasetFolder / ImageFolder: one sub-folder per class (images need Pillow)."""
from __future__ import annotations

import os

from .vision import VisionDataset

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def find_classes(directory: str):
    """Sorted class folder names and their indices."""
    classes = sorted(e.name for e in os.scandir(directory) if e.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {c: i for i, c in enumerate(classes)}


def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None):
    """(path, class index) for every valid file under each class folder."""
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the "
                         "same time")
    if extensions is not None:
        def is_valid_file(p):  # noqa: F811
            return p.lower().endswith(tuple(extensions))
    instances = []
    for cls in sorted(class_to_idx):
        folder = os.path.join(directory, cls)
        for root, _, names in sorted(os.walk(folder, followlinks=True)):
            for name in sorted(names):
                path = os.path.join(root, name)
                if is_valid_file(path):
                    instances.append((path, class_to_idx[cls]))
    if not instances:
        raise FileNotFoundError(f"Found no valid file for the classes {sorted(class_to_idx)} "
                                f"in {directory}. Supported extensions are: {extensions}")
    return instances


class DatasetFolder(VisionDataset):
    """Samples ``loader(path)`` for files in ``root/<class>/...``."""

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None,
                 is_valid_file=None, allow_empty: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"{type(self).__name__}: root folder {self.root} does not "
                                    "exist")
        self.classes, self.class_to_idx = find_classes(self.root)
        self.samples = make_dataset(self.root, self.class_to_idx, extensions, is_valid_file)
        self.loader = loader
        self.extensions = extensions
        self.targets = [s[1] for s in self.samples]
        self.imgs = self.samples

    def __getitem__(self, index: int):
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)

    def __len__(self) -> int:
        return len(self.samples)


def pil_loader(path: str):
    """Open an image file as RGB with Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("ImageFolder needs Pillow: pip install 'ardor[vision]'") from None
    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


class ImageFolder(DatasetFolder):
    """Images in ``root/<class>/<image>`` loaded as RGB PIL images."""

    def __init__(self, root, transform=None, target_transform=None, loader=pil_loader,
                 is_valid_file=None, allow_empty: bool = False) -> None:
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform=transform, target_transform=target_transform,
                         is_valid_file=is_valid_file, allow_empty=allow_empty)
