"""Helpers for the shape / indexing / in-place-view tests: run one function on ardor and on
torch over the same numpy inputs and compare values, dtypes, gradients and view-ness."""
from __future__ import annotations

import numpy as np
import torch

import ardor
from oracle import check


def _leaf(lib, arr, grad):
    t = lib.tensor(arr)
    if grad and arr.dtype.kind in "fc":
        t.requires_grad_(True)
    return t


def _outs(r):
    if isinstance(r, (tuple, list)):
        out = []
        for x in r:
            out += _outs(x)
        return out
    return [r] if isinstance(r, (ardor.Tensor, torch.Tensor)) else []


def run(fn, *inputs, grad=True, nc=(), rtol=1e-6, atol=1e-7, view=True, seed=1):
    """Run ``fn(lib, *inputs)`` on ardor and torch; numpy inputs become tensors (float ones
    leaves requiring grad when ``grad``; indices in ``nc`` are passed as transposed,
    non-contiguous views). Compares outputs, then gradients of a random weighting of the
    float outputs, and (``view``) that each output is a view exactly when torch's is."""
    res = []
    for lib in (ardor, torch):
        leaves, ins = [], []
        for i, x in enumerate(inputs):
            if isinstance(x, np.ndarray):
                arr = np.ascontiguousarray(np.swapaxes(x, -1, -2)) if i in nc else x
                t = _leaf(lib, arr, grad)
                leaves.append(t)
                ins.append(t.transpose(-1, -2) if i in nc else t)
            else:
                ins.append(x)
        res.append((fn(lib, *ins), leaves))
    (ra, la), (rt, lt) = res
    check(ra, rt, rtol=rtol, atol=atol)
    oa, ot = _outs(ra), _outs(rt)
    if view:
        for x, y in zip(oa, ot):
            assert (x._base is not None) == (y._base is not None), \
                f"view-ness differs: ardor {x._base is not None}, torch {y._base is not None}"
    if grad:
        rng = np.random.default_rng(seed)
        ws = [rng.standard_normal(tuple(y.shape)) for y in ot]
        la_loss, lt_loss = None, None
        for x, y, w in zip(oa, ot, ws):
            if not y.requires_grad:
                assert not x.requires_grad
                continue
            assert x.requires_grad
            la_part = (x * ardor.tensor(w.astype(np.float64)).to(x.dtype)).sum()
            lt_part = (y * torch.tensor(w).to(y.dtype)).sum()
            la_loss = la_part if la_loss is None else la_loss + la_part
            lt_loss = lt_part if lt_loss is None else lt_loss + lt_part
        if lt_loss is not None:
            lt_loss.backward()
            la_loss.backward()
            for a, t in zip(la, lt):
                if t.grad is None:
                    assert a.grad is None, "ardor has a grad where torch has None"
                else:
                    assert a.grad is not None, "ardor grad is None where torch has one"
                    check(a.grad, t.grad, rtol=max(rtol, 1e-5), atol=max(atol, 1e-6))
    return ra, rt


def raises_like(fn, *inputs):
    """Both libraries raise, with the same exception type (returns the two exceptions)."""
    errs = []
    for lib in (ardor, torch):
        ins = [lib.tensor(x) if isinstance(x, np.ndarray) else x for x in inputs]
        try:
            fn(lib, *ins)
        except Exception as e:  # noqa: BLE001 - compared below
            errs.append(e)
        else:
            errs.append(None)
    ea, et = errs
    assert et is not None, "torch did not raise"
    assert ea is not None, f"ardor did not raise (torch: {type(et).__name__}: {et})"
    assert type(ea) is type(et) or isinstance(ea, type(et)), \
        f"ardor raised {type(ea).__name__}: {ea}; torch {type(et).__name__}: {et}"
    return ea, et


def writes_through(fn, *inputs):
    """Apply ``fn`` without grad, add 1 in place to every output; the inputs must change (or
    the in-place op fail) exactly as torch's do."""
    states = []
    for lib in (ardor, torch):
        ins = [lib.tensor(x) if isinstance(x, np.ndarray) else x for x in inputs]
        outs = _outs(fn(lib, *ins))
        err = None
        try:
            for o in outs:
                o.add_(1)
        except RuntimeError as e:
            err = type(e)
        states.append(([np.array(x.tolist()) for x in ins if isinstance(x, lib.Tensor)], err))
    (ia, ea), (it, et) = states
    assert ea == et, (ea, et)
    for x, y in zip(ia, it):
        np.testing.assert_allclose(x, y)
