"""max pooling without indices (no_grad / inputs not requiring grad) vs torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ardor
from tests.oracle import check

CASES = [  # (nd, shape, kwargs)
    (2, (3, 4, 9, 8), dict(kernel_size=2)),
    (2, (2, 3, 9, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    (2, (2, 3, 10, 9), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
    (2, (3, 7, 6), dict(kernel_size=2)),                       # unbatched
    (1, (2, 3, 11), dict(kernel_size=3, stride=2, padding=1)),
    (3, (1, 2, 5, 6, 7), dict(kernel_size=2, stride=(1, 2, 2))),
]


@pytest.mark.parametrize("nd,shape,kw", CASES)
@pytest.mark.parametrize("mode", ["no_grad", "plain"])
def test_values_match_torch(nd, shape, kw, mode):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[::7] = np.nan                      # NaN wins its window, as in torch
    x.flat[3::11] = -np.inf
    fa = getattr(ardor.nn.functional, f"max_pool{nd}d")
    ft = getattr(torch.nn.functional, f"max_pool{nd}d")
    xa = ardor.tensor(x, requires_grad=mode == "no_grad")
    xt = torch.tensor(x, requires_grad=mode == "no_grad")
    with ardor.no_grad():
        ya = fa(xa, **kw)
    with torch.no_grad():
        yt = ft(xt, **kw)
    check(ya, yt)
    assert not ya.requires_grad and ya.grad_fn is None
    # the same call with indices (the autograd path) gives the same values
    check(fa(ardor.tensor(x), return_indices=True, **kw)[0], yt)


def test_grad_path_still_records_max_pool_backward():
    x = ardor.tensor(np.arange(16.0, dtype=np.float32).reshape(1, 1, 4, 4), requires_grad=True)
    y = ardor.nn.functional.max_pool2d(x, 2)
    assert y.grad_fn is not None
    y.sum().backward()
    xt = torch.arange(16.0).reshape(1, 1, 4, 4).requires_grad_()
    torch.nn.functional.max_pool2d(xt, 2).sum().backward()
    check(x.grad, xt.grad)


def test_inference_module_float64_and_empty_batch():
    m = ardor.nn.MaxPool2d(2)
    x = np.random.default_rng(1).standard_normal((0, 2, 4, 4))
    with ardor.no_grad():
        y = m(ardor.tensor(x))
    assert tuple(y.shape) == (0, 2, 2, 2) and y.dtype == ardor.float64
