"""Column sums with their readers in one C kernel (ardor/jit/_column_sums.py): a Linear's bias
gradient (a sum over the batch), the view and clone kept for .grad, and the optimizer's
bias update. Compared bit for bit against the same steps run eagerly, against the
one-after-another fallback, and on hand-built graphs for the in-place ordering rule."""
from __future__ import annotations

import numpy as np
import pytest

import ardor
import ardor.nn as nn
from ardor.jit import CompiledGraph, Graph
from ardor.jit import _column_sums
from ardor.jit._codegen import interpret
from ardor.jit._kernels import _compiler

from _jitmodels import ce_step

pytestmark = pytest.mark.skipif(_compiler() is None,
                                reason="the column-sum kernels are C: no C compiler here")

F32 = ardor.float32


def _groups(cg):
    return [(g, r) for g, r in cg.epilogues.values() if isinstance(g, _column_sums.Group)]


def _train(compiled: bool, opt_name, opt_kw, width, batch, steps=6):
    ardor.manual_seed(0)
    m = nn.Sequential(nn.Linear(48, width), nn.ReLU(), nn.Linear(width, 10))
    opt = getattr(ardor.optim, opt_name)(m.parameters(), **opt_kw)
    step = ce_step(m, opt)
    f = ardor.compile(step) if compiled else step
    rng = np.random.default_rng(0)
    for _ in range(steps):
        f(ardor.tensor(rng.standard_normal((batch, 48)).astype(np.float32)),
          ardor.tensor(rng.integers(0, 10, batch)))
    return m, f


# 128 x 512 is past the size where the kernel shares the columns out among threads
@pytest.mark.parametrize("width,batch", [(40, 16), (512, 128)], ids=["small", "threaded"])
@pytest.mark.parametrize("opt_name,opt_kw", [("SGD", dict(lr=0.05, momentum=0.9)),
                                              ("Adam", dict(lr=0.01))], ids=["sgd", "adam"])
def test_compiled_step_equals_eager_bit_for_bit(opt_name, opt_kw, width, batch):
    me, _ = _train(False, opt_name, opt_kw, width, batch)
    mc, f = _train(True, opt_name, opt_kw, width, batch)
    groups = _groups(next(iter(f.entries.values())).compiled)
    assert len(groups) == 2   # one bias gradient per Linear
    for grp, runner in groups:
        kinds = [m.op.name if m.kind == "call" else m.kind for m in grp.members]
        assert kinds[:2] == ["view", "clone"] and "fused" in kinds   # .grad, then update
        assert runner.calls > 0
    for (name, a), (_, b) in zip(me.named_parameters(), mc.named_parameters()):
        np.testing.assert_array_equal(b.detach().numpy(), a.detach().numpy(), err_msg=name)
        np.testing.assert_array_equal(b.grad.numpy(), a.grad.numpy(), err_msg=name)


def _bias_graph(reader_between: bool, keepdim=True, dim=0):
    """b <- 0.9 * b + sum(x, dim) (a state update reading a column sum); with
    ``reader_between`` a node reading the old b sits between the sum and the update."""
    rng = np.random.default_rng(1)
    b = ardor.tensor(rng.standard_normal(24).astype(np.float32))
    g = Graph()
    x = g.placeholder("x", (33, 24), F32)
    s = g.call("sum", (x,), {"dim": (dim,), "keepdim": keepdim, "dtype": None})
    v = g.call("view", (s,), {"shape": (24,)}) if keepdim else s
    bn = g.get_attr("b", b)
    outs = [g.call("clone", (v,))]
    if reader_between:
        outs.append(g.call("exp", (bn,)))
    new = g.call("add", (g.call("mul", (bn, 0.9)), v))
    g.mutations.append(("b", new))
    g.output(tuple(outs) + (g.call("relu", (v,)),))
    return g, b


@pytest.mark.parametrize("keepdim,dim", [(True, 0), (False, -2)])
@pytest.mark.parametrize("reader_between", [False, True])
def test_inplace_update_joins_only_when_no_old_value_reader_follows(reader_between, keepdim,
                                                                    dim):
    x = np.random.default_rng(2).standard_normal((33, 24)).astype(np.float32)
    g, b = _bias_graph(reader_between, keepdim, dim)
    b0 = b.numpy().copy()
    expect = interpret(g.copy(), ardor.tensor(x))
    b_expect = b.numpy().copy()
    b._data[...] = b0
    cg = CompiledGraph(g)
    (grp, runner), = _groups(cg)
    assert any(m.kind == "fused" for m in grp.members) == (not reader_between)
    got = cg(x)
    assert runner.calls == 1
    for u, v in zip(got, expect):
        np.testing.assert_array_equal(u, v.numpy())
    np.testing.assert_array_equal(b.numpy(), b_expect)


def test_strided_input_runs_the_nodes_one_after_another():
    g, b = _bias_graph(False)
    cg = CompiledGraph(g)
    (grp, runner), = _groups(cg)
    x = np.random.default_rng(3).standard_normal((24, 33)).astype(np.float32).T   # strided
    outs = (None,) * len(grp.members)
    fast = runner(np.ascontiguousarray(x), (b._data,), outs)
    assert runner.calls == 1
    slow = runner(x, (b._data,), outs)
    assert runner.calls == 1
    assert sum(u is not None for u in fast) == len(grp.needed)
    # numpy adds a C-contiguous array's rows in order, as the kernel does, but sums a
    # transposed one pairwise: the same values up to rounding
    np.testing.assert_array_equal(fast[2], np.ascontiguousarray(x).sum(0))   # the clone
    for u, v in zip(fast, slow):
        if u is not None:
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-5)


def test_sum_read_only_by_a_reduction_is_left_alone():
    # sum(x, 0) read by another sum (not elementwise): no member, no group
    g = Graph()
    x = g.placeholder("x", (8, 6), F32)
    s = g.call("sum", (x,), {"dim": (0,), "keepdim": False, "dtype": None})
    g.output(g.call("sum", (s,), {"dim": None, "keepdim": False, "dtype": None}))
    cg = CompiledGraph(g)
    assert _groups(cg) == []
    xa = np.random.default_rng(4).standard_normal((8, 6)).astype(np.float32)
    np.testing.assert_allclose(cg(xa), xa.sum(), rtol=1e-5)
