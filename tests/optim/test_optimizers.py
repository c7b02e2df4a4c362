"""ardor.optim optimizers against torch.optim: trajectories, param groups, state_dict, errors."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import ardor
import ardor.optim

from _model import data, init_arrays, make_params, train

# (class name, kwargs): every option of every optimizer at least once.
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.5, nesterov=True, weight_decay=0.01, maximize=True)),
    ("SGD", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), eps=1e-6, maximize=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.01, weight_decay=0.2, amsgrad=True, maximize=True)),
    ("Adamax", dict(lr=0.05)),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, maximize=True, betas=(0.5, 0.9))),
    ("NAdam", dict(lr=0.05)),
    ("NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.05)),
    ("RAdam", dict(lr=0.05, betas=(0.9, 0.5))),  # rho_t > 5 from the first steps
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict(lr=0.05, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.01, eps=1e-6, maximize=True)),
    ("Adadelta", dict(lr=1.0)),
    ("Adadelta", dict(lr=0.01, rho=0.5, weight_decay=0.1, maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, t0=5, lambd=0.01, alpha=0.5, weight_decay=0.1)),
    ("ASGD", dict(lr=0.01, t0=3, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(1e-3, 0.05), maximize=True)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in CONFIGS]
STEPS = 20


def _run(lib, name, kw, arrays, steps=STEPS, groups=None, closure_style=False):
    x, y = data()
    if arrays[0].dtype == np.float64:
        x, y = x.astype(np.float64), y.astype(np.float64)
    params = make_params(lib, arrays)
    opt = getattr(lib.optim, name)(groups(params) if groups else params, **kw)
    return train(lib, params, opt, steps, x, y, closure_style=closure_style), opt


def _assert_traj(ta, tt, rtol, atol):
    for k, (a_step, t_step) in enumerate(zip(ta, tt)):
        for a, t in zip(a_step, t_step):
            assert a.dtype == t.dtype
            np.testing.assert_allclose(a, t, rtol=rtol, atol=atol, err_msg=f"step {k}")


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_trajectory_matches_torch(name, kw, dtype):
    arrays = [a.astype(dtype) for a in init_arrays()]
    ta, _ = _run(ardor, name, kw, arrays)
    tt, _ = _run(torch, name, kw, arrays)
    if dtype == np.float32:
        _assert_traj(ta, tt, 1e-5, 1e-6)
    else:
        _assert_traj(ta, tt, 1e-10, 1e-12)


def _sd_equal_structure(sa, st):
    """ardor's state_dict has torch's structure: int ids, key order, types, values."""
    assert list(sa.keys()) == list(st.keys()) == ["state", "param_groups"]
    assert list(sa["state"].keys()) == list(st["state"].keys())
    for i in st["state"]:
        a, t = sa["state"][i], st["state"][i]
        assert list(a.keys()) == list(t.keys()), (a.keys(), t.keys())
        for k in t:
            _value_equal(a[k], t[k])
    assert len(sa["param_groups"]) == len(st["param_groups"])
    for ga, gt in zip(sa["param_groups"], st["param_groups"]):
        assert list(ga.keys()) == list(gt.keys())
        for k in gt:
            assert ga[k] == gt[k], k


def _value_equal(a, t):
    if isinstance(t, torch.Tensor):
        assert isinstance(a, ardor.Tensor)
        assert tuple(a.shape) == tuple(t.shape)
        assert str(a.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-4, atol=1e-6)
    elif isinstance(t, list):
        assert isinstance(a, list) and len(a) == len(t)
        for x, y in zip(a, t):
            _value_equal(x, y)
    elif isinstance(t, float):
        assert isinstance(a, float) and np.isclose(a, t, rtol=1e-4)
    else:
        assert type(a) is type(t) and a == t


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_state_dict_structure_and_resume(name, kw):
    arrays = init_arrays()
    full, _ = _run(ardor, name, kw, arrays)
    half, opt = _run(ardor, name, kw, arrays, steps=STEPS // 2)
    _, topt = _run(torch, name, kw, arrays, steps=STEPS // 2)
    sd = opt.state_dict()
    _sd_equal_structure(sd, topt.state_dict())
    sd = copy.deepcopy(sd)  # as if saved to disk
    # continue from the saved point with fresh parameters and a fresh optimizer
    x, y = data()
    params = make_params(ardor, half[-1])
    opt2 = getattr(ardor.optim, name)(params, **kw)
    opt2.load_state_dict(sd)
    X, Y = ardor.tensor(x), ardor.tensor(y)
    for k in range(STEPS // 2, STEPS):
        opt2.zero_grad()
        from _model import loss_fn
        loss_fn(ardor, params, X * (1.0 + 0.05 * k), Y).backward()
        opt2.step()
        for p, ref in zip(params, full[k]):
            np.testing.assert_array_equal(p.detach().numpy(), ref)


def _two_groups(params):
    return [{"params": params[:2]},
            {"params": params[2:], "lr": 0.02, "weight_decay": 0.05}]


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.05)), ("AdamW", dict(lr=0.05)),
    ("RMSprop", dict(lr=0.01, centered=True)), ("Adagrad", dict(lr=0.1)),
    ("NAdam", dict(lr=0.05)), ("RAdam", dict(lr=0.05)), ("Adamax", dict(lr=0.05)),
    ("Adadelta", dict(lr=1.0)), ("ASGD", dict(lr=0.05))])
def test_param_groups(name, kw):
    # float64, so that a wrong per-group option shows at once (float32 trajectories are
    # covered above; with a second group's weight decay a few float32 elements drift to
    # ~2e-5 relative by step 20 from ulp-level differences of the model's gradients)
    arrays = [a.astype(np.float64) for a in init_arrays()]
    ta, oa = _run(ardor, name, kw, arrays, groups=_two_groups)
    tt, ot = _run(torch, name, kw, arrays, groups=_two_groups)
    _assert_traj(ta, tt, 1e-10, 1e-12)
    _sd_equal_structure(oa.state_dict(), ot.state_dict())


LBFGS_CONFIGS = [dict(lr=0.1, max_iter=3), dict(lr=0.5, max_iter=3, history_size=5),
                 dict(lr=1, max_iter=3, line_search_fn="strong_wolfe"),
                 dict(lr=0.1, max_iter=2, line_search_fn="strong_wolfe")]


@pytest.mark.parametrize("kw", LBFGS_CONFIGS)
def test_lbfgs(kw):
    # float64: L-BFGS's line search branches on comparisons of float32 reductions (sums and
    # dots whose summation order differs between numpy and torch by an ulp); in float32 the
    # trajectories part after a few steps, in float64 they agree to ~1e-12 over 20 steps.
    arrays = [a.astype(np.float64) for a in init_arrays()]
    ta, oa = _run(ardor, "LBFGS", kw, arrays, closure_style=True)
    tt, ot = _run(torch, "LBFGS", kw, arrays, closure_style=True)
    _assert_traj(ta, tt, 1e-8, 1e-10)
    _sd_equal_structure(oa.state_dict(), ot.state_dict())
    # float32 stays float32 and agrees with torch over the first steps
    arrays = init_arrays()
    ta, _ = _run(ardor, "LBFGS", kw, arrays, steps=2, closure_style=True)
    tt, _ = _run(torch, "LBFGS", kw, arrays, steps=2, closure_style=True)
    _assert_traj(ta, tt, 1e-4, 1e-5)


def test_lbfgs_resume():
    kw = dict(lr=1, max_iter=3, line_search_fn="strong_wolfe")
    arrays = [a.astype(np.float64) for a in init_arrays()]
    full, _ = _run(ardor, "LBFGS", kw, arrays, steps=6, closure_style=True)
    half, opt = _run(ardor, "LBFGS", kw, arrays, steps=3, closure_style=True)
    sd = copy.deepcopy(opt.state_dict())
    x, y = data()
    X, Y = ardor.tensor(x.astype(np.float64)), ardor.tensor(y.astype(np.float64))
    params = make_params(ardor, half[-1])
    opt2 = ardor.optim.LBFGS(params, **kw)
    opt2.load_state_dict(sd)
    from _model import loss_fn
    for k in range(3, 6):
        def closure():
            opt2.zero_grad()
            loss = loss_fn(ardor, params, X * (1.0 + 0.05 * k), Y)
            loss.backward()
            return loss
        opt2.step(closure)
        for p, ref in zip(params, full[k]):
            np.testing.assert_array_equal(p.detach().numpy(), ref)


def test_tensor_lr_and_zero_grad():
    arrays = init_arrays()
    ta, _ = _run(ardor, "Adam", dict(lr=ardor.tensor(0.05)), arrays, steps=5)
    tt, _ = _run(torch, "Adam", dict(lr=torch.tensor(0.05)), arrays, steps=5)
    _assert_traj(ta, tt, 1e-5, 1e-6)
    p = ardor.tensor(np.ones(3, np.float32), requires_grad=True)
    p.grad = ardor.tensor(np.ones(3, np.float32))
    opt = ardor.optim.SGD([p], lr=0.1)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and not p.grad.numpy().any()
    opt.zero_grad()
    assert p.grad is None
    opt.step()  # no grad: parameters untouched, no state
    assert np.all(p.detach().numpy() == 1) and len(opt.state) == 0


def test_version_counter_and_no_graph():
    p = ardor.tensor(np.ones(3, np.float32), requires_grad=True)
    (p * p).sum().backward()
    v = p._version_counter
    ardor.optim.Adam([p]).step()
    assert p._version_counter > v and p.is_leaf and p.grad_fn is None


def _errors(lib, name, make_params_kw):
    try:
        make_params_kw(lib, getattr(lib.optim, name))
    except Exception as e:  # noqa: BLE001 - compared with torch's below
        return type(e), str(e)
    return None


def _leaf(lib):
    return lib.tensor(np.ones(3, np.float32), requires_grad=True)


BAD = [
    ("SGD", lambda lib, C: C([_leaf(lib)], lr=-0.1)),
    ("SGD", lambda lib, C: C([_leaf(lib)], lr=0.1, momentum=-1)),
    ("SGD", lambda lib, C: C([_leaf(lib)], lr=0.1, nesterov=True)),
    ("SGD", lambda lib, C: C([_leaf(lib)], lr=0.1, weight_decay=-1)),
    ("Adam", lambda lib, C: C([_leaf(lib)], betas=(1.0, 0.999))),
    ("Adam", lambda lib, C: C([_leaf(lib)], betas=(0.9, -0.1))),
    ("Adam", lambda lib, C: C([_leaf(lib)], eps=-1.0)),
    ("AdamW", lambda lib, C: C([_leaf(lib)], lr=-1e-3)),
    ("Adamax", lambda lib, C: C([_leaf(lib)], betas=(0.9, 1.5))),
    ("NAdam", lambda lib, C: C([_leaf(lib)], momentum_decay=-1.0)),
    ("RAdam", lambda lib, C: C([_leaf(lib)], weight_decay=-1.0)),
    ("RMSprop", lambda lib, C: C([_leaf(lib)], alpha=-1.0)),
    ("Adagrad", lambda lib, C: C([_leaf(lib)], lr_decay=-1.0)),
    ("Adadelta", lambda lib, C: C([_leaf(lib)], rho=1.5)),
    ("Rprop", lambda lib, C: C([_leaf(lib)], etas=(1.2, 0.5))),
    ("LBFGS", lambda lib, C: C([{"params": [_leaf(lib)]}, {"params": [_leaf(lib)]}])),
    ("SGD", lambda lib, C: C([], lr=0.1)),
    ("SGD", lambda lib, C: C(_leaf(lib), lr=0.1)),
    ("SGD", lambda lib, C: C([{"params": {_leaf(lib)}}], lr=0.1)),
    ("SGD", lambda lib, C: C([_leaf(lib) * 2], lr=0.1)),
    ("SGD", lambda lib, C: C([1.0], lr=0.1)),
    ("SGD", lambda lib, C: (lambda p: C([{"params": [p]}, {"params": [p]}], lr=0.1))(_leaf(lib))),
    ("SGD", lambda lib, C: C([_leaf(lib)], lr=0.1).add_param_group([_leaf(lib)])),
    ("Adam", lambda lib, C: C([_leaf(lib)], lr=lib.tensor([0.1, 0.2]))),
]


@pytest.mark.parametrize("k", range(len(BAD)))
def test_errors_like_torch(k):
    name, fn = BAD[k]
    et = _errors(torch, name, fn)
    ea = _errors(ardor, name, fn)
    assert et is not None and ea is not None, (et, ea)
    assert ea[0] is et[0]
    if "ardor" not in ea[1] and "torch" not in et[1]:
        assert ea[1] == et[1]


def test_add_param_group_and_load_errors():
    p, q = _leaf(ardor), _leaf(ardor)
    opt = ardor.optim.Adam([p], lr=0.1)
    opt.add_param_group({"params": q, "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    with pytest.raises(ValueError, match="different number of parameter groups"):
        ardor.optim.Adam([_leaf(ardor)]).load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="doesn't match the size"):
        ardor.optim.Adam([{"params": [_leaf(ardor), _leaf(ardor)]}, {"params": [q]}]) \
            .load_state_dict(opt.state_dict())


def test_hooks_and_repr():
    calls = []
    p = _leaf(ardor)
    p.grad = ardor.tensor(np.ones(3, np.float32))
    opt = ardor.optim.SGD([p], lr=0.1)
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    g = ardor.optim.optimizer.register_optimizer_step_pre_hook(lambda o, a, k: calls.append("g"))
    opt.step()
    assert calls == ["g", "pre", "post"]
    h1.remove()
    g.remove()
    opt.step()
    assert calls == ["g", "pre", "post", "post"]
    tp = torch.tensor(np.ones(3, np.float32), requires_grad=True)
    assert repr(opt) == repr(torch.optim.SGD([tp], lr=0.1))


def test_load_state_dict_casts_to_param_dtype():
    p = _leaf(ardor)
    p.grad = ardor.tensor(np.ones(3, np.float32))
    opt = ardor.optim.Adam([p])
    opt.step()
    q = ardor.tensor(np.ones(3), requires_grad=True)  # float64
    opt2 = ardor.optim.Adam([q])
    opt2.load_state_dict(opt.state_dict())
    st = opt2.state[q]
    assert st["exp_avg"].dtype == ardor.float64 and st["step"].dtype == ardor.float32
    tp = torch.tensor(np.ones(3, np.float32), requires_grad=True)
    tp.grad = torch.ones(3)
    to = torch.optim.Adam([tp])
    to.step()
    tq = torch.tensor(np.ones(3), requires_grad=True)
    to2 = torch.optim.Adam([tq])
    to2.load_state_dict(to.state_dict())
    assert to2.state[tq]["exp_avg"].dtype == torch.float64


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.01, weight_decay=0.1)),
                                     ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                     ("RMSprop", dict(lr=0.01, centered=True)),
                                     ("Rprop", dict(lr=0.01))])
def test_odd_layouts_and_large_params(name, kw):
    """Non-contiguous, 0-d, empty and multi-chunk (threaded) parameters update like torch's."""
    rng = np.random.default_rng(5)
    base = rng.standard_normal((4, 6)).astype(np.float32)
    big = rng.standard_normal((1100, 1000)).astype(np.float32)  # > 1 M elements: threaded
    arrays = [base.T, np.float32(0.5) * np.ones((), np.float32), np.zeros((0, 3), np.float32),
              big]
    grads = [[rng.standard_normal(a.shape).astype(np.float32) for a in arrays]
             for _ in range(3)]
    res = []
    for lib in (torch, ardor):
        ps = []
        for a in arrays:
            if a.ndim == 2 and a.shape == (6, 4):  # a transposed (non-contiguous) leaf
                p = lib.tensor(base).T.detach().requires_grad_(True)
            else:
                p = lib.tensor(a, requires_grad=True)
            ps.append(p)
        opt = getattr(lib.optim, name)(ps, **kw)
        for gs in grads:
            for p, g in zip(ps, gs):
                p.grad = lib.tensor(g)
            opt.step()
        if lib is ardor:
            assert not ps[0]._data.flags.c_contiguous
        res.append([p.detach().numpy().copy() for p in ps])
    for a, t in zip(*res[::-1]):
        np.testing.assert_allclose(a, t, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.1, amsgrad=True)),
                                     ("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("RMSprop", dict(lr=0.01, centered=True)),
                                     ("Adagrad", {}), ("NAdam", {}), ("RAdam", {}),
                                     ("Adamax", {}), ("Adadelta", {}), ("ASGD", {}),
                                     ("Rprop", {})])
