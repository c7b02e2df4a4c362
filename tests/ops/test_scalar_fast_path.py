"""Tensor-with-Python-scalar ops (dispatch's fast path) keep torch's result types/values."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ardor
from tests.oracle import check


@pytest.mark.parametrize("dt", ["float32", "float64"])
@pytest.mark.parametrize("scalar", [2, -3, 0.5, 1e30, True, 2 + 1j])
@pytest.mark.parametrize("shape", [(), (3, 4)])
def test_float_tensor_with_scalar(dt, scalar, shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(dt)
    a, t = ardor.tensor(x), torch.tensor(x)
    ops = [lambda u, s: u * s, lambda u, s: u + s, lambda u, s: u / s]
    if not isinstance(scalar, (bool, complex)):
        ops += [lambda u, s: s - u, lambda u, s: u > s]
    for f in ops:
        check(f(a, scalar), f(t, scalar))


def test_mixed_dtypes_take_the_general_path():
    a32, a64 = ardor.ones(3), ardor.ones(3, dtype=ardor.float64)
    assert ardor.add(a32, a64, alpha=2).dtype == ardor.float64
    assert (ardor.ones(3, dtype=ardor.float16) * 2.5).dtype == ardor.float16
    assert (ardor.ones(3, dtype=ardor.int64) * 2.5).dtype == ardor.float32
    assert (ardor.ones(3) * np.float64(2.5)).dtype == ardor.float32   # numpy scalar: weak
