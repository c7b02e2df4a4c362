"""Tensor creation: tensor/as_tensor/from_numpy/asarray and the factory functions.

Factories build their numpy array directly (there is no input tensor to dispatch on) and
wrap it with ``_make``; every floating default reads ``get_default_dtype()`` at call time so
``ardor.set_default_dtype`` reaches all of them.
"""
from __future__ import annotations

import functools
import itertools
import math
import numbers
import os
import warnings

import numpy as np

from .. import _dtype as D
from .._device import as_device
from .._state import state
from .._tensor import Tensor, _make
from .dispatch import dispatch
from .registry import method, public, register

_PY_SCALARS = (bool, int, float, complex)


# ---------------------------------------------------------------------------- helpers
def _check_device(device) -> None:
    """Accept cpu; anything else goes to the backend lookup, which explains what is missing."""
    if device is not None:
        dev = as_device(device)
        if dev.type != "cpu":
            from .._backend import array_module_for
            array_module_for(dev)


def _finish(arr, requires_grad: bool = False, device=None, factory: bool = True) -> Tensor:
    _check_device(device)
    t = _make(arr)
    if requires_grad:
        k = arr.dtype.kind
        if not (k in "fc" or arr.dtype == D.bfloat16.np):
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        t._requires_grad = True
    if state.tracer is not None:  # made during a trace: a temporary of the traced code
        state.tracer.made(t)
    return t


def _dt(dtype, default: D.dtype | None = None) -> D.dtype:
    """An ardor dtype from a user's dtype argument (``default`` / the default float if None)."""
    if dtype is None:
        return D.get_default_dtype() if default is None else default
    return D.as_dtype(dtype)


def _write_out(out: Tensor | None, t: Tensor) -> Tensor:
    """Support ``out=``: copy the result into ``out`` (same shape), bumping its version."""
    if out is None:
        return t
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    if tuple(out.shape) != tuple(t.shape):
        # torch resizes ``out``; a fresh array keeps views of the old storage untouched
        out._data = t._data.astype(out._data.dtype, copy=True)
    else:
        np.copyto(out._data, t._data, casting="unsafe")
    out._version[0] += 1
    return out


def _size_args(size, fname: str) -> tuple:
    """Accept f(2, 3), f((2, 3)), f([2, 3]) and f(Size); torch's errors otherwise."""
    if len(size) == 1 and isinstance(size[0], (list, tuple)):
        seq, nested = tuple(size[0]), True
    else:
        seq, nested = size, False
    for s in seq:  # fast path: plain non-negative ints
        if type(s) is not int or s < 0:
            break
    else:
        return seq if type(seq) is tuple else tuple(seq)
    out = []
    for i, s in enumerate(seq):
        if isinstance(s, numbers.Integral) and not isinstance(s, bool):
            out.append(int(s))
        elif isinstance(s, Tensor) and s.ndim == 0 and s.dtype._category == D._INT:
            out.append(int(s.item()))
        elif isinstance(s, np.integer):
            out.append(int(s))
        else:
            if nested or len(seq) > 1:
                raise TypeError(f"{fname}(): argument 'size' (position 1) must be tuple of ints, "
                                f"but found element of type {type(s).__name__} at pos {i}")
            raise TypeError(f"{fname}(): argument 'size' (position 1) must be tuple of ints, "
                            f"not {type(s).__name__}")
    for s in out:
        if s < 0:
            if fname == "zeros":  # torch's zeros checks sizes with its own message
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {out}")
    return tuple(out)


def _kw_size(kw: dict, fname: str):
    size = kw.pop("size", None)
    if kw:
        raise TypeError(f"{fname}() got an unexpected keyword argument '{next(iter(kw))}'")
    return size


def _sizes(size, kw_size, fname):
    if kw_size is not None:
        if size:
            raise TypeError(f"{fname}() got multiple values for argument 'size'")
        size = (kw_size,)
    if not size:
        raise TypeError(f'{fname}() missing 1 required positional arguments: "size"')
    return _size_args(size, fname)


# ---------------------------------------------------------------------------- tensor()
def _is_seq(x) -> bool:
    return isinstance(x, (list, tuple, range, np.ndarray)) or (
        hasattr(x, "__len__") and hasattr(x, "__getitem__")
        and not isinstance(x, (str, bytes, dict, Tensor)))


class _Found:
    __slots__ = ("tensors", "ndarrays", "np_scalars")

    def __init__(self):
        self.tensors = False
        self.ndarrays = False
        self.np_scalars = False


def _scalar_dtype(x, found: _Found):
    """torch's infer_scalar_type: the dtype of one item of (nested) data, None if empty."""
    t = type(x)
    if t is float:
        return D.get_default_dtype()
    if t is int:
        return D.int64
    if t is bool:
        return D.bool_
    if t is complex:
        return D.get_default_dtype().to_complex()
    if isinstance(x, Tensor):
        found.tensors = True
        return x.dtype
    if isinstance(x, np.ndarray):
        found.ndarrays = True
        return D.from_numpy_dtype(x.dtype)
    if isinstance(x, np.generic):
        found.np_scalars = True
        return D.from_numpy_dtype(x.dtype)
    if isinstance(x, bool):
        return D.bool_
    if isinstance(x, numbers.Integral):
        return D.int64
    if isinstance(x, numbers.Real):
        return D.get_default_dtype()
    if isinstance(x, numbers.Complex):
        return D.get_default_dtype().to_complex()
    if isinstance(x, str):
        raise ValueError(f"too many dimensions '{type(x).__name__}'")
    if _is_seq(x):
        types = set(map(type, x))
        if types and types <= {float, int, bool}:  # fast path: a row of Python numbers
            if float in types:
                return D.get_default_dtype()
            return D.int64 if int in types else D.bool_
        res = None
        for item in x:
            d = _scalar_dtype(item, found)
            if d is not None:
                res = d if res is None else D.promote_types(res, d)
        return res
    raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")


