"""Every elementwise optimizer of ardor.optim inside a compiled training step: the update is
recorded from the optimizer's own numpy kernel (ardor.jit._optimizer_step), its per-step
numbers are graph inputs, and a step leaving the traced path retraces."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit
import ardor.nn as nn
from ardor.jit._compile import JitWarning

from test_compile import _data, _setup

CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01)),
    ("Adadelta", dict(lr=1.0, weight_decay=0.01, maximize=True)),
    ("Adamax", dict(lr=0.01, weight_decay=0.01)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("ASGD", dict(lr=0.01, t0=5)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.01, maximize=True, etas=(0.4, 1.3))),
]
# the steps whose host-side branch changes during the 14 steps: RAdam's rectification
# (from step 6) and ASGD's averaging (after t0 = 5 steps)
RETRACE = {"RAdam", "ASGD"}


def _run(opt_name, opt_kw, compiled, n=14, zero_after=False, build=None, before=None,
         inside=None):
    """Train (eagerly or compiled) for ``n`` steps: (model, optimizer, losses, the step,
    JitWarning messages). ``build()`` -> (model, optimizer) replaces the named optimizer;
    ``before(i, opt)`` runs before step i, ``inside()`` in the step after ``opt.step()``."""
    xs, ys = _data(n=n)
    m, opt = build() if build is not None else _setup("ardor", opt_name, **opt_kw)

    def step(x, y):
        if not zero_after:
            opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        if inside is not None:
            inside()
        if zero_after:
            opt.zero_grad()
        return loss
    f = jit.compile(step) if compiled else step
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", JitWarning)
        losses = []
        for i, (x, y) in enumerate(zip(xs, ys)):
            if before is not None:
                before(i, opt)
            losses.append(float(f(ardor.tensor(x), ardor.tensor(y))))
    return m, opt, losses, f, [str(w.message) for w in caught
                               if issubclass(w.category, JitWarning)]


def _ids(cases):
    return [f"{n}-{'-'.join(k for k in kw if k != 'lr') or 'plain'}" for n, kw in cases]


@pytest.mark.parametrize("opt_name,opt_kw", CASES, ids=_ids(CASES))
def test_optimizer_step_compiles_and_matches_eager_and_torch(opt_name, opt_kw):
    m_e, opt_e, l_e, _, _ = _run(opt_name, opt_kw, compiled=False)
    m_c, opt_c, l_c, f, warned = _run(opt_name, opt_kw, compiled=True)
    entries = list(f.entries.values())
    assert len(entries) == 1 and entries[0].compiled is not None \
        and entries[0].eager_reason is None, warned
    if opt_name in RETRACE:
        assert f._retraced == 1 and len(warned) == 1 and "branch changed" in warned[0]
    else:
        assert f._retraced == 0 and warned == []
    np.testing.assert_allclose(l_c, l_e, rtol=1e-6)
    for (name, a), b in zip(m_e.named_parameters(), m_c.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-6,
                                   atol=1e-7, err_msg=name)
    # the optimizer state too: buffers written by the graph, step counters by the host
    for p_e, p_c in zip(m_e.parameters(), m_c.parameters()):
        s_e, s_c = opt_e.state[p_e], opt_c.state[p_c]
        assert s_e.keys() == s_c.keys()
        for k in s_e:
            np.testing.assert_allclose(s_c[k].numpy(), s_e[k].numpy(), rtol=1e-6, atol=1e-7,
                                       err_msg=k)
    tm, topt = _setup("torch", opt_name, **opt_kw)
    xs, ys = _data(n=14)
    for x, y in zip(xs, ys):
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
    for a, b in zip(m_c.parameters(), tm.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-3, atol=1e-4)


def test_update_is_recorded_from_the_kernel_with_per_step_numbers_as_inputs():
    _, _, _, f, _ = _run("Adam", dict(lr=0.01), compiled=True, n=3)
    g = next(iter(f.entries.values())).compiled.graph
    scalars = [n for n in g.nodes if n.kind == "placeholder" and n.name.startswith("optim_")]
    # per parameter the step size and sqrt(bias correction 2) change every step; shared
    # numbers (betas, eps) are one input each
    assert 2 * 6 <= len(scalars) <= 2 * 6 + 6
    assert all(n.meta[0] == () for n in scalars)
    assert any(n.kind == "fused" for n in g.nodes)


def test_grads_cleared_after_the_step_compile():
    """zero_grad() after opt.step(): between calls .grad is None, and the host-side
    bookkeeping still sees the parameters the trace updated."""
    m_e, _, l_e, _, _ = _run("RMSprop", dict(lr=0.01), compiled=False, zero_after=True)
    m_c, _, l_c, f, warned = _run("RMSprop", dict(lr=0.01), compiled=True, zero_after=True)
    assert warned == [] and next(iter(f.entries.values())).compiled is not None
    assert all(p.grad is None for p in m_c.parameters())
    np.testing.assert_allclose(l_c, l_e, rtol=1e-6)
    for a, b in zip(m_e.parameters(), m_c.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-6,
                                   atol=1e-7)


def test_param_groups_with_their_own_settings():
    def build():
        m, _ = _setup("ardor")
        ps = list(m.parameters())
        return m, ardor.optim.SGD([{"params": ps[:2], "lr": 0.05, "momentum": 0.9},
                                   {"params": ps[2:], "lr": 0.1}], lr=0.2)
    m_e, _, l_e, _, _ = _run(None, None, compiled=False, n=8, build=build)
    m_c, _, l_c, f, warned = _run(None, None, compiled=True, n=8, build=build)
    assert warned == [] and next(iter(f.entries.values())).compiled is not None
    np.testing.assert_allclose(l_c, l_e, rtol=1e-6)
    for a, b in zip(m_e.parameters(), m_c.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-6,
                                   atol=1e-7)


def test_scheduled_learning_rate_reaches_every_optimizer():
    from test_compile import _mlp_data, _train_both
    for name, kw in (("RMSprop", dict(lr=0.01, momentum=0.5)), ("Adagrad", dict(lr=0.1)),
                     ("NAdam", dict(lr=0.01))):
        _train_both(lambda: _setup("ardor", name, **kw), _mlp_data(8),
                    sched=lambda o: ardor.optim.lr_scheduler.StepLR(o, 2, gamma=0.5))


def test_cycled_betas_and_momentum_are_inputs_not_recompiles():
    """OneCycleLR cycles Adam's beta1 (and RMSprop's momentum) with the learning rate: the
    numbers are graph inputs, so the step compiles once."""
    from test_compile import _mlp_data, _train_both
    for name, kw in (("Adam", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, momentum=0.9))):
        _train_both(lambda: _setup("ardor", name, **kw), _mlp_data(10),
                    sched=lambda o: ardor.optim.lr_scheduler.OneCycleLR(o, max_lr=0.02,
                                                                        total_steps=10))


def test_momentum_switched_on_recompiles_and_matches_eager():
    def before(i, opt):
        if i == 5:    # the momentum buffers are created at the next step
            opt.param_groups[0]["momentum"] = 0.9
    m_e, _, l_e, _, _ = _run("SGD", dict(lr=0.1), compiled=False, n=10, before=before)
    m_c, _, l_c, f, _ = _run("SGD", dict(lr=0.1), compiled=True, n=10, before=before)
    assert len(f.entries) == 2 and all(e.compiled is not None for e in f.entries.values())
    assert l_c == l_e
    for a, b in zip(m_e.parameters(), m_c.parameters()):
        np.testing.assert_array_equal(b.detach().numpy(), a.detach().numpy())


def test_scheduler_stepped_inside_the_step_runs_eagerly_with_reason():
    """A compiled run replays the graph, not the step's Python: a scheduler stepped
    inside would never move the learning rate again, so the step runs eagerly."""
    runs = []
    for compiled in (False, True):
        scheds = []

        def build():
            m, opt = _setup("ardor", "SGD", lr=0.1, momentum=0.9)
            scheds.append(ardor.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5))
            return m, opt
        runs.append(_run(None, None, compiled, n=6, build=build,
                         inside=lambda: scheds[0].step()))
    (m_e, opt_e, l_e, _, _), (m_c, opt_c, l_c, f, warned) = runs
    assert len(warned) == 1 and "changes optimizer settings (lr)" in warned[0]
    assert l_c == l_e and opt_c.param_groups[0]["lr"] == opt_e.param_groups[0]["lr"]
    for a, b in zip(m_e.parameters(), m_c.parameters()):
        np.testing.assert_array_equal(b.detach().numpy(), a.detach().numpy())


def test_a_kernel_the_proxies_cannot_run_falls_back_with_nothing_half_written(monkeypatch):
    from ardor.optim import _foreach as F

    def addcmul_(a, x, y, value, tmp):   # same numbers, through a function not recorded
        np.copyto(tmp, np.einsum("...,...->...", x, y) * value)
        a += tmp
    monkeypatch.setattr(F, "addcmul_", addcmul_)
    m_e, opt_e, l_e, _, _ = _run("Adagrad", dict(lr=0.1), compiled=False, n=5)
    m_c, opt_c, l_c, f, warned = _run("Adagrad", dict(lr=0.1), compiled=True, n=5)
    assert len(warned) == 1 and "Adagrad.step" in warned[0] and "einsum" in warned[0]
    assert next(iter(f.entries.values())).eager_reason is not None
    assert l_c == l_e
    for a, b in zip(m_e.parameters(), m_c.parameters()):
        np.testing.assert_array_equal(b.detach().numpy(), a.detach().numpy())
    for p_e, p_c in zip(m_e.parameters(), m_c.parameters()):
        for k in opt_e.state[p_e]:
            np.testing.assert_array_equal(opt_c.state[p_c][k].numpy(),
                                          opt_e.state[p_e][k].numpy())


def test_closure_and_own_step_optimizers_run_eagerly_with_reason():
    m, _ = _setup("ardor")
    opt = ardor.optim.LBFGS(m.parameters(), lr=0.1)
    x, y = (ardor.tensor(a[0]) for a in _data(n=1))

    def step(x, y):
        def closure():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(m(x), y)
            loss.backward()
            return loss
        return opt.step(closure)
    f = jit.compile(step)
    f(x, y)
    with pytest.warns(JitWarning, match="LBFGS has no traceable step"):
        f(x, y)