def test_complex_params(name, kw):
    """Complex parameters are updated as (real, imag) pairs, like torch's view_as_real."""
    rng = np.random.default_rng(3)
    shape = (3, 4)
    p0 = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    grads = [(rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
             .astype(np.complex64) for _ in range(5)]
    out = []
    for lib in (torch, ardor):
        p = lib.tensor(p0.copy(), requires_grad=True)
        opt = getattr(lib.optim, name)([p], **kw)
        for g in grads:
            p.grad = lib.tensor(g)
            opt.step()
        out.append(p.detach().numpy().copy())
    assert out[1].dtype == np.complex64
    np.testing.assert_allclose(out[1], out[0], rtol=1e-5, atol=1e-6)


def test_user_defined_optimizer_subclass():
    """A user's Optimizer subclass (torch's documented pattern) works with hooks and
    schedulers."""
    res = []
    for lib in (torch, ardor):
        class MySGD(lib.optim.Optimizer):
            def __init__(self, params, lr=0.1):
                super().__init__(params, dict(lr=lr))

            @lib.no_grad()
            def step(self, closure=None):
                for g in self.param_groups:
                    for q in g["params"]:
                        if q.grad is not None:
                            q.add_(q.grad, alpha=-g["lr"])

        p = lib.tensor(np.ones(3, np.float32), requires_grad=True)
        opt = MySGD([p])
        calls = []
        opt.register_step_post_hook(lambda o, a, k: calls.append(1))
        sched = lib.optim.lr_scheduler.StepLR(opt, 2, gamma=0.5)
        for _ in range(5):
            p.grad = lib.tensor(np.full(3, 2.0, np.float32))
            opt.step()
            sched.step()
        res.append((p.detach().numpy().copy(), len(calls), sched.get_last_lr()))
    np.testing.assert_allclose(res[1][0], res[0][0], rtol=1e-6)
    assert res[1][1:] == res[0][1:]


def test_sparse_adam_refuses_dense_grads_like_torch():
    msgs = []
    for lib in (torch, ardor):
        p = lib.tensor(np.ones(3, np.float32), requires_grad=True)
        with pytest.raises(ValueError) as e:
            lib.optim.SparseAdam([p], lr=0.0)
        msgs.append(str(e.value))
        opt = lib.optim.SparseAdam([p])
        p.grad = lib.tensor(np.ones(3, np.float32))
        with pytest.raises(RuntimeError) as e:
            opt.step()
        msgs.append(str(e.value))
        msgs.append(list(opt.state_dict()["param_groups"][0].keys()))
    assert msgs[:3] == msgs[3:]