def _tensors_to_scalars(x):
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return x.item()
    if isinstance(x, (list, tuple)):
        return [_tensors_to_scalars(y) for y in x]
    return x


def _torch_walk(data, dt: D.dtype) -> None:
    """Walk nested data in torch's order (sizes from first elements, then element by
    element) and raise the first error torch's recursive store would: a length mismatch,
    a scalar where a sequence belongs or the reverse, or an item the target dtype refuses."""
    import operator
    integral = dt._category == D._INT
    to_bool = dt is D.bool_
    info = np.iinfo(dt.np) if integral else None
    sizes = []
    x = data
    while _is_seq(x):
        sizes.append(len(x))
        if len(x) == 0:
            break
        x = x[0]

    def _name(v):
        t = type(v)
        return t.__name__ if t.__module__ == "builtins" else f"numpy.{t.__name__}"

    def item(v):
        t = type(v)
        if integral or to_bool:
            if t is int or t is bool:
                return
            if isinstance(v, float):  # Python floats (np.float64 too) convert with a check
                if integral and (v != v or not info.min <= v <= info.max):
                    raise RuntimeError(f"value cannot be converted to type {dt.name} without "
                                       "overflow")
                return
            if to_bool and (isinstance(v, (complex, np.bool_))):
                return
            if isinstance(v, Tensor):
                if v.dtype._category not in (D._INT, D._BOOL):
                    raise TypeError("only integer tensors of a single element can be "
                                    "converted to an index")
                return
            try:
                operator.index(v)
            except TypeError:
                raise TypeError(f"'{_name(v)}' object cannot be interpreted as an integer") \
                    from None
        elif not dt.is_complex and isinstance(v, complex) and not isinstance(v, float):
            raise TypeError(f"must be real number, not {_name(v)}")

    def walk(x, dim):
        if dim == len(sizes):
            if _is_seq(x) and not isinstance(x, np.ndarray) or \
                    isinstance(x, np.ndarray) and x.ndim:
                if integral or to_bool:
                    raise TypeError(f"'{type(x).__name__}' object cannot be interpreted as an "
                                    "integer")
                raise TypeError(f"must be real number, not {type(x).__name__}")
            item(x)
            return
        if not _is_seq(x):
            raise TypeError("not a sequence")
        if len(x) != sizes[dim]:
            raise ValueError(f"expected sequence of length {sizes[dim]} at dim {dim} "
                             f"(got {len(x)})")
        for y in x:
            walk(y, dim + 1)

    walk(data, 0)


def _to_array(data, dt: D.dtype):
    """numpy array of ``dt`` from nested Python data, with torch's errors."""
    npdt = D.np_dtype(dt)
    try:
        with np.errstate(over="ignore"):  # 1e39 -> float32 is inf in torch too, silently
            return np.array(data, dtype=npdt)
    except OverflowError:
        if npdt.kind not in "iu":
            raise
        try:
            wide = np.array(data, dtype=np.int64)
        except OverflowError:
            raise ValueError("Overflow when unpacking long long") from None
        info = np.iinfo(npdt)
        lo = info.min if npdt.kind == "i" else -int(info.max)
        if wide.size and (wide.min() < lo or wide.max() > info.max):
            raise RuntimeError(f"value cannot be converted to type {dt.name} without "
                               "overflow") from None
        return wide.astype(npdt)  # torch wraps small negatives into unsigned types
    except (ValueError, TypeError):
        _torch_walk(data, dt)  # raises torch's error for the first bad element
        raise


def _leaves(x):
    if _is_seq(x) and not isinstance(x, np.ndarray):
        for y in x:
            yield from _leaves(y)
    else:
        yield x


def _check_np(arr: np.ndarray) -> None:
    if arr.dtype in D._BY_NP and (arr.ndim == 0 or min(arr.strides) >= 0):
        return  # the common case, checked in two cheap steps (DataLoader calls this per sample)
    if not arr.dtype.isnative:
        raise ValueError("given numpy array has byte order different from the native byte "
                         "order. Conversion between byte orders is currently not supported.")
    D.from_numpy_dtype(arr.dtype)
    if any(s < 0 for s in arr.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors "
                         "with negative strides are not currently supported. (You can probably "
                         "work around this by making a copy of your array  with array.copy().) ")


def _infer_array(data, dtype: D.dtype | None) -> np.ndarray:
    """A fresh numpy array for ``data`` with torch's dtype inference (``dtype`` if given)."""
    if isinstance(data, Tensor):
        arr = data._data
        return arr.astype(D.np_dtype(dtype) if dtype is not None else arr.dtype, copy=True)
    if isinstance(data, np.ndarray):
        _check_np(data)
        return np.array(data, dtype=None if dtype is None else D.np_dtype(dtype), copy=True)
    if isinstance(data, (str, bytes)):
        raise TypeError(f"new(): invalid data type '{type(data).__name__}'")
    if not isinstance(data, (list, tuple, np.generic)) and (
            hasattr(data, "__array_interface__") or hasattr(data, "__array__")):
        # the array protocols (other libraries' arrays and tensors): through numpy
        return _infer_array(np.asarray(data), dtype)
    found = _Found()
    inferred = _scalar_dtype(data, found)
    if dtype is None:
        dtype = inferred if inferred is not None else D.get_default_dtype()
    if dtype._category in (D._INT, D._BOOL) and (
            found.np_scalars or found.tensors
            or (inferred is not None and inferred._category not in (D._INT, D._BOOL))):
        _torch_walk(data, dtype)
    if found.tensors:
        data = _tensors_to_scalars(data)
    if found.ndarrays:
        warnings.warn("Creating a tensor from a list of numpy.ndarrays is extremely slow. "
                      "Please consider converting the list to a single numpy.ndarray with "
                      "numpy.array() before converting to a tensor.", UserWarning, stacklevel=3)
    return _to_array(data, dtype)


