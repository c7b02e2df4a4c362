"""nn.init: distributions (statistically), in-place semantics, gains and errors vs torch."""
import math

import numpy as np
import pytest
import torch

import ardor
import ardor.nn as nn
from ardor.nn import init


def stats(t):
    a = t.detach().numpy().astype(np.float64)
    return a.mean(), a.std(), a.min(), a.max()


@pytest.mark.parametrize("nl,param", [("linear", None), ("conv2d", None), ("sigmoid", None),
                                      ("tanh", None), ("relu", None), ("leaky_relu", None),
                                      ("leaky_relu", 0.2), ("selu", None)])
def test_calculate_gain(nl, param):
    assert init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl, param))


def test_gain_and_fan_errors():
    with pytest.raises(ValueError):
        init.calculate_gain("foo")
    with pytest.raises(ValueError):
        init.calculate_gain("leaky_relu", "x")
    with pytest.raises(ValueError):
        init._calculate_fan_in_and_fan_out(ardor.zeros(3))
    assert init._calculate_fan_in_and_fan_out(ardor.zeros(4, 3, 2, 5)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(4, 3, 2, 5))
    with pytest.raises(ValueError):
        init.kaiming_uniform_(ardor.zeros(3, 3), mode="fan_x")


def test_in_place_no_grad_and_return():
    w = nn.Parameter(ardor.zeros(50, 40))
    for fn, args in ((init.uniform_, ()), (init.normal_, ()), (init.xavier_uniform_, ()),
                     (init.kaiming_normal_, ()), (init.constant_, (0.5,)), (init.ones_, ()),
                     (init.zeros_, ()), (init.trunc_normal_, ()), (init.orthogonal_, ()),
                     (init.eye_, ()), (init.sparse_, (0.5,))):
        r = fn(w, *args)
        assert r is w and w.requires_grad and w.grad_fn is None


N = (400, 300)


def test_uniform_normal_constant():
    m, s, lo, hi = stats(init.uniform_(ardor.empty(*N), -2, 3))
    assert lo >= -2 and hi <= 3 and abs(m - 0.5) < 0.05 and abs(s - 5 / math.sqrt(12)) < 0.03
    m, s, _, _ = stats(init.normal_(ardor.empty(*N), 1.5, 0.5))
    assert abs(m - 1.5) < 0.01 and abs(s - 0.5) < 0.01
    assert np.all(init.constant_(ardor.empty(3, 2), 0.25).numpy() == 0.25)
    assert np.all(init.ones_(ardor.empty(3)).numpy() == 1)
    assert np.all(init.zeros_(ardor.empty(3)).numpy() == 0)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nl,a", [("relu", 0), ("leaky_relu", math.sqrt(5)), ("tanh", 0)])
def test_kaiming(mode, nl, a):
    t = ardor.empty(300, 200)
    fan = 200 if mode == "fan_in" else 300
    std = init.calculate_gain(nl, a) / math.sqrt(fan)
    m, s, lo, hi = stats(init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nl))
    bound = math.sqrt(3) * std
    assert lo >= -bound and hi <= bound and abs(s - std) < 0.03 * std
    m, s, _, _ = stats(init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nl))
    assert abs(s - std) < 0.03 * std and abs(m) < 0.05 * std


def test_xavier_trunc_orthogonal_eye_dirac_sparse():
    t = ardor.empty(300, 200)
    std = 2.0 * math.sqrt(2.0 / 500)
    m, s, lo, hi = stats(init.xavier_uniform_(t, gain=2.0))
    assert hi <= math.sqrt(3) * std and abs(s - std) < 0.03 * std
    m, s, _, _ = stats(init.xavier_normal_(t, gain=2.0))
    assert abs(s - std) < 0.03 * std
    m, s, lo, hi = stats(init.trunc_normal_(ardor.empty(*N), mean=1.0, std=2.0, a=-1.0, b=2.0))
    ref = torch.nn.init.trunc_normal_(torch.empty(*N), mean=1.0, std=2.0, a=-1.0, b=2.0).numpy()
    assert lo >= -1.0 and hi <= 2.0 and abs(m - ref.mean()) < 0.02 and abs(s - ref.std()) < 0.02
    for shape in ((5, 8), (8, 5), (4, 3, 2)):
        q = init.orthogonal_(ardor.empty(*shape), gain=1.5).numpy().reshape(shape[0], -1)
        g = q @ q.T if shape[0] <= q.shape[1] else q.T @ q
        np.testing.assert_allclose(g, 2.25 * np.eye(g.shape[0]), atol=1e-5)
    with pytest.raises(ValueError):
        init.orthogonal_(ardor.empty(3))
    np.testing.assert_array_equal(init.eye_(ardor.empty(3, 4)).numpy(),
                                  torch.nn.init.eye_(torch.empty(3, 4)).numpy())
    with pytest.raises(ValueError):
        init.eye_(ardor.empty(2, 2, 2))
    for shape, groups in (((4, 4, 3), 1), ((6, 2, 3, 3), 3), ((2, 3, 3, 3, 3), 1)):
        np.testing.assert_array_equal(init.dirac_(ardor.empty(*shape), groups).numpy(),
                                      torch.nn.init.dirac_(torch.empty(*shape), groups).numpy())
    with pytest.raises(ValueError):
        init.dirac_(ardor.empty(3, 3))
    sp = init.sparse_(ardor.empty(10, 20), 0.3).numpy()
    assert np.all((sp == 0).sum(axis=0) >= 3)
    with pytest.raises(ValueError):
        init.sparse_(ardor.empty(3, 3, 3), 0.1)


def test_zero_element_warns():
    with pytest.warns(UserWarning):
        init.kaiming_uniform_(ardor.empty(0, 3))


def test_layer_default_inits():
    e = nn.Embedding(300, 200, padding_idx=3).weight.detach().numpy()
    assert abs(e.std() - 1) < 0.02 and np.all(e[3] == 0)
    p = nn.PReLU(3, init=0.1).weight.detach().numpy()
    np.testing.assert_allclose(p, 0.1)
