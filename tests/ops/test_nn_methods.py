"""Tensor methods over the functional API and small predicates (ardor/_ops/nn_methods.py),
against torch: values, gradients, and errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ardor

X = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)

CASES = {
    "softmax": lambda z, lib: z.softmax(-1),
    "softmax_dim0_float64": lambda z, lib: z.softmax(0, dtype=lib.float64),
    "log_softmax": lambda z, lib: z.log_softmax(1),
    "hardshrink": lambda z, lib: z.hardshrink(0.3),
    "prelu": lambda z, lib: z.prelu(lib.tensor([0.1, 0.2, 0.3])),
    "sum_to_size": lambda z, lib: z.sum_to_size(3, 1),
    "sum_to_size_tuple": lambda z, lib: z.sum_to_size((1, 3, 4)),
    "H": lambda z, lib: z[0].H,
    "mH": lambda z, lib: z.mH,
    "unsafe_chunk": lambda z, lib: z.unsafe_chunk(2, 2)[1],
    "unsafe_split": lambda z, lib: z.unsafe_split(1, 1)[2],
    "unsafe_split_with_sizes": lambda z, lib: z.unsafe_split_with_sizes([1, 3], 2)[1],
}


@pytest.mark.parametrize("name", list(CASES))
def test_method_matches_torch(name):
    a = ardor.tensor(X, requires_grad=True)
    t = torch.tensor(X, requires_grad=True)
    ya, yt = CASES[name](a, ardor), CASES[name](t, torch)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(
        yt.detach().numpy().dtype)
    ya.backward(ardor.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_predicates_and_errors_match_torch():
    for lib in (ardor, torch):
        z = lib.tensor(X)
        assert z.is_same_size(z[0:1].expand(2, 3, 4)) and not z.is_same_size(z[0])
        assert z[0, 0, 0].is_nonzero() == bool(X[0, 0, 0])
    msgs = []
    for lib in (ardor, torch):
        z = lib.tensor(X)
        row = []
        for f in (lambda: z.sum_to_size(4, 3), lambda: z.H, lambda: z[0, 0].mH,
                  lambda: z.is_nonzero(), lambda: z[:0].is_nonzero()):
            with pytest.raises(RuntimeError) as e:
                f()
            row.append(str(e.value))
        msgs.append(row)
    assert msgs[0] == msgs[1]
    with pytest.warns(UserWarning, match="deprecated on 0-D tensors"):
        v = ardor.tensor(2.0).H
    assert float(v) == 2.0
