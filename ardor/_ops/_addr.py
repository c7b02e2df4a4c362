"""``addr(a)``: the address of a numpy array's data, for the C kernels' pointer arguments.

``a.ctypes.data`` builds a ctypes helper object on every access (~750 ns here), and a
compiled training step of a 4-layer MLP passes ~110 pointers per run. ``addr`` reads the
pointer the array object itself holds (the ``data`` field of numpy's PyArrayObject, the field
the C API's ``PyArray_DATA`` reads) through a one-line compiled function (~250 ns with the
type check). The field's offset is found once, and checked against ``ctypes.data`` on
arrays, views and scalars; where anything disagrees, or no C compiler works, ``addr`` is
``a.ctypes.data``. Anything that is not exactly an ndarray also takes that path.
"""
from __future__ import annotations

import ctypes

import numpy as np

_SRC = """#include <stdint.h>
int64_t ardor_data(void* o) { return *(int64_t*)((char*)o + OFFSET); }
"""


def _slow(a) -> int:
    return a.ctypes.data


def _offset():
    """The byte offset of the data pointer inside an ndarray object, or None."""
    base = np.arange(64, dtype=np.float64)
    probes = [base, base[3:], base.reshape(8, 8).T, np.zeros((), np.float32),
              np.empty((5, 3), np.int8)[1:, ::2]]
    for off in range(8, 72, 8):
        if all(ctypes.c_int64.from_address(id(p) + off).value == p.ctypes.data
               for p in probes):
            return off
    return None


def _load():
    global _impl
    _impl = _slow
    try:
        off = _offset()
        if off is None:
            return _impl
        from ..jit._kernels import _compile_c
        lib = _compile_c(_SRC.replace("OFFSET", str(off)), quiet=True)
        if lib is None:
            return _impl
        fn = lib.ardor_data
        fn.argtypes = [ctypes.py_object]
        fn.restype = ctypes.c_int64
        probes = [np.ones(7, np.float32)[2:], np.ones((4, 4)).T, np.ones((), np.int16)]
        if all(fn(p) == p.ctypes.data for p in probes):
            _impl = fn
    except Exception:  # noqa: BLE001 - the slow path always works
        _impl = _slow
    return _impl


_impl = None
_ndarray = np.ndarray


def addr(a) -> int:
    """The address of ``a``'s first element (``a.ctypes.data``, read faster)."""
    f = _impl or _load()
    return f(a) if type(a) is _ndarray else a.ctypes.data