@public("tensor", method=False)
def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor copying ``data`` (nested lists/tuples of numbers or 0-d tensors, numpy
    arrays and scalars, tensors), with torch's dtype inference."""
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or sourceTensor.detach().clone()"
                      ".requires_grad_(True), rather than ardor.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
    dt = None if dtype is None else D.as_dtype(dtype)
    return _finish(_infer_array(data, dt), requires_grad, device)


@public("as_tensor", method=False)
def as_tensor(data, dtype=None, device=None) -> Tensor:
    """``data`` as a tensor, sharing memory with numpy arrays and tensors when the dtype
    already matches."""
    dt = None if dtype is None else D.as_dtype(dtype)
    _check_device(device)
    if isinstance(data, Tensor):
        return data if dt is None else data.to(dt)
    if isinstance(data, np.ndarray) and (dt is None or data.dtype == D.np_dtype(dt)):
        return from_numpy(data)
    return _finish(_infer_array(data, dt), False, device)


@public("from_numpy", method=False)
def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with a numpy array (writes show through both ways)."""
    if not isinstance(ndarray, np.ndarray):
        t = type(ndarray)
        name = t.__name__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__name__}"
        raise TypeError(f"expected np.ndarray (got {name})")
    _check_np(ndarray)
    if not ndarray.flags.writeable:
        warnings.warn("The given NumPy array is not writable, and ardor does not support "
                      "non-writable tensors. This means writing to this tensor will result in "
                      "undefined behavior. You may want to copy the array to protect its data "
                      "or make it writable before converting it to a tensor. This type of "
                      "warning will be suppressed for the rest of this program.",
                      UserWarning, stacklevel=2)
    return _make(ndarray)


@public("asarray", method=False)
def asarray(obj, *, dtype=None, device=None, copy: bool | None = None,
            requires_grad: bool = False) -> Tensor:
    """``obj`` as a tensor, sharing memory (tensors, numpy arrays, buffers) unless a copy is
    needed or ``copy=True``; ``copy=False`` refuses to copy."""
    dt = None if dtype is None else D.as_dtype(dtype)
    _check_device(device)
    if isinstance(obj, Tensor):
        if dt is None or dt is obj.dtype:
            t = obj if not copy else _make(obj._data.copy())
        else:
            if copy is False:
                raise ValueError(f"can't alias tensor with dtype '{obj.dtype._torch_name}' into "
                                 f"dtype '{dt._torch_name}'.")
            t = obj.to(dt)
        if requires_grad and not t._requires_grad:
            t = t.detach().requires_grad_(True) if t is obj else t.requires_grad_(True)
        return t
    if isinstance(obj, np.ndarray):
        _check_np(obj)
        if dt is None or obj.dtype == D.np_dtype(dt):
            arr = obj.copy() if copy else obj
        else:
            if copy is False:
                src = D.from_numpy_dtype(obj.dtype)
                raise ValueError(f"can't alias tensor with dtype '{src._torch_name}' into "
                                 f"dtype '{dt._torch_name}'.")
            arr = obj.astype(D.np_dtype(dt))
        return _finish(arr, requires_grad)
    if copy is False and not hasattr(obj, "__array_interface__"):
        raise ValueError("can't alias arbitrary sequence into a tensor.")
    return _finish(_infer_array(obj, dt), requires_grad)


# ---------------------------------------------------------------------------- factories
def _factory(fill, size, dtype, device, requires_grad, out=None, layout=None):
    npdt = (D.get_default_dtype() if dtype is None else D.as_dtype(dtype)).np
    if npdt is None:
        npdt = D.np_dtype(D.bfloat16)  # raises the missing-ml_dtypes error
    if fill == 0:
        arr = np.zeros(size, npdt)
    elif fill is None:
        arr = np.empty(size, npdt)
    else:
        arr = np.full(size, fill, npdt)
    if device is None and not requires_grad and out is None and state.tracer is None:
        return _make(arr)
    return _write_out(out, _finish(arr, requires_grad, device))


@public("zeros", method=False)
def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False, **kw) -> Tensor:
    """A tensor of zeros of the given size (default float dtype)."""
    return _factory(0, _sizes(size, _kw_size(kw, "zeros"), "zeros"), dtype, device,
                    requires_grad, out)


@public("ones", method=False)
def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
         pin_memory: bool = False, size_=None, **kw) -> Tensor:
    """A tensor of ones of the given size (default float dtype)."""
    return _factory(1, _sizes(size, _kw_size(kw, "ones"), "ones"), dtype, device,
                    requires_grad, out)


@public("empty", method=False)
def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False, memory_format=None, **kw) -> Tensor:
    """An uninitialized tensor of the given size (default float dtype)."""
    return _factory(None, _sizes(size, _kw_size(kw, "empty"), "empty"), dtype, device,
                    requires_grad, out)


def _fill_dtype(fill_value) -> D.dtype:
    """torch.full's dtype inference from the fill value."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if isinstance(fill_value, bool):  # torch: np.bool_ is no bool here (default float)
        return D.bool_
    if isinstance(fill_value, np.bool_):
        return D.get_default_dtype()
    if isinstance(fill_value, numbers.Integral):
        return D.int64
    if isinstance(fill_value, numbers.Real):
        return D.get_default_dtype()
    if isinstance(fill_value, numbers.Complex):
        return D.get_default_dtype().to_complex()
    raise TypeError(f"full(): argument 'fill_value' must be Number, not "
                    f"{type(fill_value).__name__}")


