"""GEMM epilogues in compiled graphs (ardor/jit/_epilogue.py): a product's elementwise readers
(ReLU, ReLU's gradient mask, the SGD update of the weight) run on the C GEMM's finished
blocks. Compared against the same step run eagerly, against torch, and against the
separate-kernel fallback; hand-built graphs check the ordering rule for in-place updates."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ardor
import ardor.nn as nn
from ardor._ops import _gemm
from ardor.jit import CompiledGraph, Graph
from ardor.jit._codegen import interpret

from _jitmodels import ce_step

pytestmark = pytest.mark.skipif(
    _gemm._load() is None,
    reason="epilogues run inside the C GEMM, which needs a C compiler and an AVX-512 CPU")

F32 = ardor.float32


@pytest.fixture
def forced(monkeypatch):
    monkeypatch.setitem(_gemm._STATE, "use", True)


def _mlp(lib):
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),
                             torch.nn.Linear(128, 96), torch.nn.ReLU(), torch.nn.Linear(96, 40))
    if lib == "torch":
        return tm
    m = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 96), nn.ReLU(),
                      nn.Linear(96, 40))
    m.load_state_dict({k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return m


def _train(mode, opt_name, opt_kw, steps=12, batch=64):
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((batch, 64)).astype(np.float32), rng.integers(0, 40, batch))
            for _ in range(steps)]
    if mode == "torch":
        m = _mlp("torch")
        opt = getattr(torch.optim, opt_name)(m.parameters(), **opt_kw)
        for x, y in data:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(torch.tensor(x)), torch.tensor(y)).backward()
            opt.step()
        return m, None
    m = _mlp("ardor")
    opt = getattr(ardor.optim, opt_name)(m.parameters(), **opt_kw)
    step = ce_step(m, opt)
    f = ardor.compile(step) if mode != "eager" else step
    for i, (x, y) in enumerate(data):
        if mode == "fallback" and i == 3:  # compiled by now: the C GEMM stops serving
            _gemm._STATE["use"] = False
        f(ardor.tensor(x), ardor.tensor(y))
    return m, f


def _runners(f):
    entry = next(iter(f.entries.values()))
    return {k: v for k, v in entry.compiled.epilogues.items() if hasattr(v[0], "gemm")}


@pytest.mark.parametrize("opt_name,opt_kw", [("SGD", dict(lr=0.05, momentum=0.9)),
                                              ("SGD", dict(lr=0.05, momentum=0.9,
                                                           weight_decay=1e-3, nesterov=True)),
                                              ("Adam", dict(lr=0.01))],
                         ids=["momentum", "nesterov_wd", "adam"])
def test_compiled_step_with_epilogues_matches_eager_and_torch(forced, opt_name, opt_kw):
    me, _ = _train("eager", opt_name, opt_kw)
    mc, f = _train("compiled", opt_name, opt_kw)
    eps = _runners(f)
    assert any(grp.gemm.op.name == "addmm" and grp.bias is not None
               and [m.kind == "call" and m.op.name for m in grp.members] == ["relu"]
               for grp, _ in eps.values())   # Linear + ReLU
    members = [m for grp, _ in eps.values() for m in grp.members]
    assert any(m.kind == "call" and m.op.name == "threshold_backward" for m in members)
    if opt_name == "SGD":  # the update of a weight rides on its gradient's product
        assert any(sum(m.kind == "fused" for m in grp.members) >= 2 for grp, _ in eps.values())
    assert all(r.calls > 0 for _, r in eps.values())
    # the Linear's product is read by its ReLU alone: ReLU's values are written over it
    assert any(grp.spent for grp, _ in eps.values())
    for (name, a), (_, b) in zip(me.named_parameters(), mc.named_parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=name)
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-4, atol=1e-6)
    mt, _ = _train("torch", opt_name, opt_kw)
    # against torch (other kernels, other rounding), 12 steps apart: Adam divides by the
    # root of tiny second moments, so last-bit differences grow to ~lr * 1e-3 there
    for a, b in zip(mc.parameters(), mt.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4, atol=5e-5)


def test_fallback_without_the_c_gemm_matches_eager(forced):
    kw = dict(lr=0.05, momentum=0.9)
    me, _ = _train("eager", "SGD", kw)
    mc, f = _train("fallback", "SGD", kw)
    eps = _runners(f)
    assert eps and all(r.calls == 1 for _, r in eps.values())  # only the tracing run's
    for a, b in zip(me.parameters(), mc.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6)


def _graph(reader_between: bool):
    """w <- 0.9 * w + a @ b (a state update riding on the product); with ``reader_between``
    a node reading the old w sits between the product and the update."""
    rng = np.random.default_rng(1)
    w = ardor.tensor(rng.standard_normal((96, 80)).astype(np.float32))
    g = Graph()
    a = g.placeholder("a", (96, 128), F32)
    b = g.placeholder("b", (128, 80), F32)
    p = g.call("mm", (a, b))
    wn = g.get_attr("w", w)
    outs = [p]
    if reader_between:
        outs.append(g.call("exp", (wn,)))
    scaled = g.call("mul", (wn, 0.9))
    new = g.call("add", (scaled, p))
    g.mutations.append(("w", new))
    g.output(tuple(outs) + (g.call("relu", (p,)),))
    return g, w


@pytest.mark.parametrize("reader_between", [False, True])
def test_inplace_update_moves_only_when_no_old_value_reader_follows(forced, reader_between):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((96, 128)).astype(np.float32)
    b = rng.standard_normal((128, 80)).astype(np.float32)
    g, w = _graph(reader_between)
    w0 = w.numpy().copy()
    expect = interpret(g.copy(), ardor.tensor(a), ardor.tensor(b))
    w_expect = w.numpy().copy()
    w._data[...] = w0
    cg = CompiledGraph(g)
    (grp, runner), = cg.epilogues.values()
    fused_members = [m for m in grp.members if m.kind == "fused"]
    assert bool(fused_members) == (not reader_between)
    assert any(m.kind == "call" and m.op.name == "relu" for m in grp.members)
    got = cg(a, b)
    assert runner.calls == 1
    for u, v in zip(got, expect):
        np.testing.assert_allclose(u, v.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.numpy(), w_expect, rtol=1e-5, atol=1e-5)


def test_update_of_the_products_own_operand_is_not_an_epilogue(forced):
    # w <- w + a @ w: the GEMM reads w while running, so w's update must wait for it
    rng = np.random.default_rng(4)
    w = ardor.tensor(rng.standard_normal((96, 96)).astype(np.float32))
    a = rng.standard_normal((96, 96)).astype(np.float32)
    g = Graph()
    x = g.placeholder("a", (96, 96), F32)
    wn = g.get_attr("w", w)
    p = g.call("mm", (x, wn))
    new = g.call("add", (g.call("mul", (wn, 0.5)), p))
    g.mutations.append(("w", new))
    g.output(g.call("relu", (p,)))
    w0 = w.numpy().copy()
    expect = interpret(g.copy(), ardor.tensor(a)).numpy()
    w_expect = w.numpy().copy()
    w._data[...] = w0
    cg = CompiledGraph(g)
    assert all(m.kind != "fused" for grp, _ in cg.epilogues.values() for m in grp.members)
    np.testing.assert_allclose(cg(a), expect, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.numpy(), w_expect, rtol=1e-5, atol=1e-5)


def test_addmm_bias_with_strided_weight_view(forced):
    # nn.Linear's forward: addmm(bias, x, W.t()) then relu, against torch
    rng = np.random.default_rng(3)
    x = rng.standard_normal((100, 70)).astype(np.float32)
    lin = nn.Linear(70, 130)
    traced = ardor.jit.trace(lambda t: nn.functional.relu(lin(t)), (ardor.tensor(x),))
    cg = traced.compiled
    assert len(cg.epilogues) == 1
    runner = next(iter(cg.epilogues.values()))[1]
    before = runner.calls
    got = cg(x)
    assert runner.calls == before + 1
    tw = torch.tensor(lin.weight.detach().numpy())
    tb = torch.tensor(lin.bias.detach().numpy())
    ref = torch.relu(torch.tensor(x) @ tw.T + tb).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_products_of_differently_strided_inputs_each_get_their_own_gemm_numbers(forced):
    # the runner keeps the C GEMM's numbers per (a, b) strides: a transposed input on a
    # later call must not run with the first call's strides
    rng = np.random.default_rng(5)
    lin = nn.Linear(70, 130)
    x = rng.standard_normal((100, 70)).astype(np.float32)
    traced = ardor.jit.trace(lambda t: nn.functional.relu(lin(t)), (ardor.tensor(x),))
    cg = traced.compiled
    runner = next(iter(cg.epilogues.values()))[1]
    tw = torch.tensor(lin.weight.detach().numpy())
    tb = torch.tensor(lin.bias.detach().numpy())
    for xs in (x, np.asfortranarray(x), x[::-1]):
        before = runner.calls
        got = cg(xs)
        ref = torch.relu(torch.tensor(np.ascontiguousarray(xs)) @ tw.T + tb).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
        assert runner.calls == before + (xs.strides[0] > 0)   # negative strides: numpy
    assert len(runner.configs) == 3 and list(runner.configs.values())[-1] is None
