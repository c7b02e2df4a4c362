"""Each pass alone on hand-built graphs: node counts before/after, numerical equality."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit
from ardor.jit import CompiledGraph, Graph, passes
from ardor.jit._codegen import generate

from _jitmodels import pair_model

F32 = ardor.float32


def _run(g, *arrays):
    return generate(g.verify()).fn(g.tensors, {}, *arrays)


def _calls(g, name=None):
    return sum(n.kind == "call" and (name is None or n.op.name == name) for n in g.nodes)


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_dce():
    g = Graph()
    x = g.placeholder("x", (3,), F32)
    dead = g.call("exp", (x,))
    g.call("neg", (dead,))
    g.output(g.call("mul", (x, 2.0)))
    h = passes.dce(g)
    assert _calls(g) == 3 and _calls(h) == 1
    a = _rand(3)
    np.testing.assert_array_equal(_run(h, a), _run(g, a))


def test_cse_keeps_random_ops():
    g = Graph()
    x = g.placeholder("x", (3, 4), F32)
    a1, a2 = g.call("exp", (x,)), g.call("exp", (x,))
    s1 = g.call("sum", (a1,), {"dim": (1,), "keepdim": False, "dtype": None})
    s2 = g.call("sum", (a2,), {"dim": (1,), "keepdim": False, "dtype": None})
    s3 = g.call("sum", (a2,), {"dim": (0,), "keepdim": False, "dtype": None})  # other attrs
    g.output((g.call("add", (s1, s2)), s3))
    h = passes.cse(g)
    assert _calls(g) == 6 and _calls(h) == 4
    a = _rand(3, 4)
    for u, v in zip(_run(h, a), _run(g, a)):
        np.testing.assert_array_equal(u, v)


def test_constant_folding_and_freeze():
    g = Graph()
    x = g.placeholder("x", (2, 3), F32)
    w = g.get_attr("w", ardor.tensor(_rand(4, 3)))
    g.consts.add("w")
    wt = g.call("t", (w,), {"dims": (1, 0)})
    w2 = g.call("mul", (wt, 2.0))
    g.output(g.call("mm", (x, w2)))
    h = passes.fold_constants(g)
    assert _calls(g) == 3 and _calls(h) == 1
    a = _rand(2, 3)
    np.testing.assert_allclose(_run(h, a), _run(g, a), rtol=1e-6)
    # freeze: parameters of a traced module become constants; the transposes are folded
    am, tm = pair_model("mlp")
    xx = ardor.tensor(_rand(4, 8))
    traced = jit.trace(am, (xx,))
    frozen = jit.freeze(traced)
    assert _calls(traced.graph, "t") == 3 and _calls(frozen.graph, "t") == 0
    with ardor.no_grad():
        np.testing.assert_allclose(frozen(xx).numpy(), tm(torch.tensor(xx.numpy())).detach().numpy(),
                                   rtol=1e-5, atol=1e-6)
        am[0].weight.zero_()  # the frozen copy does not see later parameter changes
        assert not np.allclose(frozen(xx).numpy(), am(xx).numpy())


def test_simplify_identities_and_chains():
    g = Graph()
    x = g.placeholder("x", (2, 3, 4), F32)
    a = g.call("mul", (x, 1))
    b = g.call("add", (0, a))
    c = g.call("div", (b, 1.0))
    t1 = g.call("transpose", (c,), {"dims": (0, 2, 1)})
    t2 = g.call("transpose", (t1,), {"dims": (0, 2, 1)})
    p1 = g.call("permute", (t2,), {"dims": (2, 0, 1)})
    p2 = g.call("permute", (p1,), {"dims": (1, 0, 2)})
    r1 = g.call("view", (x,), {"shape": (6, 4)})
    r2 = g.call("view", (r1,), {"shape": (24,)})
    r3 = g.call("view", (r2,), {"shape": (2, 12)})
    same = g.call("view", (x,), {"shape": (2, 3, 4)})
    keep = g.call("mul", (x, 1.0))  # int x * 1.0 would promote: here f32 stays, removed too
    g.output((p2, r3, same, keep))
    h = passes.simplify(g)
    names = [n.op.name for n in h.nodes if n.kind == "call"]
    assert names == ["permute", "view"]
    assert h.nodes[1].attrs["dims"] == (0, 2, 1)  # composed: (2,0,1) then (1,0,2)
    a_ = _rand(2, 3, 4)
    for u, v in zip(_run(h, a_), _run(g, a_)):
        np.testing.assert_array_equal(u, v)


def test_simplify_transposed_product_copy():
    g = Graph()
    a = g.placeholder("a", (5, 3), F32)
    b = g.placeholder("b", (5, 4), F32)
    at = g.call("t", (a,), {"dims": (1, 0)})
    m = g.call("mm", (at, b))                     # (3, 4)
    c = g.call("clone", (g.call("t", (m,), {"dims": (1, 0)}),))
    g.output(c)
    h = passes.simplify(g)
    assert "clone" not in [n.op.name for n in h.nodes if n.kind == "call"]
    a_, b_ = _rand(5, 3), _rand(5, 4, seed=1)
    out = _run(h, a_, b_)
    assert out.flags.c_contiguous
    np.testing.assert_allclose(out, (torch.tensor(a_).T @ torch.tensor(b_)).T.numpy(),
                               rtol=1e-6, atol=1e-6)


def test_simplify_keeps_promoting_identities():
    g = Graph()
    x = g.placeholder("x", (3,), ardor.int64)
    g.output(g.call("mul", (x, 1.0)))  # int64 * 1.0 -> float32: not an identity
    assert _calls(passes.simplify(g)) == 1


def _chain_graph(shape=(64, 33)):
    g = Graph()
    x = g.placeholder("x", shape, F32)
    b = g.placeholder("b", (shape[-1],), F32)
    h = g.call("add", (x, b))                                   # broadcasting input
    u = g.call("mul", (g.call("mul", (h, h)), h))
    inner = g.call("mul", (g.call("add", (h, g.call("mul", (u, 0.044715)))), 0.7978845608))
    gel = g.call("mul", (g.call("mul", (h, 0.5)), g.call("add", (g.call("tanh", (inner,)), 1))))
    s = g.call("sum", (gel,), {"dim": (1,), "keepdim": False, "dtype": None})
    g.output((gel, s))
    return g


def test_fusion_groups_elementwise_ops():
    g = _chain_graph()
    h = passes.fuse(g)
    kinds = [n.kind for n in h.nodes]
    assert kinds.count("fused") == 1 and _calls(h) == 1  # only the sum is left unfused
    fused = next(n for n in h.nodes if n.kind == "fused")
    assert len(fused.args) == 2 and _calls(fused.attrs["body"]) == 10
    x, b = _rand(64, 33), _rand(33, seed=1)
    ref = _run(g, x, b)
    for backend in ("numpy", "c"):
        out = CompiledGraph(g, backend=backend)(x, b)
        np.testing.assert_allclose(out[0], ref[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(out[1], ref[1], rtol=1e-5, atol=1e-5)
    tx = torch.tensor(x) + torch.tensor(b)
    np.testing.assert_allclose(out[0], torch.nn.functional.gelu(tx, approximate="tanh").numpy(),
                               rtol=1e-5, atol=1e-6)


def test_fusion_mixed_dtypes_and_comparisons():
    g = Graph()
    x = g.placeholder("x", (5, 1), F32)
    y = g.placeholder("y", (4,), ardor.float64)
    i = g.placeholder("i", (5, 4), ardor.int64)
    w = g.call("where", (g.call("gt", (x, y)), g.call("add", (x, i)), g.call("neg", (y,))),
               {"dtype": ardor.float64})
    g.output(g.call("maximum", (g.call("mul", (w, 3)), 0.0)))
    x_, y_ = _rand(5, 1), np.random.default_rng(3).standard_normal(4)
    i_ = np.arange(20).reshape(5, 4)
    ref = _run(g, x_, y_, i_)
    out = CompiledGraph(g, backend="c")(x_, y_, i_)
    assert out.dtype == ref.dtype == np.float64
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    tx, ty, ti = torch.tensor(x_), torch.tensor(y_), torch.tensor(i_)
    tref = torch.clamp_min(torch.where(tx > ty, tx + ti, -ty) * 3, 0.0)
    np.testing.assert_allclose(out, tref.numpy(), rtol=1e-6)


def _deep_mlp_graph(depth=12, width=256, batch=64):
    am, _ = pair_model("mlp", depth=depth, width=width)
    x = ardor.tensor(_rand(batch, 8))
    return jit.trace(am, (x,)), x


def test_memory_planning_reduces_peak_on_deep_mlp():
    traced, x = _deep_mlp_graph()
    g = passes.optimize(traced.graph)
    plan = passes.plan_memory(g)
    assert plan.peak_after * 4 < plan.peak_before, plan.report()
    assert "before" in plan.report()
    # measured: numpy reports its allocations to tracemalloc
    cg_plan = CompiledGraph(traced.graph)
    from ardor.jit._codegen import generate as gen
    naive = gen(cg_plan.graph, cg_plan.kernels, None, free=False).fn

    def peak(fn):
        tracemalloc.start()
        fn()
        p = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return p
    xa = x._data
    p_naive = peak(lambda: naive(cg_plan.tensors, {}, xa))
    p_plan = peak(lambda: cg_plan(xa))
    assert p_plan * 2 < p_naive, (p_plan, p_naive)
    with ardor.no_grad():
        np.testing.assert_allclose(cg_plan(xa), traced.original(x).numpy(), rtol=1e-5,
                                   atol=1e-6)


def test_freeze_folds_batchnorm_into_conv():
    am, tm = pair_model("cnn")
    x = np.random.default_rng(5).standard_normal((2, 3, 8, 8)).astype(np.float32)
    traced = jit.trace(am, (ardor.tensor(x),))
    frozen = jit.freeze(traced)
    assert _calls(traced.graph, "batch_norm") == 1 and _calls(frozen.graph, "batch_norm") == 0
    with torch.no_grad():
        ref = tm(torch.tensor(x)).numpy()
    np.testing.assert_allclose(frozen(ardor.tensor(x)).numpy(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,k", [((2, 3, 8, 8), 2), ((1, 2, 9, 6), 3), ((2, 4, 6), 2)])
def test_pool_to_max_matches_torch(shape, k):
    g = Graph()
    x = g.placeholder("x", shape, F32)
    nd = len(shape) - 2
    mp = g.call("max_pool_nd", (x,), {"kernel_size": (k,) * nd, "stride": (k,) * nd,
                                      "padding": (0,) * nd, "dilation": (1,) * nd,
                                      "ceil_mode": False})
    g.output(g.call("mul", (g.getitem(mp, 0), 2.0)))
    h = passes.pool_to_max(g)
    assert _calls(h, "max_pool_nd") == 0 and _calls(h, "maximum") == k ** nd - 1
    a = _rand(*shape)
    a.flat[3] = np.nan
    pool = torch.nn.functional.max_pool2d if nd == 2 else torch.nn.functional.max_pool1d
    ref = (pool(torch.tensor(a), k) * 2).numpy()
    np.testing.assert_array_equal(_run(h, a), ref)
    np.testing.assert_array_equal(CompiledGraph(g)(a), ref)


@pytest.mark.parametrize("shared", [False, True])
def test_pool_to_max_moves_a_relu_after_the_slices(shared):
    """relu -> max_pool: the relu is applied per slice (slice(f(x)) == f(slice(x))), so
    fusion makes one kernel reading the pre-activation; not when relu has another reader."""
    g = Graph()
    x = g.placeholder("x", (2, 3, 8, 8), F32)
    r = g.call("relu", (x,))
    mp = g.call("max_pool_nd", (r,), {"kernel_size": (2, 2), "stride": (2, 2),
                                      "padding": (0, 0), "dilation": (1, 1),
                                      "ceil_mode": False})
    out = g.getitem(mp, 0)
    g.output((out, g.call("mul", (r, 2.0))) if shared else out)
    h = passes.pool_to_max(g)
    assert _calls(h, "relu") == (1 if shared else 4)
    a = _rand(2, 3, 8, 8)
    a.flat[5] = np.nan
    ref = torch.nn.functional.max_pool2d(torch.relu(torch.tensor(a)), 2).numpy()
    got = CompiledGraph(g)(a)
    np.testing.assert_array_equal(got[0] if shared else got, ref)
    fused = [n for n in CompiledGraph(g).graph.nodes if n.kind == "fused"]
    assert not shared and len(fused) == 1 or shared


def _count(g, kind):
    """Nodes of ``kind`` in ``g`` and, recursively, in its if/loop regions."""
    from ardor.jit._ir import regions
    return sum((n.kind == kind) + sum(_count(r, kind) for r in regions(n)) for n in g.nodes)


@jit.script
def _scripted_twice(x, n: int):
    y = x * 2 + 1
    z = x * 2 + 1          # the same as y: CSE merges it, and the loop reads y
    unused = ardor.exp(x)  # never read: DCE drops it
    for i in range(n):
        y = ardor.tanh(y) * 0.5 + z * 0.25
    if y.sum() > 0:
        y = y * y + (x * 2 + 1)   # again, inside a region: served by the enclosing value
    else:
        y = -y
    return y


def test_passes_on_scripted_graphs_with_regions():
    g = _scripted_twice.graph
    h = passes.optimize(g)
    h.verify()
    assert _count(h, "pycall") < _count(g, "pycall") - 4
    assert not any(n.kind == "pycall" and n.attrs["fn"] is ardor.exp for n in h.nodes)
    from ardor.jit._script_run import run_region
    for x, n in [(ardor.randn(3, 4), 3), (-5 * ardor.ones(3, 4), 2), (ardor.randn(5), 0)]:
        with ardor.no_grad():
            want = torch.from_numpy(x.numpy()) * 2 + 1
            for _ in range(n):
                want = torch.tanh(want) * 0.5 + (torch.from_numpy(x.numpy()) * 2 + 1) * 0.25
            want = want * want + (torch.from_numpy(x.numpy()) * 2 + 1) if want.sum() > 0 \
                else -want
            for graph in (g, h):
                got = run_region(graph, {}, [x, n])
                np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)


def test_passes_keep_calls_with_effects(capsys):
    @jit.script
    def f(x, log: list[int]):
        a = ardor.rand(3)
        b = ardor.rand(3)            # a second draw, not the first one again
        print("seen")                # read by nothing, but it prints
        for i in range(2):
            log.append(i)            # changes the caller's list
        ardor.nn.functional.relu(x, inplace=True)  # writes x
        return a - b
    h = passes.optimize(f.graph)
    x, log = ardor.tensor([-1.0, 2.0]), []
    from ardor.jit._script_run import run_region
    out = run_region(h, {}, [x, log])
    assert capsys.readouterr().out == "seen\n"
    assert log == [0, 1] and x.tolist() == [0.0, 2.0]
    assert bool((out != 0).any())


def test_simplify_and_fuse_rewire_reads_inside_regions():
    from ardor.jit._ir import Node
    g = Graph()
    x = g.placeholder("x", (4,), F32)
    c = g.placeholder("c")
    y = g.call("mul", (x, 1.0))                     # simplify: y is x
    z = g.call("exp", (g.call("neg", (y,)),))       # fuse: neg+exp become one node
    then, other = Graph(), Graph()     # regions reading y and z of the enclosing graph
    then.output((then.call("exp", (then.call("add", (z, y)),)),))
    other.output((other.call("neg", (y,)),))
    regs = [then, other]
    node = g._add(Node(g, "if", g._name("if"), args=(c,),
                       attrs={"then": regs[0], "else": regs[1], "nout": 1}))
    g.output(g.getitem(node, 0))
    g.verify()
    from ardor.jit._script_run import run_region
    a = ardor.tensor(_rand(4))
    for h in (passes.simplify(g), passes.fuse(g), passes.optimize(g)):
        h.verify()
        for flag in (True, False):
            t = torch.from_numpy(a.numpy())
            want = torch.exp(torch.exp(-t) + t) if flag else -t
            np.testing.assert_allclose(run_region(h, {}, [a, flag]).numpy(), want.numpy(),
                                       rtol=1e-6)
    assert _calls(passes.simplify(g), "mul") == 0
    assert _count(passes.fuse(g), "fused") == 2   # neg+exp, and add+exp in the region


def test_cse_merges_no_python_calls_where_a_tensor_is_written_in_place():
    @jit.script
    def f(x):
        a = x * 2
        b = x * 2          # equal to a until a is written: not merged
        a.add_(1)
        return a + b
    h = passes.cse(f.graph)
    assert _count(h, "pycall") == _count(f.graph, "pycall")
    from ardor.jit._script_run import run_region
    x = ardor.arange(3.0)
    np.testing.assert_array_equal(run_region(h, {}, [x]).numpy(),
                                  (torch.arange(3.0) * 4 + 1).numpy())
