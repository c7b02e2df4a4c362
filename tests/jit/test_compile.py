"""ardor.compile / ardor.jit.compile: a whole training step as one graph, with guards."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import ardor
import ardor.jit as jit
import ardor.nn as nn
from ardor.jit._compile import JitWarning

from _jitmodels import ce_step


def _data(n=20, batch=16, din=8, k=4):
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((batch, din)).astype(np.float32) for _ in range(n)]
    ys = [rng.integers(0, k, batch) for _ in range(n)]
    return xs, ys


def _setup(lib, opt="SGD", **opt_kw):
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32),
                             torch.nn.Tanh(), torch.nn.Linear(32, 4))
    if lib == "torch":
        return tm, getattr(torch.optim, opt)(tm.parameters(), **opt_kw)
    m = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.Tanh(),
                      nn.Linear(32, 4))
    m.load_state_dict({k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return m, getattr(ardor.optim, opt)(m.parameters(), **opt_kw)


OPTS = [dict(lr=0.1), dict(lr=0.05, momentum=0.9, weight_decay=1e-3),
        dict(lr=0.05, momentum=0.9, nesterov=True), dict(lr=0.05, momentum=0.5, dampening=0.1,
                                                         maximize=True),
        dict(opt="Adam", lr=0.01), dict(opt="Adam", lr=0.01, weight_decay=0.1, maximize=True),
        dict(opt="AdamW", lr=0.01, amsgrad=True)]


@pytest.mark.parametrize("opt_kw", OPTS, ids=["plain", "momentum_wd", "nesterov", "damp_max",
                                              "adam", "adam_l2_max", "adamw_amsgrad"])
def test_compiled_training_matches_eager_after_20_steps(opt_kw):
    xs, ys = _data()
    runs = {}
    for mode in ("eager", "compiled"):
        m, opt = _setup("ardor", **opt_kw)
        step = ce_step(m, opt)
        f = ardor.compile(step) if mode == "compiled" else step
        losses = [float(f(ardor.tensor(x), ardor.tensor(y))) for x, y in zip(xs, ys)]
        runs[mode] = (m, losses, f)
    m_e, l_e, _ = runs["eager"]
    m_c, l_c, f = runs["compiled"]
    assert isinstance(f, jit.CompiledStep)
    entry = next(iter(f.entries.values()))
    assert entry.compiled is not None and entry.eager_reason is None
    assert any(n.kind == "fused" for n in entry.compiled.graph.nodes)
    assert "_inplace(" in entry.compiled.code  # parameter updates written in place
    np.testing.assert_allclose(l_c, l_e, rtol=1e-5)
    for (name, a), (_, b) in zip(m_e.named_parameters(), m_c.named_parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-4, atol=1e-6)
    # and torch agrees with both
    tm, topt = _setup("torch", **opt_kw)
    for x, y in zip(xs, ys):
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tm(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
    for (name, a), b in zip(m_c.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_guard_recompiles_on_shape_and_dtype_change():
    m, opt = _setup("ardor", lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = (m(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss
    f = jit.compile(step)
    x16 = ardor.tensor(np.ones((16, 8), np.float32))
    for _ in range(3):
        f(x16)
    with pytest.warns(JitWarning, match="guard failed.*recompiling"):
        f(ardor.tensor(np.ones((4, 8), np.float32)))
    f(ardor.tensor(np.ones((4, 8), np.float32)))
    f(ardor.tensor(np.ones((4, 8), np.float32)))
    assert len(f.entries) == 2 and all(e.compiled is not None for e in f.entries.values())
    # a dtype change: float64 input into float32 weights errors eagerly as in torch
    with pytest.warns(JitWarning, match="guard failed"):
        with pytest.raises(RuntimeError, match="dtype"):
            f(ardor.tensor(np.ones((4, 8), np.float64)))


def test_guard_sees_a_rebound_optimizer_and_module():
    # the guard caches which optimizers/modules the step reaches; rebinding the variables
    # the step reads must still be seen (and the new objects used)
    m, opt = _setup("ardor", lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = (m(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    f = jit.compile(step)
    x = ardor.tensor(np.ones((16, 8), np.float32))
    for _ in range(3):
        f(x)
    m, opt = _setup("ardor", lr=0.05, momentum=0.9)     # the closure's cells now differ
    before = [p.detach().numpy().copy() for p in m.parameters()]
    with pytest.warns(JitWarning, match="guard failed"):
        f(x)
    for _ in range(3):
        f(x)
    assert all(not np.array_equal(p.detach().numpy(), b)
               for p, b in zip(m.parameters(), before))   # the new model trained


class _Trainer:
    """The common PyTorch pattern: the model and optimizer are attributes, the step a
    method."""

    def __init__(self, **opt_kw):
        self.model, self.opt = _setup("ardor", **opt_kw)

    def step(self, x, y):
        self.opt.zero_grad()
        loss = nn.functional.cross_entropy(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss


def test_compiled_bound_method_step_matches_eager():
    xs, ys = _data(n=10)
    eager, comp = _Trainer(lr=0.05, momentum=0.9), _Trainer(lr=0.05, momentum=0.9)
    f = ardor.compile(comp.step)
    for x, y in zip(xs, ys):
        a = f(ardor.tensor(x), ardor.tensor(y))
        b = eager.step(ardor.tensor(x), ardor.tensor(y))
        np.testing.assert_allclose(float(a), float(b), rtol=1e-5)
    entry = next(iter(f.entries.values()))
    assert entry.compiled is not None and entry.eager_reason is None
    for p, q in zip(comp.model.parameters(), eager.model.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-6)
    # the trainer's model and optimizer replaced: the guard sees it, the new ones train
    comp.model, comp.opt = _setup("ardor", lr=0.05)
    before = [p.detach().numpy().copy() for p in comp.model.parameters()]
    with pytest.warns(JitWarning, match="guard failed"):
        f(ardor.tensor(xs[0]), ardor.tensor(ys[0]))
    for x, y in zip(xs, ys):
        f(ardor.tensor(x), ardor.tensor(y))
    assert all(not np.array_equal(p.detach().numpy(), b)
               for p, b in zip(comp.model.parameters(), before))


def test_guard_sees_an_optimizer_swapped_inside_a_container():
    m, opt = _setup("ardor", lr=0.1)
    holder = [opt]

    def step(x):
        holder[0].zero_grad()
        loss = (m(x) ** 2).mean()
        loss.backward()
        holder[0].step()
        return loss
    f = jit.compile(step)
    x = ardor.tensor(np.ones((16, 8), np.float32))
    for _ in range(3):
        f(x)
    holder[0] = ardor.optim.SGD(m.parameters(), lr=0.01, momentum=0.5)
    with pytest.warns(JitWarning, match="guard failed"):
        f(x)
    assert len(f.entries) == 2


def test_unreachable_optimizer_falls_back_instead_of_freezing_weights():
    # the optimizer and model sit in a big registry the search does not walk: the weights
    # would be traced as constants and the compiled step would never update them
    m, opt = _setup("ardor", lr=0.05, momentum=0.9)
    me, opte = _setup("ardor", lr=0.05, momentum=0.9)
    reg = {f"k{i}": i for i in range(100)}
    reg["m"], reg["opt"] = m, opt

    def step(x, y):
        reg["opt"].zero_grad()
        loss = nn.functional.cross_entropy(reg["m"](x), y)
        loss.backward()
        reg["opt"].step()
        return loss
    f = jit.compile(step)
    xs, ys = _data(n=6)
    with pytest.warns(JitWarning, match="modifies a tensor of shape .* not a parameter"):
        for x, y in zip(xs, ys):
            f(ardor.tensor(x), ardor.tensor(y))
            opte.zero_grad()
            nn.functional.cross_entropy(me(ardor.tensor(x)), ardor.tensor(y)).backward()
            opte.step()
    for p, q in zip(m.parameters(), me.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6, atol=1e-7)


def _train_both(build, data, clip=None, sched=None):
    """Train ``build()`` -> (model, optimizer) on ``data`` eagerly and compiled, with no
    JitWarning allowed (no recompile, no fallback); ``sched(opt)`` steps after each batch,
    ``clip`` clips the gradient norm. Returns (eager model, compiled model); the compiled
    step must have run as one compiled graph."""
    runs = []
    for mode in ("eager", "compiled"):
        ardor.manual_seed(0)
        m, opt = build()
        s = sched(opt) if sched is not None else None

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(m(x), y)
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(m.parameters(), clip)
            opt.step()
            return loss
        f = jit.compile(step) if mode == "compiled" else step
        with warnings.catch_warnings():
            warnings.simplefilter("error", JitWarning)
            for x, y in data:
                f(ardor.tensor(x), ardor.tensor(y))
                if s is not None:
                    s.step()
        runs.append(m)
    assert len(f.entries) == 1 and next(iter(f.entries.values())).compiled is not None
    se, sc = runs[0].state_dict(), runs[1].state_dict()
    for k in se:   # parameters and buffers (running stats, counters)
        np.testing.assert_allclose(sc[k].numpy(), se[k].numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=k)
    return runs


def _mlp_data(n):
    xs, ys = _data(n=n)
    return list(zip(xs, ys))


@pytest.mark.parametrize("opt_name,opt_kw,sched", [    ("SGD", dict(lr=0.1, momentum=0.9), lambda o: ardor.optim.lr_scheduler.OneCycleLR(
        o, max_lr=0.2, total_steps=20)),                       # lr and momentum both move
    ("SGD", dict(lr=0.1), lambda o: ardor.optim.lr_scheduler.StepLR(o, 3, gamma=0.5)),
    ("Adam", dict(lr=0.01), lambda o: ardor.optim.lr_scheduler.CosineAnnealingLR(o, 20)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1),
     lambda o: ardor.optim.lr_scheduler.ExponentialLR(o, 0.9)),
], ids=["sgd_onecycle", "sgd_step", "adam_cosine", "adamw_exp"])
def test_scheduled_hyper_parameters_are_inputs_not_recompiles(opt_name, opt_kw, sched):
    _train_both(lambda: _setup("ardor", opt_name, **opt_kw), _mlp_data(15), sched=sched)


@pytest.mark.parametrize("layer", ["dropout", "alpha_dropout", "dropout2d", "rrelu"])
def test_random_layers_draw_anew_in_every_compiled_run(layer):
    # the random draw is an op of the graph (not a constant taken while tracing): every
    # compiled run draws, from ardor's generator, exactly what eager code draws
    make = {"dropout": lambda: nn.Dropout(0.5), "alpha_dropout": lambda: nn.AlphaDropout(0.3),
            "dropout2d": lambda: nn.Dropout2d(0.5), "rrelu": lambda: nn.RReLU()}[layer]
    ardor.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(2, 4, 3), make(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    opt = ardor.optim.SGD(m.parameters(), lr=0.0)   # weights fixed: only the draws vary

    def step(x):
        opt.zero_grad()
        out = m(x)
        out.sum().backward()
        opt.step()
        return out
    f = jit.compile(step)
    x = ardor.tensor(np.random.default_rng(0).standard_normal((2, 2, 6, 6)).astype(np.float32))
    for _ in range(3):
        f(x)
    assert next(iter(f.entries.values())).compiled is not None
    outs = [f(x).detach().numpy() for _ in range(3)]
    assert not np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[1], outs[2])
    ardor.manual_seed(7)
    got = f(x).detach().numpy()
    ardor.manual_seed(7)
    np.testing.assert_array_equal(got, step(x).detach().numpy())


def test_vae_reparameterization_with_randn_like_compiles():
    # eps = randn_like(std): a draw op of the graph, fresh in every compiled run and the
    # same numbers eager code draws under one seed
    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.Linear(8, 2 * 3)
            self.dec = nn.Linear(3, 8)

        def forward(self, x):
            mu, logvar = self.enc(x).chunk(2, dim=1)
            std = (0.5 * logvar).exp()
            z = mu + std * ardor.randn_like(std) + 0.0 * ardor.rand_like(std)
            return self.dec(z), mu, logvar
    ardor.manual_seed(0)
    m = VAE()
    opt = ardor.optim.Adam(m.parameters(), lr=1e-3)

    def step(x):
        opt.zero_grad()
        recon, mu, logvar = m(x)
        kl = -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum()
        loss = ((recon - x) ** 2).sum() + kl
        loss.backward()
        opt.step()
        return recon
    f = jit.compile(step)
    x = ardor.tensor(np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitWarning)
        for _ in range(3):
            f(x)
    assert next(iter(f.entries.values())).compiled is not None
    a, b = f(x).detach().numpy(), f(x).detach().numpy()
    assert not np.array_equal(a, b)
    m2 = VAE()
    m2.load_state_dict({k: v.clone() for k, v in m.state_dict().items()})
    ardor.manual_seed(11)
    got = f(x).detach().numpy()
    ardor.manual_seed(11)
    with ardor.no_grad():
        want = m2(x)[0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_noise_from_randn_and_rand_compiles_with_eager_draws():
    m, opt = _setup("ardor", lr=0.1)
    m2, _ = _setup("ardor", lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = m(x + ardor.randn(*x.shape) * 0.1 + ardor.rand(2, 8) * 0.01).sum()
        loss.backward()
        opt.step()
        return loss
    f = jit.compile(step)
    x = ardor.ones(2, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitWarning)
        for _ in range(3):
            f(x)
    assert next(iter(f.entries.values())).compiled is not None
    m2.load_state_dict({k: v.clone() for k, v in m.state_dict().items()})
    ardor.manual_seed(3)
    got = float(f(x))
    ardor.manual_seed(3)
    want = float(m2(x + ardor.randn(2, 8) * 0.1 + ardor.rand(2, 8) * 0.01).sum())
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_host_side_random_draw_in_a_step_runs_eagerly_with_reason():
    # randint still draws on the host: its values would be constants of the graph
    m, opt = _setup("ardor", lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = m(x * ardor.randint(0, 2, tuple(x.shape)).float()).sum()
        loss.backward()
        opt.step()
        return loss
    f = jit.compile(step)
    x = ardor.ones(2, 8)
    f(x)
    with pytest.warns(JitWarning, match="Drawing random numbers"):
        f(x)
    f(x)
    assert next(iter(f.entries.values())).eager_reason is not None


def test_step_with_gradient_clipping_compiles_and_matches_eager():
    _train_both(lambda: _setup("ardor", lr=0.2, momentum=0.9), _mlp_data(10), clip=0.3)


def test_lstm_step_compiles_and_matches_eager():
    # a one-layer LSTM unbinds its initial state over a dimension of size 1: a
    # variable-output op with one output, which the graph verifier used to reject
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(5, 8, batch_first=True)
            self.out = nn.Linear(8, 3)

        def forward(self, x):
            y, _ = self.lstm(x)
            return self.out(y[:, -1])
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((4, 6, 5)).astype(np.float32), rng.integers(0, 3, 4))
            for _ in range(6)]

    def build():
        m = M()
        return m, ardor.optim.Adam(m.parameters(), lr=0.01)
    _train_both(build, data)


def test_batchnorm_training_step_compiles_and_updates_running_stats():
    rng = np.random.default_rng(0)
    data = [(rng.standard_normal((4, 2, 6, 6)).astype(np.float32), rng.integers(0, 3, 4))
            for _ in range(6)]

    def build():
        m = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16, 3))
        return m, ardor.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    me, _ = _train_both(build, data)   # compares running mean/var and the batch counter too
    assert "1.running_mean" in me.state_dict() and "1.num_batches_tracked" in me.state_dict()


def test_gradient_accumulation_over_micro_batches_in_one_step():
    # a second backward adds into .grad: that sum must be part of the graph
    m0, _ = _setup("ardor", lr=0.1)
    runs = []
    for mode in ("eager", "compiled"):
        m, opt = _setup("ardor", "AdamW", lr=0.01)
        m.load_state_dict(m0.state_dict())

        def step(x, y):
            opt.zero_grad()
            for xc, yc in zip(x.chunk(2), y.chunk(2)):
                (nn.functional.cross_entropy(m(xc), yc) / 2).backward()
            opt.step()
        f = jit.compile(step) if mode == "compiled" else step
        for x, y in _mlp_data(6):
            f(ardor.tensor(x), ardor.tensor(y))
        runs.append((m, f))
    (me, _), (mc, f) = runs
    assert next(iter(f.entries.values())).compiled is not None
    for a, b in zip(me.parameters(), mc.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_unbind_with_one_output_traces():
    x = ardor.tensor(np.arange(6.0, dtype=np.float32).reshape(1, 6))
    f = jit.trace(lambda t: t.unbind(0)[0] * 2, (x,))
    np.testing.assert_array_equal(f(x).numpy(), x.numpy()[0] * 2)


def test_compiler_error_falls_back_with_reason(monkeypatch):
    from ardor.jit import _compile

    def broken(*a, **k):
        raise RuntimeError("simulated compiler bug")
    monkeypatch.setattr(_compile, "CompiledGraph", broken)
    m, opt = _setup("ardor", lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = m(x).sum()
        loss.backward()
        opt.step()
        return loss
    f = jit.compile(step)
    x = ardor.ones(2, 8)
    f(x)
    with pytest.warns(JitWarning, match="could not be compiled.*simulated compiler bug"):
        f(x)
    f(x)                                 # and it keeps training, eagerly


class _TwoHeads(nn.Module):
    """A model whose result mixes a differentiable output, a non-differentiable one and a
    Python value, with BatchNorm (running stats) and dropout (a draw op)."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(),
                                  nn.Dropout(0.2))
        self.head = nn.Linear(16, 4)
        self.frozen = nn.Linear(16, 4)
        self.frozen.requires_grad_(False)

    def forward(self, x):
        h = self.body(x)
        logits = self.head(h) + self.frozen(h)
        return {"logits": logits, "pred": logits.argmax(1), "tag": "ok"}


