"""Tensor creation: tensor/as_tensor/from_numpy and the factory functions."""
from __future__ import annotations

import numbers

import numpy as np

from .. import _dtype as D
from .._device import as_device
from .._tensor import Tensor, _make
from .registry import public


def _check_device(device) -> None:
    if device is not None:
        dev = as_device(device)
        if dev.type != "cpu":
            from .._backend import array_module_for
            array_module_for(dev)


def _finish(arr, requires_grad: bool, device=None) -> Tensor:
    _check_device(device)
    t = _make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_array(data, dtype):
    """numpy array for nested Python data with torch's dtype inference."""
    if isinstance(data, Tensor):
        arr = data._data.copy()
        return arr if dtype is None else arr.astype(dtype.np)
    if isinstance(data, np.ndarray):
        arr = np.array(data, copy=True)
        if dtype is None:
            D.from_numpy_dtype(arr.dtype)
            return arr
        return arr.astype(dtype.np)
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
        data = _tensors_to_lists(data)
    arr = np.array(data)
    if arr.dtype == object:
        raise TypeError(f"Could not infer dtype of {type(data).__name__}")
    if dtype is None:
        k = arr.dtype.kind
        if k == "f":
            dtype = D.get_default_dtype() if not _has_np_scalar(data) else D._BY_NP[arr.dtype]
        elif k == "c":
            dtype = D.get_default_dtype().to_complex()
        elif k in "iu":
            dtype = D.int64 if not _has_np_scalar(data) else D._BY_NP[arr.dtype]
        elif k == "b":
            dtype = D.bool_
        else:
            raise TypeError(f"Could not infer dtype of {type(data).__name__}")
    return arr.astype(D.np_dtype(dtype))


def _has_np_scalar(data) -> bool:
    return isinstance(data, np.generic)


def _flat(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def _tensors_to_lists(data):
    if isinstance(data, Tensor):
        if data.numel() != 1 and data.ndim:
            return data.tolist()
        return data.item() if data.ndim == 0 else data.tolist()
    if isinstance(data, (list, tuple)):
        return [_tensors_to_lists(x) for x in data]
    return data


@public("tensor", method=False)
def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor copying ``data`` (nested lists, numbers, numpy arrays, tensors)."""
    dtype = None if dtype is None else D.as_dtype(dtype)
    return _finish(_infer_array(data, dtype), requires_grad, device)


@public("as_tensor", method=False)
def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing memory with numpy arrays and tensors when possible."""
    dtype = None if dtype is None else D.as_dtype(dtype)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == dtype.np):
        D.from_numpy_dtype(data.dtype)
        return _finish(data, False, device)
    return _finish(_infer_array(data, dtype), False, device)


@public("from_numpy", method=False)
def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with a numpy array."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    D.from_numpy_dtype(ndarray.dtype)
    return _make(ndarray)


def _size_args(size):
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral):
            if isinstance(s, Tensor) and s.numel() == 1:
                continue
            raise TypeError(f"expected a sequence of integers as size, but got an element of "
                            f"type {type(s).__name__}")
    size = tuple(int(s) for s in size)
    for s in size:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(size)}")
    return size


def _float_dtype(dtype):
    return D.get_default_dtype() if dtype is None else D.as_dtype(dtype)


def _filled(fill, size, dtype, device, requires_grad):
    dt = _float_dtype(dtype)
    return _finish(np.full(_size_args(size), fill, D.np_dtype(dt)), requires_grad, device)


@public("zeros", method=False)
def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
          pin_memory=False) -> Tensor:
    """A tensor of zeros."""
    return _filled(0, size, dtype, device, requires_grad)


@public("ones", method=False)
def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad=False,
         pin_memory=False) -> Tensor:
    """A tensor of ones."""
    return _filled(1, size, dtype, device, requires_grad)


def _like(fill, input, dtype, device, requires_grad):
    dt = input.dtype if dtype is None else D.as_dtype(dtype)
    return _finish(np.full(input._data.shape, fill, D.np_dtype(dt)), requires_grad, device)


@public("zeros_like", method=False)
def zeros_like(input: Tensor, *, dtype=None, layout=None, device=None, requires_grad=False,
               memory_format=None) -> Tensor:
    """Zeros with ``input``'s shape (and dtype unless given)."""
    return _like(0, input, dtype, device, requires_grad)


@public("ones_like", method=False)
def ones_like(input: Tensor, *, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None) -> Tensor:
    """Ones with ``input``'s shape (and dtype unless given)."""
    return _like(1, input, dtype, device, requires_grad)


def legacy_new(cls, *args, **kwargs):
    """``Tensor(...)``: torch's legacy constructor (sizes -> uninitialized float tensor,
    data -> float tensor)."""
    if cls is not Tensor and not args and not kwargs:
        return object.__new__(cls)
    if len(args) == 1 and not isinstance(args[0], numbers.Integral):
        data = args[0]
        if isinstance(data, Tensor):
            return data
        return tensor(data, dtype=D.get_default_dtype())
    return zeros(*args, dtype=D.get_default_dtype())
