"""ardor.jit.script: control flow right for every input; modules; compile-time errors."""
from __future__ import annotations

from typing import List, Optional

import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit
import ardor.nn as nn
import ardor.nn.functional as F

from _jitmodels import example, pair_model


def branchy(x, n: int, flag: bool = True):
    y = x * 2
    if x.sum() > 0:
        y = y + 1
        z = 3
    elif x.sum() > -2:
        y = y.abs()
        z = 5
    else:
        y = y - 1
        z = 4
    for i in range(n):
        if i == 3:
            break
        if i == 1:
            continue
        y = y * 1.5
    k = 0
    while y.sum() < 100 and k < 50:
        y = y + 1
        k += 1
    if not flag:
        return y, 0
    return y + z, k


def helper(a, b: Optional[ardor.Tensor] = None):
    if b is None:
        return a.relu()
    return a * b if a.shape[0] == b.shape[0] else a


def uses_helper(x, sizes: List[int]):
    total = x.new_zeros(()) if False else x.sum() * 0
    for i in range(len(sizes)):
        total = total + helper(x[: sizes[i]]).sum()
    return total, helper(x, x), -x if x.mean() > 0 else x


@pytest.mark.parametrize("scale,n,flag", [(1.0, 5, True), (-0.5, 2, False), (-3.0, 0, True),
                                          (0.0, 9, True)])
def test_branches_and_loops_match_python(scale, n, flag):
    s = jit.script(branchy)
    x = ardor.tensor(np.array([1.0, 2.0, 0.5], np.float32) * scale)
    got, ref = s(x, n, flag), branchy(x, n, flag)
    np.testing.assert_allclose(got[0].numpy(), ref[0].numpy(), rtol=1e-6)
    assert got[1] == ref[1]
    assert any(nd.kind == "if" for nd in s.graph.nodes)
    assert any(nd.kind == "loop" for nd in s.graph.nodes)
    s.graph.verify()


def test_calls_optional_lists_and_nested_script():
    h = jit.script(helper)
    s = jit.script(uses_helper)
    for v in ([1.0, -2.0, 3.0, 0.5], [-1.0, -2.0, 0.25, 0.0]):
        x = ardor.tensor(np.array(v, np.float32))
        for a, b in zip(s(x, [1, 3, 4]), uses_helper(x, [1, 3, 4])):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
        np.testing.assert_allclose(h(x).numpy(), np.maximum(x.numpy(), 0))
        np.testing.assert_allclose(h(x, x).numpy(), x.numpy() ** 2)


def test_data_dependent_trip_count_and_autograd():
    @jit.script
    def collatz_like(x):
        steps = 0
        while x.max() > 1.0:
            x = x * 0.5
            steps = steps + 1
        return x, steps
    for v in (3.0, 17.0, 0.5):
        x = ardor.tensor(np.array([v, 1.0], np.float32))
        out, steps = collatz_like(x)
        assert steps == int(np.ceil(np.log2(max(v, 1.0))))
        np.testing.assert_allclose(out.numpy(), np.array([v, 1.0]) * 0.5 ** steps)
    x = ardor.tensor(np.array([8.0, 2.0], np.float32), requires_grad=True)
    out, steps = collatz_like(x)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.125, 0.125])


class RNNish(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp = nn.Linear(4, 8)
        self.rec = nn.Linear(8, 8)
        self.layers = nn.ModuleList([nn.Linear(8, 8), nn.Linear(8, 8)])

    def forward(self, xs, h: Optional[ardor.Tensor] = None):
        if h is None:
            h = xs.new_zeros((xs.shape[1], 8))
        for t in range(xs.shape[0]):
            h = ardor.tanh(self.inp(xs[t]) + self.rec(h))
        for layer in self.layers:
            h = F.relu(layer(h))
        return h


def test_rnn_style_module_matches_eager_and_torch():
    ardor.manual_seed(0)
    m = RNNish()
    sm = jit.script(m)
    assert isinstance(sm, jit.ScriptModule) if hasattr(jit, "ScriptModule") else True
    rng = np.random.default_rng(0)
    tm = torch.nn.RNN(4, 8, nonlinearity="tanh", bias=True)
    for steps in (1, 3, 6):  # the trip count comes from the input's shape
        xs = ardor.tensor(rng.standard_normal((steps, 2, 4)).astype(np.float32))
        with ardor.no_grad():
            np.testing.assert_allclose(sm(xs).numpy(), m(xs).numpy(), rtol=1e-6, atol=1e-6)
    # the recurrence alone equals torch's RNN with the same weights
    with torch.no_grad():
        tm.weight_ih_l0.copy_(torch.tensor(m.inp.weight.detach().numpy()))
        tm.weight_hh_l0.copy_(torch.tensor(m.rec.weight.detach().numpy()))
        tm.bias_ih_l0.copy_(torch.tensor(m.inp.bias.detach().numpy()))
        tm.bias_hh_l0.copy_(torch.tensor(m.rec.bias.detach().numpy()))
        ref = tm(torch.tensor(xs.numpy()))[1][0]
    m.layers = nn.ModuleList([])
    with ardor.no_grad():
        np.testing.assert_allclose(jit.script(m)(xs).numpy(), ref.numpy(), rtol=1e-5,
                                   atol=1e-6)


@pytest.mark.parametrize("kind", ["mlp", "cnn", "block"])
def test_scripted_models_match_eager_and_torch(kind):
    am, tm = pair_model(kind)
    sm = jit.script(am if kind == "block" else _seq_wrapper(am))
    x = example(kind, np.random.default_rng(3))
    with ardor.no_grad():
        got = sm(ardor.tensor(x)).numpy()
    with torch.no_grad():
        ref = tm(torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def _seq_wrapper(seq):
    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.seq = seq

        def forward(self, x):
            for layer in self.seq:
                x = layer(x)
            return x
    return Wrap()


def _err(fn, match):
    with pytest.raises(jit.ScriptError, match=match):
        jit.script(fn)


def test_unsupported_constructs_name_construct_and_line():
    def comp(x):
        return [x * i for i in range(3)]

    def tryexc(x):
        try:
            return x
        except ValueError:
            return x

    def lam(x):
        f = lambda v: v + 1  # noqa: E731
        return f(x)

    def wth(x):
        with ardor.no_grad():
            return x

    def undefined(x):
        return x + not_defined_anywhere  # noqa: F821

    def bad_ann(x, d: dict):
        return x

    _err(comp, r"ListComp is not supported.*\n.*line \d+, in comp\n\s+return \[x \* i")
    _err(tryexc, r"Try is not supported.*\n.*in tryexc\n\s+try:")
    _err(lam, r"Lambda is not supported.*\n.*\n\s+f = lambda")
    _err(wth, r"With is not supported")
    _err(undefined, r"undefined value not_defined_anywhere")
    _err(bad_ann, r"annotation 'dict' is not supported")
    assert issubclass(jit.ScriptError, RuntimeError)


def test_argument_type_checks():
    s = jit.script(branchy)
    x = ardor.ones(3)
    with pytest.raises(RuntimeError, match="Expected a value of type 'int' for argument 'n'"):
        s(x, 2.5)
    with pytest.raises(TypeError, match="missing value for argument 'n'"):
        s(x)