def test_compiled_model_trains_with_a_compiled_backward():
    # model = ardor.compile(model) used in an eager training loop: the forward and backward
    # graphs are compiled (one autograd node), and training matches eager exactly
    xs, ys = _data(n=6)
    runs = []
    for mode in ("eager", "compiled"):
        ardor.manual_seed(0)
        m = _TwoHeads()
        opt = ardor.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=0.01)
        f = ardor.compile(m) if mode == "compiled" else m
        x_grads = []
        with warnings.catch_warnings():
            warnings.simplefilter("error", JitWarning)
            for x, y in zip(xs, ys):
                xt = ardor.tensor(x, requires_grad=True)     # a gradient for the input too
                opt.zero_grad()
                out = f(xt)
                assert out["tag"] == "ok" and not out["pred"].requires_grad
                nn.functional.cross_entropy(out["logits"], ardor.tensor(y)).backward()
                opt.step()
                x_grads.append(xt.grad.numpy().copy())
        runs.append((m, f, x_grads))
    (me, _, ge), (mc, f, gc) = runs
    entry = next(iter(f.entries.values()))
    assert entry.aot is not None and entry.eager_reason is None
    assert type(out["logits"].grad_fn).__name__.startswith("CompiledForward")
    for k, v in me.state_dict().items():      # weights, running stats, frozen layer
        np.testing.assert_allclose(mc.state_dict()[k].numpy(), v.numpy(), rtol=1e-5,
                                   atol=1e-6, err_msg=k)
    for a, b in zip(gc, ge):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert mc.frozen.weight.grad is None


