"""``layout_key(arrays)`` and ``same_layouts(arrays, key)``: whether the arrays of a tuple
still have the shapes, strides, dtypes and writeability they had, in one call.

A compiled run of C calls (``ardor.jit._chain``) is recorded for the layouts of the ~30
arrays it is given, and each later run must check them. In Python that is a tuple of
(shape, strides, dtype) per array, ~0.4 us each; here one compiled function reads the fields
of numpy's PyArrayObject (``nd``, ``dimensions``, ``strides``, ``descr``, ``flags``: the
struct the C API's ``PyArray_NDIM``/``PyArray_DIMS``/... macros read), as ``_addr`` reads
``data``. Their offsets follow ``data`` in that struct, and are checked once against the
Python attributes on probe arrays; where anything disagrees, or no C compiler works, the
Python key is used. An item that is not exactly an ndarray, or has more than 8 dims, never
matches (its key is -1).
"""
from __future__ import annotations

import ctypes

import numpy as np

from . import _addr

_W = 20   # int64 words per array: descr, ndim, writeable, 8 dims, 8 strides (one unused)

_SRC = """#include <stdint.h>
#include <string.h>
/* the fields of PyArrayObject after data (at OFFSET): nd (int), dimensions, strides, base,
   descr, flags (int); ob_type is at TYPE */
static void lay(char* o, void* ndarray, int64_t* w) {
    memset(w, 0, sizeof(int64_t) * 20);
    int nd = *(int*)(o + OFFSET + 8);
    if (*(void**)(o + TYPE) != ndarray || nd > 8) { w[0] = -1; return; }
    const int64_t* dims = *(int64_t**)(o + OFFSET + 16);
    const int64_t* strides = *(int64_t**)(o + OFFSET + 24);
    w[0] = *(int64_t*)(o + OFFSET + 40);
    w[1] = nd;
    w[2] = (*(int*)(o + OFFSET + 48)) & 0x0400;   /* NPY_ARRAY_WRITEABLE */
    for (int k = 0; k < nd; k++) { w[3 + k] = dims[k]; w[11 + k] = strides[k]; }
}
void ardor_layouts(char* t, void* ndarray, int64_t* out, int64_t n) {
    char** items = (char**)(t + ITEMS);
    for (int64_t k = 0; k < n; k++) lay(items[k], ndarray, out + 20 * k);
}
int ardor_same(char* t, void* ndarray, const int64_t* key, int64_t n) {
    char** items = (char**)(t + ITEMS);
    int64_t w[20];
    for (int64_t k = 0; k < n; k++) {
        lay(items[k], ndarray, w);
        if (w[0] == -1 || memcmp(w, key + 20 * k, sizeof w)) return 0;
    }
    return 1;
}
"""

_STATE: dict = {}


def _probe_ok(off: int) -> bool:
    """Whether the fields after ``data`` lie where ``_SRC`` reads them, on probe arrays."""
    rd = lambda a, k, t: t.from_address(id(a) + k).value  # noqa: E731
    probes = [np.ones((3, 5), np.float32)[:, 1:], np.ones(4)[::2], np.zeros((), np.int8),
              np.ones((2, 3)).T]
    probes[1].flags.writeable = False
    for a in probes:
        dims = rd(a, off + 16, ctypes.c_void_p)
        strides = rd(a, off + 24, ctypes.c_void_p)
        if (rd(a, 8, ctypes.c_void_p) != id(np.ndarray) or rd(a, off + 8, ctypes.c_int) != a.ndim
                or rd(a, off + 40, ctypes.c_void_p) != id(a.dtype)
                or bool(rd(a, off + 48, ctypes.c_int) & 0x0400) != a.flags.writeable
                or (a.ndim and (tuple((ctypes.c_int64 * a.ndim).from_address(dims)) != a.shape
                                or tuple((ctypes.c_int64 * a.ndim).from_address(strides))
                                != a.strides))):
            return False
    return True


def _load():
    lib = None
    try:
        off, items = _addr._offset(), _addr._items_offset()
        if off is not None and items is not None and _probe_ok(off):
            from ..jit._kernels import _compile_c
            lib = _compile_c(_SRC.replace("OFFSET", str(off)).replace("ITEMS", str(items))
                             .replace("TYPE", "8"), quiet=True)
        if lib is not None:
            lib.ardor_layouts.argtypes = [ctypes.py_object, ctypes.c_void_p, ctypes.c_void_p,
                                          ctypes.c_int64]
            lib.ardor_layouts.restype = None
            lib.ardor_same.argtypes = [ctypes.py_object, ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_int64]
            lib.ardor_same.restype = ctypes.c_int
            probes = (np.ones((4, 4), np.float32).T, np.ones(3))
            k = (ctypes.c_int64 * (_W * 2))()
            lib.ardor_layouts(probes, id(np.ndarray), k, 2)
            if not (lib.ardor_same(probes, id(np.ndarray), k, 2)
                    and not lib.ardor_same((probes[0].T, probes[1]), id(np.ndarray), k, 2)):
                lib = None
    except Exception:  # noqa: BLE001 - the Python key always works
        lib = None
    _STATE["lib"] = lib
    return lib


def _py_key(arrays) -> tuple:
    return tuple((a.shape, a.strides, a.dtype, a.flags.writeable)
                 if type(a) is np.ndarray and a.ndim <= 8 else None for a in arrays)


def layout_key(arrays: tuple):
    """A key of the layouts of ``arrays`` (a tuple) for :func:`same_layouts`."""
    lib = _STATE["lib"] if "lib" in _STATE else _load()
    if lib is None:
        return _py_key(arrays)
    key = (ctypes.c_int64 * max(_W * len(arrays), 1))()
    lib.ardor_layouts(arrays, id(np.ndarray), key, len(arrays))
    return key


def same_layouts(arrays: tuple, key) -> bool:
    """Whether ``arrays`` (as many as the key was made from) have ``key``'s layouts: exactly
    ndarrays of the same shapes, strides, dtypes and writeability."""
    if type(key) is tuple:
        return None not in key and _py_key(arrays) == key
    return bool(_STATE["lib"].ardor_same(arrays, id(np.ndarray), key, len(arrays)))
