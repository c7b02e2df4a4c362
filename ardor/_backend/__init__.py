"""Backends as array modules: numpy for 'cpu', cupy for 'cuda' (an ``xp``)."""
from __future__ import annotations

import numpy as np

from .._device import CPU, device


def array_module_for(dev: device):
    """The array module (numpy or cupy) that holds tensors on ``dev``."""
    if dev.type == "cpu":
        return np
    if dev.type == "cuda":
        return _cupy()
    raise RuntimeError(f"no backend for device '{dev}'")


def _cupy():
    try:
        import cupy  # noqa: F401
    except ImportError:
        raise RuntimeError(
            "ardor's 'cuda' device needs CuPy and an NVIDIA GPU; CuPy is not installed "
            "(pip install 'ardor[cuda]')") from None
    raise RuntimeError("ardor's 'cuda' backend is not available yet: tensors live on 'cpu' only")


def device_of(arr) -> device:
    """The device an array lives on."""
    if isinstance(arr, np.ndarray):
        return CPU
    return device("cuda", int(arr.device.id))


def array_module(arr):
    """numpy for numpy arrays, cupy for cupy arrays."""
    if isinstance(arr, np.ndarray):
        return np
    import cupy
    return cupy
