"""ardor._ops._addr.addr: the data address the C kernels are given, read from the array
object, agrees with numpy's own ``ctypes.data`` on every kind of array."""
import numpy as np
import pytest

from ardor._ops import _addr


def _arrays():
    base = np.arange(120, dtype=np.float32).reshape(4, 5, 6)
    return [base, base[1:], base[:, ::2], base.transpose(2, 0, 1), base[..., 3],
            np.zeros((), np.float64), np.empty(0, np.int8), np.ones((3, 3), bool)[1:, 1:],
            np.frombuffer(bytearray(64), np.uint8)[5:], np.broadcast_to(base[0], (7, 5, 6))]


@pytest.mark.parametrize("i", range(10))
def test_addr_matches_ctypes_data(i):
    a = _arrays()[i]
    assert _addr.addr(a) == a.ctypes.data


def test_subclasses_and_non_arrays_take_numpy_path():
    m = np.ma.masked_array(np.ones(5, np.float32))[1:]
    assert _addr.addr(m) == m.ctypes.data
    with pytest.raises(AttributeError):
        _addr.addr(3.0)


def test_fallback_when_layout_is_not_found(monkeypatch):
    monkeypatch.setattr(_addr, "_impl", None)
    monkeypatch.setattr(_addr, "_offset", lambda: None)
    a = np.ones((4, 4), np.float32).T
    assert _addr.addr(a) == a.ctypes.data
    assert _addr._impl is _addr._slow


def test_fast_reader_loads_where_a_compiler_works():
    from ardor.jit import _kernels
    if _kernels._compiler()[0] is None:
        pytest.skip("no C compiler here: addr is numpy's ctypes.data")
    _addr.addr(np.ones(3))
    assert _addr._impl is not _addr._slow