def _fill_scalar(fill_value):
    if isinstance(fill_value, Tensor):
        if fill_value.numel() != 1:
            raise RuntimeError(f"fill_value must be a scalar, got a tensor with "
                               f"{fill_value.numel()} elements")
        return fill_value.item()
    return fill_value


@public("full", method=False)
def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value`` (dtype inferred from it: bool, int64,
    default float or default complex)."""
    if not isinstance(size, (list, tuple)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    sz = _size_args((tuple(size),), "full")
    dt = _fill_dtype(fill_value) if dtype is None else D.as_dtype(dtype)
    fill = _fill_scalar(fill_value)
    arr = np.empty(sz, D.np_dtype(dt))
    _fill_array(arr, fill, dt)
    return _write_out(out, _finish(arr, requires_grad, device))


def _fill_array(arr: np.ndarray, fill, dt: D.dtype) -> None:
    """arr.fill(fill) with torch's fill_ semantics: a checked conversion of the scalar."""
    if isinstance(fill, np.generic):
        fill = fill.item()
    if dt is D.bool_:
        arr.fill(bool(fill))
        return
    if not dt.is_complex and isinstance(fill, complex):
        if fill.imag != 0:
            raise RuntimeError(f"value cannot be converted to type {_C_NAMES.get(dt, dt.name)} "
                               "without overflow")
        fill = fill.real
    fill = _checked_scalar(fill, dt)
    with np.errstate(over="ignore"):
        arr.fill(fill)


def _like_dtype(input: Tensor, dtype, fname: str = "zeros_like") -> D.dtype:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input.dtype if dtype is None else D.as_dtype(dtype)


def _like(fill, input, dtype, device, requires_grad, fname="zeros_like"):
    dt = _like_dtype(input, dtype, fname)
    arr = np.empty(input._data.shape, D.np_dtype(dt))
    if fill is not None:
        _fill_array(arr, fill, dt)
    return _finish(arr, requires_grad, device)


