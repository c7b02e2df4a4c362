"""Activation modules and functionals, softmax family, attention against torch."""
import numpy as np
import pytest
import torch

import ardor
import ardor.nn as nn
import ardor.nn.functional as F
from tests.nn._nnutil import load_from_torch, run_both

rng = np.random.default_rng(1)

MODULES = [
    ("ReLU", (), {}), ("ReLU6", (), {}), ("LeakyReLU", (0.2,), {}), ("ELU", (0.7,), {}),
    ("SELU", (), {}), ("CELU", (1.3,), {}), ("GELU", (), {}), ("GELU", ("tanh",), {}),
    ("SiLU", (), {}), ("Mish", (), {}), ("Softplus", (), {}), ("Softplus", (2.0, 1.0), {}),
    ("Softsign", (), {}), ("Tanh", (), {}), ("Sigmoid", (), {}), ("Hardtanh", (-0.5, 0.8), {}),
    ("Hardsigmoid", (), {}), ("Hardswish", (), {}), ("LogSigmoid", (), {}),
    ("Softmax", (1,), {}), ("Softmax", (-1,), {}), ("LogSoftmax", (0,), {}),
    ("Softmin", (1,), {}), ("GLU", (), {}), ("GLU", (0,), {}), ("Threshold", (0.1, 2.0), {}),
    ("Tanhshrink", (), {}), ("Softshrink", (0.3,), {}), ("Hardshrink", (), {}),
    ("PReLU", (), {}), ("PReLU", (4,), {"init": 0.1}), ("RReLU", (0.1, 0.3), {}),
]


@pytest.mark.parametrize("name,args,kwargs", MODULES, ids=lambda v: str(v))
@pytest.mark.parametrize("shape", [(3, 4, 2), (4,)], ids=["batched", "1d"])
def test_activation_module_matches_torch(name, args, kwargs, shape):
    tm = getattr(torch.nn, name)(*args, **kwargs)
    am = load_from_torch(getattr(nn, name)(*args, **kwargs), tm)
    if name == "RReLU":
        am.eval(), tm.eval()
    assert repr(am) == repr(tm)
    if name == "PReLU" and args == (4,) and len(shape) == 1:
        with pytest.raises(RuntimeError):
            am(ardor.zeros(4))
        shape = (2, 4)
    if name in ("Softmax", "Softmin") and args == (1,) and len(shape) == 1:
        shape = (2, 4)
    if name == "GLU" and args == (0,) and shape == (3, 4, 2):
        shape = (4, 3, 2)
    x = rng.standard_normal(shape).astype(np.float32) * 3
    run_both(am, tm, x, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["gelu", "elu", "celu", "selu", "silu", "mish", "softplus",
                                  "hardswish", "logsigmoid", "leaky_relu", "hardtanh", "relu6",
                                  "softsign", "tanhshrink", "softshrink", "hardshrink"])
def test_functional_float64_and_node_names(name):
    x = rng.standard_normal((5, 6)) * 4
    a, t = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = getattr(F, name)(a), getattr(torch.nn.functional, name)(t)
    assert ya.dtype is ardor.float64
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-7, atol=1e-12)
    assert type(ya.grad_fn).__name__ == type(yt.grad_fn).__name__
    ya.sum().backward(), yt.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "softplus", "logsigmoid", "mish",
                                  "softmax", "log_softmax", "tanhshrink"])
def test_double_backward(name):
    x = rng.standard_normal(7)
    a, t = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    extra = (0,) if "softmax" in name else ()
    w = rng.standard_normal(7)
    ya = (getattr(F, name)(a, *extra) * ardor.tensor(w)).sum()
    yt = (getattr(torch.nn.functional, name)(t, *extra) * torch.tensor(w)).sum()
    (ga,) = ardor.autograd.grad(ya, a, create_graph=True)
    (gt,) = torch.autograd.grad(yt, t, create_graph=True)
    np.testing.assert_allclose(ga.detach().numpy(), gt.detach().numpy(), rtol=1e-7)
    ga = ga * ga
    gt = gt * gt
    ga.sum().backward(), gt.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("name", ["relu", "elu", "leaky_relu", "hardtanh", "selu", "celu",
                                  "silu", "hardswish", "threshold"])
