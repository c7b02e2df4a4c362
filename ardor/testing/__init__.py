"""ardor.testing: ``assert_close`` and ``make_tensor`` (torch.testing's API)."""
from __future__ import annotations

import math

import numpy as np

from .. import _dtype as D
from ._comparison import assert_close, default_tolerances  # noqa: F401

__all__ = ["assert_close", "make_tensor"]


def make_tensor(*shape, dtype, device=None, low: float | None = None,
                high: float | None = None, requires_grad: bool = False,
                noncontiguous: bool = False, exclude_zero: bool = False,
                memory_format=None):
    """A tensor of ``shape`` and ``dtype`` with values uniform in [low, high) (defaults
    [-9, 9], uint8 [0, 9]; bool: random), optionally non-contiguous or without zeros."""
    import ardor
    if len(shape) == 1 and isinstance(shape[0], (list, tuple)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    dt = D.as_dtype(dtype)
    for v in (low, high):
        if v is not None and math.isnan(v):
            raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low is not None and high is not None and low > high:
        raise ValueError(f"`low` must be less than or equal to `high`, but got {low} > {high}")
    if dt is D.bool_:
        t = ardor.randint(0, 2, shape, dtype=dt)
    elif dt._category == D._INT:
        info = np.iinfo(dt.np)
        lo = math.ceil(low) if low is not None else (0 if not dt.is_signed else -9)
        hi = math.ceil(high) if high is not None else 10
        lo, hi = max(lo, int(info.min)), min(hi, int(info.max))
        t = ardor.randint(lo, max(hi, lo + 1), shape, dtype=dt)
    else:
        lo = -9.0 if low is None else low
        hi = 9.0 if high is None else high
        t = ardor.empty(shape, dtype=dt).uniform_(lo, hi)
    arr = t.numpy()
    if exclude_zero:
        if dt is D.bool_:
            arr[...] = True
        elif dt._category == D._INT:
            arr[arr == 0] = 1
        else:
            tiny = np.finfo(np.float32 if dt.itemsize <= 4 else np.float64).eps
            arr[arr == 0] = tiny
    if noncontiguous and arr.size > 1:
        wide = np.empty(shape[:-1] + (shape[-1] * 2,), arr.dtype)
        wide[..., ::2] = arr
        arr = wide[..., ::2]
    t = ardor.from_numpy(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t