@public("zeros_like", method=False)
def zeros_like(input: Tensor, *, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """Zeros with ``input``'s shape (and dtype unless given)."""
    return _like(0, input, dtype, device, requires_grad, "zeros_like")


@public("ones_like", method=False)
def ones_like(input: Tensor, *, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """Ones with ``input``'s shape (and dtype unless given)."""
    return _like(1, input, dtype, device, requires_grad, "ones_like")


@public("empty_like", method=False)
def empty_like(input: Tensor, *, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """An uninitialized tensor with ``input``'s shape (and dtype unless given)."""
    return _like(None, input, dtype, device, requires_grad, "empty_like")


@public("full_like", method=False)
def full_like(input: Tensor, fill_value, *, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """``fill_value`` with ``input``'s shape and dtype (unless ``dtype`` is given)."""
    return _like(_fill_scalar(fill_value), input, dtype, device, requires_grad, "full_like")


@public("empty_strided", method=False)
def empty_strided(size, stride, *, dtype=None, layout=None, device=None,
                  requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """An uninitialized tensor with the given size and strides (in elements)."""
    size = _size_args((tuple(size),), "empty_strided")
    stride = tuple(int(s) for s in stride)
    if len(stride) != len(size):
        raise RuntimeError("mismatch in length of strides and shape")
    dt = _dt(dtype)
    npdt = D.np_dtype(dt)
    n = 1 + sum((s - 1) * st for s, st in zip(size, stride)) if all(size) else 0
    buf = np.empty(max(n, 0), npdt)
    arr = np.lib.stride_tricks.as_strided(buf, size, tuple(st * npdt.itemsize for st in stride))
    return _finish(arr, requires_grad, device)


# ---------------------------------------------------------------------------- Tensor.new_*
@method("new_tensor")
def new_tensor(self: Tensor, data, *, dtype=None, device=None, requires_grad: bool = False,
               layout=None, pin_memory: bool = False) -> Tensor:
    """A new tensor from ``data`` with this tensor's dtype unless given."""
    return tensor(data.detach() if isinstance(data, Tensor) else data,
                  dtype=self.dtype if dtype is None else dtype, device=device,
                  requires_grad=requires_grad)


def _new_factory(fill, name):
    def fn(self: Tensor, *size, dtype=None, device=None, requires_grad: bool = False,
           layout=None, pin_memory: bool = False, **kw) -> Tensor:
        sz = _sizes(size, _kw_size(kw, name), name)
        return _factory(fill, sz, self.dtype if dtype is None else dtype, device, requires_grad)
    fn.__name__ = name
    fn.__doc__ = f"Tensor.{name}(*size): like ardor.{name[4:]} with this tensor's dtype."
    return fn


for _n, _f in (("new_zeros", 0), ("new_ones", 1), ("new_empty", None)):
    method(_n)(_new_factory(_f, _n))


@method("new_full")
def new_full(self: Tensor, size, fill_value, *, dtype=None, device=None,
             requires_grad: bool = False, layout=None, pin_memory: bool = False) -> Tensor:
    """``full(size, fill_value)`` with this tensor's dtype unless given."""
    return full(size, fill_value, dtype=self.dtype if dtype is None else dtype, device=device,
                requires_grad=requires_grad)


# ---------------------------------------------------------------------------- ranges
def _num(x, name: str):
    """A Python number from a scalar argument (0-d tensors and numpy scalars accepted)."""
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise RuntimeError(f"{name} must be a scalar, got a tensor of shape {list(x.shape)}")
        return x.item()
    if isinstance(x, np.generic):
        return x.item()
    if not isinstance(x, numbers.Number):
        raise TypeError(f"arange(): argument '{name}' must be Number, not {type(x).__name__}")
    return x


@public("arange", method=False)
def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Values ``start, start+step, ...`` below ``end``: int64 when all arguments are integers,
    the default float dtype otherwise (torch's length formula and errors)."""
    if end is None:
        start, end = 0, start
    start, end, step = _num(start, "start"), _num(end, "end"), _num(step, "step")
    is_int = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    dt = _dt(dtype, D.int64 if is_int else None)
    if dt is D.bool_:
        raise _not_implemented("arange_cpu", dt)
    # torch checks the bounds in double, then sizes and fills by dtype (RangeFactories.cpp)
    sd, ed, std = float(start), float(end), float(step)
    if std == 0:
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(sd) and math.isfinite(ed)):
        raise RuntimeError(f"unsupported range: {_fmt(start)} -> {_fmt(end)}")
    if not ((std > 0 and ed >= sd) or (std < 0 and ed <= sd)):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dt._category == D._INT:
        # the accumulator is int64: the arguments are truncated toward zero
        xs, xe, xst = int(start), int(end), int(step)
        if dt is D.int64:
            if xst == 0:
                raise ValueError("step must be nonzero")
            sgn = 1 if xst > 0 else -1
            num = xe - xs + xst - sgn
            n = abs(num) // abs(xst) * (1 if (num >= 0) == (xst > 0) else -1)
        else:
            n = math.ceil((ed - sd) / std)
        arr = (np.arange(max(n, 0), dtype=np.int64) * xst + xs).astype(D.np_dtype(dt))
    else:
        n = math.ceil((ed - sd) / std)
        arr = _arange_values(sd, std, n, dt)
    return _write_out(out, _finish(arr, requires_grad, device))


def _fmt(v) -> str:
    return str(v) if not isinstance(v, float) or not v.is_integer() else str(int(v))


@public("range", method=False)
def range_(start, end, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Deprecated: values from ``start`` to ``end`` inclusive (default float dtype)."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    start, end, step = _num(start, "start"), _num(end, "end"), _num(step, "step")
    dt = _dt(dtype)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(start) and math.isfinite(end)):
        raise RuntimeError(f"unsupported range: {_fmt(start)} -> {_fmt(end)}")
    if not ((step > 0 and end >= start) or (step < 0 and end <= start)):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = int((float(end) - float(start)) / float(step)) + 1
    arr = (np.arange(n, dtype=np.float64) * float(step) + float(start)).astype(D.np_dtype(dt))
    return _write_out(out, _finish(arr, requires_grad, device))


def _steps_arg(steps, fname):
    if isinstance(steps, Tensor):
        steps = steps.item()
    if not isinstance(steps, numbers.Integral):
        raise TypeError(f"{fname}(): argument 'steps' (position 3) must be int, not "
                        f"{type(steps).__name__}")
    steps = int(steps)
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    return steps


def _fma(a, b, c) -> np.ndarray:
    """a * b + c rounded once (as the FMA instructions torch's kernels compile to), in float64
    via an error-free product and sum (double-double)."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    c = np.asarray(c, np.float64)
    with np.errstate(all="ignore"):
        p = a * b
        split = 134217729.0  # 2**27 + 1 (Veltkamp)
        t = split * a
        ah = t - (t - a)
        al = a - ah
        t = split * b
        bh = t - (t - b)
        bl = b - bh
        p_err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
        s = p + c
        bb = s - p
        s_err = (p - (s - bb)) + (c - bb)
        out = s + (p_err + s_err)
    return np.where(np.isfinite(s), out, s)  # infinities pass through as an FMA gives them


_GRAIN_SIZE = 32768  # at::internal::GRAIN_SIZE


@functools.lru_cache(maxsize=1)
def _intraop_threads() -> int:
    """The thread count torch's CPU kernels split work over by default: OMP_NUM_THREADS,
    else the physical cores this process may run on."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = set()
        for c in os.sched_getaffinity(0):
            base = f"/sys/devices/system/cpu/cpu{c}/topology/"
            with open(base + "physical_package_id") as f1, open(base + "core_id") as f2:
                cores.add((f1.read().strip(), f2.read().strip()))
        return max(1, len(cores))
    except (OSError, AttributeError):
        return os.cpu_count() or 1


def _threads_now() -> int:
    """ardor.set_num_threads(n) when the user set it (as torch.set_num_threads), else
    torch's default count."""
    try:
        from .. import _threads
        if getattr(_threads, "_current", None):
            return int(_threads._current)
    except ImportError:  # pragma: no cover - the threads module is optional here
        pass
    return _intraop_threads()


def _arange_values(start: float, step: float, n: int, dt: D.dtype) -> np.ndarray:
    """torch's CPU arange kernel for floating outputs: values ``start + step * i`` (FMA, in
    double) computed per 32-byte vector from the vector's first index, the tail of each
    thread's chunk (past its last pair of vectors) element by element; reduced floats hold
    the vector base in their own type. Above the grain size the range is split into one chunk
    per thread as at::parallel_for does (bit-exact when the thread counts agree)."""
    npdt = D.np_dtype(dt)
    if dt.is_complex:
        return (np.arange(n) * step + start).astype(npdt)
    vsize = 32 // npdt.itemsize
    i = np.arange(n)
    threads = min(_threads_now(), -(-n // _GRAIN_SIZE)) if n > _GRAIN_SIZE else 1
    chunk = -(-n // threads) if n else 1
    begin = (i // chunk) * chunk
    local = i - begin
    length = np.minimum(begin + chunk, n) - begin
    i0 = begin + (local // vsize) * vsize
    # the accumulator type: double for float32/64, float for float16/bfloat16
    acc = np.float32 if npdt.itemsize == 2 else np.float64
    start, step = float(acc(start)), float(acc(step))
    with np.errstate(over="ignore"):
        base = _fma(step, i0, start).astype(acc)
        # the vector's base is held in scalar_t
        base = base.astype(npdt).astype(np.float64)
        vec = _fma(step, i - i0, base).astype(acc)
        n_vec = (length // (2 * vsize)) * 2 * vsize
        out = np.where(local < n_vec, vec, _fma(step, i, start).astype(acc))
        return out.astype(npdt)


_C_NAMES = {D.float32: "float", D.float64: "double", D.float16: "c10::Half",
            D.bfloat16: "c10::BFloat16", D.int64: "int64_t", D.int32: "int",
            D.int16: "int16_t", D.int8: "int8_t", D.uint8: "uint8_t", D.uint16: "uint16_t",
            D.uint32: "uint32_t", D.uint64: "uint64_t", D.bool_: "bool"}


def _not_implemented(kernel: str, dt: D.dtype) -> NotImplementedError:
    return NotImplementedError(f'"{kernel}" not implemented for \'{dt._torch_name}\'')


def _checked_scalar(v, dt: D.dtype):
    """c10's Scalar.to<scalar_t>() (checked_convert): the value in dt's range, or torch's
    overflow error. Integers wrap into unsigned types from [-max, max]; floats truncate."""
    if dt is D.bool_:
        return v
    if dt.is_complex:  # each part must fit the real type
        r = dt.to_real()
        c = complex(v)
        try:
            _checked_scalar(c.real, r)
            _checked_scalar(c.imag, r)
        except RuntimeError:
            raise RuntimeError(f"value cannot be converted to type c10::complex<"
                               f"{_C_NAMES[r]}> without overflow") from None
        return v
    name = _C_NAMES.get(dt, dt.name)
    err = RuntimeError(f"value cannot be converted to type {name} without overflow")
    if dt._category == D._INT:
        info = np.iinfo(dt.np)
        if isinstance(v, float):
            if v != v or not info.min <= v <= info.max:
                raise err
            return int(v)
        lo = info.min if info.min < 0 else -int(info.max)
        if not lo <= v <= info.max:
            raise err
        return v % (1 << info.bits) if v < 0 and info.min == 0 else v
    fmax = float(D._ml_dtypes.finfo(dt.np).max) if dt is D.bfloat16 else \
        float(np.finfo(dt.np).max)
    fv = float(v)
    if math.isfinite(fv) and not -fmax <= fv <= fmax:
        raise err
    return v


def _c_from_double(x: np.ndarray, npdt) -> np.ndarray:
    """C++ static_cast<int type>(double) as compiled for x86: truncation; NaN and values out
    of the int64 (or int32 for narrower types) range give INT_MIN, then the bits wrap."""
    if npdt.itemsize == 8 or npdt == np.uint32:
        lim, fill = 2.0 ** 63, np.iinfo(np.int64).min
    else:
        lim, fill = 2.0 ** 31, np.iinfo(np.int32).min
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(x) < lim)
        v = np.where(bad, 0.0, np.trunc(x)).astype(np.int64)
    v[bad] = fill
    return v.astype(npdt)


def _linspace_array(start, end, steps: int, dt: D.dtype) -> np.ndarray:
    """torch's CPU linspace kernel: the first half ``start + step * i``, the second half
    ``end - step * (steps - 1 - i)``, each one FMA in the output dtype (double for integer
    outputs, per-operation rounding for float16/bfloat16)."""
    npdt = D.np_dtype(dt)
    if dt is D.bool_:
        raise _not_implemented("linspace_cpu", dt)
    if steps == 0:
        return np.empty(0, npdt)
    if steps == 1:  # torch: fill_(start), checked for integer dtypes only
        if dt._category == D._INT:
            return np.full(1, _checked_scalar(start, dt), np.int64).astype(npdt)
        return np.full(1, start, npdt)
    start, end = _checked_scalar(start, dt), _checked_scalar(end, dt)
    i = np.arange(steps)
    first = i < steps // 2
    if dt.is_complex:
        s, e = complex(start), complex(end)
        step = (e - s) / (steps - 1)
        return np.where(first, s + step * i, e - step * (steps - 1 - i)).astype(npdt)
    if dt._category == D._INT:
        s, e = float(start), float(end)
        step = (e - s) / (steps - 1)
        out = np.where(first, _fma(step, i, s), _fma(-step, steps - 1 - i, e))
        return _c_from_double(out, npdt)
    if dt is D.float16 or dt is D.bfloat16:
        def r(x):  # c10::Half / BFloat16 round every operation's float result
            return np.asarray(x, np.float32).astype(npdt).astype(np.float32)
        s, e = r(start), r(end)
        step = r(r(e - s) / r(steps - 1))
        up = r(s + r(step * r(i)))
        dn = r(e - r(step * r(steps - 1 - i)))
        return np.where(first, up, dn).astype(npdt)
    s, e = npdt.type(start), npdt.type(end)
    step = (e - s) / npdt.type(steps - 1)
    out = np.where(first, _fma(step, i, s), _fma(-np.float64(step), steps - 1 - i, e))
    return out.astype(npdt)


def _range_dtype(dtype, *vals):
    if dtype is not None:
        return D.as_dtype(dtype)
    if any(isinstance(v, complex) for v in vals):
        return D.get_default_dtype().to_complex()
    return D.get_default_dtype()


@public("linspace", method=False)
def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    start, end = _num(start, "start"), _num(end, "end")
    steps = _steps_arg(steps, "linspace")
    dt = _range_dtype(dtype, start, end)
    arr = _linspace_array(start, end, steps, dt)
    return _write_out(out, _finish(arr, requires_grad, device))


def _libm_pow(base: float, exps: np.ndarray) -> np.ndarray:
    return np.fromiter(map(math.pow, itertools.repeat(base, exps.size), exps.tolist()),
                       np.float64, exps.size)


@public("logspace", method=False)
def logspace(start, end, steps, base: float = 10.0, *, out=None, dtype=None, layout=None,
             device=None, requires_grad: bool = False) -> Tensor:
    """``steps`` values ``base ** e`` for exponents evenly spaced from ``start`` to ``end``."""
    start, end = _num(start, "start"), _num(end, "end")
    steps = _steps_arg(steps, "logspace")
    dt = _range_dtype(dtype, start, end)
    npdt = D.np_dtype(dt)
    if dt is D.bool_:
        raise _not_implemented("logspace_cpu", dt)
    if dt.is_complex:
        exps = _linspace_array(start, end, steps, dt)
        arr = np.power(complex(base), exps).astype(npdt)
    elif steps <= 1:
        # torch: fill_(pow(base, start)) - a checked conversion of the double value
        if dt._category == D._INT:
            v = [] if steps == 0 else [_checked_scalar(math.pow(float(base), float(start)), dt)]
            arr = np.array(v, dtype=np.int64).astype(npdt)
        else:
            v = [] if steps == 0 else [math.pow(float(base), float(start))]
            with np.errstate(over="ignore"):
                arr = np.array(v, dtype=np.float64).astype(npdt)
    else:
        # torch's serial loop (RangeFactories.cpp, compiled without FMA): start/end converted
        # to scalar_t (checked), the step and the exponents start + step * i in double,
        # libm's pow(double, double) (math.pow; numpy's vectorized power can differ in the
        # last ulp), then a C cast to scalar_t
        s = _checked_scalar(start, dt)
        e = _checked_scalar(end, dt)
        if dt._category == D._INT:
            diff, s, e = float(e - s), float(s), float(e)
        else:
            s, e = npdt.type(s), npdt.type(e)
            diff = (e.astype(np.float32) - s.astype(np.float32)).astype(npdt) \
                if npdt.itemsize == 2 else e - s
            s, e = np.float64(s), np.float64(e)
        step = np.float64(diff) / (steps - 1)
        i = np.arange(steps)
        exps = np.where(i < steps // 2, s + step * i, e - step * (steps - 1 - i))
        vals = _libm_pow(float(base), exps)
        arr = _c_from_double(vals, npdt) if dt._category == D._INT else vals.astype(npdt)
    return _write_out(out, _finish(arr, requires_grad, device))


@public("eye", method=False)
def eye(n, m=None, *, out=None, dtype=None, layout=None, device=None,
        requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A 2-D tensor with ones on the diagonal (``n`` x ``m``, ``m`` defaults to ``n``)."""
    n = int(n)
    m = n if m is None else int(m)
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    dt = _dt(dtype)
    return _write_out(out, _finish(np.eye(n, m, dtype=D.np_dtype(dt)), requires_grad, device))


def _tri_indices(row, col, offset, dtype, device, lower: bool, fname: str) -> Tensor:
    row, col, offset = int(row), int(col), int(offset)
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    dt = _dt(dtype, D.int64)
    if dt not in (D.int64, D.int32):
        raise RuntimeError(f"\"{fname}\" not implemented for '{dt._torch_name}'")
    fn = np.tril_indices if lower else np.triu_indices
    r, c = fn(row, offset, col)
    return _finish(np.stack([r, c]).astype(D.np_dtype(dt)).reshape(2, -1), False, device)


@public("tril_indices", method=False)
def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None) -> Tensor:
    """The (2, N) indices of the lower triangle of a row x col matrix."""
    return _tri_indices(row, col, offset, dtype, device, True, "tril_indices")


@public("triu_indices", method=False)
def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None,
                 layout=None) -> Tensor:
    """The (2, N) indices of the upper triangle of a row x col matrix."""
    return _tri_indices(row, col, offset, dtype, device, False, "triu_indices")


# ---------------------------------------------------------------------------- complex / polar
def _complex_parts_sample(rng):
    return [((rng.standard_normal((2, 3)), rng.standard_normal((3,))), {})]


def _part(name: str, g: Tensor) -> Tensor:
    from .registry import FUNCTIONS
    return FUNCTIONS[name](g)


@register
class complex_op:
    """complex(real, imag): real + i * imag (same floating dtype, broadcast)."""
    name = "complex"
    node_name = "ComplexBackward0"
    promote = "binary"  # a no-op cast (dtypes are checked equal); reduces broadcast grads
    onnx = "decompose"
    sample = _complex_parts_sample

    def forward(xp, re, im):
        out = xp.empty(xp.broadcast_shapes(re.shape, im.shape),
                       xp.complex128 if re.dtype == xp.float64 else xp.complex64)
        out.real = re  # set the parts directly: re + 1j * im turns inf parts into nan
        out.imag = im
        return out

    def backward(ctx, g):
        nr, ni = ctx.needs_input_grad
        return (_part("real", g) if nr else None), (_part("imag", g) if ni else None)


@register
class polar_op:
    """polar(abs, angle): abs * (cos(angle) + i sin(angle))."""
    name = "polar"
    node_name = "PolarBackward0"
    promote = "binary"
    onnx = "decompose"
    save = (0, 1)

    def sample(rng):
        # positive magnitudes: torch's gradient uses sgn(result), the true one only there
        return [((np.abs(rng.standard_normal((2, 3))) + 0.5, rng.standard_normal((3,))), {})]

    def forward(xp, r, theta):
        out = xp.empty(xp.broadcast_shapes(r.shape, theta.shape),
                       xp.complex128 if r.dtype == xp.float64 else xp.complex64)
        out.real = r * xp.cos(theta)
        out.imag = r * xp.sin(theta)
        return out

    def backward(ctx, g):
        # torch's polar_backward: grad_abs = Re(conj(g) * sgn(result)) (so the sign of a
        # negative magnitude flips it), grad_angle = Re(conj(g) * i * result)
        r, theta = ctx.saved
        gr, gi = _part("real", g), _part("imag", g)
        c, s_ = theta.cos(), theta.sin()
        nr, nt = ctx.needs_input_grad
        return (((gr * c + gi * s_) * r.sign()) if nr else None), \
            ((r * (gi * c - gr * s_)) if nt else None)


def _check_broadcast(sa, sb) -> None:
    """torch's error for shapes that do not broadcast, naming the first clashing dim."""
    n = max(len(sa), len(sb))
    for k in range(1, n + 1):
        x = sa[-k] if k <= len(sa) else 1
        y = sb[-k] if k <= len(sb) else 1
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b "
                               f"({y}) at non-singleton dimension {n - k}")


def _check_parts(a, b, fname: str):
    for x in (a, b):
        if not isinstance(x, Tensor):
            raise TypeError(f"{fname}(): argument must be Tensor, not {type(x).__name__}")
    ok = (D.float16, D.float32, D.float64)
    if a.dtype not in ok or b.dtype not in ok:
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{a.dtype._torch_name} and {b.dtype._torch_name}")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"Expected object of scalar type {a.dtype._torch_name} but got scalar "
                           f"type {b.dtype._torch_name} for second argument")
    if a.dtype is D.float16:
        raise RuntimeError(f"{fname}: complex32 (from float16 parts) is not supported by ardor")
    _check_broadcast(a.shape, b.shape)


@public("complex", method=False)
def complex_(real: Tensor, imag: Tensor, *, out=None) -> Tensor:
    """A complex tensor from real and imaginary parts (float32 -> complex64, float64 ->
    complex128)."""
    _check_parts(real, imag, "complex")
    return _write_out(out, dispatch(complex_op, (real, imag)))


@public("polar", method=False)
def polar(abs: Tensor, angle: Tensor, *, out=None) -> Tensor:
    """A complex tensor from magnitude and phase: abs * (cos(angle) + i sin(angle))."""
    _check_parts(abs, angle, "polar")
    return _write_out(out, dispatch(polar_op, (abs, angle)))


# ---------------------------------------------------------------------------- legacy
def legacy_new(cls, *args, **kwargs):
    """``Tensor(...)``: torch's legacy constructor (sizes -> uninitialized float tensor,
    data -> float tensor)."""
    if cls is not Tensor and not args and not kwargs:
        return object.__new__(cls)
    if not args:
        return zeros(0, dtype=D.get_default_dtype())
    if len(args) == 1 and not isinstance(args[0], numbers.Integral):
        data = args[0]
        if isinstance(data, Tensor):
            return data
        from .._tensor import Size
        if isinstance(data, Size):  # a Size is a shape here, not data
            return zeros(*data, dtype=D.get_default_dtype())
        if isinstance(data, numbers.Number):
            raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
        return tensor(data, dtype=D.get_default_dtype())
    return zeros(*args, dtype=D.get_default_dtype())


# ---------------------------------------------------------------------------- other publics
# Utilities whose modules have no op table entries are published from here, so that
# ``ardor.finfo`` etc. exist right after ``import ardor``.
def _publish_utilities():
    from .. import _finfo, _tensor_str
    public("finfo", method=False)(_finfo.finfo)
    public("iinfo", method=False)(_finfo.iinfo)
    for n in ("set_printoptions", "get_printoptions", "printoptions"):
        public(n, method=False)(getattr(_tensor_str, n))
    public("result_type", method=False)(result_type)
    public("can_cast", method=False)(can_cast)


def result_type(tensor1, tensor2) -> D.dtype:
    """The dtype an arithmetic op on the two operands (tensors or Python numbers) returns."""
    dims, zeros_, scalars = [], [], []
    for x in (tensor1, tensor2):
        if isinstance(x, Tensor):
            (dims if x.ndim else zeros_).append(x.dtype)
        elif isinstance(x, (numbers.Number, np.generic)):
            scalars.append(D.scalar_dtype(x) if not isinstance(x, np.generic)
                           else D.scalar_dtype(x.item()))
        else:
            raise TypeError(f"result_type() received an invalid combination of arguments - got "
                            f"({type(tensor1).__name__}, {type(tensor2).__name__})")
    return D.result_type_parts(dims, zeros_, scalars)


def can_cast(from_, to) -> bool:
    """Whether a value of dtype ``from_`` may be cast to ``to`` under torch's casting rules
    (no float -> integer, no complex -> real, no non-bool -> bool)."""
    return D.can_cast(D.as_dtype(from_), D.as_dtype(to))


_publish_utilities()
