"""``_layout.same_layouts``: one C check that a tuple of arrays kept its shapes, strides,
dtypes and writeability (read from numpy's PyArrayObject fields), against the Python
attributes, on both the C path and the Python one."""
from __future__ import annotations

import numpy as np
import pytest

from ardor._ops import _layout


@pytest.fixture(params=["c", "python"])
def path(request, monkeypatch):
    if request.param == "python":
        monkeypatch.setitem(_layout._STATE, "lib", None)
    else:
        lib = _layout._STATE["lib"] if "lib" in _layout._STATE else _layout._load()
        if lib is None:
            pytest.skip("no C compiler, or numpy's array struct is not the expected one")
    return request.param


def _arrays():
    base = np.arange(60, dtype=np.float32).reshape(6, 10)
    return (base, base.T, base[:, 2:7], np.zeros((), np.int64), np.ones(4)[::2],
            np.empty((2, 1, 3, 1, 2), np.int8))


def test_same_arrays_and_equal_layouts_match(path):
    arrays = _arrays()
    key = _layout.layout_key(arrays)
    assert _layout.same_layouts(arrays, key)
    # other arrays of the same layouts: a copy of the base, a transpose of that copy
    copy = arrays[0].copy()
    assert _layout.same_layouts((copy, copy.T) + arrays[2:], key)


@pytest.mark.parametrize("change", ["shape", "strides", "dtype", "readonly", "not_array",
                                    "subclass", "too_many_dims"])
def test_any_difference_does_not_match(path, change):
    arrays = list(_arrays())
    key = _layout.layout_key(tuple(arrays))
    a = arrays[1]
    if change == "shape":
        a = np.arange(50, dtype=np.float32).reshape(5, 10).T
    elif change == "strides":
        a = np.ascontiguousarray(a)
    elif change == "dtype":
        a = a.view(np.int32)
    elif change == "readonly":
        a = a.view()
        a.flags.writeable = False
    elif change == "not_array":
        a = a.tolist()
    elif change == "subclass":
        a = a.view(np.ma.MaskedArray)
    arrays[1] = a
    if change == "too_many_dims":   # never matches, even itself
        arrays[1] = np.zeros((1,) * 9, np.float32)
        key = _layout.layout_key(tuple(arrays))
    assert not _layout.same_layouts(tuple(arrays), key)
