"""The IR: building, text form, generated code, DOT, verifier, numpy runner."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ardor
from ardor.jit import CompiledGraph, Graph, GraphError
from ardor.jit._codegen import generate, interpret
from ardor.jit._ir import Node


def _graph():
    g = Graph()
    x = g.placeholder("x", (3, 4), ardor.float32)
    y = g.placeholder("y", (4,), ardor.float64)
    w = g.get_attr("w", ardor.tensor(np.full((4, 2), 0.5, np.float32)))
    s = g.call("add", (x, y))            # promotes to float64
    e = g.call("exp", (s,))
    m = g.call("mm", (x, w))
    mx = g.call("max_dim", (e,), {"dim": 1, "keepdim": False})
    g.output((g.call("sum", (e,), {"dim": None, "keepdim": False, "dtype": None}), m,
              g.getitem(mx, 1)))
    return g


def test_build_infer_print_dot_code():
    g = _graph().verify()
    metas = {n.name: n.meta for n in g.nodes if n.kind != "output"}
    assert metas["add"] == ((3, 4), ardor.float64)
    assert metas["mm"] == ((3, 2), ardor.float32)
    assert metas["max_dim_1"] == ((3,), ardor.int64)
    text = str(g)
    assert text.splitlines()[0] == "graph(x: f32[3, 4], y: f64[4]):"
    assert "%add : f64[3, 4] = add(%x, %y)" in text
    assert "return (%sum, %mm, %max_dim_1)" in text
    dot = g.to_dot()
    assert dot.startswith("digraph") and '"x" -> "add";' in dot
    assert "def run(_T, _B, x, y):" in g.code


def test_runner_matches_torch():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(4)
    g = _graph()
    s, m, idx = generate(g).fn(g.tensors, {}, a, b)
    ta, tb = torch.tensor(a), torch.tensor(b)
    e = (ta + tb).exp()
    np.testing.assert_allclose(s, e.sum().numpy(), rtol=1e-12)
    assert s.dtype == np.float64 and s.shape == ()
    np.testing.assert_allclose(m, (ta @ torch.full((4, 2), 0.5)).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(idx, e.max(dim=1).indices.numpy())
    # the compiled (optimized, fused) runner and the dispatch interpreter agree
    s2, m2, idx2 = CompiledGraph(g)(a, b)
    np.testing.assert_allclose(s2, s, rtol=1e-12)
    i3 = interpret(g, ardor.tensor(a), ardor.tensor(b))
    np.testing.assert_allclose(i3[0].numpy(), s, rtol=1e-12)


def test_empty_and_scalar_shapes():
    g = Graph()
    x = g.placeholder("x", (0, 3), ardor.float32)
    z = g.placeholder("z", (), ardor.float32)
    r = g.call("mul", (g.call("add", (x, z)), 2.0))
    g.output(r)
    out = CompiledGraph(g)(np.zeros((0, 3), np.float32), np.array(1.5, np.float32))
    assert out.shape == (0, 3) and out.dtype == np.float32


def _bad_graphs():
    g1 = Graph()
    x = g1.placeholder("x", (2,), ardor.float32)
    g1.call("neg", (x,))
    yield "end with exactly one output", g1
    g2 = Graph()
    x = g2.placeholder("x", (2,), ardor.float32)
    n = g2.call("neg", (x,))
    g2.output(g2.call("neg", (n,)))
    g2.nodes[1], g2.nodes[2] = g2.nodes[2], g2.nodes[1]  # a read before the definition
    yield "before it is defined", g2
    g3 = Graph()
    x = g3.placeholder("x", (2,), ardor.float32)
    o = Graph().placeholder("other", (2,), ardor.float32)
    g3.nodes.append(Node(g3, "call", "bad", op=g3.call("neg", (x,)).op, args=(o,)))
    g3.output(g3.nodes[-1])
    yield "another graph", g3
    g4 = Graph()
    x = g4.placeholder("x", (2, 3), ardor.float32)
    mx = g4.call("max_dim", (x,), {"dim": 1, "keepdim": False})
    g4.output(g4.call("neg", (mx,)))
    yield "without getitem", g4
    g5 = Graph()
    x = g5.placeholder("x", (2, 3), ardor.float32)
    mx = g5.call("max_dim", (x,), {"dim": 1, "keepdim": False})
    g5.output(g5.getitem(mx, 5))
    yield "out of range", g5
    g6 = Graph()
    x = g6.placeholder("x", (2,), ardor.float32)
    n = g6.call("neg", (x,))
    n.name = "x"
    g6.output(n)
    yield "duplicate name", g6
    g7 = Graph()
    x = g7.placeholder("x", (2,), ardor.float32)
    n = g7.call("neg", (x,))
    n.kind = "frobnicate"
    g7.output(n)
    yield "unknown node kind", g7


@pytest.mark.parametrize("msg,g", list(_bad_graphs()), ids=lambda v: v if isinstance(v, str) else "")
def test_verifier_rejects(msg, g):
    with pytest.raises(GraphError, match=msg):
        g.verify()


def test_unknown_op_and_bad_shapes():
    g = Graph()
    with pytest.raises(GraphError, match="unknown op"):
        g.call("no_such_op", ())
    x = g.placeholder("x", (2, 3), ardor.float32)
    y = g.placeholder("y", (4,), ardor.float32)
    with pytest.raises(RuntimeError, match="must match the size"):
        g.call("add", (x, y))
