"""The benchmark workloads at tiny sizes: ardor's losses and gradients match torch's.

Each workload is built on both frameworks from the same numpy weights and data; three
training steps are run and every step's loss, and every parameter's gradient, is compared.
No timing is asserted: this keeps a speed change that breaks the numbers from passing CI.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import ardor  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
from benchmarks.workloads import TRAIN, WORKLOADS  # noqa: E402
from benchmarks.workloads.micro import MICRO, NumpyMLP  # noqa: E402

STEPS = 3


def _np(t):
    return t.detach().numpy().astype(np.float64)


def _close(a, b, what, rtol=2e-4, atol=2e-5):
    scale = max(1.0, float(np.abs(b).max()) if np.size(b) else 1.0)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * scale, err_msg=what)


@pytest.mark.parametrize("name", TRAIN)
def test_training_matches_torch(name):
    wa = WORKLOADS[name](ardor, "tiny")
    wt = WORKLOADS[name](torch, "tiny")
    pa = dict(wa.model.named_parameters())
    pt = dict(wt.model.named_parameters())
    assert list(pa) == list(pt)
    for name_, p in pt.items():  # same starting weights
        np.testing.assert_array_equal(_np(pa[name_]), _np(p))
    gmax = {k: np.zeros(p.shape) for k, p in pt.items()}
    for step in range(STEPS):
        for w in (wa, wt):
            w.opt.zero_grad()
        la, lt = wa.loss(), wt.loss()
        assert la.dtype == ardor.float32
        _close(_np(la), _np(lt), f"{name} loss at step {step}")
        la.backward()
        lt.backward()
        for name_, p in pt.items():
            assert pa[name_].grad.dtype == ardor.float32, name_
            _close(_np(pa[name_].grad), _np(p.grad), f"{name} grad {name_} at step {step}")
            gmax[name_] = np.maximum(gmax[name_], np.abs(_np(p.grad)))
        wa.opt.step()
        wt.opt.step()
    for name_, p in pt.items():  # the optimizers moved the weights alike
        # Adam-style updates blow rounding noise up to lr-sized steps where a gradient is
        # zero in exact arithmetic (e.g. the attention key bias, which softmax cancels)
        live = gmax[name_] > 1e-6 * max(1e-30, gmax[name_].max())
        _close(_np(pa[name_])[live], _np(p)[live], f"{name} weight {name_} after {STEPS} steps")


def test_step_returns_the_loss():
    wa = WORKLOADS["mlp"](ardor, "tiny")
    wt = WORKLOADS["mlp"](torch, "tiny")
    for _ in range(2):
        _close(_np(wa.step()), _np(wt.step()), "mlp step()")


def test_inference_matches_torch():
    wa = WORKLOADS["inference"](ardor, "tiny")
    wt = WORKLOADS["inference"](torch, "tiny")
    oa, ot = wa.step(), wt.step()
    assert not oa.requires_grad and oa.dtype == ardor.float32
    assert oa.shape == ot.shape
    _close(_np(oa), _np(ot), "cnn inference logits")


@pytest.mark.parametrize("name", [n for n in MICRO if n != "numpy_mlp_ref"])
def test_micro_cases_run(name):
    cls = MICRO[name]
    libs = (ardor, torch, np) if cls.numpy else (ardor, torch)
    for lib in libs:
        w = cls(lib, "tiny")
        w.inner = 2
        assert w.step() is None
    # the cases compute the same thing on each library
    wa, wt = cls(ardor, "tiny"), cls(torch, "tiny")
    ra, rt = wa.fn(), wt.fn()
    if ra is not None:
        _close(_np(ra), _np(rt), name)


def test_numpy_reference_matches_its_own_gradient():
    """The hand-written numpy MLP step computes the loss torch computes for its weights."""
    ref = NumpyMLP(np, "tiny")
    net = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
                              torch.nn.ReLU(), torch.nn.Linear(16, 5))
    with torch.no_grad():
        for lin, W, b in zip(net[::2], ref.W, ref.b):
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.from_numpy(ref.x), torch.from_numpy(ref.y)
    for step in range(STEPS):
        opt.zero_grad()
        lt = torch.nn.functional.cross_entropy(net(x), y)
        lt.backward()
        opt.step()
        _close(np.float64(ref.step()), _np(lt), f"numpy reference loss at step {step}")


@pytest.mark.parametrize("name", TRAIN + ("inference",))
def test_float32_stays_float32(monkeypatch, name):
    """No op of a float32 workload produces a float64 array (no silent upcasts)."""
    from ardor._ops import dispatch as D
    made = []
    wrap = D._wrap

    def spy(arr):
        t = wrap(arr)
        made.append(t._data.dtype)
        return t
    monkeypatch.setattr(D, "_wrap", spy)
    w = WORKLOADS[name](ardor, "tiny")
    w.step()
    w.step()
    assert made and np.dtype(np.float64) not in made
