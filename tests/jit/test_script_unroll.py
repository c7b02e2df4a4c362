"""``break``, ``continue`` and ``return`` inside a ``for`` over a ModuleList (which
ardor.jit.script unrolls): the iterations after a data-dependent exit are guarded by the
exit flag, so the scripted module equals eager ardor and torch on every path, through the
generated runner (no grad) and the interpreter (grad). torch.jit.script itself refuses
break/continue in such loops, so eager torch is their oracle; early return it scripts."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit

from _jitmodels import import_defs

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated")

# one source, two libraries: the ardor classes and the torch oracle are the same code
MODELS = '''
from typing import Tuple

import {lib} as torch
import {lib}.nn as nn


class Base(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(3)])


class Break(Base):
    def forward(self, x, t: float) -> Tuple[torch.Tensor, int]:
        n = 0
        for layer in self.layers:
            x = torch.tanh(layer(x)) + x
            n += 1
            if x.sum() < t:
                break
        return x * 2, n


class Continue(Base):
    def forward(self, x, t: float) -> Tuple[torch.Tensor, int]:
        n = 0
        for layer in self.layers:
            if x.sum() < t:
                x = x - 0.1
                continue
            x = torch.tanh(layer(x)) + x
            n += 1
        return x, n


class Return(Base):
    def forward(self, x, t: float) -> Tuple[torch.Tensor, int]:
        n = 0
        for layer in self.layers:
            x = torch.tanh(layer(x)) + x
            n += 1
            if x.sum() < t:
                return x * 3, n
        return x - 1, n + 10  # told apart from a return after the last layer
'''


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    """(ardor module, torch module) of the model source above."""
    d = tmp_path_factory.mktemp("unroll_defs")
    am, tm = import_defs(d, MODELS, "jit_unroll_defs")
    return am, tm


def _pair(defs, cls):
    torch.manual_seed(3)
    tm = getattr(defs[1], cls)()
    am = getattr(defs[0], cls)()
    am.load_state_dict({k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return am, tm


X = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
# inputs and thresholds from "exit after the first layer" to "never exit"
CASES = [(np.random.default_rng(s).standard_normal((2, 3)).astype(np.float32), float(t))
         for s in range(6) for t in np.linspace(-3.0, 3.0, 25)]


@pytest.mark.parametrize("cls", ["Break", "Continue", "Return"])
def test_exit_in_unrolled_loop_equals_eager_and_torch_on_every_path(defs, cls):
    am, tm = _pair(defs, cls)
    sm = jit.script(am)
    oracle = torch.jit.script(tm) if cls == "Return" else tm
    if cls != "Return":  # what torch.jit.script does with these: it refuses them
        with pytest.raises(RuntimeError, match="break or continue"):
            torch.jit.script(tm)
    paths = set()
    for X, t in CASES:
        with ardor.no_grad():  # the generated runner
            assert sm._script._uses_runner([ardor.tensor(X), t])
            got, n = sm(ardor.tensor(X), t)
            ref, rn = am(ardor.tensor(X), t)
        xt = torch.tensor(X, requires_grad=True)
        tref, tn = oracle(xt, t)
        assert n == rn == tn
        paths.add(n)
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(got.numpy(), tref.detach().numpy(), rtol=1e-5, atol=1e-6)
        # the interpreter, with gradients for the input and every layer
        xa, xe = ardor.tensor(X, requires_grad=True), ardor.tensor(X, requires_grad=True)
        got, _ = sm(xa, t)
        assert got.requires_grad
        grads = []
        for out, m in ((got, am), (am(xe, t)[0], am)):
            m.zero_grad()
            (out * out).sum().backward()
            grads.append({k: None if p.grad is None else p.grad.numpy().copy()
                          for k, p in m.named_parameters()})
        tm.zero_grad()
        (tref * tref).sum().backward()
        np.testing.assert_allclose(xa.grad.numpy(), xe.grad.numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(xa.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)
        for k, p in tm.named_parameters():
            g, e = grads[0][k], grads[1][k]
            if p.grad is None:  # a layer after the exit: no gradient anywhere
                assert g is None and e is None
                continue
            np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-5, atol=1e-6)
    # the cases exit after each layer and never (Continue: run none, some or all layers)
    want = {"Break": {1, 2, 3}, "Continue": {0, 2, 3}, "Return": {1, 2, 3, 13}}[cls]
    assert want <= paths, paths


def test_statically_known_exit_stops_unrolling():
    """A ``break`` known at compile time leaves the later iterations out of the graph."""
    class M(ardor.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = ardor.nn.ModuleList([ardor.nn.Linear(3, 3) for _ in range(3)])

        def forward(self, x):
            for i, layer in enumerate(self.layers):
                if i == 1:
                    break
                x = layer(x)
            return x
    m = M()
    sm = jit.script(m)
    assert set(sm.graph.tensors) == {"layers.0.weight", "layers.0.bias"}
    x = ardor.tensor(X)
    np.testing.assert_array_equal(sm(x).detach().numpy(), m(x).detach().numpy())
