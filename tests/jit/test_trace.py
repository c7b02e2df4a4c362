"""ardor.jit.trace: traced outputs equal eager ardor and torch; warnings; check_trace."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit

from _jitmodels import example, pair_model


@pytest.mark.parametrize("kind", ["mlp", "cnn", "block"])
def test_traced_module_matches_eager_and_torch(kind):
    rng = np.random.default_rng(0)
    am, tm = pair_model(kind)
    x = example(kind, rng)
    traced = jit.trace(am, (ardor.tensor(x),))
    assert isinstance(traced, jit.TracedModule)
    x2 = example(kind, rng)  # a different input of the same shape
    with ardor.no_grad():
        got = traced(ardor.tensor(x2)).numpy()
        eager = am(ardor.tensor(x2)).numpy()
    with torch.no_grad():
        ref = tm(torch.tensor(x2)).numpy()
    np.testing.assert_allclose(got, eager, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)
    assert got.dtype == np.float32
    # parameters are shared with the original, by identity
    names = {n.target for n in traced.graph.nodes if n.kind == "get_attr"}
    params = dict(am.named_parameters())
    for t in names & set(params):
        assert traced.graph.tensors[t] is params[t]
    assert "def run(" in traced.code and str(traced.graph).startswith("graph(")


def test_traced_module_sees_parameter_updates_and_backward():
    rng = np.random.default_rng(1)
    am, _ = pair_model("mlp")
    x = ardor.tensor(example("mlp", rng))
    traced = jit.trace(am, (x,))
    with ardor.no_grad():
        am[0].weight.mul_(2.0)
        np.testing.assert_allclose(traced(x).numpy(), am(x).numpy(), rtol=1e-6, atol=1e-6)
    # with grad enabled the trace runs through dispatch, so autograd works through it
    traced(x).sum().backward()
    g1 = am[0].weight.grad.numpy().copy()
    am.zero_grad()
    am(x).sum().backward()
    np.testing.assert_allclose(g1, am[0].weight.grad.numpy(), rtol=1e-6)


def test_trace_function_multiple_outputs_and_broadcast():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float64)

    def f(x, y):
        z = (x * 2 + y).exp() - x.t().t()
        return z.sum(dim=1), {"m": z.max(), "t": x.t()}

    tf = jit.trace(f, (ardor.tensor(a), ardor.tensor(b)))
    out = tf(ardor.tensor(a), ardor.tensor(b))
    ta, tb = torch.tensor(a), torch.tensor(b)
    z = (ta * 2 + tb).exp() - ta
    np.testing.assert_allclose(out[0].numpy(), z.sum(dim=1).numpy(), rtol=1e-6)
    assert out[0].dtype == ardor.float64  # promotion float32 + float64 -> float64
    np.testing.assert_allclose(out[1]["m"].numpy(), z.max().numpy(), rtol=1e-6)
    np.testing.assert_array_equal(out[1]["t"].numpy(), a.T)


def test_trace_same_tensor_twice_and_inplace():
    x = ardor.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))

    def f(a, b):
        c = a.clone()
        c.mul_(3)
        c.add_(b)
        return c

    tf = jit.trace(f, (x, x))
    y = ardor.tensor(np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(tf(x, y).numpy(), x.numpy() * 3 + 1)


def _warns(fn, x):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        jit.trace(fn, (x,), check_trace=False)
    return [str(m.message) for m in w if issubclass(m.category, jit.TracerWarning)]


@pytest.mark.parametrize("conv", [
    lambda x: x * x.sum().item(),
    lambda x: x * float(x.sum()),
    lambda x: x + len(x.tolist()),
    lambda x: x * 2 if x.sum() > 0 else x,
    lambda x: x[x > 0].sum(),
])
def test_tracer_warnings_fire(conv):
    x = ardor.tensor(np.array([1.0, -2.0, 3.0], np.float32))
    msgs = _warns(conv, x)
    assert msgs and "might cause the trace to be incorrect" in msgs[0]
    assert issubclass(jit.TracerWarning, Warning)


def test_no_warning_for_pure_tensor_code():
    x = ardor.tensor(np.array([1.0, -2.0, 3.0], np.float32))
    assert _warns(lambda x: (x * 2).relu().sum(), x) == []


def test_check_trace_detects_nondeterminism():
    x = ardor.tensor(np.ones((50,), np.float32))
    with pytest.warns(jit.TracerWarning, match="does not match"):
        jit.trace(lambda x: x + ardor.rand(50), (x,))


def test_constant_captured_and_frozen_at_trace_time():
    c = ardor.tensor(np.array([1.0, 2.0], np.float32))
    tf = jit.trace(lambda x: x + ardor.zeros(2) + c, (ardor.ones(2),))
    assert any(n.kind == "get_attr" for n in tf.graph.nodes)
    np.testing.assert_array_equal(tf(ardor.ones(2)).numpy(), [2.0, 3.0])


def test_different_shape_falls_back_to_graph_interpretation():
    tf = jit.trace(lambda x: (x * 2).exp(), (ardor.ones(3),))
    y = ardor.tensor(np.array([[0.5, 1.0]], np.float32))
    np.testing.assert_allclose(tf(y).numpy(), np.exp(y.numpy() * 2), rtol=1e-6)


def test_training_mode_side_effects_warn():
    am, _ = pair_model("cnn")
    am.train()
    x = ardor.tensor(example("cnn", np.random.default_rng(0)))
    with pytest.warns(jit.TracerWarning, match="running statistics"):
        jit.trace(am, (x,), check_trace=False)


def test_non_tensor_example_inputs_are_refused():
    with pytest.raises(TypeError, match="Type 'int' cannot be traced"):
        jit.trace(lambda x, n: x * n, (ardor.ones(2), 3))
