"""Pooling vs torch 2.13: max/avg/adaptive pools (1d/2d/3d), indices, max_unpool, the
pooling modules and their errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ardor
import ardor.nn.functional as AF

RNG = np.random.default_rng(1)


def both(fa, ft, x, tol=1e-10, indices=False, **kw):
    """Same input through ardor and torch; compare output (and indices), and the input grad
    of a random projection of the output."""
    xa, xt = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = fa(xa, **kw), ft(xt, **kw)
    if indices:
        np.testing.assert_array_equal(ya[1].numpy(), yt[1].numpy())
        assert ya[1].dtype == ardor.int64
        ya, yt = ya[0], yt[0]
    assert tuple(ya.shape) == tuple(yt.shape)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    w = RNG.standard_normal(tuple(yt.shape)).astype(x.dtype)
    (ya * ardor.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=tol, atol=tol)


def _x(*shape, dtype=np.float64):
    # distinct values so that argmax ties do not depend on summation order
    return (RNG.permutation(int(np.prod(shape))).reshape(shape) * 0.01 +
            RNG.standard_normal(shape) * 1e-3).astype(dtype)


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), ceil_mode=True),
    dict(kernel_size=3, stride=2, ceil_mode=True),
])
@pytest.mark.parametrize("shape", [(2, 3, 7, 6), (3, 8, 7)])
def test_max_pool2d(kw, shape):
    both(AF.max_pool2d, TF.max_pool2d, _x(*shape), indices=True, return_indices=True, **kw)


def test_max_pool_1d_3d_float32_nan():
    both(AF.max_pool1d, TF.max_pool1d, _x(2, 3, 9), indices=True, return_indices=True,
         kernel_size=3, stride=2, padding=1, dilation=2, ceil_mode=True)
    both(AF.max_pool3d, TF.max_pool3d, _x(1, 2, 4, 5, 4, dtype=np.float32), tol=1e-6,
         kernel_size=2, stride=(1, 2, 2))
    x = _x(1, 1, 4, 4)
    x[0, 0, 1, 1] = np.nan
    ya = AF.max_pool2d(ardor.tensor(x), 2, return_indices=True)
    yt = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(ya[0].numpy(), yt[0].numpy())
    np.testing.assert_array_equal(ya[1].numpy(), yt[1].numpy())


@pytest.mark.parametrize("kw", [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=True),
    dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 1), divisor_override=4),
])
def test_avg_pool2d(kw):
    both(AF.avg_pool2d, TF.avg_pool2d, _x(2, 3, 7, 6), **kw)


def test_avg_pool_1d_3d():
    both(AF.avg_pool1d, TF.avg_pool1d, _x(2, 3, 7), kernel_size=3, stride=2, padding=1,
         ceil_mode=True, count_include_pad=False)
    both(AF.avg_pool3d, TF.avg_pool3d, _x(1, 2, 4, 5, 6, dtype=np.float32), tol=1e-6,
         kernel_size=2, stride=(1, 2, 2), padding=1)


@pytest.mark.parametrize("size", [(3, 4), (4, None), 1, (7, 6), (5, 5)])
def test_adaptive_pools_2d(size):
    both(AF.adaptive_avg_pool2d, TF.adaptive_avg_pool2d, _x(2, 3, 7, 6), output_size=size)
    both(AF.adaptive_max_pool2d, TF.adaptive_max_pool2d, _x(2, 3, 7, 6), indices=True,
         output_size=size, return_indices=True)


def test_adaptive_pools_1d_unbatched_float32():
    both(AF.adaptive_avg_pool1d, TF.adaptive_avg_pool1d, _x(3, 7, dtype=np.float32), tol=1e-6,
         output_size=3)
    both(AF.adaptive_max_pool1d, TF.adaptive_max_pool1d, _x(2, 3, 7), indices=True,
         output_size=5, return_indices=True)
    both(AF.adaptive_avg_pool3d, TF.adaptive_avg_pool3d, _x(1, 2, 5, 4, 6), output_size=(2, 3, 4))


@pytest.mark.parametrize("nd,kw", [(2, dict(kernel_size=2)),
                                   (2, dict(kernel_size=3, stride=2, padding=1)),
                                   (1, dict(kernel_size=3, stride=2))])
def test_max_unpool(nd, kw):
    x = _x(2, 3, 7, 6) if nd == 2 else _x(2, 3, 9)
    fp_a, fp_t = getattr(AF, f"max_pool{nd}d"), getattr(TF, f"max_pool{nd}d")
    fu_a, fu_t = getattr(AF, f"max_unpool{nd}d"), getattr(TF, f"max_unpool{nd}d")
    va, ia = fp_a(ardor.tensor(x), return_indices=True, **kw)
    vt, it = fp_t(torch.tensor(x), return_indices=True, **kw)
    size = x.shape[2:]
    ka = {k: v for k, v in kw.items()}
    both(lambda v, **k: fu_a(v, ia, output_size=size, **k),
         lambda v, **k: fu_t(v, it, output_size=size, **k), va.numpy(), **ka)


def test_pool_modules_repr_and_values():
    x = _x(2, 3, 8, 8).astype(np.float32)
    for name, args, kw in [("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True)),
                           ("MaxPool1d", (2,), {}), ("AvgPool2d", (2,), dict(divisor_override=3)),
                           ("AvgPool1d", (3,), dict(stride=1, padding=1)),
                           ("AdaptiveAvgPool2d", ((3, None),), {}),
                           ("AdaptiveMaxPool2d", (3,), {}), ("AdaptiveAvgPool1d", (5,), {}),
                           ("AdaptiveMaxPool1d", (5,), {})]:
        am, tm = getattr(ardor.nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
        assert repr(am) == repr(tm)
        xi = x[0] if "1d" in name else x
        np.testing.assert_allclose(am(ardor.tensor(xi)).numpy(), tm(torch.tensor(xi)).numpy(),
                                   rtol=1e-6, atol=1e-6)
    pa, pt = ardor.nn.MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True)
    ua, ut = ardor.nn.MaxUnpool2d(2), torch.nn.MaxUnpool2d(2)
    assert repr(ua) == repr(ut)
    np.testing.assert_allclose(ua(*pa(ardor.tensor(x))).numpy(), ut(*pt(torch.tensor(x))).numpy())


@pytest.mark.parametrize("call", [
    lambda F, L: F.max_pool2d(L.randn(2, 3), 2),
    lambda F, L: F.max_pool2d(L.randn(1, 2, 3, 3), 2, padding=2),
    lambda F, L: F.max_pool2d(L.randn(1, 2, 3, 3), 5),
    lambda F, L: F.avg_pool2d(L.randn(1, 2, 5, 5), 2, padding=2),
    lambda F, L: F.max_pool1d(L.randn(5), 2),
])
def test_pool_errors_match_torch(call):
    with pytest.raises(Exception) as et:
        call(TF, torch)
    with pytest.raises(type(et.value)) as ea:
        call(AF, ardor)
    assert str(ea.value).replace("ardor", "torch") == str(et.value)


def test_lp_pool():
    x = RNG.standard_normal((2, 3, 8, 7))
    for p, args in [(2, (2,)), (2, (3, 2)), (1.5, ((2, 3), (1, 2), True))]:
        xi = np.abs(x) if p == 1.5 else x
        both(lambda v, **k: AF.lp_pool2d(v, p, *args), lambda v, **k: TF.lp_pool2d(v, p, *args),
             xi, tol=1e-9)
    both(lambda v: AF.lp_pool1d(v, 2, 3), lambda v: TF.lp_pool1d(v, 2, 3), x[0], tol=1e-9)
    assert repr(ardor.nn.LPPool2d(2, 3)) == repr(torch.nn.LPPool2d(2, 3))


def test_3d_variants():
    x = _x(1, 2, 5, 6, 4)
    both(AF.adaptive_max_pool3d, TF.adaptive_max_pool3d, x, indices=True, output_size=(2, 3, 3),
         return_indices=True)
    va, ia = AF.max_pool3d(ardor.tensor(x), 2, return_indices=True)
    vt, it = TF.max_pool3d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(ia.numpy(), it.numpy())
    np.testing.assert_allclose(AF.max_unpool3d(va, ia, 2, output_size=x.shape[2:]).numpy(),
                               TF.max_unpool3d(vt, it, 2, output_size=x.shape[2:]).numpy())
    both(lambda v: AF.lp_pool3d(v, 2, 2), lambda v: TF.lp_pool3d(v, 2, 2), x, tol=1e-9)
    for am, tm in [(ardor.nn.AdaptiveMaxPool3d(2), torch.nn.AdaptiveMaxPool3d(2)),
                   (ardor.nn.MaxUnpool3d(2), torch.nn.MaxUnpool3d(2)),
                   (ardor.nn.LPPool3d(2, 2), torch.nn.LPPool3d(2, 2))]:
        assert repr(am) == repr(tm)
