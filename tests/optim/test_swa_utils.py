"""ardor.optim.swa_utils against torch.optim.swa_utils."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ardor
import ardor.nn
import ardor.optim
from ardor.optim import swa_utils


def _models(seed=0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    out = []
    for lib in (torch, ardor):
        m = lib.nn.Linear(4, 3)
        with lib.no_grad():
            m.weight.data = lib.tensor(w.copy())
            m.bias.data = lib.tensor(b.copy())
        out.append(m)
    return out


def _train_and_average(lib, model, avg, steps=8, seed=1):
    rng = np.random.default_rng(seed)
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    for k in range(steps):
        x = lib.tensor(rng.standard_normal((5, 4)).astype(np.float32))
        opt.zero_grad()
        y = model(x)
        (y * y).mean().backward()
        opt.step()
        avg.update_parameters(model)
    return [p.detach().numpy().copy() for p in avg.parameters()]


@pytest.mark.parametrize("kind", ["swa", "ema_multi", "ema_fn", "swa_fn", "swa_multi"])
def test_averaged_model_matches_torch(kind):
    res = []
    for lib, model in zip((torch, ardor), _models()):
        su = lib.optim.swa_utils
        kw = {"swa": {}, "ema_multi": {"multi_avg_fn": su.get_ema_multi_avg_fn(0.9)},
              "ema_fn": {"avg_fn": su.get_ema_avg_fn(0.8)},
              "swa_fn": {"avg_fn": su.get_swa_avg_fn()},
              "swa_multi": {"multi_avg_fn": su.get_swa_multi_avg_fn()}}[kind]
        avg = su.AveragedModel(model, **kw)
        res.append((_train_and_average(lib, model, avg), int(avg.n_averaged)))
        x = np.ones((2, 4), np.float32)
        res[-1] += (avg(lib.tensor(x)).detach().numpy(),)
    (pt, nt, yt), (pa, na, ya) = res
    assert nt == na == 8
    for a, t in zip(pa, pt):
        np.testing.assert_allclose(a, t, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ya, yt, rtol=1e-5, atol=1e-6)


def test_averaged_model_is_a_copy_and_errors():
    m = ardor.nn.Linear(2, 2)
    avg = swa_utils.AveragedModel(m)
    assert avg.module is not m and avg.module.weight is not m.weight
    assert avg.n_averaged.dtype == ardor.int64 and int(avg.n_averaged) == 0
    with pytest.raises(AssertionError):
        swa_utils.AveragedModel(m, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())
    for lib in (torch, ardor):
        with pytest.raises(ValueError, match="Invalid decay value 1.5"):
            lib.optim.swa_utils.get_ema_avg_fn(1.5)


@pytest.mark.parametrize("kw", [dict(swa_lr=0.05), dict(swa_lr=[0.01, 0.2], anneal_epochs=5,
                                                          anneal_strategy="linear"),
                                dict(swa_lr=0.3, anneal_epochs=0)])
def test_swalr_matches_torch(kw):
    seqs = []
    for lib in (torch, ardor):
        ps = [lib.tensor(np.ones(2, np.float32), requires_grad=True) for _ in range(2)]
        opt = lib.optim.SGD([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.5}], lr=0.1)
        sched = lib.optim.swa_utils.SWALR(opt, **kw)
        seq = [sched.get_last_lr()]
        for _ in range(30):
            opt.step()
            sched.step()
            seq.append(sched.get_last_lr())
        seqs.append(seq)
        sd = sched.state_dict()
        assert "anneal_func" not in sd and sd["_anneal_strategy"] == kw.get("anneal_strategy",
                                                                            "cos")
    assert seqs[0] == seqs[1]
    for lib in (torch, ardor):
        opt = lib.optim.SGD([lib.tensor(np.ones(2, np.float32), requires_grad=True)], lr=0.1)
        with pytest.raises(ValueError, match="anneal_strategy must be one of"):
            lib.optim.swa_utils.SWALR(opt, 0.1, anneal_strategy="exp")


def _bn1d(lib):
    if hasattr(lib.nn, "BatchNorm1d"):
        return lib.nn.BatchNorm1d
    from ardor.nn.modules import batchnorm  # not yet exported from ardor.nn
    return batchnorm.BatchNorm1d


def test_update_bn_matches_torch():
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((6, 3)).astype(np.float32) for _ in range(4)]
    stats = []
    for lib in (torch, ardor):
        model = lib.nn.Sequential(lib.nn.Linear(3, 3), _bn1d(lib)(3))
        with lib.no_grad():
            model[0].weight.data = lib.tensor(np.eye(3, dtype=np.float32))
            model[0].bias.data = lib.tensor(np.zeros(3, np.float32))
        model.eval()
        lib.optim.swa_utils.update_bn([(lib.tensor(b), 0) for b in batches], model)
        assert not model.training
        bn = model[1]
        stats.append((bn.running_mean.numpy().copy(), bn.running_var.numpy().copy(),
                      bn.momentum))
    np.testing.assert_allclose(stats[1][0], stats[0][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats[1][1], stats[0][1], rtol=1e-5, atol=1e-6)
    assert stats[1][2] == stats[0][2]


@pytest.mark.parametrize("use_buffers", [False, True])
def test_averaged_model_buffers(use_buffers):
    rng = np.random.default_rng(4)
    xs = [rng.standard_normal((6, 3)).astype(np.float32) for _ in range(5)]
    res = []
    for lib in (torch, ardor):
        model = lib.nn.Sequential(lib.nn.Linear(3, 3), _bn1d(lib)(3))
        with lib.no_grad():
            model[0].weight.data = lib.tensor(np.eye(3, dtype=np.float32) * 0.5)
            model[0].bias.data = lib.tensor(np.ones(3, np.float32))
        avg = lib.optim.swa_utils.AveragedModel(model, use_buffers=use_buffers)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        for x in xs:
            opt.zero_grad()
            y = model(lib.tensor(x))
            (y * y).mean().backward()
            opt.step()
            avg.update_parameters(model)
        res.append([t.detach().numpy().copy() for t in
                    list(avg.module.parameters()) + list(avg.module.buffers())])
    for a, t in zip(res[1], res[0]):
        np.testing.assert_allclose(a, t, rtol=1e-5, atol=1e-6)
