"""Runs of C calls in one (ardor/jit/_chain.py): consecutive GEMM-epilogue and column-sum
groups of a compiled graph recorded on their first run and then made as one C call. Checked
against the same graph with the runs made call by call (bit for bit), against eager and
torch, on a new layout (recorded again), past the recording limit (call by call), and for
the memory the run's dead values hold."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ardor
from ardor._ops import _gemm
from ardor.jit import CompiledGraph, _chain

from _jitmodels import ce_step, mlp
from test_epilogue import _mlp, forced  # noqa: F401 - the fixture

pytestmark = pytest.mark.skipif(
    _gemm._load() is None,
    reason="the runs are of C GEMM calls, which need a C compiler and an AVX-512 CPU")


def _chains(cg):
    return [v for k, v in cg.gen.globals.items() if k.startswith("_chain")]


def _train(steps, chains=True, monkeypatch=None, batch=64):
    rng = np.random.default_rng(0)
    m = _mlp("ardor")
    opt = ardor.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
    f = ardor.compile(ce_step(m, opt))
    if not chains:
        monkeypatch.setattr(_chain, "find", lambda *a, **k: ({}, set()))
    for _ in range(steps):
        x = rng.standard_normal((batch, 64)).astype(np.float32)
        f(ardor.tensor(x), ardor.tensor(rng.integers(0, 40, batch)))
    return m, next(iter(f.entries.values())).compiled


def test_training_step_runs_as_chains_bit_for_bit(forced, monkeypatch):
    m, cg = _train(6)
    chains = _chains(cg)
    # the forward's Linear+ReLU products, the backward's products and bias sums (steps 1
    # and 2 run eagerly and traced, 3 records, 4-6 run as one call)
    assert len(chains) == 2 and all(c.calls == 3 and c.records == 1 for c in chains)
    assert any(it[0] == "view" for c in chains for it in c.items)   # dW = dY^T X
    assert any(it[0] == "group" and it[4] for c in chains for it in c.items)   # bias sums
    ref, cg_ref = _train(6, chains=False, monkeypatch=monkeypatch)
    assert not _chains(cg_ref)
    for (name, a), (_, b) in zip(m.named_parameters(), ref.named_parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy(), err_msg=name)
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy(), err_msg=name)


def test_training_step_matches_torch(forced):
    m, _ = _train(6)
    rng = np.random.default_rng(0)
    tm = _mlp("torch")
    opt = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
    for _ in range(6):
        x = torch.tensor(rng.standard_normal((64, 64)).astype(np.float32))
        y = torch.tensor(rng.integers(0, 40, 64))
        opt.zero_grad()
        torch.nn.functional.cross_entropy(tm(x), y).backward()
        opt.step()
    for a, b in zip(m.parameters(), tm.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-5)


def _inference():
    m = mlp(ardor.nn, depth=5, width=192, din=128, dout=10)
    x = ardor.tensor(np.random.default_rng(3).standard_normal((96, 128)).astype(np.float32))
    cg = CompiledGraph(ardor.jit.trace(m, (x,)).graph)
    with ardor.no_grad():
        want = m(x).numpy()
    return cg, x._data, want


def test_new_layout_is_recorded_again(forced):
    cg, x, want = _inference()
    (ch,) = _chains(cg)
    np.testing.assert_allclose(cg(x), want, rtol=1e-5, atol=1e-5)   # recorded
    np.testing.assert_allclose(cg(x), want, rtol=1e-5, atol=1e-5)   # one C call
    assert (ch.records, ch.calls) == (1, 1)
    xf = np.asfortranarray(x)   # same values, other strides: other GEMM numbers
    np.testing.assert_allclose(cg(xf), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cg(xf), want, rtol=1e-5, atol=1e-5)
    assert (ch.records, ch.calls) == (2, 2)


def test_past_the_recording_limit_the_calls_run_one_by_one(forced, monkeypatch):
    monkeypatch.setattr(_chain, "_RECORDS", 1)
    cg, x, want = _inference()
    (ch,) = _chains(cg)
    cg(x)
    runs = [r.calls for _, r in cg.epilogues.values()]
    for a in (np.asfortranarray(x), x[::-1].copy()[::-1]):   # another layout; a view
        np.testing.assert_allclose(cg(a), want, rtol=1e-5, atol=1e-5)
    assert ch.records == 1 and ch.calls == 0
    assert [r.calls for _, r in cg.epilogues.values()][1:] == [c + 2 for c in runs[1:]]
    np.testing.assert_allclose(cg(x), want, rtol=1e-5, atol=1e-5)
    assert ch.calls == 1   # the recorded layout still runs as one call


def test_dead_values_share_memory_and_are_not_returned(forced):
    cg, x, want = _inference()
    (ch,) = _chains(cg)
    cg(x)
    # 5 Linear+activation products of one shape: two arrays serve them all, and only
    # the last activation (read by the final Linear) leaves the run
    assert len(ch.plan.shapes) == 2 and len(ch.returns) == 1
    assert "del addmm" in cg.code


def test_chain_stops_when_the_c_gemm_stops_serving(forced):
    cg, x, want = _inference()
    (ch,) = _chains(cg)
    cg(x)
    _gemm._STATE["use"] = False
    np.testing.assert_allclose(cg(x), want, rtol=1e-5, atol=1e-5)
    assert ch.calls == 0


def test_threads_running_one_chain_at_once(forced):
    import threading
    cg, x, want = _inference()
    cg(x)
    errors = []

    def work():
        try:
            for _ in range(40):
                np.testing.assert_allclose(cg(x), want, rtol=1e-5, atol=1e-5)
        except AssertionError as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and _chains(cg)[0].calls == 120
