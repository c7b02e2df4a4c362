"""The small torch.jit helpers model code calls (ardor/jit/_api.py), against torch.jit."""
from __future__ import annotations

from typing import List

import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit")


def _branchy(lib):
    def f(x):
        if lib.jit.is_scripting():
            y = x * 2
        else:
            y = x * 3
        z = lib.jit.annotate(List[int], [])
        return y + len(z)
    return f


def test_is_scripting_is_true_only_inside_scripted_code():
    fa, ft = _branchy(ardor), _branchy(torch)
    xa, xt = ardor.ones(3), torch.ones(3)
    pairs = [(fa(xa), ft(xt)), (jit.script(fa)(xa), torch.jit.script(ft)(xt)),
             (jit.trace(fa, (xa,))(xa), torch.jit.trace(ft, (xt,))(xt))]
    for a, t in pairs:
        np.testing.assert_array_equal(a.numpy(), t.numpy())
    assert [float(a[0]) for a, _ in pairs] == [3.0, 2.0, 3.0]


def test_is_tracing_inside_a_trace_and_compile():
    seen = []

    def f(x):
        seen.append(jit.is_tracing())
        return x + 1
    x = ardor.ones(2)
    f(x)
    jit.trace(f, (x,), check_trace=False)
    assert seen == [False, True] and not jit.is_tracing()


def test_fork_wait_annotations_and_export():
    fut = jit.fork(lambda a, b: a * b, ardor.tensor(3.0), b=ardor.tensor(4.0))
    assert fut.done() and float(jit.wait(fut)) == 12.0 == float(fut.value())
    assert jit.annotate(List[int], [1]) == [1] and jit.Attribute(5, int) == 5
    assert jit.Final is torch.jit.Final or str(jit.Final) == str(torch.jit.Final)

    def method(self):
        return 1
    assert jit.export(method) is method


def test_optimize_for_inference_freezes_a_traced_module():
    m = ardor.nn.Sequential(ardor.nn.Linear(3, 4), ardor.nn.ReLU()).eval()
    x = ardor.randn(2, 3)
    opt = jit.optimize_for_inference(jit.trace(m, (x,)))
    np.testing.assert_allclose(opt(x).numpy(), m(x).detach().numpy(), rtol=1e-6, atol=1e-6)
    assert not any(n.kind == "placeholder" and "weight" in n.name for n in opt.graph.nodes)
