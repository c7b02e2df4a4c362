"""Linear, Bilinear, LazyLinear, Identity and F.linear / F.bilinear against torch."""
import math

import numpy as np
import pytest
import torch

import ardor
import ardor.nn as nn
import ardor.nn.functional as F
from tests.nn._nnutil import load_from_torch, norm_msg, run_both

rng = np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(4, 5), (5,), (2, 3, 5), (0, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias):
    tm = torch.nn.Linear(5, 3, bias=bias)
    am = load_from_torch(nn.Linear(5, 3, bias=bias), tm)
    run_both(am, tm, rng.standard_normal(shape).astype(np.float32))


def test_linear_float64_and_addmm_node():
    tm = torch.nn.Linear(4, 2).double()
    am = load_from_torch(nn.Linear(4, 2).double(), tm)
    assert am.weight.dtype is ardor.float64
    ao, _ = run_both(am, tm, rng.standard_normal((3, 4)), rtol=1e-10, atol=1e-12)
    assert type(am(ardor.randn(3, 4, dtype=ardor.float64)).grad_fn).__name__ == "AddmmBackward0"


def test_linear_noncontiguous_input():
    tm = torch.nn.Linear(4, 3)
    am = load_from_torch(nn.Linear(4, 3), tm)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    ao = am(ardor.tensor(x).t())
    to = tm(torch.tensor(x).t())
    np.testing.assert_allclose(ao.detach().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_linear_shape_and_dtype_errors():
    am, tm = nn.Linear(4, 3), torch.nn.Linear(4, 3)
    with pytest.raises(RuntimeError) as te:
        tm(torch.zeros(2, 5))
    with pytest.raises(RuntimeError) as ae:
        am(ardor.zeros(2, 5))
    assert str(ae.value) == str(te.value)
    with pytest.raises(RuntimeError) as te:
        tm(torch.zeros(2, 3, 5))
    with pytest.raises(RuntimeError) as ae:
        am(ardor.zeros(2, 3, 5))
    assert str(ae.value) == str(te.value)
    with pytest.raises(RuntimeError):
        am(ardor.zeros(2, 4, dtype=ardor.float64))


def test_linear_repr_params_and_init():
    m, t = nn.Linear(3, 4, bias=False), torch.nn.Linear(3, 4, bias=False)
    assert repr(m) == repr(t)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in t.named_parameters()]
    big = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = big.weight.detach().numpy(), big.bias.detach().numpy()
    assert np.abs(w).max() <= bound + 1e-7 and np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert np.abs(b).max() <= bound and abs(b.mean()) < 0.2 * bound
    assert big.weight.requires_grad and isinstance(big.weight, nn.Parameter)


@pytest.mark.parametrize("lead", [(4,), (2, 3), ()])
def test_bilinear_matches_torch(lead):
    tm = torch.nn.Bilinear(3, 5, 2)
    am = load_from_torch(nn.Bilinear(3, 5, 2), tm)
    assert repr(am) == repr(tm)
    run_both(am, tm, rng.standard_normal(lead + (3,)).astype(np.float32),
             rng.standard_normal(lead + (5,)).astype(np.float32))


def test_bilinear_errors_and_init():
    am = nn.Bilinear(3, 5, 2)
    with pytest.raises(RuntimeError):
        am(ardor.zeros(4, 4), ardor.zeros(4, 5))
    w = nn.Bilinear(100, 5, 200).weight.detach().numpy()
    assert np.abs(w).max() <= 0.1 and np.abs(w).max() > 0.095


def test_functional_linear_bilinear_float64():
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(2)
    ax, aw, ab = (ardor.tensor(v, requires_grad=True) for v in (x, w, b))
    tx, tw, tb = (torch.tensor(v, requires_grad=True) for v in (x, w, b))
    F.linear(ax, aw, ab).sum().backward()
    torch.nn.functional.linear(tx, tw, tb).sum().backward()
    for a, t in ((ax, tx), (aw, tw), (ab, tb)):
        np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(F.linear(ax, aw).detach().numpy(),
                               torch.nn.functional.linear(tx, tw).detach().numpy())


def test_identity_and_lazy_linear():
    i = nn.Identity(3, foo=4)
    x = ardor.randn(2, 3)
    assert i(x) is x and repr(i) == "Identity()"
    lz = nn.LazyLinear(4)
    assert repr(lz) == repr(torch.nn.LazyLinear(4))
    y = lz(ardor.randn(5, 7))
    assert tuple(y.shape) == (5, 4) and type(lz) is nn.Linear
    assert tuple(lz.weight.shape) == (4, 7) and lz.in_features == 7
    assert repr(lz) == "Linear(in_features=7, out_features=4, bias=True)"


def test_lazy_linear_load_state_dict_and_double():
    t = torch.nn.Linear(5, 3)
    a = nn.LazyLinear(3)
    a.load_state_dict({k: ardor.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    x = rng.standard_normal((2, 5)).astype(np.float32)
    np.testing.assert_allclose(a(ardor.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert type(a) is nn.Linear and a.in_features == 5
    b = nn.LazyLinear(3).double()
    assert b(ardor.randn(2, 4, dtype=ardor.float64)).dtype is ardor.float64