def test_compiled_model_frees_saved_values_after_backward():
    # as autograd does: a second backward needs retain_graph=True, and then works
    m, _ = _setup("ardor", lr=0.1)
    cm = ardor.compile(m)
    x = ardor.tensor(_data(n=1)[0][0])
    for _ in range(2):
        cm(x).sum().backward()
    out = cm(x)
    assert type(out.grad_fn).__name__.startswith("CompiledForward")
    loss = out.sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
    loss = cm(x).sum()
    for p in m.parameters():
        p.grad = None
    loss.backward(retain_graph=True)
    first = [p.grad.numpy().copy() for p in m.parameters()]
    loss.backward()
    for p, g in zip(m.parameters(), first):
        np.testing.assert_allclose(p.grad.numpy(), 2 * g, rtol=1e-6, atol=1e-7)


def test_compiled_model_infers_under_no_grad():
    m, _ = _setup("ardor", lr=0.1)
    cm = ardor.compile(m)
    x = ardor.tensor(_data(n=1)[0][0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", JitWarning)
        with ardor.no_grad():
            outs = [cm(x) for _ in range(3)]
    assert all(e.compiled is not None for e in cm.entries.values())
    with ardor.no_grad():
        np.testing.assert_allclose(outs[-1].numpy(), m(x).numpy(), rtol=1e-6, atol=1e-6)


def test_fallback_to_eager_with_reason():
    m, opt = _setup("ardor", lr=0.1)
    seen = []

    def step(x):
        opt.zero_grad()
        loss = m(x).sum()
        loss.backward()
        opt.step()
        seen.append(loss.item())  # data-dependent Python value
        return loss
    f = jit.compile(step)
    x = ardor.tensor(np.ones((2, 8), np.float32))
    f(x)
    with pytest.warns(JitWarning, match="data-dependent; running eagerly|data-dependent"):
        f(x)
    f(x)
    assert len(seen) == 3  # every call really ran the Python code
    m2, _ = _setup("ardor", lr=0.1)

    class Halving(ardor.optim.Optimizer):  # a step of its own: not traced
        def __init__(self, params):
            super().__init__(params, {})

        def step(self, closure=None):
            for g in self.param_groups:
                for p in g["params"]:
                    p._data -= p.grad._data / 2
    opt2 = Halving(m2.parameters())

    def hstep(x):
        opt2.zero_grad()
        m2(x).sum().backward()
        opt2.step()
    g = jit.compile(hstep)
    g(x)
    with pytest.warns(JitWarning, match="Halving has no traceable step"):
        g(x)


def test_compile_inference_function():
    m, _ = _setup("ardor", lr=0.1)
    m.eval()

    @jit.compile
    def f(x):
        with ardor.no_grad():
            return nn.functional.softmax(m(x), -1)
    x = ardor.tensor(np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32))
    outs = [f(x) for _ in range(3)]
    with ardor.no_grad():
        ref = nn.functional.softmax(m(x), -1).numpy()
    for o in outs:
        np.testing.assert_allclose(o.numpy(), ref, rtol=1e-6)


def test_graph_level_autodiff_matches_torch():
    rng = np.random.default_rng(0)
    xa = rng.standard_normal((4, 5)).astype(np.float64)
    wa = rng.standard_normal((5, 3)).astype(np.float64)

    def f(x, w):
        h = (x @ w).tanh()
        return (h * h.sigmoid()).sum() + (x.exp() / (1 + x * x)).mean()
    gf = jit.grad(f, (ardor.tensor(xa), ardor.tensor(wa)), argnums=(0, 1))
    names = {n.op.name for n in gf.graph.nodes if n.kind == "call"}
    assert "tanh" in names and len(gf.graph.nodes) > 15  # forward and backward ops
    xb = rng.standard_normal((4, 5))
    wb = rng.standard_normal((5, 3))
    gx, gw = gf(ardor.tensor(xb), ardor.tensor(wb))
    tx = torch.tensor(xb, requires_grad=True)
    tw = torch.tensor(wb, requires_grad=True)
    h = (tx @ tw).tanh()
    ((h * h.sigmoid()).sum() + (tx.exp() / (1 + tx * tx)).mean()).backward()
    np.testing.assert_allclose(gx.numpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(gw.numpy(), tw.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("zero", ["optimizer", "module"])
def test_zero_grad_keeping_tensors_compiles_and_keeps_grad_identity(zero):
    # zero_grad(set_to_none=False): the .grad tensors are state the graph zeroes and
    # accumulates into in place; they stay the same tensors, as in eager (and in torch)
    runs = []
    for mode in ("eager", "compiled"):
        m, opt = _setup("ardor", "SGD", lr=0.05, momentum=0.9)

        def step(x, y):
            (opt if zero == "optimizer" else m).zero_grad(set_to_none=False)
            loss = nn.functional.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            return loss
        f = jit.compile(step) if mode == "compiled" else step
        with warnings.catch_warnings():
            warnings.simplefilter("error", JitWarning)
            f(*map(ardor.tensor, _data(1)[0] + _data(1)[1]))
            grads = [p.grad for p in m.parameters()]
            for x, y in _mlp_data(8):
                f(ardor.tensor(x), ardor.tensor(y))
        assert all(p.grad is g for p, g in zip(m.parameters(), grads))
        runs.append((m, f))
    (me, _), (mc, f) = runs
    e = next(iter(f.entries.values()))
    assert e.compiled is not None and len(e.kept_grads) == len(list(mc.parameters()))
    for a, b in zip(me.parameters(), mc.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_gradient_accumulation_across_compiled_calls():
    # micro-batches: each compiled call adds into .grad; the update runs outside
    runs = []
    for mode in ("eager", "compiled"):
        m, opt = _setup("ardor", "SGD", lr=0.05)

        def micro(x, y):
            loss = nn.functional.cross_entropy(m(x), y) / 2
            loss.backward()
            return loss.detach()
        f = jit.compile(micro) if mode == "compiled" else micro
        losses = []
        for i, (x, y) in enumerate(_mlp_data(12)):
            losses.append(f(ardor.tensor(x), ardor.tensor(y)).item())
            if i % 2 == 1:
                opt.step()
                opt.zero_grad(set_to_none=False)
        runs.append((m, f, losses))
    (me, _, le), (mc, f, lc) = runs
    assert any(e.compiled is not None and e.kept_grads for e in f.entries.values())
    np.testing.assert_allclose(lc, le, rtol=1e-5)
    for a, b in zip(me.parameters(), mc.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_replaced_grad_retraces_instead_of_writing_a_stale_tensor():
    m, opt = _setup("ardor", "SGD", lr=0.05)

    def step(x, y):
        opt.zero_grad(set_to_none=False)
        nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    f = jit.compile(step)
    data = _mlp_data(6)
    for x, y in data[:3]:
        f(ardor.tensor(x), ardor.tensor(y))
    old = [p.grad for p in m.parameters()]
    m.zero_grad()               # set_to_none: the kept .grad tensors are gone
    with pytest.warns(JitWarning, match="recompiling"):
        f(ardor.tensor(data[3][0]), ardor.tensor(data[3][1]))
    assert all(p.grad is not g for p, g in zip(m.parameters(), old))
    for x, y in data[4:]:
        f(ardor.tensor(x), ardor.tensor(y))
    e = next(iter(f.entries.values()))
    assert e.compiled is not None
    assert all(p.grad is g for p, g in zip(m.parameters(), [g for p, g in e.kept_grads]))


@pytest.mark.parametrize("draw", ["uniform_", "normal_", "bernoulli_float", "bernoulli_tensor",
                                  "bernoulli_fn", "bernoulli_fn_p"])
def test_in_place_random_fills_are_graph_ops_drawing_like_eager(draw):
    # DropPath / noise-injection style draws inside a training step: recorded as draw ops
    # (no fallback), each compiled run drawing the numbers eager code would draw
    def noise(h):
        if draw == "uniform_":
            return h * torch_like_empty(h).uniform_(0.5, 1.5)
        if draw == "normal_":
            return h + torch_like_empty(h).normal_(0.0, 0.1)
        if draw == "bernoulli_float":
            return h * torch_like_empty(h[:, :1]).bernoulli_(0.8) / 0.8
        if draw == "bernoulli_tensor":
            keep = ardor.full((1, h.shape[1]), 0.7, dtype=ardor.float64)
            return h * torch_like_empty(h).bernoulli_(keep)
        if draw == "bernoulli_fn":
            return h * ardor.bernoulli(ardor.full_like(h, 0.6).detach())
        return h * ardor.bernoulli(h.detach(), p=0.75)

    def torch_like_empty(h):
        return ardor.empty(tuple(h.shape), dtype=h.dtype)

    def build():
        m = nn.Sequential(nn.Linear(8, 32), nn.Tanh())
        head = nn.Linear(32, 4)
        return m, head, ardor.optim.SGD(list(m.parameters()) + list(head.parameters()), lr=0.1)
    runs = []
    for mode in ("eager", "compiled"):
        ardor.manual_seed(0)
        m, head, opt = build()

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(head(noise(m(x))), y)
            loss.backward()
            opt.step()
            return loss.detach()
        f = jit.compile(step) if mode == "compiled" else step
        losses = []
        with warnings.catch_warnings():
            warnings.simplefilter("error", JitWarning)
            warnings.simplefilter("error", jit.TracerWarning)
            for x, y in _mlp_data(6):
                losses.append(f(ardor.tensor(x), ardor.tensor(y)).item())
        runs.append((m, f, losses))
    (me, _, le), (mc, f, lc) = runs
    assert next(iter(f.entries.values())).compiled is not None
    np.testing.assert_allclose(lc, le, rtol=1e-5)
    for a, b in zip(me.parameters(), mc.parameters()):
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_traced_bernoulli_checks_probabilities_as_eager():
    bad = ardor.tensor(np.array([0.5, 1.5], np.float32))
    with pytest.raises(RuntimeError, match="p_in >= 0 && p_in <= 1") as eager:
        ardor.bernoulli(bad)
    with pytest.raises(RuntimeError, match="p_in >= 0 && p_in <= 1") as traced:
        jit.trace(lambda t: ardor.bernoulli(t), (bad,))
    assert str(traced.value) == str(eager.value)
    with pytest.raises(RuntimeError) as t_err:
        torch.bernoulli(torch.tensor([0.5, 1.5]))
    assert type(t_err.value) is type(eager.value)
