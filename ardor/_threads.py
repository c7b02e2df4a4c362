"""ardor.set_num_threads / ardor.get_num_threads: the intra-op thread count.

torch's knob sets the threads of its own kernels; ardor's heavy kernels are numpy's BLAS
(matmul, conv through im2col GEMMs) and the chunked optimizer runner, so the knob sets both.
BLAS threads are set through threadpoolctl when it is installed (``pip install ardor[threads]``;
it knows OpenBLAS, MKL and BLIS), else through the ``openblas_set_num_threads`` entry point of
the OpenBLAS that numpy bundles, found with ctypes.
"""
from __future__ import annotations

import ctypes
import glob
import os

from ._ops.registry import public

_current: int | None = None       # the last value set through set_num_threads
_forked: list = []                # non-empty in a child made by fork()


def in_forked_child() -> bool:
    """Whether this process was forked from one that may have started OpenMP threads. GNU
    OpenMP's thread pool does not survive fork(): a child (a DataLoader worker) entering a
    parallel region can hang, so ardor's C kernels run on one thread there."""
    return bool(_forked)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _forked.append(True))
_openblas = None                  # (set_fn, get_fn) once found, False when there is none
_tpc: list = []                   # [threadpoolctl module or None] once looked for


def _threadpoolctl():
    # looked up once: a failed import searches sys.path again on every attempt (~80 us), and
    # the GEMM asks for the thread count on every call
    if not _tpc:
        try:
            import threadpoolctl
        except ImportError:
            threadpoolctl = None
        _tpc.append(threadpoolctl)
    return _tpc[0]

# Entry points of the OpenBLAS builds numpy ships (scipy-openblas uses a prefix and, in its
# ILP64 flavour, a "64_" suffix) and of a plain system OpenBLAS.
_SYMBOLS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_", "openblas_set_num_threads")


def _openblas_candidates() -> list[str]:
    paths = []
    try:  # the libraries this process has loaded (Linux)
        with open("/proc/self/maps") as f:
            for line in f:
                p = line.rsplit(None, 1)[-1]
                if "openblas" in p.lower() and p.startswith("/") and p not in paths:
                    paths.append(p)
    except OSError:
        pass
    import numpy
    root = os.path.dirname(numpy.__file__)
    for pat in ("../numpy.libs/*openblas*", ".dylibs/*openblas*", "../numpy.libs/*.dll"):
        paths += [p for p in glob.glob(os.path.join(root, pat)) if p not in paths]
    return paths


def _find_openblas():
    global _openblas
    if _openblas is None:
        _openblas = False
        for path in _openblas_candidates():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for name in _SYMBOLS:
                setter = getattr(lib, name, None)
                getter = getattr(lib, name.replace("set_", "get_"), None)
                if setter is not None and getter is not None:
                    setter.argtypes, setter.restype = [ctypes.c_int], None
                    getter.argtypes, getter.restype = [], ctypes.c_int
                    _openblas = (setter, getter)
                    break
            if _openblas:
                break
    return _openblas


def _blas_set(n: int) -> bool:
    threadpoolctl = _threadpoolctl()
    if threadpoolctl is not None:
        threadpoolctl.threadpool_limits(limits=n, user_api="blas")
        return True
    ob = _find_openblas()
    if ob:
        ob[0](n)
        return True
    return False


def _blas_get() -> int | None:
    threadpoolctl = _threadpoolctl()
    if threadpoolctl is not None:
        infos = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
        if infos:
            return int(infos[0]["num_threads"])
    ob = _find_openblas()
    return int(ob[1]()) if ob else None


@public("set_num_threads", method=False)
def set_num_threads(int: int) -> None:  # noqa: A002 - torch's parameter name
    """Set the number of threads used for intra-op parallelism (BLAS and optimizer steps)."""
    import builtins
    if not isinstance(int, builtins.int) or isinstance(int, bool):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(int).__name__}")
    if int <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    global _current
    _blas_set(int)
    from .optim import _foreach
    _foreach.set_num_threads(int)
    _current = int


@public("get_num_threads", method=False)
def get_num_threads() -> int:
    """The number of threads used for intra-op parallelism."""
    if _current is not None:
        return _current
    n = _blas_get()
    if n:
        return n
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1