def test_inplace_forms(name):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    a, t = ardor.tensor(x), torch.tensor(x)
    extra = (0.1, 2.0) if name == "threshold" else ()
    ra = getattr(F, name)(a, *extra, inplace=True)
    rt = getattr(torch.nn.functional, name)(t, *extra, inplace=True)
    assert ra is a
    np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-5, atol=1e-6)
    # through autograd on a non-leaf
    w = ardor.tensor(x, requires_grad=True)
    tw = torch.tensor(x, requires_grad=True)
    getattr(F, name)(w * 1, *extra, inplace=True).sum().backward()
    getattr(torch.nn.functional, name)(tw * 1, *extra, inplace=True).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "softmin"])
def test_softmax_family(fn, dim):
    x = rng.standard_normal((3, 4, 5)) * 30
    a, t = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya = getattr(F, fn)(a, dim)
    yt = getattr(torch.nn.functional, fn)(t, dim)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-9,
                               atol=1e-12)
    g = rng.standard_normal(x.shape)
    ya.backward(ardor.tensor(g)), yt.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_softmax_dtype_stability_and_edge_cases():
    x = np.array([[1000.0, 1000.0, -1000.0], [-np.inf, 0.0, 1.0]], np.float32)
    for fn in ("softmax", "log_softmax"):
        ya = getattr(F, fn)(ardor.tensor(x), 1)
        yt = getattr(torch.nn.functional, fn)(torch.tensor(x), 1)
        np.testing.assert_allclose(ya.numpy(), yt.numpy(), rtol=1e-6)
        ya = getattr(F, fn)(ardor.tensor(x), 1, dtype=ardor.float64)
        assert ya.dtype is ardor.float64
    a0 = F.softmax(ardor.tensor(2.0), 0)
    assert a0.item() == 1.0 and a0.shape == ()
    e = F.softmax(ardor.zeros(0, 3), 1)
    assert tuple(e.shape) == (0, 3)
    with pytest.raises(IndexError):
        F.softmax(ardor.zeros(2, 3), 2)
    with pytest.raises(RuntimeError):
        F.softmax(ardor.tensor([1, 2]), 0)
    with pytest.warns(UserWarning):
        F.softmax(ardor.zeros(2, 3))
    with pytest.raises(ValueError):
        nn.Softmax2d()(ardor.zeros(2, 3))
    x4 = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    np.testing.assert_allclose(nn.Softmax2d()(ardor.tensor(x4)).numpy(),
                               torch.nn.Softmax2d()(torch.tensor(x4)).numpy(), rtol=1e-5)


def test_activation_errors():
    with pytest.raises(RuntimeError):
        F.glu(ardor.zeros(3, 5))
    with pytest.raises(RuntimeError):
        F.prelu(ardor.zeros(2, 3), ardor.zeros(4))
    with pytest.raises(RuntimeError):
        F.gelu(ardor.zeros(3), approximate="bad")
    with pytest.raises(ValueError):
        F.hardtanh(ardor.zeros(3), 1.0, -1.0)


