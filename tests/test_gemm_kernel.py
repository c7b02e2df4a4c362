"""The C GEMM and the convolutions built on it (ardor/_ops/_gemm.py), forced on.

The kernel serves a process only where it measured faster than numpy's BLAS, so these tests
switch it on explicitly and compare against float64 numpy (GEMM) and torch (convolutions)
over shapes that hit every edge: partial register tiles, each thread split, strided and
transposed operands, one image versus many.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ardor
from ardor._ops import _gemm

pytestmark = pytest.mark.skipif(
    _gemm._load() is None,
    reason="the C GEMM needs a C compiler and an AVX-512 CPU (numpy's BLAS serves instead)")


@pytest.fixture
def forced(monkeypatch):
    monkeypatch.setitem(_gemm._STATE, "use", True)


def _spy_calls(monkeypatch, module, names) -> list:
    """Wrap ``module``'s functions ``names``; the returned list collects the names called."""
    calls = []
    for name in names:
        def spy(*a, _f=getattr(module, name), _n=name):
            calls.append(_n)
            return _f(*a)
        monkeypatch.setattr(module, name, spy)
    return calls


def _mat(rng, shape, transposed):
    if transposed:
        return rng.standard_normal(shape[::-1], dtype=np.float32).T
    return rng.standard_normal(shape, dtype=np.float32)


@pytest.mark.parametrize("M,K,N", [
    (64, 288, 4096),     # few rows, many columns: column split
    (300, 5000, 20),     # long reduction, few columns: reduction split
    (500, 70, 40),       # row split
    (64, 784, 128),      # few panels, rows no more than columns: column split
    (50, 300, 100),      # the same with a partial last panel
    (13, 3000, 70),      # partial tiles everywhere
    (128, 784, 512),
    (1, 4096, 600),      # one row
    (257, 1, 9000),      # K = 1
])
@pytest.mark.parametrize("ta,tb", [(False, False), (True, False), (False, True), (True, True)])
def test_product_matches_float64(M, K, N, ta, tb):
    rng = np.random.default_rng(M * 7 + K + N)
    a, b = _mat(rng, (M, K), ta), _mat(rng, (K, N), tb)
    got = _gemm.product(a, b)
    assert got is not None and got.dtype == np.float32 and got.shape == (M, N)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.sqrt(K))


@pytest.mark.parametrize("M,K,N", [(128, 512, 10), (129, 513, 14), (3, 17, 1), (257, 40, 7)])
@pytest.mark.parametrize("tb", [False, True])
def test_narrow_products_take_the_dot_kernel(forced, monkeypatch, M, K, N, tb):
    # a classifier's logits (N <= 14): dot products of rows, against float64
    calls = _spy_calls(monkeypatch, _gemm, ["_dots"])
    rng = np.random.default_rng(M + K + N)
    a = rng.standard_normal((M, K), dtype=np.float32)
    b = _mat(rng, (K, N), tb)
    got = _gemm.mm(np, a, b)
    if M * N * K > 1 << 18:
        assert calls == ["_dots"]
    np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4 * np.sqrt(K))
    out = np.empty((M, N), np.float32)
    assert _gemm._dots(a, b, out) is out
    np.testing.assert_allclose(out, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-4 * np.sqrt(K))


def test_product_transposed_strided_operands():
    # transposes of contiguous matrices take the vector transposing packs; transposes of
    # strided views (columns not side by side) the element-wise ones
    rng = np.random.default_rng(3)
    for step in (1, 2):
        a = rng.standard_normal((70, 37 * step), dtype=np.float32)[:, ::step].T   # 37 x 70
        b = rng.standard_normal((45, 70 * step), dtype=np.float32)[:, ::step].T   # 70 x 45
        got = _gemm.product(a, b)
        np.testing.assert_allclose(got, a.astype(np.float64) @ b, rtol=1e-4, atol=1e-3)


