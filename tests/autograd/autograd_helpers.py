"""Run one scenario on torch and on ardor and compare what comes out.

A scenario is ``fn(lib)`` using only the public API of ``lib`` (torch or ardor). Its result
is normalised (tensors -> (shape, dtype name, rounded values, requires_grad), autograd nodes ->
class names, exceptions -> (type name, message with the library name removed)) so that the
two can be compared with ``==``.
"""
from __future__ import annotations

import numpy as np
import torch

import ardor

LIBS = (torch, ardor)


def norm(x, decimals: int = 5):
    """A comparable, library-independent form of a scenario's result."""
    if isinstance(x, (torch.Tensor, ardor.Tensor)):
        arr = x.detach().numpy() if isinstance(x, ardor.Tensor) else x.detach().numpy()
        arr = np.asarray(arr)
        vals = np.round(arr.astype(np.float64), decimals) if arr.dtype.kind in "fc" else arr
        return ("T", tuple(arr.shape), str(x.dtype).split(".")[-1], vals.tolist(),
                bool(x.requires_grad))
    if isinstance(x, BaseException):
        return ("E", type(x).__name__, str(x).replace("torch", "LIB").replace("ardor", "LIB"))
    if isinstance(x, (list, tuple)):
        return tuple(norm(v, decimals) for v in x)
    if isinstance(x, dict):
        return {k: norm(v, decimals) for k, v in x.items()}
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, float):
        return round(x, decimals)
    if type(x).__name__.endswith(("Backward0", "Backward1", "Backward", "AccumulateGrad")) or \
            hasattr(x, "next_functions"):
        return ("N", node_name(x))
    return repr(type(x))


def node_name(n) -> str | None:
    return None if n is None else type(n).__name__


def graph_names(t, depth: int = 6):
    """The grad_fn graph below ``t`` as nested (name, [children]) tuples."""
    def walk(n, d):
        if n is None:
            return None
        kids = [] if d == 0 else [(walk(c, d - 1), nr) for c, nr in n.next_functions]
        return (node_name(n), tuple(kids))
    return walk(t.grad_fn, depth)


def catch(fn):
    """fn()'s result, or the exception it raised."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - compared against torch's
        return e


def same(scenario, decimals: int = 5):
    """Assert that ``scenario(torch)`` and ``scenario(ardor)`` agree; return ardor's."""
    expected = norm(scenario(torch), decimals)
    got = norm(scenario(ardor), decimals)
    assert got == expected, f"\nardor: {got}\ntorch: {expected}"
    return got


def rng(seed: int = 0):
    return np.random.default_rng(seed)


def ver(t) -> int:
    """The version counter's value (torch: an int; ardor keeps a shared one-item list)."""
    v = t._version
    return v if isinstance(v, int) else v[0]
