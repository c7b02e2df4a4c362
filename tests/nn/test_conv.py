"""Convolutions vs torch 2.13: F.conv1d/2d/3d, F.conv_transpose*, unfold/fold and the
Conv*/ConvTranspose* modules (outputs, input/weight/bias grads, double backward, errors)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ardor
import ardor.nn.functional as AF

RNG = np.random.default_rng(0)


def both(fa, ft, arrays, grads=None, tol=1e-10, **kw):
    """Run fa on ardor tensors and ft on torch tensors of the same arrays; compare the output
    and the gradients of a random projection of it wrt every input requiring grad."""
    grads = grads if grads is not None else [a is not None and a.dtype.kind == "f"
                                             for a in arrays]
    A = [None if a is None else ardor.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    T = [None if a is None else torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    ya, yt = fa(*A, **kw), ft(*T, **kw)
    assert tuple(ya.shape) == tuple(yt.shape)
    assert str(ya.dtype).split(".")[-1] == str(yt.dtype).split(".")[-1]
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    w = RNG.standard_normal(tuple(yt.shape)).astype(yt.detach().numpy().dtype)
    (ya * ardor.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    for a, t, g in zip(A, T, grads):
        if g:
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)
    return ya, yt


CONV2D = [  # x shape, weight shape, kwargs
    ((2, 4, 7, 6), (6, 2, 3, 2), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)),
    ((2, 3, 9, 8), (4, 3, 2, 3), dict(padding="same")),
    ((2, 3, 9, 8), (4, 3, 3, 3), dict(padding="same", dilation=2)),
    ((1, 3, 6, 5), (5, 3, 3, 3), dict(padding="valid", stride=2)),
    ((2, 4, 6, 6), (4, 1, 3, 3), dict(padding=1, groups=4)),          # depthwise
    ((3, 7, 6), (4, 3, 3, 3), dict()),                                # unbatched
]


@pytest.mark.parametrize("xs,ws,kw", CONV2D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_functional(xs, ws, kw, bias):
    x, w, b = RNG.standard_normal(xs), RNG.standard_normal(ws), RNG.standard_normal(ws[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both(AF.conv2d, TF.conv2d, [x, w, b if bias else None], **kw)


@pytest.mark.parametrize("nd,xs,ws,kw", [
    (1, (2, 3, 9), (4, 3, 3), dict(padding="same", dilation=2)),
    (1, (3, 10), (4, 3, 4), dict(stride=3, padding=2)),
    (3, (2, 2, 5, 4, 5), (4, 1, 2, 3, 2), dict(stride=2, padding=1, groups=2)),
])
def test_conv1d_3d_functional(nd, xs, ws, kw):
    fa, ft = getattr(AF, f"conv{nd}d"), getattr(TF, f"conv{nd}d")
    both(fa, ft, [RNG.standard_normal(xs), RNG.standard_normal(ws),
                  RNG.standard_normal(ws[0])], **kw)


@pytest.mark.parametrize("nd,xs,ws,kw", [
    (2, (2, 4, 5, 4), (4, 3, 3, 2), dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                                         groups=2)),
    (2, (4, 3, 3), (4, 2, 3, 3), dict(stride=2, dilation=2, output_padding=1)),
    (1, (2, 4, 5), (4, 3, 3), dict(stride=2, padding=1, dilation=2, output_padding=1)),
    (3, (1, 2, 3, 2, 3), (2, 2, 2, 2, 2), dict(stride=2)),
])
def test_conv_transpose_functional(nd, xs, ws, kw):
    fa, ft = getattr(AF, f"conv_transpose{nd}d"), getattr(TF, f"conv_transpose{nd}d")
    g = kw.get("groups", 1)
    both(fa, ft, [RNG.standard_normal(xs), RNG.standard_normal(ws),
                  RNG.standard_normal(ws[1] * g)], **kw)


def test_conv2d_float32_and_double_backward():
    x = RNG.standard_normal((2, 3, 8, 7)).astype(np.float32)
    w = RNG.standard_normal((5, 3, 3, 3)).astype(np.float32)
    both(AF.conv2d, TF.conv2d, [x, w, None], tol=1e-4, stride=2, padding=1)
    # second order: gradient of a function of the input gradient (create_graph)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    res = []
    for lib, F in ((ardor, AF), (torch, TF)):
        xt = lib.tensor(x64, requires_grad=True)
        wt = lib.tensor(w64, requires_grad=True)
        y = F.conv2d(xt, wt, stride=2, padding=1)
        (gx,) = lib.autograd.grad((y * y).sum(), (xt,), create_graph=True)
        (gx * gx).sum().backward()
        res.append((xt.grad.detach().numpy(), wt.grad.detach().numpy()))
    for a, t in zip(*res):
        np.testing.assert_allclose(a, t, rtol=1e-9, atol=1e-9)


def test_unfold_fold():
    x = RNG.standard_normal((2, 3, 6, 5))
    both(AF.unfold, TF.unfold, [x], kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=(1, 2))
    cols = RNG.standard_normal((2, 3 * 6, 12))
    both(AF.fold, TF.fold, [cols], output_size=(5, 6), kernel_size=(2, 3), padding=(1, 0),
         stride=(1, 2))


def _copy(am, tm):
    am.load_state_dict({k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("kw", [dict(padding=1), dict(padding=(2, 1), stride=2, groups=2),
                                dict(padding="same", dilation=2, bias=False)])
def test_conv2d_module(mode, kw):
    tm = torch.nn.Conv2d(4, 6, 3, padding_mode=mode, **kw)
    am = ardor.nn.Conv2d(4, 6, 3, padding_mode=mode, **kw)
    assert repr(am) == repr(tm)
    assert [(n, tuple(p.shape)) for n, p in am.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    _copy(am, tm)
    x = RNG.standard_normal((2, 4, 7, 6)).astype(np.float32)
    xa, xt = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = am(xa), tm(xt)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    ya.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    for pa, pt in zip(am.parameters(), tm.parameters()):
        np.testing.assert_allclose(pa.grad.numpy(), pt.grad.numpy(), rtol=1e-4, atol=1e-3)


def test_conv_modules_1d_3d_transpose_output_size():
    for cls, xs in (("Conv1d", (2, 4, 9)), ("Conv3d", (1, 4, 4, 5, 4))):
        tm, am = getattr(torch.nn, cls)(4, 2, 2, stride=2), getattr(ardor.nn, cls)(4, 2, 2, stride=2)
        assert repr(am) == repr(tm)
        _copy(am, tm)
        x = RNG.standard_normal(xs).astype(np.float32)
        np.testing.assert_allclose(am(ardor.tensor(x)).detach().numpy(),
                                   tm(torch.tensor(x)).detach().numpy(),
                                   rtol=1e-4, atol=1e-5)
    tm = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2)
    am = ardor.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2)
    assert repr(am) == repr(tm)
    assert tuple(am.weight.shape) == (4, 3, 3, 3)
    _copy(am, tm)
    x = RNG.standard_normal((2, 4, 5, 5)).astype(np.float32)
    for size in (None, (10, 9), [2, 6, 10, 10]):
        ya, yt = am(ardor.tensor(x), output_size=size), tm(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        am(ardor.tensor(x), output_size=(12, 12))


def test_default_init_bounds():
    ardor.manual_seed(0) if hasattr(ardor, "manual_seed") else None
    m = ardor.nn.Conv2d(8, 16, 3)
    fan_in = 8 * 9
    wb = math.sqrt(6 / ((1 + 5) * fan_in))           # kaiming_uniform_(a=sqrt(5))
    w = m.weight.detach().numpy()
    assert np.abs(w).max() <= wb + 1e-7 and np.abs(w).max() > 0.8 * wb
    b = m.bias.detach().numpy()
    assert np.abs(b).max() <= 1 / math.sqrt(fan_in) + 1e-7
    assert m.weight.requires_grad and m.weight.dtype == ardor.float32


@pytest.mark.parametrize("call", [
    lambda F, L: F.conv2d(L.randn(2, 3), L.randn(4, 3, 3, 3)),
    lambda F, L: F.conv2d(L.randn(2, 4, 5, 5), L.randn(4, 3, 3, 3)),
    lambda F, L: F.conv2d(L.randn(2, 3, 2, 2), L.randn(4, 3, 3, 3)),
    lambda F, L: F.conv2d(L.randn(2, 3, 5, 5), L.randn(4, 3, 3, 3).double()),
    lambda F, L: F.conv2d(L.randn(2, 3, 5, 5), L.randn(4, 3, 3, 3), L.randn(3)),
    lambda F, L: F.conv2d(L.randn(2, 3, 5, 5), L.randn(4, 3, 3, 3), stride=2, padding="same"),
    lambda F, L: F.conv1d(L.randn(2, 3, 5, 5), L.randn(4, 3, 3)),
    lambda F, L: F.conv_transpose2d(L.randn(2, 4, 5, 5), L.randn(3, 4, 3, 3)),
    lambda F, L: F.conv_transpose2d(L.randn(2, 3, 5, 5), L.randn(3, 4, 3, 3), stride=2,
                                    output_padding=2),
])
def test_conv_errors_match_torch(call):
    with pytest.raises(Exception) as et:
        call(TF, torch)
    with pytest.raises(type(et.value)) as ea:
        call(AF, ardor)
    assert str(ea.value).replace("ardor", "torch") == str(et.value)


@pytest.mark.parametrize("kw", [dict(groups=3), dict(padding="foo"), dict(padding_mode="x"),
                                dict(padding="same", stride=2)])
def test_conv_module_errors(kw):
    with pytest.raises(ValueError) as et:
        torch.nn.Conv2d(4, 6, 3, **kw)
    with pytest.raises(ValueError) as ea:
        ardor.nn.Conv2d(4, 6, 3, **kw)
    # messages embed a set literal whose iteration order is per-process: compare the words
    def words(e):
        return sorted(str(e).translate(str.maketrans("{},", "   ")).split())
    assert words(ea.value) == words(et.value)


def test_noncontiguous_and_empty_batch():
    base = RNG.standard_normal((5, 6, 3, 2))
    w = RNG.standard_normal((4, 3, 2, 2))
    xa = ardor.tensor(base).permute(3, 2, 1, 0)            # (2, 3, 6, 5) transposed view
    xt = torch.tensor(base).permute(3, 2, 1, 0)
    assert not xa.is_contiguous()
    np.testing.assert_allclose(AF.conv2d(xa, ardor.tensor(w), padding=1).numpy(),
                               TF.conv2d(xt, torch.tensor(w), padding=1).numpy(), atol=1e-12)
    sl = RNG.standard_normal((2, 3, 1, 12))
    np.testing.assert_allclose(AF.conv2d(ardor.tensor(sl)[..., ::2], ardor.tensor(w[..., :1, :])).numpy(),
                               TF.conv2d(torch.tensor(sl)[..., ::2], torch.tensor(w[..., :1, :])).numpy(),
                               atol=1e-12)
    for kw in (dict(), dict(stride=2, padding=1)):
        xe = ardor.zeros(0, 3, 5, 5, dtype=ardor.float64, requires_grad=True)
        we = ardor.tensor(w, requires_grad=True)
        y = AF.conv2d(xe, we, **kw)
        assert tuple(y.shape) == tuple(TF.conv2d(torch.zeros(0, 3, 5, 5, dtype=torch.float64),
                                                 torch.tensor(w), **kw).shape)
        y.sum().backward()
        assert tuple(xe.grad.shape) == (0, 3, 5, 5) and float(we.grad.abs().sum()) == 0.0


@pytest.mark.parametrize("name,args,kw,xs", [
    ("LazyConv2d", (6, 3), dict(padding=1), (2, 4, 5, 5)),
    ("LazyConv1d", (4, 2), dict(bias=False), (3, 7)),
    ("LazyConvTranspose2d", (6, 3), dict(stride=2, groups=2), (2, 4, 5, 5)),
])
def test_lazy_convs_materialize(name, args, kw, xs):
    am, tm = getattr(ardor.nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    ya, yt = am(ardor.randn(*xs)), tm(torch.randn(*xs))
    assert type(am).__name__ == type(tm).__name__
    assert repr(am) == repr(tm)
    assert tuple(ya.shape) == tuple(yt.shape)
    assert [(n, tuple(p.shape)) for n, p in am.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