def test_product_out_accumulate_and_views():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((100, 300), dtype=np.float32)[::2, 1::2]   # strided view
    b = rng.standard_normal((150, 200), dtype=np.float32)
    big = np.zeros((60, 260), np.float32)
    out = big[5:55, 30:230]                                               # row-strided out
    assert _gemm.product(a, b, out=out) is out
    ref = a.astype(np.float64) @ b
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-3)
    assert not big[:5].any() and not big[:, :30].any() and not big[:, 230:].any()
    _gemm.product(a, b, out=out, accumulate=True)
    np.testing.assert_allclose(out, 2 * ref, rtol=1e-4, atol=2e-3)


def test_matmul_declines(forced):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((200, 200), dtype=np.float32)
    assert _gemm.matmul(a.astype(np.float64), a.astype(np.float64)) is None   # not float32
    assert _gemm.matmul(a[:4, :4], a[:4, :4]) is None                         # too small
    assert _gemm.matmul(a, a, out=a) is None                                  # aliasing
    assert _gemm.product(a, a, out=a) is None
    assert _gemm.matmul(a, a[:100]) is None                                   # shape mismatch
    r = _gemm.mm(np, a, a, out=np.empty((200, 200), np.float32))               # falls back
    np.testing.assert_allclose(r, a.astype(np.float64) @ a, rtol=1e-4, atol=1e-3)


def test_disabled_by_environment(monkeypatch):
    monkeypatch.setitem(_gemm._STATE, "use", None)
    monkeypatch.setenv("ARDOR_GEMM", "numpy")
    assert not _gemm.enabled()
    a = np.ones((300, 300), np.float32)
    assert _gemm.matmul(a, a) is None


def test_matmul_serves_a_fitting_shape(forced):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((256, 300), dtype=np.float32)
    b = rng.standard_normal((300, 320), dtype=np.float32)
    np.testing.assert_allclose(_gemm.matmul(a, b), a.astype(np.float64) @ b, rtol=1e-4,
                               atol=1e-3)


