"""Engine guarantees: no recursion, linear time, saved tensors freed, no leaks or cycles,
gradient stealing without aliasing."""
import gc
import time
import weakref

import numpy as np
import pytest
import torch

import ardor
from ardor.autograd.graph import Node


def _chain(n):
    x = ardor.tensor(np.ones(3), requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0
    return x, y


def _time_chain(n, refs=None):
    x, y = _chain(n)
    loss = y.sum()
    if refs is not None:
        refs.append(weakref.ref(loss.grad_fn))
    t0 = time.perf_counter()
    loss.backward()
    dt = time.perf_counter() - t0
    return x, dt


def test_100k_chain_backward_without_recursion_in_linear_time():
    _time_chain(1000)  # warm up
    _, t_small = min((_time_chain(10_000) for _ in range(2)), key=lambda r: r[1])
    refs = []
    x, t_big = _time_chain(100_000, refs)
    np.testing.assert_allclose(x.grad.numpy(), np.ones(3))
    # the 100k-node graph was released when _time_chain returned: no C-stack overflow in
    # the deallocation chain, and nothing keeps it alive
    assert refs[0]() is None
    if t_big >= 25 * t_small:  # a load spike on a shared machine: measure once more
        t_big = min(t_big, _time_chain(100_000)[1])
    # 10x the nodes: roughly 10x the time (loose bound: no quadratic blow-up)
    assert t_big < 25 * t_small, (t_small, t_big)


def test_saved_tensors_freed_after_backward_unless_retain_graph():
    for retain in (False, True):
        x = ardor.tensor(np.ones(4), requires_grad=True)
        a = x * 2
        b = a * a  # saves a
        ref = weakref.ref(a)
        node = b.grad_fn
        del a
        assert ref() is not None  # kept alive by the graph
        b.sum().backward(retain_graph=retain)
        if retain:
            assert ref() is not None
            b.sum().backward()
        assert ref() is None
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            node.saved


def test_saved_output_freed():
    x = ardor.tensor(np.ones(4), requires_grad=True)
    y = x.exp()  # saves its output
    node = y.grad_fn
    y.sum().backward()
    assert node._saved_out is None


class _Net:
    def __init__(self, lib, rng):
        self.w1 = lib.tensor(rng.standard_normal((8, 16)) * 0.1, requires_grad=True)
        self.w2 = lib.tensor(rng.standard_normal((16, 1)) * 0.1, requires_grad=True)
        self.params = [self.w1, self.w2]

    def step(self, lib, x, y):
        h = (x @ self.w1).tanh()
        pred = h @ self.w2
        loss = ((pred - y) ** 2).mean()
        for p in self.params:
            p.grad = None
        loss.backward()
        with lib.no_grad():
            for p in self.params:
                p -= 0.01 * p.grad
        return loss


def test_training_loop_has_no_leaks_or_cycles():
    rng = np.random.default_rng(0)
    net = _Net(ardor, rng)
    x = ardor.tensor(rng.standard_normal((32, 8)))
    y = ardor.tensor(rng.standard_normal((32, 1)))
    gc.collect()
    gc.disable()
    try:
        prev_refs = None
        counts = []
        for i in range(1000):
            loss = net.step(ardor, x, y)
            refs = (weakref.ref(loss), weakref.ref(loss.grad_fn))
            if prev_refs is not None:
                # everything of iteration i-1 is gone by refcounting alone (gc is off)
                assert all(r() is None for r in prev_refs), i
            prev_refs = refs
            del loss
            if i in (100, 999):
                counts.append(len(gc.get_objects()))
        assert counts[1] <= counts[0] + 50, counts
        assert gc.collect() == 0  # no reference cycles were created
    finally:
        gc.enable()


def test_retain_grad_and_hooks_create_no_cycles():
    gc.collect()
    gc.disable()
    try:
        x = ardor.tensor(np.ones(3), requires_grad=True)
        for _ in range(50):
            y = x * 2
            y.retain_grad()
            z = (y * y).sum()
            z.backward()
            ref = weakref.ref(y)
            del y, z
            assert ref() is None
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_custom_function_saving_its_output_creates_no_cycle():
    class Exp(ardor.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y
    gc.collect()
    gc.disable()
    try:
        x = ardor.tensor(np.ones(3), requires_grad=True)
        y = Exp.apply(x)
        ref = weakref.ref(y.grad_fn)
        y.sum().backward(retain_graph=True)
        np.testing.assert_allclose(x.grad.numpy(), np.e * np.ones(3))
        del y
        assert ref() is None
    finally:
        gc.enable()


def test_first_gradient_is_stolen_not_copied():
    produced = {}

    class Twice(ardor.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            r = g * 2
            produced["id"] = id(r._data)
            return r
    x = ardor.tensor(np.ones(5), requires_grad=True)
    Twice.apply(x).sum().backward()
    assert id(x.grad._data) == produced["id"]


def test_stealing_never_aliases():
    # one gradient object flowing to two leaves (add), to a leaf and a retained non-leaf,
    # or held by the user, must be copied
    a = ardor.tensor(np.ones(3), requires_grad=True)
    b = ardor.tensor(np.ones(3), requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad._data, b.grad._data)
    y = a.view(3)
    y.retain_grad()
    a.grad = None
    (y * 1).backward(ardor.ones(3))
    assert not np.shares_memory(a.grad._data, y.grad._data)
    go = ardor.ones(3)
    c = ardor.tensor(np.ones(3), requires_grad=True)
    c.backward(go)
    assert not np.shares_memory(c.grad._data, go._data)
    kept = []
    d = ardor.tensor(np.ones(3), requires_grad=True)
    d.register_hook(lambda g: kept.append(g))
    (d * 2).sum().backward()
    assert not np.shares_memory(d.grad._data, kept[0]._data)


def test_execution_order_newest_first_like_torch():
    def sc(lib):
        order = []
        x = lib.tensor(np.ones(2), requires_grad=True)
        a = x * 2
        b = x * 3
        c = a * b
        for name, t in (("a", a), ("b", b), ("c", c)):
            t.grad_fn.register_prehook(lambda g, n=name: order.append(n))
        c.sum().backward()
        return order
    assert sc(ardor) == sc(torch)


def test_node_creation_is_cheap():
    # the dispatch hot path builds one Node per recorded op
    t0 = time.perf_counter()
    for _ in range(20000):
        Node()
    per = (time.perf_counter() - t0) / 20000
    assert per < 5e-6  # loose: a few hundred ns expected; guards against heavy __init__
