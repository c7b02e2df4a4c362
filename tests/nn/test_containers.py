"""Containers, Flatten/Unflatten against torch."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ardor
import ardor.nn as nn


def both(fn):
    return fn(ardor), fn(torch)


def names(m):
    return [n for n, _ in m.named_modules()]


def test_sequential_indexing_slicing_mutation():
    a, t = both(lambda L: L.nn.Sequential(L.nn.Linear(2, 3), L.nn.ReLU(), L.nn.Linear(3, 1),
                                          L.nn.Tanh()))
    assert type(a[-1]) is nn.Tanh and type(a[1:3]) is nn.Sequential
    assert repr(a[1:3]) == repr(t[1:3]) and repr(a[::-1]) == repr(t[::-1])
    assert len(a) == 4
    with pytest.raises(IndexError) as ae:
        a[4]
    with pytest.raises(IndexError) as te:
        t[4]
    assert str(ae.value) == str(te.value)
    for L, m in ((ardor, a), (torch, t)):
        m.append(L.nn.Sigmoid())
        m.insert(1, L.nn.Identity())
        m.extend([L.nn.ReLU()])
        del m[0]
        m.pop(-1)
        m[0] = L.nn.ELU()
    assert repr(a) == repr(t) and names(a) == names(t)
    assert [type(x).__name__ for x in a] == [type(x).__name__ for x in t]
    s2a, s2t = a + a, t + t
    assert repr(s2a) == repr(s2t)
    with pytest.raises(ValueError):
        a + [1]
    assert repr(a * 2) == repr(t * 2)
    od_a = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    od_t = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 2)),
                                            ("act", torch.nn.ReLU())]))
    assert repr(od_a) == repr(od_t) and list(od_a.state_dict()) == list(od_t.state_dict())
    x = ardor.randn(3, 2)
    y = od_a(x)
    np.testing.assert_allclose(y.detach().numpy(),
                               od_a.act(od_a.fc(x)).detach().numpy())
    with pytest.raises(IndexError):
        nn.Sequential().insert(2, nn.ReLU())


def test_modulelist_and_moduledict():
    a, t = both(lambda L: L.nn.ModuleList([L.nn.Linear(2, 2) for _ in range(3)]))
    for L, m in ((ardor, a), (torch, t)):
        m += [L.nn.ReLU()]
        m.insert(1, L.nn.Tanh())
        m.append(L.nn.Identity())
        m.extend([L.nn.Sigmoid()])
        del m[-2]
        m.pop(0)
    assert repr(a) == repr(t) and names(a) == names(t)
    assert repr(a[1:3]) == repr(t[1:3]) and type(a[1:3]) is nn.ModuleList
    assert len(a) == len(t) and [type(x) for x in a][0] is nn.Tanh
    assert repr(a + a) == repr(t + t)
    with pytest.raises(TypeError):
        a.extend(3)
    with pytest.raises(IndexError):
        a[10]
    da, dt = both(lambda L: L.nn.ModuleDict({"b": L.nn.ReLU(), "a": L.nn.Linear(1, 1)}))
    for L, m in ((ardor, da), (torch, dt)):
        m["c"] = L.nn.Tanh()
        m.update([("d", L.nn.Identity())])
        del m["b"]
    assert repr(da) == repr(dt) and list(da.keys()) == list(dt.keys())
    assert "c" in da and len(da) == 3 and da.pop("c").__class__ is nn.Tanh
    with pytest.raises(ValueError):
        da.update([("x",)])
    da.clear()
    assert len(da) == 0


def test_parameterlist_parameterdict():
    pl_a = nn.ParameterList([nn.Parameter(ardor.zeros(2, 3)), ardor.zeros(2, dtype=ardor.float64)])
    pl_t = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2, 3)),
                                   torch.zeros(2, dtype=torch.float64)])
    assert repr(pl_a) == repr(pl_t).replace("torch.", "ardor.")
    assert isinstance(pl_a[1], nn.Parameter) and len(pl_a) == 2
    assert [n for n, _ in pl_a.named_parameters()] == [n for n, _ in pl_t.named_parameters()]
    pl_a.append(ardor.ones(1))
    assert len(list(pl_a.parameters())) == 3 and type(pl_a[0:2]) is nn.ParameterList
    with pytest.raises(RuntimeError):
        pl_a()
    pd_a = nn.ParameterDict({"b": nn.Parameter(ardor.zeros(2, 3)),
                             "a": ardor.zeros(2, dtype=ardor.float64)})
    pd_t = torch.nn.ParameterDict({"b": torch.nn.Parameter(torch.zeros(2, 3)),
                                   "a": torch.zeros(2, dtype=torch.float64)})
    assert repr(pd_a) == repr(pd_t).replace("torch.", "ardor.")
    assert list(pd_a.keys()) == list(pd_t.keys())
    assert list(pd_a.state_dict()) == list(pd_t.state_dict())
    pd_a["c"] = ardor.ones(1)
    assert "c" in pd_a and pd_a.get("zz") is None and len(pd_a) == 3
    k, v = pd_a.popitem()
    assert k == "c" and isinstance(v, nn.Parameter)
    with pytest.raises(TypeError):
        nn.ParameterDict()[3] = ardor.ones(1)
    merged = pd_a | nn.ParameterDict({"z": ardor.ones(1)})
    assert list(merged.keys()) == ["a", "b", "z"]  # plain dicts insert sorted, as torch


@pytest.mark.parametrize("args", [(), (0, 2), (1, -2), (-3, -1)])
def test_flatten(args):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    a, t = nn.Flatten(*args), torch.nn.Flatten(*args)
    assert repr(a) == repr(t)
    ax, tx = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = a(ax), t(tx)
    assert tuple(ya.shape) == tuple(yt.shape)
    np.testing.assert_array_equal(ya.detach().numpy(), yt.detach().numpy())
    ya.sum().backward()
    assert tuple(ax.grad.shape) == x.shape


@pytest.mark.parametrize("dim,size", [(1, (3, 4)), (-1, (2, -1)), (0, [2, 1])])
def test_unflatten(dim, size):
    x = np.arange(24, dtype=np.float32).reshape(2, 12)
    a, t = nn.Unflatten(dim, size), torch.nn.Unflatten(dim, size)
    assert repr(a) == repr(t)
    if dim == 1:
        x = np.arange(24, dtype=np.float32).reshape(2, 12)
    ya, yt = a(ardor.tensor(x)), t(torch.tensor(x))
    np.testing.assert_array_equal(ya.numpy(), yt.numpy())
    with pytest.raises(TypeError):
        nn.Unflatten(1, 3)
    with pytest.raises(RuntimeError):
        nn.Unflatten(1, (5, 5))(ardor.zeros(2, 12))
