"""ardor.optim.lr_scheduler against torch.optim.lr_scheduler: lr sequences over 100 steps,
momentum cycling, state_dict round trips and torch's warnings."""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch

import ardor
import ardor.optim


def _opt(lib, kind="sgd", lr=0.1):
    p1 = lib.tensor(np.ones(3, np.float32), requires_grad=True)
    p2 = lib.tensor(np.ones(2, np.float32), requires_grad=True)
    groups = [{"params": [p1]}, {"params": [p2], "lr": lr * 0.5}]
    if kind == "adam":
        return lib.optim.Adam(groups, lr=lr)
    return lib.optim.SGD(groups, lr=lr, momentum=0.9)


def _L(lib):
    return lib.optim.lr_scheduler


class _Halve:
    """A callable object (not a function): its __dict__ goes into state_dict."""

    def __init__(self):
        self.factor = 0.97

    def __call__(self, epoch):
        return self.factor ** epoch


SCHEDULERS = {
    "LambdaLR": lambda lib, o: _L(lib).LambdaLR(o, lambda e: 0.95 ** e),
    "LambdaLR-list": lambda lib, o: _L(lib).LambdaLR(o, [lambda e: 1 / (e + 1), _Halve()]),
    "MultiplicativeLR": lambda lib, o: _L(lib).MultiplicativeLR(o, lambda e: 0.97),
    "StepLR": lambda lib, o: _L(lib).StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda lib, o: _L(lib).MultiStepLR(o, milestones=[10, 30, 30, 80], gamma=0.3),
    "ConstantLR": lambda lib, o: _L(lib).ConstantLR(o, factor=0.25, total_iters=13),
    "LinearLR": lambda lib, o: _L(lib).LinearLR(o, start_factor=0.1, end_factor=0.9,
                                                total_iters=40),
    "LinearLR-default": lambda lib, o: _L(lib).LinearLR(o),
    "ExponentialLR": lambda lib, o: _L(lib).ExponentialLR(o, gamma=0.93),
    "PolynomialLR": lambda lib, o: _L(lib).PolynomialLR(o, total_iters=60, power=2.0),
    "CosineAnnealingLR": lambda lib, o: _L(lib).CosineAnnealingLR(o, T_max=30, eta_min=1e-3),
    "CosineAnnealingWarmRestarts": lambda lib, o: _L(lib).CosineAnnealingWarmRestarts(
        o, T_0=7, T_mult=2, eta_min=1e-4),
    "CosineAnnealingWarmRestarts-1": lambda lib, o: _L(lib).CosineAnnealingWarmRestarts(
        o, T_0=10),
    "CyclicLR-triangular": lambda lib, o: _L(lib).CyclicLR(o, base_lr=0.01, max_lr=0.1,
                                                           step_size_up=9),
    "CyclicLR-triangular2": lambda lib, o: _L(lib).CyclicLR(
        o, base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=5, step_size_down=11,
        mode="triangular2", base_momentum=0.7, max_momentum=0.95),
    "CyclicLR-exp_range": lambda lib, o: _L(lib).CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=6, mode="exp_range", gamma=0.98,
        cycle_momentum=False),
    "CyclicLR-scale_fn": lambda lib, o: _L(lib).CyclicLR(
        o, base_lr=0.01, max_lr=0.1, step_size_up=6, scale_fn=lambda x: 1 / (1 + x),
        scale_mode="iterations"),
    "OneCycleLR-cos": lambda lib, o: _L(lib).OneCycleLR(o, max_lr=1.0, total_steps=101),
    "OneCycleLR-linear": lambda lib, o: _L(lib).OneCycleLR(
        o, max_lr=[1.0, 0.5], epochs=10, steps_per_epoch=11, anneal_strategy="linear",
        pct_start=0.25),
    "OneCycleLR-three_phase": lambda lib, o: _L(lib).OneCycleLR(
        o, max_lr=0.3, total_steps=120, three_phase=True, div_factor=10.0,
        final_div_factor=100.0, base_momentum=0.8, max_momentum=0.9),
    "SequentialLR": lambda lib, o: _L(lib).SequentialLR(
        o, [_L(lib).LinearLR(o, start_factor=0.1, total_iters=10),
            _L(lib).CosineAnnealingLR(o, T_max=40), _L(lib).ExponentialLR(o, gamma=0.9)],
        milestones=[10, 50]),
    "ChainedScheduler": lambda lib, o: _L(lib).ChainedScheduler(
        [_L(lib).ConstantLR(o, factor=0.5, total_iters=20),
         _L(lib).ExponentialLR(o, gamma=0.95), _L(lib).StepLR(o, step_size=15)]),
}
# OneCycleLR/CyclicLR cycle Adam's beta1 as well as SGD's momentum
ADAM_TOO = {"CyclicLR-triangular2", "OneCycleLR-three_phase", "OneCycleLR-cos"}
CASES = [(n, "sgd") for n in SCHEDULERS] + [(n, "adam") for n in sorted(ADAM_TOO)]


