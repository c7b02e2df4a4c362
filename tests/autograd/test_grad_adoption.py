"""Leaf gradients that arrive as views (a transpose's backward) are adopted without a copy
only when nothing else can see their storage; values always match torch."""
from __future__ import annotations

import numpy as np
import torch

import ardor
from tests.oracle import check


def _pair(arr):
    return ardor.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)


def test_linear_weight_grad_is_contiguous_and_matches_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    wa, wt = _pair(rng.standard_normal((3, 4)).astype(np.float32))
    ba, bt = _pair(rng.standard_normal(3).astype(np.float32))
    g = rng.standard_normal((5, 3)).astype(np.float32)
    ardor.nn.functional.linear(ardor.tensor(x), wa, ba).backward(ardor.tensor(g))
    torch.nn.functional.linear(torch.tensor(x), wt, bt).backward(torch.tensor(g))
    check(wa.grad, wt.grad)
    check(ba.grad, bt.grad)
    assert wa.grad.is_contiguous() and wa.grad.numpy().flags.c_contiguous
    # a second backward accumulates in place into the adopted gradient
    ardor.nn.functional.linear(ardor.tensor(x), wa, ba).backward(ardor.tensor(g))
    torch.nn.functional.linear(torch.tensor(x), wt, bt).backward(torch.tensor(g))
    check(wa.grad, wt.grad)


def test_gradient_seen_by_a_hook_is_not_adopted():
    rng = np.random.default_rng(1)
    wa, wt = _pair(rng.standard_normal((3, 4)))
    seen = []
    za = wa.t()
    za.register_hook(lambda g: seen.append(g))
    (za * 2.0).sum().backward()
    zt = wt.t()
    (zt * 2.0).sum().backward()
    check(wa.grad, wt.grad)
    assert not np.shares_memory(wa.grad.numpy(), seen[0].numpy())


def test_two_leaves_never_share_a_gradient():
    rng = np.random.default_rng(2)
    a, at = _pair(rng.standard_normal((2, 3)))
    b, bt = _pair(rng.standard_normal((2, 3)))
    (a.t() + b.t()).sum().backward()
    (at.t() + bt.t()).sum().backward()
    check(a.grad, at.grad)
    check(b.grad, bt.grad)
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.add_(1.0)
    check(b.grad, bt.grad)