@pytest.mark.parametrize("cfg", [
    dict(kw={}, call={}),
    dict(kw={"batch_first": True}, call={"average_attn_weights": False}),
    dict(kw={"kdim": 4, "vdim": 6}, call={}),
    dict(kw={"bias": False}, call={"need_weights": False}),
    dict(kw={"add_bias_kv": True, "add_zero_attn": True}, call={}),
    dict(kw={}, call={"mask": "bool"}),
    dict(kw={"batch_first": True}, call={"mask": "float", "kpm": True}),
    dict(kw={}, call={"mask": "bool", "need_weights": False}),
    dict(kw={}, call={"unbatched": True}),
    dict(kw={"add_bias_kv": True, "add_zero_attn": True},
         call={"mask": "bool", "kpm": True, "need_weights": False}),
])
def test_multihead_attention(cfg):
    torch.manual_seed(0)
    kw = cfg["kw"]
    call = dict(cfg["call"])
    tm = torch.nn.MultiheadAttention(8, 2, **kw)
    am = load_from_torch(nn.MultiheadAttention(8, 2, **kw), tm)
    assert [n for n, _ in am.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert repr(am) == repr(tm).replace("torch.", "ardor.")
    L, S, N = 5, 6, 3
    kd, vd = kw.get("kdim", 8), kw.get("vdim", 8)
    unb = call.pop("unbatched", False)
    bf = kw.get("batch_first", False)

    def shp(T, E):
        if unb:
            return (T, E)
        return (N, T, E) if bf else (T, N, E)
    q = rng.standard_normal(shp(L, 8)).astype(np.float32)
    k = rng.standard_normal(shp(S, kd)).astype(np.float32)
    v = rng.standard_normal(shp(S, vd)).astype(np.float32)
    mask = call.pop("mask", None)
    extra = {}
    if mask == "bool":
        m = rng.random((L, S)) < 0.3
        m[:, 0] = False
        extra["attn_mask"] = ardor.tensor(m)
    elif mask == "float":
        extra["attn_mask"] = ardor.tensor(rng.standard_normal((L, S)).astype(np.float32))
    if call.pop("kpm", False):
        kpm = rng.random((N, S)) < 0.3
        kpm[:, 0] = False
        extra["key_padding_mask"] = ardor.tensor(kpm)
    extra.update(call)
    run_both(am, tm, q, k, v, out_index=0, rtol=1e-4, atol=1e-5, **extra)
    ao = am(ardor.tensor(q), ardor.tensor(k), ardor.tensor(v), **extra)
    to = tm(torch.tensor(q), torch.tensor(k), torch.tensor(v),
            **{a: (torch.tensor(b.numpy()) if isinstance(b, ardor.Tensor) else b)
               for a, b in extra.items()})
    if to[1] is None:
        assert ao[1] is None
    else:
        np.testing.assert_allclose(ao[1].detach().numpy(), to[1].detach().numpy(), rtol=1e-4,
                                   atol=1e-6)


def test_multihead_attention_init_and_errors():
    m = nn.MultiheadAttention(64, 4)
    w = m.in_proj_weight.detach().numpy()
    bound = np.sqrt(6.0 / (64 + 192))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.all(m.in_proj_bias.detach().numpy() == 0)
    assert np.all(m.out_proj.bias.detach().numpy() == 0)
    with pytest.raises(AssertionError):
        nn.MultiheadAttention(10, 3)


@pytest.mark.parametrize("opt", [{}, {"is_causal": True}, {"mask": "bool"}, {"mask": "float"},
                                 {"scale": 0.3}])
def test_scaled_dot_product_attention(opt):
    q, k, v = (rng.standard_normal((2, 3, 5, 4)) for _ in range(3))
    opt = dict(opt)
    mask = opt.pop("mask", None)
    am = tm = None
    if mask == "bool":
        m = rng.random((5, 5)) < 0.5
        m[:, 0] = True
        am, tm = ardor.tensor(m), torch.tensor(m)
    elif mask == "float":
        m = rng.standard_normal((5, 5))
        am, tm = ardor.tensor(m), torch.tensor(m)
    A = [ardor.tensor(x, requires_grad=True) for x in (q, k, v)]
    T = [torch.tensor(x, requires_grad=True) for x in (q, k, v)]
    ya = F.scaled_dot_product_attention(*A, attn_mask=am, **opt)
    yt = torch.nn.functional.scaled_dot_product_attention(*T, attn_mask=tm, **opt)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-8)
    ya.sum().backward(), yt.sum().backward()
    for a, t in zip(A, T):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-7, atol=1e-10)