def _momenta(opt):
    return [g.get("momentum", g.get("betas")) for g in opt.param_groups]


def _sequence(lib, name, kind, steps=100):
    opt = _opt(lib, kind)
    sched = SCHEDULERS[name](lib, opt)
    lrs = [list(sched.get_last_lr())]
    moms = [_momenta(opt)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # OneCycleLR's end of schedule, etc.
        for _ in range(steps):
            opt.step()
            sched.step()
            lrs.append(list(sched.get_last_lr()))
            moms.append(_momenta(opt))
    return lrs, moms, sched, opt


@pytest.mark.parametrize("name,kind", CASES)
def test_lr_sequence_matches_torch(name, kind):
    steps = 100
    la, ma, _, _ = _sequence(ardor, name, kind, steps)
    lt, mt, _, _ = _sequence(torch, name, kind, steps)
    # Same Python float formulas in the same order: bit-identical.
    assert la == lt
    assert ma == mt


def _sd_keys(sd):
    return {k: (_sd_keys(v) if isinstance(v, dict) else
                [_sd_keys(x) if isinstance(x, dict) else type(x).__name__ for x in v]
                if isinstance(v, list) else type(v).__name__) for k, v in sd.items()}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_state_dict_round_trip(name):
    kind = "sgd"
    full, fmom, _, _ = _sequence(ardor, name, kind, 60)
    _, _, sched, opt = _sequence(ardor, name, kind, 30)
    _, _, tsched, _ = _sequence(torch, name, kind, 30)
    sd_a = sched.state_dict()
    sd_t = tsched.state_dict()
    assert _sd_keys(sd_a) == _sd_keys(sd_t)
    sd = copy.deepcopy(sd_a)
    osd = copy.deepcopy(opt.state_dict())
    opt2 = _opt(ardor, kind)
    sched2 = SCHEDULERS[name](ardor, opt2)
    opt2.load_state_dict(osd)
    sched2.load_state_dict(sd)
    assert sched2.get_last_lr() == full[30]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(31, 61):
            opt2.step()
            sched2.step()
            assert sched2.get_last_lr() == full[k]
            assert _momenta(opt2) == fmom[k]


PLATEAU = [
    dict(),
    dict(mode="max", factor=0.5, patience=2),
    dict(mode="min", threshold_mode="abs", threshold=0.05, patience=1, cooldown=3),
    dict(mode="max", threshold_mode="abs", threshold=0.01, patience=0, cooldown=1,
         min_lr=0.01),
    dict(mode="min", threshold_mode="rel", threshold=0.1, patience=3, cooldown=2,
         min_lr=[0.02, 0.001], factor=0.3),
    dict(patience=1, factor=0.9, eps=1e-3),
]


def _metric(k):
    # noisy, plateauing, occasionally improving: exercises every branch
    return 1.0 / (1 + k // 7) + 0.05 * math.sin(1.7 * k) + (0.3 if k % 11 == 5 else 0.0)


@pytest.mark.parametrize("kw", PLATEAU)
def test_reduce_lr_on_plateau(kw):
    out = []
    for lib in (torch, ardor):
        opt = _opt(lib)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
        seq = []
        for k in range(100):
            opt.step()
            sched.step(_metric(k) if k % 3 else lib.tensor(_metric(k)))
            seq.append((list(sched.get_last_lr()), sched.num_bad_epochs, sched.cooldown_counter,
                        sched.best))
        out.append((seq, sched))
    assert out[0][0] == out[1][0]
    assert _sd_keys(out[0][1].state_dict()) == _sd_keys(out[1][1].state_dict())
    # round trip
    sched = out[1][1]
    opt2 = _opt(ardor)
    s2 = ardor.optim.lr_scheduler.ReduceLROnPlateau(opt2, **kw)
    s2.load_state_dict(copy.deepcopy(sched.state_dict()))
    assert s2.best == sched.best and s2.num_bad_epochs == sched.num_bad_epochs


def _warns(lib, fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn(lib)
    return [(x.category, str(x.message)) for x in w]


def test_step_before_optimizer_step_warns():
    def early(lib):
        opt = _opt(lib)
        sched = lib.optim.lr_scheduler.StepLR(opt, 3)
        sched.step()

    wt = _warns(torch, early)
    assert wt and wt[0][0] is UserWarning
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before "
                                         r"`optimizer.step\(\)`") as rec:
        early(ardor)
    assert [str(r.message) for r in rec] == [m for _, m in wt]

    def overridden(lib):
        opt = _opt(lib)
        sched = lib.optim.lr_scheduler.ExponentialLR(opt, 0.9)
        opt.step = lambda *a, **k: None
        sched.step()

    assert _warns(ardor, overridden) == _warns(torch, overridden)

    def good(lib):
        opt = _opt(lib)
        sched = lib.optim.lr_scheduler.StepLR(opt, 3)
        opt.step()
        sched.step()
        sched.get_lr()  # outside step: torch's hint to use get_last_lr()
        sched.step(5)   # epoch argument: deprecation warning

    assert _warns(ardor, good) == _warns(torch, good)


def test_tensor_lr_updated_in_place():
    out = []
    for lib in (torch, ardor):
        p = lib.tensor(np.ones(3, np.float32), requires_grad=True)
        lr = lib.tensor(0.1)
        opt = lib.optim.SGD([p], lr=lr)
        sched = lib.optim.lr_scheduler.StepLR(opt, 2, gamma=0.5)
        seq = []
        for _ in range(6):
            opt.step()
            sched.step()
            assert opt.param_groups[0]["lr"] is lr
            seq.append(float(lr))
        out.append(seq)
    assert out[0] == out[1]


@pytest.mark.parametrize("make,exc", [
    (lambda L, o: L.ConstantLR(o, factor=1.5), ValueError),
    (lambda L, o: L.LinearLR(o, start_factor=0), ValueError),
    (lambda L, o: L.LinearLR(o, end_factor=2), ValueError),
    (lambda L, o: L.ReduceLROnPlateau(o, factor=1.0), ValueError),
    (lambda L, o: L.ReduceLROnPlateau(o, mode="avg"), ValueError),
    (lambda L, o: L.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError),
    (lambda L, o: L.CosineAnnealingWarmRestarts(o, T_0=0), ValueError),
    (lambda L, o: L.CyclicLR(o, 0.1, 1.0, mode="sine"), ValueError),
    (lambda L, o: L.OneCycleLR(o, max_lr=1.0), ValueError),
    (lambda L, o: L.OneCycleLR(o, max_lr=[1.0], total_steps=10), ValueError),
    (lambda L, o: L.StepLR(o, 2, last_epoch=3), KeyError),
    (lambda L, o: L.StepLR(object(), 2), TypeError),
    (lambda L, o: L.SequentialLR(o, [L.StepLR(o, 2)], milestones=[3]), ValueError),
    (lambda L, o: L.MultiplicativeLR(o, 0.9), TypeError),
    (lambda L, o: L.LambdaLR(o, [lambda e: 1.0] * 3), ValueError),
])
def test_scheduler_errors_like_torch(make, exc):
    msgs = []
    for lib in (torch, ardor):
        with pytest.raises(exc) as e:
            make(lib.optim.lr_scheduler, _opt(lib))
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def test_onecycle_past_total_steps_raises():
    opt = _opt(ardor)
    s = ardor.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=3)
    for _ in range(2):
        opt.step()
        s.step()
    opt.step()
    s.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        s.step()