def _conv_pair(xs, ws, kw, seed, wscale=0.2):
    """Output, input grad, weight grad and bias grad of the same Conv{1,2,3}d in torch and
    ardor (weights copied), compared at float32 tolerance."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs, dtype=np.float32)
    w = rng.standard_normal(ws, dtype=np.float32) * wscale
    b = rng.standard_normal(ws[0], dtype=np.float32)
    nd = len(xs) - 2
    res = []
    for lib in (torch, ardor):
        conv = getattr(lib.nn, f"Conv{nd}d")(ws[1], ws[0], ws[2:], **kw)
        with lib.no_grad():
            conv.weight.copy_(lib.from_numpy(w))
            conv.bias.copy_(lib.from_numpy(b))
        xt = lib.from_numpy(x.copy()).requires_grad_(True)
        y = conv(xt)
        y.backward(lib.from_numpy(np.random.default_rng(seed + 1).standard_normal(
            tuple(y.shape), dtype=np.float32)))
        res.append([t.detach().numpy() for t in (y, xt.grad, conv.weight.grad, conv.bias.grad)])
    for name, r, a in zip(("output", "input grad", "weight grad", "bias grad"), *res):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4 * np.sqrt(r.size), err_msg=name)


@pytest.mark.parametrize("xs,ws,kw", [
    ((5, 16, 20, 19), (24, 16, 3, 3), {}),
    ((1, 16, 20, 19), (24, 16, 3, 3), {"padding": 1}),                 # one image: split
    ((3, 24, 25, 27), (32, 24, 3, 2), {"padding": (2, 1), "dilation": (2, 1)}),
    ((4, 32, 300), (48, 32, 5), {"padding": 2}),                       # 1-d
    ((2, 8, 6, 7, 8), (16, 8, 3, 2, 2), {"padding": 1}),               # 3-d
    ((6, 64, 20, 20), (32, 64, 1, 1), {}),                             # 1x1
    ((4, 16, 23, 23), (24, 16, 3, 3), {"padding": "same", "padding_mode": "reflect"}),
])
def test_conv_matches_torch(forced, monkeypatch, xs, ws, kw):
    calls = _spy_calls(monkeypatch, _gemm,
                       ("conv_forward", "conv_input_grad", "conv_weight_grad"))
    _conv_pair(xs, ws, kw, sum(xs))
    assert sorted(set(calls)) == ["conv_forward", "conv_input_grad", "conv_weight_grad"]


def test_reused_gradient_frames_stay_zero_across_calls(forced, monkeypatch):
    # the zero-framed output-gradient buffers are reused per geometry: repeated backward
    # passes with different gradients (and a second geometry of the same buffer size in
    # between) must each equal torch's
    calls = _spy_calls(monkeypatch, _gemm, ("conv_input_grad", "conv_weight_grad"))
    for seed, (xs, ws, kw) in enumerate([((5, 16, 20, 19), (24, 16, 3, 3), {}),
                                         ((5, 16, 20, 19), (24, 16, 3, 3), {"padding": 1}),
                                         ((5, 16, 20, 19), (24, 16, 3, 3), {}),
                                         ((5, 16, 20, 19), (24, 16, 3, 3), {})]):
        _conv_pair(xs, ws, kw, 100 + seed)
    assert calls.count("conv_input_grad") == 4 and calls.count("conv_weight_grad") == 4


def test_linear_through_c_gemm_matches_torch(forced):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((128, 300), dtype=np.float32)
    w = rng.standard_normal((200, 300), dtype=np.float32) * 0.05
    res = []
    for lib in (torch, ardor):
        wt = lib.from_numpy(w.copy()).requires_grad_(True)
        xt = lib.from_numpy(x.copy()).requires_grad_(True)
        y = lib.nn.functional.linear(xt, wt)
        y.backward(lib.ones_like(y))
        res.append([t.detach().numpy() for t in (y, xt.grad, wt.grad)])
    for r, a in zip(*res):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("kw,shape,packed", [
    ({"input_size": 16, "hidden_size": 40, "batch_first": True}, (5, 9, 16), False),
    ({"input_size": 8, "hidden_size": 33, "num_layers": 2, "bidirectional": True},
     (7, 4, 8), False),
    ({"input_size": 6, "hidden_size": 64}, (6, 4, 6), True),        # packed: shrinking batch
])
def test_lstm_sequence_kernel_matches_torch(forced, monkeypatch, kw, shape, packed):
    calls = []
    for name in ("lstm_forward", "lstm_backward"):
        def spy(*a, _f=getattr(_gemm, name), _n=name):
            r = _f(*a)
            calls.append((_n, r))
            return r
        monkeypatch.setattr(_gemm, name, spy)
    rng = np.random.default_rng(6)
    x = rng.standard_normal(shape, dtype=np.float32)
    lengths = [6, 5, 3, 1]
    tm = torch.nn.LSTM(**kw)
    sd = {k: v.detach().numpy() for k, v in tm.state_dict().items()}
    res = []
    for lib in (torch, ardor):
        m = lib.nn.LSTM(**kw)
        m.load_state_dict({k: lib.from_numpy(v.copy()) for k, v in sd.items()})
        xt = lib.from_numpy(x.copy()).requires_grad_(True)
        inp = lib.nn.utils.rnn.pack_padded_sequence(xt, lengths) if packed else xt
        y, (h, c) = m(inp)
        if packed:
            y = lib.nn.utils.rnn.pad_packed_sequence(y)[0]
        (y * y).sum().backward(retain_graph=True)
        (h.sum() + (c * c).sum()).backward()
        res.append([t.detach().numpy() for t in (y, h, c, xt.grad)] +
                   [p.grad.numpy() for p in m.parameters()])
    for r, a in zip(*res):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-5)
    assert ("lstm_forward", True) in calls and ("lstm_backward", True) in calls


@pytest.mark.parametrize("xs,ws,kw,xgrad", [
    ((64, 1, 28, 28), (32, 1, 3, 3), {}, False),                 # LeNet's first layer
    ((5, 3, 17, 40), (8, 3, 3, 3), {"padding": 1}, True),        # one tap at a time
    ((2, 2, 6, 70), (5, 2, 3, 3), {"padding": 1}, True),         # rows over 64: generic loops
    ((4, 2, 12, 11), (6, 2, 2, 3), {"padding": (1, 2), "dilation": (2, 1)}, True),
    ((3, 3, 9, 9), (4, 3, 3, 3), {"padding": 1, "bias": False}, True),
])
def test_direct_conv_matches_torch(monkeypatch, xs, ws, kw, xgrad):
    from ardor._ops import _ckern
    if not _ckern.available():
        pytest.skip("the direct convolution kernel needs a C compiler")
    calls = _spy_calls(monkeypatch, _ckern, ("direct_conv2d", "direct_conv2d_weight_grad",
                                             "direct_conv2d_input_grad"))
    rng = np.random.default_rng(sum(xs))
    x = rng.standard_normal(xs, dtype=np.float32)
    w = rng.standard_normal(ws, dtype=np.float32)
    bias = kw.pop("bias", True)
    b = rng.standard_normal(ws[0], dtype=np.float32)
    res = []
    for lib in (torch, ardor):
        conv = lib.nn.Conv2d(ws[1], ws[0], ws[2:], bias=bias, **kw)
        with lib.no_grad():
            conv.weight.copy_(lib.from_numpy(w))
            if bias:
                conv.bias.copy_(lib.from_numpy(b))
        xt = lib.from_numpy(x.copy()).requires_grad_(xgrad)
        y = conv(xt)
        y.backward(lib.from_numpy(np.random.default_rng(7).standard_normal(
            tuple(y.shape), dtype=np.float32)))
        res.append([y.detach().numpy(), conv.weight.grad.numpy()] +
                   ([xt.grad.numpy()] if xgrad else []) + ([conv.bias.grad.numpy()] if bias else []))
    for r, a in zip(*res):
        np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-4 * np.sqrt(r.size))
    expect = {"direct_conv2d", "direct_conv2d_weight_grad"} | (
        {"direct_conv2d_input_grad"} if xgrad else set())
    assert set(calls) == expect


@pytest.mark.parametrize("shape,dim", [((64, 32, 26, 26), (0, 2, 3)), ((8, 5, 3000), (2, 0)),
                                       ((4, 6, 5, 7, 90), (0, 2, 3, 4))])
def test_channel_sum_matches_torch(monkeypatch, shape, dim):
    from ardor._ops import _ckern
    if not _ckern.available():
        pytest.skip("the channel-sum kernel needs a C compiler")
    used = []
    orig = _ckern.channel_sum
    monkeypatch.setattr(_ckern, "channel_sum", lambda x, d: used.append(1) or orig(x, d))
    x = np.random.default_rng(8).standard_normal(shape, dtype=np.float32)
    got = ardor.from_numpy(x).sum(dim).numpy()
    ref = torch.from_numpy(x).sum(dim).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.sqrt(x.size / shape[1]))
    assert used and got.dtype == np.float32


@pytest.mark.parametrize("xs,ws,kw", [
    ((16, 6, 14, 14), (16, 6, 5, 5), {}),                                   # LeNet's second
    ((12, 12, 10, 12), (20, 12, 3, 3), {"padding": 1, "dilation": (1, 2)}),
    ((16, 16, 60), (24, 16, 3), {"padding": 2}),                            # 1-d
])
def test_batched_conv_matches_torch(forced, monkeypatch, xs, ws, kw):
    """Small maps: the whole batch as one product (images side by side in each row)."""
    from ardor._ops import nn_ops
    used = []
    orig = nn_ops._batched_input
    monkeypatch.setattr(nn_ops, "_batched_input", lambda *a: used.append(1) or orig(*a))
    _conv_pair(xs, ws, kw, sum(ws))
    assert len(used) >= 2       # forward and weight gradient
