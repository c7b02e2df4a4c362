"""Helpers to run the same computation on ardor and on torch and compare.

``pair(arr, requires_grad)`` gives (ardor tensor, torch tensor) over the same numpy data;
``check(a, t)`` compares values, dtypes and shapes; ``check_grads`` compares ``.grad``s.
"""
from __future__ import annotations

import numpy as np
import torch

import ardor


def to_np(x):
    if isinstance(x, ardor.Tensor):
        return x.detach().numpy()
    if isinstance(x, torch.Tensor):
        x = x.detach()
        if x.dtype == torch.bfloat16:
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def pair(arr, requires_grad: bool = False, transpose: bool = False):
    """Same data as an ardor and a torch tensor (optionally as a non-contiguous .T view)."""
    arr = np.asarray(arr)
    a = ardor.tensor(arr)
    t = torch.tensor(arr)
    if requires_grad:
        a.requires_grad_(True)
        t.requires_grad_(True)
    return a, t


def dtype_name(d) -> str:
    return str(d).split(".")[-1]


def check(a, t, rtol=1e-5, atol=1e-6, check_dtype=True):
    """Assert an ardor result equals torch's: same shape, dtype name and values."""
    if isinstance(t, (tuple, list)):
        assert isinstance(a, (tuple, list)) and len(a) == len(t), (a, t)
        for x, y in zip(a, t):
            check(x, y, rtol, atol, check_dtype)
        return
    if isinstance(t, torch.Tensor):
        assert isinstance(a, ardor.Tensor), f"expected a Tensor, got {type(a)}"
        assert tuple(a.shape) == tuple(t.shape), f"shape {tuple(a.shape)} != {tuple(t.shape)}"
        if check_dtype:
            assert dtype_name(a.dtype) == dtype_name(t.dtype), f"dtype {a.dtype} != {t.dtype}"
        np.testing.assert_allclose(to_np(a).astype(np.float64) if to_np(a).dtype.kind != "c"
                                   else to_np(a), to_np(t), rtol=rtol, atol=atol,
                                   equal_nan=True)
    else:
        assert a == t or (isinstance(t, float) and np.isclose(a, t, rtol, atol)), (a, t)


def check_grads(ardor_tensors, torch_tensors, rtol=1e-5, atol=1e-6):
    for a, t in zip(ardor_tensors, torch_tensors):
        if t.grad is None:
            assert a.grad is None, "ardor has a grad where torch has None"
        else:
            assert a.grad is not None, "ardor grad is None where torch has one"
            check(a.grad, t.grad, rtol, atol)
