"""Tensor printing in torch's format."""
from __future__ import annotations

import numpy as np


def tensor_repr(t) -> str:
    """repr(t): ``tensor([1., 2.], requires_grad=True)``."""
    data = t._data
    body = np.array2string(np.asarray(data), separator=", ", prefix="tensor(")
    extras = []
    from . import _dtype as D
    dt = t.dtype
    if dt not in (D.get_default_dtype(), D.int64, D.bool_):
        extras.append(f"dtype={dt}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
