"""The compiled eager kernels (ardor/_ops/_ckern.py) against torch, and their numpy fallback."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ardor
from ardor._ops import _ckern
from tests.oracle import check


def _gelu_pair(x, g):
    a = ardor.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    ya, yt = ardor.nn.functional.gelu(a), torch.nn.functional.gelu(t)
    ya.backward(ardor.tensor(g))
    yt.backward(torch.tensor(g))
    return ya, yt, a.grad, t.grad


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("shape", [(33, 70), (4, 8, 128)])
def test_gelu_large_float32(monkeypatch, compiled, shape):
    if not compiled:
        monkeypatch.setattr(_ckern, "_LIB", [None])
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    x.flat[:4] = [0.0, -0.0, 40.0, -40.0]
    g = rng.standard_normal(shape).astype(np.float32)
    ya, yt, ga, gt = _gelu_pair(x, g)
    check(ya, yt)
    check(ga, gt)


def test_gelu_kernel_declines_what_it_does_not_cover():
    x = np.ones((64, 64), np.float32)
    assert _ckern.gelu(x.astype(np.float64)) is None          # float64: numpy path
    assert _ckern.gelu(x[:, ::2]) is None                     # non-contiguous
    assert _ckern.gelu(np.ones(8, np.float32)) is None        # tiny
    assert _ckern.gelu_backward(x, x[:1]) is None              # shapes differ
    rng = np.random.default_rng(1)
    xt = rng.standard_normal((40, 40)).astype(np.float32).T  # transposed view: still right
    ya, yt, ga, gt = _gelu_pair(xt, np.ones_like(xt))
    check(ya, yt)
    check(ga, gt)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("batch_first,layers,bidir", [(True, 1, False), (False, 2, True)])
def test_lstm_float32(monkeypatch, compiled, batch_first, layers, bidir):
    if not compiled:
        monkeypatch.setattr(_ckern, "_LIB", [None])
    rng = np.random.default_rng(3)
    tm = torch.nn.LSTM(5, 7, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    am = ardor.nn.LSTM(5, 7, num_layers=layers, bidirectional=bidir, batch_first=batch_first)
    with torch.no_grad():
        for (n, p), (_, q) in zip(tm.named_parameters(), am.named_parameters()):
            q.data.copy_(ardor.tensor(p.detach().numpy()))
    x = rng.standard_normal((4, 6, 5) if batch_first else (6, 4, 5)).astype(np.float32)
    g = rng.standard_normal((4, 6, 7 * (1 + bidir)) if batch_first
                            else (6, 4, 7 * (1 + bidir))).astype(np.float32)
    xa, xt = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, (ha, ca) = am(xa)
    yt, (ht, ct) = tm(xt)
    check(ya, yt)
    check(ha, ht)
    check(ca, ct)
    (ya * ardor.tensor(g)).sum().backward()
    (yt * torch.tensor(g)).sum().backward()
    check(xa.grad, xt.grad)
    for (n, p), (_, q) in zip(tm.named_parameters(), am.named_parameters()):
        check(q.grad, p.grad)


@pytest.mark.parametrize("compiled", [True, False])
def test_relu_and_threshold_backward_float32(monkeypatch, compiled):
    if not compiled:
        monkeypatch.setattr(_ckern, "_LIB", [None])
    rng = np.random.default_rng(4)
    x = rng.standard_normal((40, 60)).astype(np.float32)
    x[0, :3] = [0.0, -0.0, 0.25]
    g = rng.standard_normal((40, 60)).astype(np.float32)
    for fa, ft in ((ardor.relu, torch.relu),
                   (lambda t: ardor.nn.functional.threshold(t, 0.25, -1.0),
                    lambda t: torch.nn.functional.threshold(t, 0.25, -1.0))):
        xa, xt = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ya, yt = fa(xa), ft(xt)
        check(ya, yt)
        ya.backward(ardor.tensor(g))
        yt.backward(torch.tensor(g))
        check(xa.grad, xt.grad)
    assert _ckern.threshold_backward(g[:, ::2], x[:, ::2], 0.0) is None   # strided: numpy


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("shape,k,affine", [((6, 5, 32), 1, True), ((4, 6, 8), 2, True),
                                            ((7, 40), 1, False)])
def test_layer_norm_float32(monkeypatch, compiled, shape, k, affine):
    if not compiled:
        monkeypatch.setattr(_ckern, "_LIB", [None])
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(shape) * 3 + 2).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    ns = shape[-k:]
    w = rng.standard_normal(ns).astype(np.float32) if affine else None
    b = rng.standard_normal(ns).astype(np.float32) if affine else None
    xa, xt = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    pa = [ardor.tensor(v, requires_grad=True) if v is not None else None for v in (w, b)]
    pt = [torch.tensor(v, requires_grad=True) if v is not None else None for v in (w, b)]
    ya = ardor.nn.functional.layer_norm(xa, ns, *pa, eps=1e-5)
    yt = torch.nn.functional.layer_norm(xt, ns, *pt, eps=1e-5)
    check(ya, yt, rtol=1e-5, atol=1e-5)
    ya.backward(ardor.tensor(g))
    yt.backward(torch.tensor(g))
    check(xa.grad, xt.grad, rtol=1e-4, atol=1e-5)
    for a, t in zip(pa, pt):
        if t is not None:
            check(a.grad, t.grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("shape", [(4, 3, 64, 64), (3, 2000)])
def test_softmax_last_dim_float32(monkeypatch, compiled, shape):
    if not compiled:
        monkeypatch.setattr(_ckern, "_LIB", [None])
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) * 6).astype(np.float32)
    rows = x.reshape(-1, shape[-1])
    rows[0] = -np.inf                     # torch: nan row
    rows[1, :5] = -np.inf                 # masked entries: exact zeros
    g = rng.standard_normal(shape).astype(np.float32)
    a = ardor.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    ya = ardor.nn.functional.softmax(a, -1)
    yt = torch.softmax(t, -1)
    check(ya, yt)
    ya.backward(ardor.tensor(g))
    yt.backward(torch.tensor(g))
    check(a.grad, t.grad, rtol=1e-4, atol=1e-6)
    assert _ckern.softmax_lastdim(x.astype(np.float64)) is None


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, 3])
def test_cross_entropy_index_targets_float32(monkeypatch, compiled, reduction, ignore_index):
    if not compiled:
        monkeypatch.setattr(_ckern, "_LIB", [None])
    elif not _ckern.available():
        pytest.skip("no C compiler: the numpy path is tested by the other case")
    calls = []
    real = _ckern.cross_entropy
    def spy(*a):
        r = real(*a)
        calls.append(r is not None)
        return r
    monkeypatch.setattr(_ckern, "cross_entropy", spy)
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((37, 11)) * 4).astype(np.float32)
    x[0, 2] = -np.inf                                       # a class that can never win
    t = rng.integers(0, 11, 37)
    t[:4] = ignore_index if ignore_index >= 0 else -100
    a, tt = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    la = ardor.nn.functional.cross_entropy(a, ardor.tensor(t), reduction=reduction,
                                           ignore_index=ignore_index)
    lt = torch.nn.functional.cross_entropy(tt, torch.tensor(t), reduction=reduction,
                                           ignore_index=ignore_index)
    check(la, lt)
    g = rng.standard_normal(tuple(lt.shape)).astype(np.float32)
    la.backward(ardor.tensor(g))
    lt.backward(torch.tensor(g))
    check(a.grad, tt.grad)
    assert calls and all(c == compiled for c in calls)    # the kernel ran (or did not)
    bad = t.copy()
    bad[7] = 11
    with pytest.raises(IndexError, match="Target 11 is out of bounds"):
        ardor.nn.functional.cross_entropy(a, ardor.tensor(bad), reduction=reduction,
                                          ignore_index=ignore_index)
