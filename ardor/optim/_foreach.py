"""The multi-tensor runner every elementwise optimizer uses.

An optimizer step is a short chain of elementwise array operations per parameter (Adam: about
eleven numpy ufunc calls).  Over a whole model this is memory-bound, so instead of running each
ufunc over a whole (possibly multi-megabyte) tensor we cut the contiguous tensors of a step into
cache-sized chunks and run the whole chain on one chunk before moving to the next: the
intermediates stay in L2 cache and the scratch buffers are reused (no allocation per step).
Big steps are split across a few threads (numpy releases the GIL inside ufunc loops); every
chunk is computed by the same formula whichever thread runs it, so results are deterministic.

A kernel is ``kernel(arrays, scalars, scratch)``: ``arrays`` are same-shaped views of one
chunk (parameter, gradient, state...) updated in place, ``scalars`` the per-parameter tuple
given to ``run``, ``scratch`` a list of ``nscratch`` buffers shaped like the chunk.
"""
from __future__ import annotations

import os
import threading

import numpy as np

# 64 Ki elements: a float32 chunk is 256 KiB, so the handful of arrays one kernel touches
# stays in L2; measured fastest among 16 Ki..128 Ki for Adam on ResNet-18 shapes.
CHUNK = 1 << 16
# Below this many elements a step is too short for threads to pay for themselves.
PARALLEL_MIN = 1 << 20

_pool = None
_pool_pid = None
_lock = threading.Lock()
_tls = threading.local()


_threads_override = None


def set_num_threads(n: int | None) -> None:
    """Fix the number of threads of large optimizer steps (None: the default)."""
    global _threads_override
    _threads_override = None if n is None else max(1, int(n))


def num_threads() -> int:
    """Threads used for large optimizer steps (at most 4, at most the CPU count)."""
    if _threads_override is not None:
        return _threads_override
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(4, n))


def _get_pool(n: int):
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():  # a forked child needs its own pool
            from concurrent.futures import ThreadPoolExecutor
            _pool = ThreadPoolExecutor(n, thread_name_prefix="ardor-optim")
            _pool_pid = os.getpid()
    return _pool


def _real(a: np.ndarray) -> np.ndarray:
    """Complex arrays are updated as interleaved real pairs (torch's view_as_real)."""
    if a.dtype.kind == "c":
        return a.view(a.real.dtype)
    return a


def _scratch(nscratch: int, dtype, n: int) -> list:
    """Per-thread reusable flat scratch buffers of at least ``n`` elements."""
    cache = getattr(_tls, "bufs", None)
    if cache is None:
        cache = _tls.bufs = {}
    key = np.dtype(dtype)
    bufs = cache.get(key)
    if bufs is None or len(bufs) < nscratch or bufs[0].size < n:
        bufs = [np.empty(max(n, CHUNK), key) for _ in range(max(nscratch, 1))]
        cache[key] = bufs
    return bufs


def _run_items(kernel, items, nscratch: int) -> None:
    for arrays, scalars in items:
        a0 = arrays[0]
        if a0.ndim == 1 and a0.size <= CHUNK:
            n = a0.size
            scratch = [b[:n] for b in _scratch(nscratch, a0.dtype, n)[:nscratch]]
        else:  # an unchunked (non-contiguous) tensor: fresh scratch of its shape
            scratch = [np.empty_like(a0) for _ in range(nscratch)]
        kernel(arrays, scalars, scratch)


def run(kernel, per_param: list, nscratch: int) -> None:
    """Apply ``kernel`` to every parameter's arrays, chunked (and threaded when large).

    ``per_param`` is a list of ``(arrays, scalars)``: ``arrays`` a tuple of same-shaped
    backend arrays of one parameter (the first is the parameter), ``scalars`` a tuple of
    Python numbers passed to the kernel unchanged. Inside :class:`intercepted` the call
    goes to its hook instead (ardor.jit records or replays optimizer steps that way).
    """
    hook = getattr(_tls, "hook", None)
    if hook is not None:
        return hook(kernel, per_param, nscratch)
    run_arrays(kernel, per_param, nscratch)


class intercepted:
    """``with intercepted(hook):`` this thread's ``run(kernel, per_param, nscratch)`` calls
    ``hook`` with the same arguments."""

    def __init__(self, hook):
        self.hook = hook

    def __enter__(self):
        self.prev = getattr(_tls, "hook", None)
        _tls.hook = self.hook

    def __exit__(self, *exc):
        _tls.hook = self.prev


def run_arrays(kernel, per_param: list, nscratch: int) -> None:
    """:func:`run` on the arrays themselves (never intercepted)."""
    items = []
    total = 0
    for arrays, scalars in per_param:
        arrays = tuple(_real(a) for a in arrays)
        a0 = arrays[0]
        n = a0.size
        if n == 0:
            continue
        total += n
        if all(a.flags.c_contiguous for a in arrays):
            flat = tuple(a.reshape(-1) for a in arrays)
            if n <= CHUNK:
                items.append((flat, scalars))
            else:
                for s in range(0, n, CHUNK):
                    items.append((tuple(f[s:s + CHUNK] for f in flat), scalars))
        else:
            items.append((arrays, scalars))
    if not items:
        return
    nt = num_threads()
    if nt > 1 and total >= PARALLEL_MIN and len(items) > 1:
        pool = _get_pool(nt)
        # Round-robin over equal-sized chunks balances the threads' work.
        futures = [pool.submit(_run_items, kernel, items[i::nt], nscratch) for i in range(nt)]
        for f in futures:
            f.result()
    else:
        _run_items(kernel, items, nscratch)


def eff_grad(p: np.ndarray, g: np.ndarray, out: np.ndarray, maximize: bool,
             weight_decay: float) -> np.ndarray:
    """torch's ``grad = -grad if maximize``, then ``grad = grad.add(param, alpha=wd)``,
    computed out of place into ``out`` (the user's ``.grad`` is never modified)."""
    if weight_decay != 0:
        np.multiply(p, weight_decay, out=out)
        if maximize:
            out -= g  # wd*p - g is bit-identical to (-g) + wd*p
        else:
            out += g
        return out
    if maximize:
        return np.negative(g, out=out)
    return g


def lerp_(a: np.ndarray, b: np.ndarray, w: float, tmp: np.ndarray) -> None:
    """torch's ``a.lerp_(b, w)``: ``a + w*(b - a)`` for w < 0.5, else ``b - (b - a)*(1 - w)``."""
    np.subtract(b, a, out=tmp)
    if w < 0.5:
        tmp *= w
        a += tmp
    else:
        tmp *= 1 - w
        np.subtract(b, tmp, out=a)


def addcmul_(a: np.ndarray, x: np.ndarray, y: np.ndarray, value: float,
             tmp: np.ndarray) -> None:
    """torch's ``a.addcmul_(x, y, value=v)``: ``a + v*x*y``."""
    if value == 1:
        np.multiply(x, y, out=tmp)
    else:
        np.multiply(x, value, out=tmp)
        tmp *= y
    a += tmp


def addcdiv_(a: np.ndarray, x: np.ndarray, y: np.ndarray, value: float,
             tmp: np.ndarray) -> None:
    """torch's ``a.addcdiv_(x, y, value=v)``: ``a + v*x/y``."""
    if value == 1:
        np.divide(x, y, out=tmp)
    else:
        np.multiply(x, value, out=tmp)
        tmp /= y
    a += tmp
