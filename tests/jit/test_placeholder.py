"""The deferred style: placeholders build a graph; calling it computes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit


def test_issue_example():
    a = jit.placeholder(); b = jit.placeholder(); c = (a**2 + b**2) ** 0.5  # noqa: E702
    assert callable(c)
    assert c(3, 4) == 5.0
    ref = float((torch.tensor(1) ** 2 + torch.tensor(2) ** 2) ** 0.5)
    assert c(1, 2) == pytest.approx(ref, rel=1e-6)
    assert c(1, 2) == pytest.approx(2.2360679, rel=1e-6)
    assert [p.name for p in c.inputs] == ["a", "b"]
    assert "pow_scalar" in str(c.graph)


def test_nothing_is_computed_until_called():
    calls = []
    a = jit.placeholder("a")
    d = a.exp()
    d = d._apply("probe", lambda t: calls.append(1) or t, d)
    assert calls == []
    d(ardor.zeros(2))
    assert calls == [1]


def test_tensors_methods_named_inputs_and_reflected_ops():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    y = rng.standard_normal((4,)).astype(np.float32)
    a, b = jit.placeholder("a"), jit.placeholder("b")
    f = (2 - a).tanh() * b + 1 / (1 + a.exp()) - (a @ b).unsqueeze(-1)
    tx, ty = torch.tensor(x), torch.tensor(y)
    ref = (2 - tx).tanh() * ty + 1 / (1 + tx.exp()) - (tx @ ty).unsqueeze(-1)
    for _ in range(2):  # the second call runs the cached compiled graph
        np.testing.assert_allclose(f(ardor.tensor(x), ardor.tensor(y)).numpy(), ref.numpy(),
                                   rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f(b=ardor.tensor(y), a=ardor.tensor(x)).numpy(), ref.numpy(),
                               rtol=1e-5, atol=1e-6)


def test_errors_name_placeholder_and_operation():
    a = jit.placeholder(); b = jit.placeholder(); c = (a**2 + b**2) ** 0.5  # noqa: E702
    with pytest.raises(RuntimeError, match=r"operation 'add'.*placeholder\(s\) 'a', 'b'"):
        c(ardor.ones(3), ardor.ones(4))
    m = a @ b
    with pytest.raises(RuntimeError, match=r"mat1 and mat2.*'matmul'.*'a'"):
        m(ardor.ones(3, 2), ardor.ones(3, 2))
    with pytest.raises(TypeError, match="no value given for placeholder"):
        c(1)
    with pytest.raises(TypeError, match="takes 2 inputs"):
        c(1, 2, 3)
    with pytest.raises(TypeError, match="placeholder 'a' has no value"):
        bool(a)
    s = jit.placeholder("s", shape=(2,))
    with pytest.raises(RuntimeError, match="placeholder 's' expects shape"):
        (s + 1)(ardor.ones(3))
