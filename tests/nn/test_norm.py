"""Normalization vs torch 2.13: F.batch_norm/layer_norm/group_norm/instance_norm/rms_norm/
local_response_norm and the BatchNorm*/LayerNorm/GroupNorm/InstanceNorm*/RMSNorm modules
(running stats over several train steps, momentum=None, eval mode, errors)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ardor
import ardor.nn.functional as AF

RNG = np.random.default_rng(3)


def both(fa, ft, arrays, tol=1e-10, **kw):
    """Run fa / ft on the same arrays; compare output and grads wrt all float inputs."""
    A = [None if a is None else ardor.tensor(a, requires_grad=True) for a in arrays]
    T = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    ya, yt = fa(*A, **kw), ft(*T, **kw)
    assert tuple(ya.shape) == tuple(yt.shape)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    w = RNG.standard_normal(tuple(yt.shape)).astype(arrays[0].dtype)
    (ya * ardor.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    for a, t in zip(A, T):
        if a is not None:
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape,ns,affine", [((3, 4, 5), (4, 5), True), ((3, 5), (5,), False),
                                             ((2, 3, 4), [4], True)])
def test_layer_norm(shape, ns, affine):
    ns_t = tuple(ns)
    w = RNG.standard_normal(ns_t) if affine else None
    b = RNG.standard_normal(ns_t) if affine else None
    both(lambda x, w, b: AF.layer_norm(x, ns, w, b), lambda x, w, b: TF.layer_norm(x, ns, w, b),
         [RNG.standard_normal(shape), w, b])


def test_layer_norm_float32_and_module():
    x = RNG.standard_normal((4, 6, 8)).astype(np.float32)
    for kw in (dict(), dict(bias=False), dict(elementwise_affine=False)):
        am, tm = ardor.nn.LayerNorm(8, eps=1e-3, **kw), torch.nn.LayerNorm(8, eps=1e-3, **kw)
        assert repr(am) == repr(tm)
        both(am, tm, [x], tol=1e-5)


@pytest.mark.parametrize("shape,g", [((3, 6, 5, 2), 3), ((2, 4), 2), ((2, 6, 3), 6)])
def test_group_norm(shape, g):
    c = shape[1]
    both(lambda x, w, b: AF.group_norm(x, g, w, b, 1e-4),
         lambda x, w, b: TF.group_norm(x, g, w, b, 1e-4),
         [RNG.standard_normal(shape), RNG.standard_normal(c), RNG.standard_normal(c)])
    am, tm = ardor.nn.GroupNorm(g, c), torch.nn.GroupNorm(g, c)
    assert repr(am) == repr(tm)


def test_rms_norm_and_lrn():
    both(lambda x, w: AF.rms_norm(x, (5,), w), lambda x, w: TF.rms_norm(x, (5,), w),
         [RNG.standard_normal((3, 4, 5)), RNG.standard_normal(5)])
    both(lambda x, w: AF.rms_norm(x, (4, 5), w, 1e-3), lambda x, w: TF.rms_norm(x, (4, 5), w, 1e-3),
         [RNG.standard_normal((3, 4, 5)), RNG.standard_normal((4, 5))])
    x32 = RNG.standard_normal((3, 6)).astype(np.float32)
    am, tm = ardor.nn.RMSNorm(6), torch.nn.RMSNorm(6)
    assert repr(am) == repr(tm)
    both(am, tm, [x32], tol=1e-5)
    for shape in ((2, 6, 4, 3), (2, 5, 7)):
        am, tm = ardor.nn.LocalResponseNorm(3), torch.nn.LocalResponseNorm(3)
        assert repr(am) == repr(tm)
        both(am, tm, [RNG.standard_normal(shape)])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 6), (2, 3, 4, 5)])
def test_batch_norm_functional(training, shape):
    rm, rv = RNG.standard_normal(3), RNG.random(3) + 0.5
    arm, arv, trm, trv = ardor.tensor(rm), ardor.tensor(rv), torch.tensor(rm), torch.tensor(rv)
    both(lambda x, w, b: AF.batch_norm(x, arm, arv, w, b, training, 0.3),
         lambda x, w, b: TF.batch_norm(x, trm, trv, w, b, training, 0.3),
         [RNG.standard_normal(shape), RNG.standard_normal(3), RNG.standard_normal(3)])
    np.testing.assert_allclose(arm.numpy(), trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(arv.numpy(), trv.numpy(), rtol=1e-12)


def _copy(am, tm):
    am.load_state_dict({k: ardor.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 4)), ("BatchNorm1d", (5, 4, 3)),
                                       ("BatchNorm2d", (3, 4, 5, 2)),
                                       ("BatchNorm3d", (2, 4, 2, 3, 2))])
@pytest.mark.parametrize("kw", [dict(), dict(momentum=None), dict(affine=False, bias=False),
                                dict(track_running_stats=False), dict(bias=False, eps=1e-3)])
def test_batchnorm_modules_train_steps_then_eval(cls, shape, kw):
    am, tm = getattr(ardor.nn, cls)(4, **kw), getattr(torch.nn, cls)(4, **kw)
    assert repr(am) == repr(tm)
    assert list(am.state_dict()) == list(tm.state_dict())
    for step in range(3):
        x = (RNG.standard_normal(shape) * (step + 1) + step).astype(np.float32)
        both(am, tm, [x], tol=1e-4)
    for (na, ba), (nt, bt) in zip(am.named_buffers(), tm.named_buffers()):
        assert na == nt
        np.testing.assert_allclose(ba.numpy(), bt.numpy(), rtol=1e-5, atol=1e-6)
    am.eval()
    tm.eval()
    both(am, tm, [RNG.standard_normal(shape).astype(np.float32)], tol=1e-4)


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 4, 6)), ("InstanceNorm1d", (4, 6)),
                                       ("InstanceNorm2d", (2, 4, 3, 5))])
@pytest.mark.parametrize("kw", [dict(), dict(affine=True),
                                dict(track_running_stats=True, momentum=0.2)])
def test_instancenorm_modules(cls, shape, kw):
    am = getattr(ardor.nn, cls)(4, dtype=ardor.float64, **kw)
    tm = getattr(torch.nn, cls)(4, dtype=torch.float64, **kw)
    assert repr(am) == repr(tm)
    _copy(am, tm)
    for _ in range(2):
        both(am, tm, [RNG.standard_normal(shape)], tol=1e-9)
    for ba, bt in zip(am.buffers(), tm.buffers()):
        np.testing.assert_allclose(ba.numpy(), bt.numpy(), rtol=1e-9)
    am.eval()
    tm.eval()
    both(am, tm, [RNG.standard_normal(shape)], tol=1e-9)


@pytest.mark.parametrize("call", [
    lambda F, L: F.batch_norm(L.randn(3, 4), L.zeros(5), L.ones(5)),
    lambda F, L: F.batch_norm(L.randn(1, 4), None, None, training=True),
    lambda F, L: F.layer_norm(L.randn(3, 4), (5,)),
    lambda F, L: F.layer_norm(L.randn(3, 4), 4),
    lambda F, L: F.group_norm(L.randn(3, 4), 3),
    lambda F, L: L.nn.BatchNorm2d(3)(L.randn(2, 3, 5)),
    lambda F, L: L.nn.GroupNorm(3, 4),
    lambda F, L: L.nn.InstanceNorm1d(3, affine=True)(L.randn(2, 4, 5)),
])
def test_norm_errors_match_torch(call):
    with pytest.raises(Exception) as et:
        call(TF, torch)
    with pytest.raises(type(et.value)) as ea:
        call(AF, ardor)
    assert str(ea.value).replace("ardor", "torch") == str(et.value)


@pytest.mark.parametrize("name,xs,kw", [("LazyBatchNorm2d", (2, 3, 4, 4), {}),
                                        ("LazyBatchNorm1d", (5, 3), dict(affine=False)),
                                        ("LazyBatchNorm1d", (5, 3), dict(bias=False)),
                                        ("LazyInstanceNorm1d", (2, 3, 4), dict(affine=True))])
def test_lazy_norms_materialize(name, xs, kw):
    am, tm = getattr(ardor.nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(am) == repr(tm)
    x = RNG.standard_normal(xs).astype(np.float32)
    ya, yt = am(ardor.tensor(x)), tm(torch.tensor(x))
    assert type(am).__name__ == type(tm).__name__ and repr(am) == repr(tm)
    np.testing.assert_allclose(ya.detach().numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert [(k, tuple(v.shape)) for k, v in am.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    for ba, bt in zip(am.buffers(), tm.buffers()):
        np.testing.assert_allclose(ba.numpy(), bt.numpy(), rtol=1e-5, atol=1e-6)
