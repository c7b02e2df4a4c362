"""Indexing ops: ``Tensor.__getitem__``/``__setitem__``, gather/scatter, index_*, masked_*,
take/put, nonzero, sort/topk/kthvalue, unique, searchsorted/bucketize, copy_/fill_/zero_.

Indexing follows torch: basic items (ints, slices, None, Ellipsis) become a chain of view ops
(select, slice, unsqueeze; a view of the input), then any advanced items (integer / bool
tensors, lists, numpy arrays) become one ``index`` op (a copy) whose backward accumulates
duplicates through ``index_put(accumulate=True)``. ``__setitem__`` writes in place into that
view: ``copy_`` for basic keys, ``index_put_`` for advanced ones, with autograd.
"""
from __future__ import annotations

import collections
import numbers
import re
import warnings

import numpy as np

from .._tensor import Tensor, _make
from ._util import wrap_dim
from .core import alias, cast, sum_to
from .dispatch import dispatch, dispatch_inplace
from .registry import method, public, register
from .shape import _slice, select, slice_op, unsqueeze, variant, with_out

_MAX_IDX = 12  # index tensors an ``index``/``index_put`` call may take (saved for backward)
_IDX_SAVE = tuple(range(1, _MAX_IDX + 1))
_PUT_SAVE = tuple(range(2, _MAX_IDX + 2))


def _rn(rng, *shape):
    return rng.standard_normal(shape)


def _lt(arr) -> Tensor:
    """An int64 tensor over a numpy array (internal, no copy)."""
    return _make(np.asarray(arr, dtype=np.int64))


def _zeros(shape, dt, like: Tensor) -> Tensor:
    xp = np if type(like._data) is np.ndarray else _xp(like._data)
    return _make(xp.zeros(tuple(shape), dt.np))


def _xp(arr):
    import cupy
    return cupy


def _index_error(e: IndexError, idx) -> IndexError:
    """numpy's advanced-indexing errors in torch's words (torch counts dims among the index
    tensors, which it moves to the front)."""
    msg = str(e)
    if "shape mismatch" in msg:
        shapes = ", ".join(str(list(i.shape)) for i in idx if i is not None)
        return IndexError("shape mismatch: indexing tensors could not be broadcast together "
                          f"with shapes {shapes}")
    m = re.match(r"index (-?\d+) is out of bounds for axis (\d+) with size (\d+)", msg)
    if m:
        rank = sum(1 for i in idx[:int(m.group(2))] if i is not None)
        return IndexError(f"index {m.group(1)} is out of bounds for dimension {rank} with size "
                          f"{m.group(3)}")
    return IndexError(msg)


def _np_key(idx):
    return tuple(slice(None) if i is None else i for i in idx)


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


# ---------------------------------------------------------------- advanced index / index_put
@register
class index:
    """input[indices] with integer index tensors (None = a full slice): a copy."""
    save = _IDX_SAVE
    onnx = "decompose"

    def forward(xp, a, *idx):
        try:
            return a[_np_key(idx)]
        except IndexError as e:
            raise _index_error(e, idx) from None

    def backward(ctx, g):
        n = len(ctx.in_meta) - 1
        idx = ctx.saved[:n]
        shape, dt = ctx.in_meta[0]
        z = _zeros(shape, g.dtype, g)
        return (dispatch(index_put, (z, g) + tuple(idx), {"accumulate": True}),)

    sample = lambda rng: [([_rn(rng, 4, 3), np.array([0, 2, 0, -1])], {}),
                          ([_rn(rng, 3, 4, 2), None, np.array([[1], [3]]), np.array([0, 1])],
                           {})]


@register
class index_put:
    """A copy of input with values written (or added, accumulate=True) at indices."""
    save = _PUT_SAVE
    onnx = "ScatterND"

    def forward(xp, a, v, *idx, accumulate):
        out = a.copy()
        _index_put_into(xp, out, v, *idx, accumulate=accumulate)
        return out

    def backward(ctx, g):
        n = len(ctx.in_meta) - 2
        idx = tuple(ctx.saved[:n])
        na, nv = ctx.needs_input_grad[:2]
        ga = gv = None
        if na:
            ga = g if ctx.attrs["accumulate"] else dispatch(
                index_put, (g, _zeros((), g.dtype, g)) + idx, {"accumulate": False})
        if nv:
            gv = dispatch(index, (g,) + idx)
            vshape, vdt = ctx.in_meta[1]
            gv = sum_to(gv, vshape)
            if gv.dtype is not vdt:
                gv = gv.to(vdt)
        return ga, gv

    sample = lambda rng: [([_rn(rng, 4, 3), _rn(rng, 3), np.array([0, 2, 0])],
                           {"accumulate": True}),
                          ([_rn(rng, 4, 3), _rn(rng, 2), None, np.array([1, 2])],
                           {"accumulate": False})]


def _index_tensor(k, for_mask_of=None):
    """Normalize an advanced index item to an ardor Tensor (int or bool)."""
    if isinstance(k, Tensor):
        t = k
    else:
        arr = np.asarray(k)
        if arr.size == 0 and arr.dtype.kind not in "iub":
            arr = arr.astype(np.int64)
        if arr.dtype == object:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        t = _make(arr.astype(np.int64) if arr.dtype.kind in "iu" and arr.dtype != np.uint8
                  else arr)
    k = t._data.dtype.kind
    if k not in "iub":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return t


def _seq_as_tuple(seq) -> bool:
    # torch's treatSequenceAsTuple: a short list holding tensors, sequences, slices, None or
    # Ellipsis is taken as a tuple of indices (deprecated in torch, still its behaviour).
    if len(seq) >= 32:
        return False
    for x in seq:
        if x is None or x is Ellipsis or isinstance(x, (slice, Tensor, list, tuple, np.ndarray)):
            return True
    return False


_BASIC_TYPES = frozenset((int, slice, type(None), type(Ellipsis)))


def _basic_only(self: Tensor, key: tuple, setting: bool) -> Tensor:
    """Fast path of _basic for keys of ints, slices, None and Ellipsis only."""
    nd = self._data.ndim
    consumed = 0
    for k in key:
        if type(k) is int or type(k) is slice:
            consumed += 1
    if consumed > nd:
        raise IndexError(f"too many indices for tensor of dimension {nd}")
    x = self
    d = od = 0
    ell = False
    for k in key:
        tk = type(k)
        if tk is slice:
            n = x._data.shape[d]
            step = k.step
            if step is None:
                step = 1
            elif step <= 0:
                raise ValueError("step must be greater than zero")
            start, stop, step = k.indices(n)
            if not (start == 0 and stop >= n and step == 1):
                if stop < start:
                    stop = start
                x = dispatch(slice_op, (x,), {"dim": d, "start": start, "stop": stop,
                                              "step": step})
            d += 1
            od += 1
        elif tk is int:
            n = x._data.shape[d]
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of bounds for dimension {od} with size {n}")
            x = dispatch(select, (x,), {"dim": d, "index": k + n if k < 0 else k})
            od += 1
        elif k is None:
            x = dispatch(unsqueeze, (x,), {"dim": d})
            d += 1
        elif not ell:  # Ellipsis (later ones stand for no dims, as in torch)
            ell = True
            d += nd - consumed
            od += nd - consumed
    if x is self and not setting:
        x = dispatch(alias, (self,))
    return x


def _basic(self: Tensor, key, setting: bool = False):
    """Apply the basic items of ``key`` as views; return (view, advanced indices or None)."""
    if type(key) is tuple:
        for k in key:
            if type(k) not in _BASIC_TYPES:
                break
        else:
            return _basic_only(self, key, setting), None
    elif type(key) in _BASIC_TYPES:
        return _basic_only(self, (key,), setting), None
    if type(key) is not tuple:
        if isinstance(key, list) and _seq_as_tuple(key):
            warnings.warn("Using a non-tuple sequence for multidimensional indexing is "
                          "deprecated and will be changed in pytorch 2.9; use x[tuple(seq)] "
                          "instead of x[seq].", UserWarning, stacklevel=3)
            key = tuple(key)
        else:
            key = (key,)
    nd = self._data.ndim
    consumed = 0
    ell = False
    items = []
    for k in key:
        if k is None or isinstance(k, (bool, np.bool_)):
            kind = "none" if k is None else "bool"
        elif k is Ellipsis:
            kind = "ell" if not ell else "ell0"  # torch: later ellipses stand for no dims
            ell = True
        elif isinstance(k, (float, complex, np.floating)):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte Variables are valid indices (got {type(k).__name__})")
        elif isinstance(k, (str, bytes, dict, set)) or k is NotImplemented:
            raise TypeError(f"new(): invalid data type '{type(k).__name__}'")
        elif isinstance(k, slice):
            kind = "slice"
            consumed += 1
        elif _is_int(k):
            kind = "int"
            consumed += 1
        else:
            if isinstance(k, Tensor) and k._data.ndim == 0 and k._data.dtype.kind in "iu" \
                    and k._data.dtype != np.uint8:
                kind = "int"
                k = int(k._data)
                consumed += 1
            else:
                k = _index_tensor(k)
                if k._data.dtype.kind == "b" or k._data.dtype == np.uint8:
                    if k._data.ndim == 0:
                        kind = "bool"
                        k = bool(k._data)
                    else:
                        kind = "mask"
                        consumed += k._data.ndim
                else:
                    kind = "tensor"
                    consumed += 1
        items.append((kind, k))
    if consumed > nd:
        raise IndexError(f"too many indices for tensor of dimension {nd}")
    x = self
    d = 0
    od = 0  # dims of ``self`` consumed so far (torch's error messages count these)
    adv = []
    for kind, k in items:
        if kind == "ell0":
            continue
        if kind == "slice":
            step = 1 if k.step is None else int(k.step)
            if step <= 0:
                raise ValueError("step must be greater than zero")
            n = x._data.shape[d]
            start, stop, _ = slice(k.start, k.stop, step).indices(n)
            if not (start == 0 and stop >= n and step == 1):
                x = _slice(x, d, start, stop, step)
            adv.append(None)
            d += 1
            od += 1
        elif kind == "int":
            n = x._data.shape[d]
            i = int(k)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for dimension {od} with size {n}")
            x = dispatch(select, (x,), {"dim": d, "index": i + n if i < 0 else i})
            od += 1
        elif kind == "none":
            x = dispatch(unsqueeze, (x,), {"dim": d})
            adv.append(None)
            d += 1
        elif kind == "ell":
            n = nd - consumed
            adv.extend([None] * n)
            d += n
            od += n
        elif kind == "bool":
            x = dispatch(unsqueeze, (x,), {"dim": d})
            adv.append(_lt([0] if k else []))
            d += 1
        elif kind == "tensor":
            adv.append(k)
            d += 1
            od += 1
        else:  # mask: its nonzero coordinates index len(mask.shape) dims
            m = k._data.astype(bool, copy=False)
            xs = x._data.shape
            for j, s in enumerate(m.shape):
                if d + j >= len(xs) or xs[d + j] != s:
                    raise IndexError(f"The shape of the mask {list(m.shape)} at index {j} does "
                                     f"not match the shape of the indexed tensor "
                                     f"{list(xs)} at index {d + j}")
            adv.extend(_mask_coords(m))
            d += m.ndim
            od += m.ndim
    while adv and adv[-1] is None:
        adv.pop()
    if not adv:
        if x is self and not setting:
            x = dispatch(alias, (self,))
        return x, None
    return x, tuple(adv)


def _single_index(self: Tensor, key: Tensor) -> bool:
    """An integer index tensor, or a bool mask over self's leading dims, usable as is (numpy
    indexes with a bool mask directly, and index_put accumulates through one)."""
    k = key._data
    if not k.ndim or not self._data.ndim:
        return False
    if k.dtype.kind in "iu" and k.dtype != np.uint8:
        return True
    return k.dtype == np.bool_ and k.shape == self._data.shape[:k.ndim]


@method("__getitem__")
def getitem(self: Tensor, key) -> Tensor:
    """Indexing as torch: basic keys give views, advanced keys (tensors, lists) copies."""
    tk = type(key)
    if tk is int:
        nd = self._data.ndim
        if nd == 0:
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python "
                             "or `tensor.item<T>()` in C++ to convert a 0-dim tensor to a "
                             "number")
        n = self._data.shape[0]
        if not -n <= key < n:
            raise IndexError(f"index {key} is out of bounds for dimension 0 with size {n}")
        return dispatch(select, (self,), {"dim": 0, "index": key + n if key < 0 else key})
    if tk is slice and self._data.ndim:
        step = 1 if key.step is None else int(key.step)
        if step <= 0:
            raise ValueError("step must be greater than zero")
        start, stop, _ = key.indices(self._data.shape[0])
        return _slice(self, 0, start, stop, step)
    if tk is Tensor and _single_index(self, key):  # x[long_tensor] / x[bool_mask]: one op
        return dispatch(index, (self, key))
    x, adv = _basic(self, key)
    if adv is None:
        return x
    if len(adv) > _MAX_IDX:
        raise IndexError(f"at most {_MAX_IDX} index tensors are supported")
    return dispatch(index, (x,) + adv)


@method("__setitem__")
def setitem(self: Tensor, key, value) -> None:
    """In-place assignment: copy_ into the view for basic keys, index_put_ for advanced."""
    if not isinstance(value, (Tensor, numbers.Number)):
        tname = type(value).__module__ + "." + type(value).__name__ \
            if isinstance(value, np.ndarray) else type(value).__name__
        raise TypeError(f"can't assign a {tname} to a {self.type()}")
    if type(key) is Tensor and _single_index(self, key):
        x, adv = self, (key,)
    else:
        x, adv = _basic(self, key, setting=True)
    if adv is None:
        if isinstance(value, Tensor):
            _check_expand(value, x.shape)
            _check_overlap(x, value, full_ok=True)
        dispatch_inplace(copy, x, (value,))
        return
    if isinstance(value, Tensor) and value.dtype is not x.dtype:
        k = key[0] if type(key) is tuple and len(key) == 1 else key
        if value.ndim == 0 and isinstance(k, Tensor) and k.dtype.is_bool:
            value = cast(value, x.dtype)  # a bool mask with a 0-d value is masked_fill_
        else:
            _same_dtype_put(x, value)
    _check_overlap(x, value)
    dispatch_inplace(index_put, x, (value,) + adv, {"accumulate": False})


def _check_overlap(self: Tensor, other, full_ok: bool = False) -> None:
    """torch refuses an in-place write whose source shares memory with the destination
    (a full overlap is fine for copy_)."""
    if not isinstance(other, Tensor):
        return
    a, b = self._data, other._data
    if type(a) is not np.ndarray or type(b) is not np.ndarray or not np.may_share_memory(a, b):
        return
    if full_ok and a.__array_interface__["data"][0] == b.__array_interface__["data"][0] \
            and a.shape == b.shape and a.strides == b.strides:
        return
    try:
        overlap = np.shares_memory(a, b, max_work=10_000)
    except np.exceptions.TooHardError:  # pragma: no cover - exotic strides: let it through
        return
    if overlap:
        raise RuntimeError("unsupported operation: some elements of the input tensor and the "
                           "written-to tensor refer to a single memory location. Please clone() "
                           "the tensor before performing the operation.")


def _check_expand(value: Tensor, shape) -> None:
    vs = value.shape
    if len(vs) > len(shape):
        # leading size-1 dims of the value are dropped (torch's slicePrefix1sSize)
        lead = len(vs) - len(shape)
        if any(s != 1 for s in vs[:lead]):
            raise RuntimeError(f"expand(torch.{value.dtype._torch_name}Tensor{{{list(vs)}}}, "
                               f"size={list(shape)}): the number of sizes provided "
                               f"({len(shape)}) must be greater or equal to the number of "
                               f"dimensions in the tensor ({len(vs)})")
        vs = vs[lead:]
    off = len(shape) - len(vs)
    for i, s in enumerate(vs):
        if s != 1 and s != shape[off + i]:
            raise RuntimeError(f"The expanded size of the tensor ({shape[off + i]}) must match "
                               f"the existing size ({s}) at non-singleton dimension "
                               f"{off + i}.  Target sizes: {list(shape)}.  Tensor sizes: "
                               f"{list(value.shape)}")


def _mask_coords(m) -> list:
    """One int64 index tensor per mask dimension: the coordinates of its True elements
    (on the mask's own backend)."""
    nz = dispatch(nonzero, (_make(m),))._data
    return [_make(nz[:, j]) for j in range(m.ndim)]


def _index_list(indices, fname):
    out = []
    for k in indices:
        if k is None:
            out.append(None)
            continue
        t = _index_tensor(k)
        if t._data.dtype.kind == "b" or t._data.dtype == np.uint8:
            out.extend(_mask_coords(t._data.astype(bool, copy=False)))
        else:
            out.append(t)
    return tuple(out)


@public("index_put")
def index_put_fn(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``values`` put (or added) at the tuple of ``indices``."""
    idx = _index_list(indices, "index_put")
    if len(idx) > input.ndim:
        raise IndexError(f"too many indices for tensor of dimension {input.ndim} (got "
                         f"{len(idx)})")
    _same_dtype_put(input, values)
    return dispatch(index_put, (input, values) + idx, {"accumulate": bool(accumulate)})


def _same_dtype_put(input, values):
    if isinstance(values, Tensor) and values.dtype is not input.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{input.dtype._torch_name} for the destination and "
                           f"{values.dtype._torch_name} for the source.")


@public("index_put_")
def index_put_inplace(self: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """In-place index_put."""
    idx = _index_list(indices, "index_put_")
    if len(idx) > self.ndim:
        raise IndexError(f"too many indices for tensor of dimension {self.ndim} (got "
                         f"{len(idx)})")
    _same_dtype_put(self, values)
    _check_overlap(self, values)
    return dispatch_inplace(index_put, self, (values,) + idx, {"accumulate": bool(accumulate)})


# ---------------------------------------------------------------- copy_ / fill_ / zero_
@register
class copy:
    """``src`` broadcast to input's shape and cast to its dtype (the op behind copy_)."""
    node_name = "CopyBackwards"
    onnx = "Expand"

    def forward(xp, a, src):
        if type(src) is float or type(src) is int or type(src) is bool:
            return xp.full(a.shape, src, a.dtype)
        try:
            b = xp.broadcast_to(src, a.shape)
        except ValueError:
            ss = np.shape(src)
            off = len(a.shape) - len(ss)
            for i, s in enumerate(ss):
                if off + i >= 0 and s != 1 and s != a.shape[off + i]:
                    raise RuntimeError(f"The size of tensor a ({a.shape[off + i]}) must match "
                                       f"the size of tensor b ({s}) at non-singleton dimension "
                                       f"{off + i}") from None
            raise RuntimeError(f"output with shape {list(a.shape)} doesn't match the "
                               f"broadcast shape {list(ss)}") from None
        if b.dtype.kind == "c" and a.dtype.kind != "c":
            b = b.real
        return b.astype(a.dtype, copy=True)

    def backward(ctx, g):
        # torch's CopyBackwards gives the overwritten input an explicit zero gradient
        ga = _zeros(ctx.in_shape, g.dtype, g) if ctx.needs_input_grad[0] else None
        meta = ctx.in_meta[1]
        if meta is None or not ctx.needs_input_grad[1]:
            return ga, None
        shape, dt = meta
        gs = sum_to(g, shape)
        if gs.dtype is not dt:
            gs = gs.to(dt)
        return ga, gs

    sample = lambda rng: [([_rn(rng, 2, 3), _rn(rng, 3)], {})]


@method("copy_")
def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` (broadcast, cast to this dtype) into this tensor in place."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'other' (position 1) must be Tensor, not "
                        f"{type(src).__name__}")
    _check_overlap(self, src, full_ok=True)
    return dispatch_inplace(copy, self, (src,))


@register
class fill:
    """A tensor of input's shape and dtype filled with ``value`` (a number or 0-d tensor)."""
    node_name = "FillBackward2"
    onnx = "decompose"

    def forward(xp, a, value):
        if isinstance(value, complex) and a.dtype.kind != "c":
            value = value.real
        return xp.full(a.shape, value, a.dtype)

    def backward(ctx, g):
        ga = _zeros(ctx.in_shape, g.dtype, g) if ctx.needs_input_grad[0] else None
        meta = ctx.in_meta[1]
        if meta is None or not ctx.needs_input_grad[1]:
            return ga, None
        gv = g.sum()
        return ga, gv if gv.dtype is meta[1] else gv.to(meta[1])

    sample = lambda rng: [([_rn(rng, 2, 3), _rn(rng)], {})]


fill_tensor = variant(fill, "fill_tensor", "FillBackward3")


@register
class zero:
    """Zeros of input's shape and dtype (the op behind zero_)."""
    onnx = "decompose"

    def forward(xp, a):
        return xp.zeros_like(a)

    def backward(ctx, g):
        return _zeros(ctx.in_shape, g.dtype, g)

    sample = lambda rng: [([_rn(rng, 2, 3)], {})]


def _fill_value(value, fname="fill_"):
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"{fname} only supports 0-dimension value tensor but got tensor with "
                           f"{value.ndim} dimensions.")
    return value


@public("fill")
def fill_fn(input: Tensor, value) -> Tensor:
    """A tensor like ``input`` filled with ``value``."""
    value = _fill_value(value)
    return dispatch(fill_tensor if isinstance(value, Tensor) else fill, (input, value))


def _fill_overlapping(self: Tensor, value) -> bool:
    """fill_/zero_ of a self-overlapping (expanded) view outside autograd: torch allows it, as
    every alias gets the same value; write through a writable alias of the storage."""
    arr = self._data
    if type(arr) is not np.ndarray or arr.flags.writeable or self.requires_grad or \
            isinstance(value, Tensor):  # torch refuses a tensor value here
        return False
    from .shape import _root
    root = _root(arr)
    if not root.flags.writeable:
        return False
    off = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    alias = np.ndarray(arr.shape, arr.dtype, buffer=root, offset=off, strides=arr.strides)
    alias[...] = value
    self._version[0] += 1
    return True


@public("fill_")
def fill_(self: Tensor, value) -> Tensor:
    """Fill in place with a number or a 0-d tensor."""
    value = _fill_value(value)
    if _fill_overlapping(self, value):
        return self
    return dispatch_inplace(fill_tensor if isinstance(value, Tensor) else fill, self, (value,))


@public("zero_")
def zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place."""
    if _fill_overlapping(self, 0):
        return self
    return dispatch_inplace(zero, self, ())


# ---------------------------------------------------------------- gather / scatter
def _open_key(xp, index, dim):
    """Coordinates (an open mesh) addressing ``input`` at ``index`` along ``dim``."""
    nd = index.ndim
    key = []
    for d, s in enumerate(index.shape):
        if d == dim:
            key.append(index)
        else:
            shp = [1] * nd
            shp[d] = s
            key.append(xp.arange(s).reshape(shp))
    return tuple(key)


def _check_index_bounds(index, n, dim, exc=RuntimeError):
    if index.size:
        lo, hi = index.min(), index.max()
        if lo < 0 or hi >= n:
            bad = int(lo if lo < 0 else hi)
            raise exc(f"index {bad} is out of bounds for dimension {dim} with size {n}")


@register
class gather:
    """out[i][j] = input[i][index[i][j]] along ``dim``."""
    save = (1,)
    onnx = "GatherElements"

    def forward(xp, a, idx, *, dim):
        if a.ndim == 0:
            a = a.reshape(1)
            _check_index_bounds(idx, 1, 0)
            return a[idx.reshape(-1)].reshape(idx.shape)
        _check_index_bounds(idx, a.shape[dim], dim)
        return a[_open_key(xp, idx, dim)]

    def backward(ctx, g):
        (idx,) = ctx.saved
        shape, dt = ctx.in_meta[0]
        z = _zeros(shape, g.dtype, g)
        return dispatch(scatter_add, (z, idx, g), {"dim": ctx.attrs["dim"]}), None

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([[0, 3, 3], [1, 0, 2]])], {"dim": 1})]


def _check_gather_shapes(fname, input, dim, index, src=None):
    ish, xsh = index._data.shape, input._data.shape
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{fname}(): Expected dtype int32/int64 for index")
    if len(ish) != len(xsh) and not (len(ish) <= 1 and len(xsh) <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as "
                           f"{'input' if fname == 'gather' else 'self'} tensor")
    for d in range(len(ish)):
        if d != dim and ish[d] > xsh[d]:
            raise RuntimeError(f"Size does not match at dimension {d} expected index "
                               f"{list(ish)} to be no larger than self "
                               f"{list(xsh)} apart from dimension {dim}")
    if src is not None and isinstance(src, Tensor):
        ssh = src._data.shape
        if len(ssh) != len(ish) and not (len(ish) <= 1 and len(ssh) <= 1):
            raise RuntimeError("Index tensor must have the same number of dimensions as src "
                               "tensor")
        for d in range(len(ish)):
            if ish[d] > ssh[d]:
                raise RuntimeError(f"Size does not match at dimension {d} expected index "
                                   f"{list(ish)} to be no larger than src {list(ssh)}")


@public("gather")
@with_out("gather")
def gather_(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False,
            out=None) -> Tensor:
    """Values of ``input`` at ``index`` along ``dim``."""
    d = wrap_dim(dim, input.ndim)
    _check_gather_shapes("gather", input, d, index)
    return dispatch(gather, (input, index), {"dim": d})


def _src_part(src, idx):
    if isinstance(src, (int, float, complex, bool)) or np.ndim(src) == 0:
        return src
    return src[tuple(slice(0, s) for s in idx.shape)]


_REDUCERS = {"sum": "add", "add": "add", "prod": "multiply", "multiply": "multiply",
             "amax": "maximum", "amin": "minimum"}


def _scatter_into(xp, out, idx, src, dim, reduce):
    if out.ndim == 0:
        flat = out.reshape(1)
        _check_index_bounds(idx, 1, 0)
        s = _src_part(src, idx)
        s = s.reshape(-1) if np.ndim(s) else s
        if reduce is None:
            flat[idx.reshape(-1)] = s
        else:
            getattr(xp, _REDUCERS[reduce]).at(flat, idx.reshape(-1), s)
        return flat.reshape(())
    _check_index_bounds(idx, out.shape[dim], dim)
    key = _open_key(xp, idx, dim)
    s = _src_part(src, idx)
    if reduce is None:
        out[key] = s
    else:
        getattr(xp, _REDUCERS[reduce]).at(out, key, s)
    return out


def _pad_to(g: Tensor, shape) -> Tensor:
    """``g`` zero-padded at the end of each dim to ``shape`` (src grads of scatter ops whose
    index is smaller than src)."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    z = _zeros(shape, g.dtype, g)
    coords = tuple(_lt(c) for c in np.indices(tuple(g.shape)))
    return dispatch(index_put, (z, g) + coords, {"accumulate": False})


@register
class scatter:
    """A copy of input with ``src`` (tensor or number) written at ``index`` along ``dim``;
    ``reduce`` 'add'/'multiply' combines instead."""
    save = (1, 2)
    onnx = "ScatterElements"

    def forward(xp, a, idx, src, *, dim, reduce=None):
        return _scatter_into(xp, a.copy(), idx, src, dim, reduce)

    def backward(ctx, g):
        at = ctx.attrs
        if at.get("reduce") is not None:
            raise RuntimeError("derivative for aten::scatter is not implemented")
        idx, src = ctx.saved
        na, _, ns = ctx.needs_input_grad
        ga = dispatch(scatter, (g, idx, 0.0), {"dim": at["dim"]}) if na else None
        gs = dispatch(gather, (g, idx), {"dim": at["dim"]}) if ns else None
        if gs is not None:
            gs = _pad_to(gs, src.shape)
        return ga, None, gs

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([[0, 3], [1, 2]]), _rn(rng, 2, 2)],
                           {"dim": 1, "reduce": None})]


scatter_value = variant(scatter, "scatter_value", "ScatterBackward1")


@register
class scatter_add:
    """A copy of input with ``src`` added at ``index`` along ``dim``."""
    save = (1,)
    onnx = "ScatterElements"

    def forward(xp, a, idx, src, *, dim):
        return _scatter_into(xp, a.copy(), idx, src, dim, "add")

    def backward(ctx, g):
        (idx,) = ctx.saved
        na, _, ns = ctx.needs_input_grad
        gs = dispatch(gather, (g, idx), {"dim": ctx.attrs["dim"]}) if ns else None
        if gs is not None:
            gs = _pad_to(gs, ctx.in_meta[2][0])
        return (g if na else None), None, gs

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([[0, 3, 3], [1, 2, 1]]), _rn(rng, 2, 3)],
                           {"dim": 1})]


def _scatter_args(fname, input, dim, index, src):
    d = wrap_dim(dim, input.ndim)
    _check_gather_shapes(fname, input, d, index, src)
    if isinstance(src, Tensor) and src.dtype is not input.dtype:
        raise RuntimeError(f"{fname}(): Expected self.dtype to be equal to src.dtype")
    return d


@public("scatter")
def scatter_(input: Tensor, dim: int, index: Tensor, src=None, value=None, *,
             reduce: str | None = None) -> Tensor:
    """A copy of ``input`` with ``src`` (or ``value``) scattered at ``index`` along ``dim``."""
    src = value if src is None else src
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    d = _scatter_args("scatter", input, dim, index, src)
    if isinstance(src, Tensor) and src.ndim == 0 and index.ndim:
        src = src.item()
    op = scatter if isinstance(src, Tensor) else scatter_value
    return dispatch(op, (input, index, src), {"dim": d, "reduce": reduce})


@method("scatter_")
def scatter_inplace(self: Tensor, dim: int, index: Tensor, src=None, value=None, *,
                    reduce: str | None = None) -> Tensor:
    """In-place scatter."""
    src = value if src is None else src
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    d = _scatter_args("scatter", self, dim, index, src)
    _check_overlap(self, src)
    op = scatter if isinstance(src, Tensor) else scatter_value
    return dispatch_inplace(op, self, (index, src), {"dim": d, "reduce": reduce})



@public("scatter_add")
def scatter_add_(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim``."""
    d = _scatter_args("scatter_add", input, dim, index, src)
    return dispatch(scatter_add, (input, index, src), {"dim": d})


@method("scatter_add_")
def scatter_add_inplace(self: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """In-place scatter_add."""
    d = _scatter_args("scatter_add", self, dim, index, src)
    _check_overlap(self, src)
    return dispatch_inplace(scatter_add, self, (index, src), {"dim": d})


@register
class scatter_reduce_weights:
    """Non-differentiable helper: per-element gradient weights of scatter_reduce for self
    and (gathered) src."""
    differentiable = False
    nout = 2
    onnx = "decompose"

    def forward(xp, a, idx, src, out, *, dim, reduce, include_self):
        s = _src_part(src, idx)
        dt = out.dtype
        hit = _scatter_into(xp, xp.zeros(a.shape, bool), idx, True, dim, None)
        if reduce in ("amax", "amin"):
            self_is = (a == out)
            if not include_self:
                self_is = self_is & ~hit
            oval = out[_open_key(xp, idx, dim)] if out.ndim else out
            src_is = (s == oval)
            cnt = _scatter_into(xp, self_is.astype(dt), idx, src_is.astype(dt), dim, "add")
            cnt = xp.where(cnt == 0, 1, cnt)
            return self_is / cnt, src_is / (cnt[_open_key(xp, idx, dim)] if out.ndim else cnt)
        if reduce == "mean":
            cnt = _scatter_into(xp, (xp.ones if include_self else xp.zeros)(a.shape, dt), idx,
                                xp.ones(idx.shape, dt), dim, "add")
            cnt = xp.where(cnt == 0, 1, cnt)
            ws = xp.where(hit, 1.0 / cnt if include_self else 0.0, 1.0)
            return ws.astype(dt), (1.0 / cnt)[_open_key(xp, idx, dim)].astype(dt)
        if reduce == "prod":
            with np.errstate(divide="ignore", invalid="ignore"):
                ws = xp.where(hit, out / a, 1.0) if include_self else xp.where(hit, 0.0, 1.0)
                gsrc = out[_open_key(xp, idx, dim)] / s
            return ws.astype(dt), gsrc.astype(dt)
        # sum
        ws = xp.ones(a.shape, dt) if include_self else xp.where(hit, 0.0, 1.0).astype(dt)
        return ws, xp.ones(idx.shape, dt)


@register
class scatter_reduce:
    """A copy of input with ``src`` reduced into it at ``index`` along ``dim``
    (sum, prod, mean, amax, amin; ``include_self`` includes input's own values)."""
    save = (0, 1, 2)
    save_out = True
    onnx = "ScatterElements"

    def forward(xp, a, idx, src, *, dim, reduce, include_self):
        out = a.copy()
        if not include_self or reduce == "mean":
            fill = {"sum": 0, "mean": 0, "prod": 1}.get(reduce)
            if fill is None:
                if a.dtype.kind not in "iub":  # floats, incl. bfloat16 (kind 'V')
                    fill = -np.inf if reduce == "amax" else np.inf
                elif a.dtype.kind == "b":
                    fill = reduce == "amin"
                else:
                    info = np.iinfo(a.dtype)
                    fill = info.min if reduce == "amax" else info.max
            if not include_self:
                out = _scatter_into(xp, out, idx, fill, dim, None)
        if reduce == "mean":
            out = _scatter_into(xp, out, idx, src, dim, "add")
            cnt = _scatter_into(xp, xp.full(a.shape, 1 if include_self else 0, np.int64), idx,
                                1, dim, "add")
            cnt = xp.where(cnt == 0, 1, cnt)
            if a.dtype.kind not in "iub":
                return (out / cnt).astype(a.dtype)
            return xp.floor_divide(out, cnt).astype(a.dtype)
        return _scatter_into(xp, out, idx, src, dim, reduce)

    def backward(ctx, g):
        a, idx, src, out = ctx.saved
        at = ctx.attrs
        ws, wsrc = dispatch(scatter_reduce_weights, (a, idx, src, out), at)
        na, _, ns = ctx.needs_input_grad
        ga = g * ws if na else None
        gs = None
        if ns:
            gs = dispatch(gather, (g, idx), {"dim": at["dim"]}) * wsrc
        return ga, None, gs

    sample = lambda rng: [
        ([_rn(rng, 3, 4), np.array([[0, 3, 3], [1, 2, 1]]), _rn(rng, 2, 3)],
         {"dim": 1, "reduce": r, "include_self": inc})
        for r in ("sum", "mean", "amax", "amin", "prod") for inc in (True, False)]


def _reduce_arg(reduce):
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")


@public("scatter_reduce")
def scatter_reduce_(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                    include_self: bool = True) -> Tensor:
    """A copy of ``input`` with ``src`` reduced in at ``index`` along ``dim``."""
    _reduce_arg(reduce)
    d = _scatter_args("scatter_reduce", input, dim, index, src)
    return dispatch(scatter_reduce, (input, index, src),
                    {"dim": d, "reduce": reduce, "include_self": bool(include_self)})


@method("scatter_reduce_")
def scatter_reduce_inplace(self: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                           include_self: bool = True) -> Tensor:
    """In-place scatter_reduce."""
    _reduce_arg(reduce)
    d = _scatter_args("scatter_reduce", self, dim, index, src)
    _check_overlap(self, src)
    return dispatch_inplace(scatter_reduce, self, (index, src),
                            {"dim": d, "reduce": reduce, "include_self": bool(include_self)})


# ---------------------------------------------------------------- index_select / index_*
def _dim_key(dim, idx):
    return (slice(None),) * dim + (idx,)


def _check_vector_index(fname, index, n=None, dim=None):
    if not isinstance(index, Tensor):
        raise TypeError(f"{fname}(): argument 'index' must be Tensor, not "
                        f"{type(index).__name__}")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{fname}(): Expected dtype int32 or int64 for index")
    if index.ndim > 1:
        raise IndexError(f"{fname}(): Index is supposed to be a vector")


@register
class index_select:
    """Entries of ``index`` along ``dim`` (a copy)."""
    save = (1,)
    onnx = "Gather"

    def forward(xp, a, idx, *, dim):
        n = a.shape[dim] if a.ndim else 1
        if idx.size and (idx.min() < -n or idx.max() >= n) or (idx.size and idx.min() < 0):
            raise IndexError("index out of range in self")
        if a.ndim == 0:
            return a.reshape(1)[idx.reshape(-1)].reshape(idx.shape)
        return xp.take(a, idx.reshape(-1), axis=dim)

    def backward(ctx, g):
        (idx,) = ctx.saved
        shape, dt = ctx.in_meta[0]
        z = _zeros(shape, g.dtype, g)
        return dispatch(index_add, (z, idx, g), {"dim": ctx.attrs["dim"], "alpha": 1}), None

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([0, 3, 3])], {"dim": 1})]


@public("index_select")
@with_out("index_select")
def index_select_(input: Tensor, dim: int, index: Tensor, *, out=None) -> Tensor:
    """Entries of ``input`` at ``index`` along ``dim``."""
    _check_vector_index("index_select", index)
    d = wrap_dim(dim, input.ndim)
    return dispatch(index_select, (input, index), {"dim": d})


def _index_src_check(fname, input, d, index, source):
    n = index.numel()
    if not isinstance(source, Tensor):
        return
    if source.dtype is not input.dtype:
        a, b = input.dtype._torch_name, source.dtype._torch_name
        if fname == "index_add_":
            raise RuntimeError(f"index_add_(): self ({a}) and source ({b}) must have the same "
                               "scalar type")
        raise RuntimeError(f"{fname}(): self and source expected to have the same dtype, but "
                           f"got (self) {a} and (source) {b}")
    if source.ndim == 0 and input.ndim <= 1:
        if n != 1:
            raise RuntimeError(f"{fname}(): Number of indices ({n}) should be equal to "
                               f"source.size(dim): (1), for dim: {d}")
        return
    if input.ndim and source.ndim and source.shape[d] != n:
        raise RuntimeError(f"{fname}(): Number of indices ({n}) should be equal to "
                           f"source.size(dim): ({source.shape[d]}), for dim: {d}")
    if input.ndim != source.ndim and input.ndim > 0 and source.ndim > 0:
        raise IndexError(f"{fname}(): When source and destination are not scalars, their "
                         f"dimensionality must match. Source dimensionality "
                         f"({source.ndim}), destination dimensionality ({input.ndim})")
    for k in range(source.ndim):
        if k != d and source.shape[k] != input.shape[k]:
            raise RuntimeError(f"{fname}(): source ({list(source.shape)}) and self "
                               f"({list(input.shape)}) must have the same size in every "
                               f"dimension except dim {d}")


@register
class index_add:
    """A copy of input with ``alpha * source`` added at ``index`` along ``dim``."""
    save = (1,)
    onnx = "decompose"

    def forward(xp, a, idx, src, *, dim, alpha):
        out = a.copy()
        n = a.shape[dim] if a.ndim else 1
        _check_index_bounds(idx, n, dim)
        if a.dtype.kind in "iu":
            alpha = int(alpha)  # torch truncates a float alpha for integer tensors
        if alpha != 1:
            src = src * alpha
        if a.ndim == 0:
            xp.add.at(out.reshape(1), idx.reshape(-1), xp.reshape(src, -1))
            return out
        xp.add.at(out, _dim_key(dim, idx.reshape(-1)), src)
        return out

    def backward(ctx, g):
        (idx,) = ctx.saved
        at = ctx.attrs
        na, _, ns = ctx.needs_input_grad
        gs = None
        if ns:
            gs = dispatch(index_select, (g, idx), {"dim": at["dim"]})
            sshape = ctx.in_meta[2][0]
            if tuple(gs.shape) != tuple(sshape):
                gs = gs.reshape(sshape)
            if at["alpha"] != 1:
                gs = gs * at["alpha"]
        return (g if na else None), None, gs

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([0, 2, 0]), _rn(rng, 3, 3)],
                           {"dim": 1, "alpha": 2.0})]


@public("index_add")
def index_add_(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """A copy of ``input`` with ``alpha * source`` added at ``index`` along ``dim``."""
    _check_vector_index("index_add", index)
    d = wrap_dim(dim, input.ndim)
    _index_src_check("index_add_", input, d, index, source)
    return dispatch(index_add, (input, index, source), {"dim": d, "alpha": alpha})


@method("index_add_")
def index_add_inplace(self: Tensor, dim: int, index: Tensor, source: Tensor, *,
                      alpha=1) -> Tensor:
    """In-place index_add."""
    _check_vector_index("index_add_", index)
    d = wrap_dim(dim, self.ndim)
    _index_src_check("index_add_", self, d, index, source)
    _check_overlap(self, source)
    return dispatch_inplace(index_add, self, (index, source), {"dim": d, "alpha": alpha})


@register
class index_copy:
    """A copy of input with ``source`` written at ``index`` along ``dim``."""
    save = (1,)
    onnx = "decompose"

    def forward(xp, a, idx, src, *, dim):
        out = a.copy()
        n = a.shape[dim] if a.ndim else 1
        try:
            _check_index_bounds(idx, n, dim, IndexError)
        except IndexError as e:
            raise IndexError(f"index_copy_(): {e}") from None
        if a.ndim == 0:
            out.reshape(1)[idx.reshape(-1)] = xp.reshape(src, -1)
            return out
        out[_dim_key(dim, idx.reshape(-1))] = src
        return out

    def backward(ctx, g):
        (idx,) = ctx.saved
        d = ctx.attrs["dim"]  # (index_copy)
        na, _, ns = ctx.needs_input_grad
        ga = dispatch(index_fill, (g, idx, 0.0), {"dim": d}) if na else None
        gs = dispatch(index_select, (g, idx), {"dim": d}) if ns else None
        if gs is not None and tuple(gs.shape) != tuple(ctx.in_meta[2][0]):
            gs = gs.reshape(ctx.in_meta[2][0])
        return ga, None, gs

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([0, 2]), _rn(rng, 3, 2)], {"dim": 1})]


@public("index_copy")
def index_copy_(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """A copy of ``input`` with ``source`` written at ``index`` along ``dim``."""
    _check_vector_index("index_copy", index)
    d = wrap_dim(dim, input.ndim)
    _index_src_check("index_copy_", input, d, index, source)
    return dispatch(index_copy, (input, index, source), {"dim": d})


@method("index_copy_")
def index_copy_inplace(self: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """In-place index_copy."""
    _check_vector_index("index_copy_", index)
    d = wrap_dim(dim, self.ndim)
    _index_src_check("index_copy_", self, d, index, source)
    _check_overlap(self, source)
    return dispatch_inplace(index_copy, self, (index, source), {"dim": d})


@register
class index_fill:
    """A copy of input with ``value`` (number or 0-d tensor) at ``index`` along ``dim``."""
    save = (1,)
    onnx = "decompose"

    def forward(xp, a, idx, value, *, dim):
        out = a.copy()
        n = a.shape[dim] if a.ndim else 1
        _check_index_bounds(idx, n, dim, IndexError)
        if a.ndim == 0:
            out.reshape(1)[idx.reshape(-1)] = value
            return out
        out[_dim_key(dim, idx.reshape(-1))] = value
        return out

    def backward(ctx, g):
        (idx,) = ctx.saved
        d = ctx.attrs["dim"]
        na, _, nv = ctx.needs_input_grad
        ga = dispatch(index_fill, (g, idx, 0.0), {"dim": d}) if na else None
        gv = None
        if nv:
            gv = dispatch(index_select, (g, idx.reshape(-1)), {"dim": d}).sum()
            vdt = ctx.in_meta[2][1]
            gv = gv if gv.dtype is vdt else gv.to(vdt)
        return ga, None, gv

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([0, 2]), _rn(rng)], {"dim": 1}),
                          ([_rn(rng, 3, 4), np.array([1]), 2.5], {"dim": 0})]


index_fill_tensor = variant(index_fill, "index_fill_tensor", "IndexFillBackward1")


def _fill_args(fname, input, dim, index, value):
    _check_vector_index(fname, index)
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"{fname} only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    return wrap_dim(dim, input.ndim)


@public("index_fill")
def index_fill_(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """A copy of ``input`` with ``value`` at ``index`` along ``dim``."""
    d = _fill_args("index_fill_", input, dim, index, value)
    op = index_fill_tensor if isinstance(value, Tensor) else index_fill
    return dispatch(op, (input, index, value), {"dim": d})


@method("index_fill_")
def index_fill_inplace(self: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """In-place index_fill."""
    d = _fill_args("index_fill_", self, dim, index, value)
    op = index_fill_tensor if isinstance(value, Tensor) else index_fill
    return dispatch_inplace(op, self, (index, value), {"dim": d})


# ---------------------------------------------------------------- masked ops
@register
class masked_fill:
    """input with ``value`` (number or 0-d tensor) where ``mask`` is True (broadcasting)."""
    save = (1,)
    onnx = "Where"

    def forward(xp, a, mask, value):
        if isinstance(value, complex) and a.dtype.kind != "c":
            value = value.real
        v = xp.asarray(value).astype(a.dtype)
        return xp.where(mask, v, a)

    def backward(ctx, g):
        (mask,) = ctx.saved
        na, _, nv = ctx.needs_input_grad
        ga = gv = None
        if na:
            ga = sum_to(dispatch(masked_fill, (g, mask, 0.0)), ctx.in_meta[0][0])
        if nv:
            gv = dispatch(masked_fill, (g, _make(~mask._data), 0.0)).sum()
            vdt = ctx.in_meta[2][1]
            gv = gv if gv.dtype is vdt else gv.to(vdt)
        return ga, None, gv

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([True, False, True, False]), _rn(rng)],
                           {}),
                          ([_rn(rng, 1, 4), rng.random((3, 4)) > 0.5, -1.5], {})]


masked_fill_tensor = variant(masked_fill, "masked_fill_tensor", "MaskedFillBackward1")


def _mask_check(fname, mask):
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        dt = mask.dtype._torch_name.lower() if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"{fname} only supports boolean masks, but got mask with dtype {dt}")


def _dt_name(t):
    return str(t.dtype).split(".")[-1]


def _mf_value(value):
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    return value


@public("masked_fill")
def masked_fill_(input: Tensor, mask: Tensor, value) -> Tensor:
    """``input`` with ``value`` where ``mask`` (broadcast) is True."""
    _mask_check("masked_fill_", mask)
    value = _mf_value(value)
    op = masked_fill_tensor if isinstance(value, Tensor) else masked_fill
    return dispatch(op, (input, mask, value))


@method("masked_fill_")
def masked_fill_inplace(self: Tensor, mask: Tensor, value) -> Tensor:
    """In-place masked_fill (mask broadcasts to this tensor's shape)."""
    _mask_check("masked_fill_", mask)
    value = _mf_value(value)
    op = masked_fill_tensor if isinstance(value, Tensor) else masked_fill
    return dispatch_inplace(op, self, (mask, value))


@register
class masked_select:
    """The elements of input (broadcast with mask) where mask is True, as a 1-D tensor."""
    save = (1,)
    onnx = "decompose"

    def forward(xp, a, mask):
        shape = np.broadcast_shapes(a.shape, mask.shape)
        return xp.broadcast_to(a, shape)[xp.broadcast_to(mask, shape)]

    def backward(ctx, g):
        (mask,) = ctx.saved
        shape, dt = ctx.in_meta[0]
        full = np.broadcast_shapes(tuple(shape), tuple(mask.shape))
        z = _zeros(full, g.dtype, g)
        mb = _make(np.broadcast_to(mask._data, full))
        r = dispatch(masked_scatter, (z, mb, g))
        return sum_to(r, shape), None

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([True, False, True, True])], {})]


@public("masked_select")
def masked_select_(input: Tensor, mask: Tensor) -> Tensor:
    """Elements of ``input`` where ``mask`` is True (1-D)."""
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    from .shape import _broadcast_shape_of
    _broadcast_shape_of((input, mask))
    return dispatch(masked_select, (input, mask))


@register
class masked_scatter:
    """input with mask's True positions filled, in order, from ``source``'s elements."""
    save = (1,)
    onnx = "decompose"

    def forward(xp, a, mask, src):
        shape = np.broadcast_shapes(a.shape, mask.shape)
        out = xp.broadcast_to(a, shape).copy()
        m = xp.broadcast_to(mask, shape)
        n = int(m.sum())
        if n > src.size:
            raise RuntimeError("Number of elements of source < number of ones in mask")
        out[m] = src.reshape(-1)[:n]
        return out

    def backward(ctx, g):
        (mask,) = ctx.saved
        na, _, ns = ctx.needs_input_grad
        ga = gs = None
        if na:
            ga = sum_to(dispatch(masked_fill, (g, mask, 0.0)), ctx.in_meta[0][0])
        if ns:
            gs = dispatch(masked_scatter_backward, (g, mask), {"shape": ctx.in_meta[2][0]})
        return ga, None, gs

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([True, False, True, True]),
                            _rn(rng, 4, 3)], {})]


@register
class masked_scatter_backward:
    """masked_scatter's source gradient: g[mask] in order, zero-padded to ``shape``."""
    save = (1,)
    onnx = "decompose"

    def forward(xp, g, mask, *, shape):
        m = xp.broadcast_to(mask, g.shape)
        sel = g[m]
        n = int(np.prod(shape))
        out = xp.zeros(n, g.dtype)
        out[:sel.size] = sel
        return out.reshape(shape)

    def backward(ctx, gg):
        (mask,) = ctx.saved
        shape, dt = ctx.in_meta[0]
        z = _zeros(shape, gg.dtype, gg)
        return dispatch(masked_scatter, (z, mask, gg)), None

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([True, False, True, True])],
                           {"shape": (5, 3)})]


@public("masked_scatter")
def masked_scatter_(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``input`` with mask's True positions taking ``source``'s elements in order."""
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                           f"dtype {_dt_name(mask) if isinstance(mask, Tensor) else mask}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"masked_scatter_: expected self and source to have same dtypes but "
                           f"got {_dt_name(input)} and {_dt_name(source)}")
    return dispatch(masked_scatter, (input, mask, source))


@method("masked_scatter_")
def masked_scatter_inplace(self: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """In-place masked_scatter."""
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                           f"dtype {_dt_name(mask) if isinstance(mask, Tensor) else mask}")
    if source.dtype is not self.dtype:
        raise RuntimeError(f"masked_scatter_: expected self and source to have same dtypes but "
                           f"got {_dt_name(self)} and {_dt_name(source)}")
    return dispatch_inplace(masked_scatter, self, (mask, source))


# ---------------------------------------------------------------- take / put
def _flat_bounds(idx, n):
    if idx.size:
        lo, hi = idx.min(), idx.max()
        if lo < -n or hi >= n:
            bad = int(hi if hi >= n else lo)
            raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                             f"elements.")


@register
class take:
    """input (flattened) at ``index``; the result has index's shape."""
    save = (1,)
    onnx = "decompose"

    def forward(xp, a, idx):
        _flat_bounds(idx, a.size)
        return a.reshape(-1)[idx]

    def backward(ctx, g):
        (idx,) = ctx.saved
        shape, dt = ctx.in_meta[0]
        z = _zeros(shape, g.dtype, g)
        return dispatch(put, (z, idx, g), {"accumulate": True}), None

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([[0, 11], [-1, 0]])], {})]


@register
class put:
    """A copy of input with ``source`` written (or added) at flat ``index``."""
    save = (1,)
    onnx = "decompose"

    def forward(xp, a, idx, src, *, accumulate):
        out = a.copy()
        flat = out.reshape(-1)
        _flat_bounds(idx, a.size)
        s = xp.reshape(src, -1)
        if accumulate:
            xp.add.at(flat, idx.reshape(-1), s)
        else:
            flat[idx.reshape(-1)] = s
        return out

    def backward(ctx, g):
        (idx,) = ctx.saved
        na, _, ns = ctx.needs_input_grad
        ga = gs = None
        if na:
            ga = g if ctx.attrs["accumulate"] else dispatch(
                put, (g, idx, _zeros(idx.shape, g.dtype, g)), {"accumulate": False})
        if ns:
            gs = dispatch(take, (g, idx)).reshape(ctx.in_meta[2][0])
        return ga, None, gs

    sample = lambda rng: [([_rn(rng, 3, 4), np.array([0, 5, 0]), _rn(rng, 3)],
                           {"accumulate": True}),
                          ([_rn(rng, 3, 4), np.array([1, 5]), _rn(rng, 2)],
                           {"accumulate": False})]


def _long_check(fname, index):
    if not isinstance(index, Tensor) or index._data.dtype != np.int64:
        raise RuntimeError(f"{fname}(): Expected a long tensor for index, but got "
                           f"{_dt_name(index) if isinstance(index, Tensor) else index}")


@public("take")
def take_(input: Tensor, index: Tensor) -> Tensor:
    """Elements of the flattened ``input`` at ``index``."""
    _long_check("take", index)
    return dispatch(take, (input, index))


@public("put")
def put_fn(self: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """A copy with ``source`` put at flat ``index``."""
    _long_check("put_", index)
    _put_check(index, source, self)
    return dispatch(put, (self, index, source), {"accumulate": bool(accumulate)})


def _put_check(index, source, self=None):
    if self is not None and source.dtype is not self.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got "
                           f"self.dtype = {self.dtype._torch_name} and source.dtype = "
                           f"{source.dtype._torch_name}")
    if index.numel() != source.numel():
        raise RuntimeError(f"put_(): Expected source and index to have the same number of "
                           f"elements, but got source.numel() = {source.numel()}, "
                           f"index.numel() = {index.numel()}")


@method("put_")
def put_inplace(self: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """Write (or add) ``source`` at flat ``index`` in place."""
    _long_check("put_", index)
    _put_check(index, source, self)
    _check_overlap(self, source)
    return dispatch_inplace(put, self, (index, source), {"accumulate": bool(accumulate)})


@public("take_along_dim")
@with_out("take_along_dim")
def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None, *,
                   out=None) -> Tensor:
    """gather with broadcasting of input and indices outside ``dim`` (flattened if None)."""
    if indices._data.dtype.kind not in "iu":
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{_dt_name(indices)}")
    if dim is None:
        return gather_(input.reshape(-1), 0, indices.reshape(-1))
    d = wrap_dim(dim, input.ndim)
    if input.ndim != indices.ndim:
        raise RuntimeError("torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {input.ndim} dimensions for input, "
                           f"and {indices.ndim} dimensions for indices")
    si = list(input.shape)
    sx = list(indices.shape)
    si[d] = sx[d] = 1
    from .shape import broadcast_shapes
    b = list(broadcast_shapes(si, sx))
    bi, bx = list(b), list(b)
    bi[d], bx[d] = input.shape[d], indices.shape[d]
    return gather_(input.expand(*bi), d, indices.expand(*bx))


# ---------------------------------------------------------------- nonzero / argwhere
@register
class nonzero:
    """Coordinates of the non-zero elements, one row per element (int64)."""
    differentiable = False
    onnx = "NonZero"

    def forward(xp, a):
        if a.ndim == 0:
            return xp.zeros((int(a != 0), 0), np.int64)
        return xp.stack(xp.nonzero(a), axis=1).astype(np.int64) if a.ndim else None


@public("nonzero")
@with_out("nonzero")
def nonzero_(input: Tensor, *, out=None, as_tuple: bool = False):
    """Indices of non-zero elements: an (n, ndim) tensor, or a tuple of 1-D tensors."""
    r = dispatch(nonzero, (input,))
    if not as_tuple:
        return r
    if input.ndim == 0:
        return (_lt(np.zeros(r.shape[0], np.int64)),)
    from .shape import unbind_
    return unbind_(r, 1)


@public("argwhere")
def argwhere(input: Tensor) -> Tensor:
    """nonzero(input) as an (n, ndim) tensor."""
    return dispatch(nonzero, (input,))


# ---------------------------------------------------------------- sort / topk / kthvalue
def _return_type(name, fields=("values", "indices")):
    cls = collections.namedtuple(name, fields)
    cls.__module__ = "ardor.return_types"
    cls.__repr__ = lambda self: (f"ardor.return_types.{name}(" + ",\n".join(
        f"{f}={v!r}" for f, v in zip(fields, self)) + ")")
    return cls


class return_types:  # noqa: N801  (torch.return_types namespace)
    """Named tuples returned by sort/topk/kthvalue."""
    sort = _return_type("sort")
    topk = _return_type("topk")
    kthvalue = _return_type("kthvalue")


def _argsort(xp, a, dim, descending):
    """A stable argsort along ``dim`` (NaN largest, as torch)."""
    if not descending:
        return xp.argsort(a, axis=dim, kind="stable")
    # stable descending: reverse, stable ascending, reverse back (equal elements keep order)
    n = a.shape[dim]
    r = xp.flip(a, axis=dim)
    i = xp.argsort(r, axis=dim, kind="stable")
    return (n - 1) - xp.flip(i, axis=dim)


@register
class sort:
    """Sorted values along ``dim`` and their original indices."""
    nout = 2
    save_out = True
    onnx = "TopK"

    def forward(xp, a, *, dim, descending, stable=True):
        if a.ndim == 0:
            return a.copy(), xp.zeros((), np.int64)
        if a.dtype == np.bool_:
            i = _argsort(xp, a.astype(np.uint8), dim, descending)
        else:
            i = _argsort(xp, a, dim, descending)
        return xp.take_along_axis(a, i, axis=dim), i.astype(np.int64)

    def backward(ctx, gv, gi):
        _, idx = ctx.saved
        return dispatch(value_selecting_reduction_backward, (gv, idx),
                        {"dim": ctx.attrs["dim"], "shape": ctx.in_shape})

    sample = lambda rng: [([_rn(rng, 3, 4)], {"dim": 1, "descending": True, "stable": True}),
                          ([_rn(rng, 3, 4)], {"dim": 0, "descending": False, "stable": True})]


sort_stable = variant(sort, "sort_stable", "SortBackward1")


@register
class value_selecting_reduction_backward:
    """Zeros of ``shape`` with ``g`` written at ``idx`` along ``dim`` (the gradient of sort,
    topk, kthvalue, max/min with dim)."""
    save = (1,)
    onnx = "decompose"

    def forward(xp, g, idx, *, dim, shape):
        out = xp.zeros(shape, g.dtype)
        if len(shape) == 0:
            out[...] = g
            return out
        if idx.ndim < len(shape):  # keepdim=False reductions
            idx = xp.expand_dims(idx, dim)
            g = xp.expand_dims(g, dim)
        xp.put_along_axis(out, idx, g, axis=dim)
        return out

    def backward(ctx, gg):
        (idx,) = ctx.saved
        d = ctx.attrs["dim"]
        if len(ctx.attrs["shape"]) == 0:
            return gg, None
        if idx.ndim < len(ctx.attrs["shape"]):
            return dispatch(gather, (gg, idx.unsqueeze(d)), {"dim": d}).squeeze(d), None
        return dispatch(gather, (gg, idx), {"dim": d}), None

    sample = lambda rng: [([_rn(rng, 3, 2), np.array([[0, 3], [1, 2], [3, 0]])],
                           {"dim": 1, "shape": (3, 4)})]


@public("sort")
@with_out("sort")
def sort_(input: Tensor, dim: int = -1, descending: bool = False, *, stable: bool = False,
          out=None):
    """(values, indices) sorted along ``dim`` (stable; NaN sorts as the largest value)."""
    if isinstance(dim, bool):  # sort(input, stable, dim=..., descending=...)
        dim = -1
    d = wrap_dim(dim, input.ndim)
    op = sort_stable if stable else sort
    v, i = dispatch(op, (input,), {"dim": d, "descending": bool(descending), "stable": True})
    return return_types.sort(v, i)


@public("argsort")
def argsort(input: Tensor, dim: int = -1, descending: bool = False, *,
            stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim``."""
    d = wrap_dim(dim, input.ndim)
    from ..autograd.grad_mode import no_grad
    with no_grad():
        return dispatch(sort, (input,), {"dim": d, "descending": bool(descending),
                                         "stable": True})[1]


@public("msort")
@with_out("msort")
def msort(input: Tensor, *, out=None) -> Tensor:
    """Sorted along dim 0 (values only)."""
    return sort_(input, 0).values


@register
class topk:
    """The k largest (or smallest) values along ``dim`` and their indices."""
    nout = 2
    save_out = True
    onnx = "TopK"

    def forward(xp, a, *, k, dim, largest, sorted=True):
        if a.ndim == 0:
            return a.copy(), xp.zeros((), np.int64)
        src = a.astype(np.uint8) if a.dtype == np.bool_ else a
        i = _argsort(xp, src, dim, largest)
        i = i[_dim_key(dim, slice(0, k))]
        return xp.take_along_axis(a, i, axis=dim), i.astype(np.int64)

    def backward(ctx, gv, gi):
        _, idx = ctx.saved
        return dispatch(value_selecting_reduction_backward, (gv, idx),
                        {"dim": ctx.attrs["dim"], "shape": ctx.in_shape})

    sample = lambda rng: [([_rn(rng, 3, 5)], {"k": 2, "dim": 1, "largest": True,
                                              "sorted": True}),
                          ([_rn(rng, 4, 3)], {"k": 3, "dim": 0, "largest": False,
                                              "sorted": True})]


@public("topk")
@with_out("topk")
def topk_(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *,
          out=None):
    """(values, indices) of the ``k`` largest (``largest=False``: smallest) along ``dim``."""
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    v, i = dispatch(topk, (input,), {"k": int(k), "dim": d, "largest": bool(largest),
                                     "sorted": True})
    return return_types.topk(v, i)


@register
class kthvalue:
    """The k-th smallest value along ``dim`` and its index."""
    nout = 2
    save_out = True
    onnx = "decompose"

    def forward(xp, a, *, k, dim, keepdim):
        if a.ndim == 0:
            return a.copy(), xp.zeros((), np.int64)
        src = a.astype(np.uint8) if a.dtype == np.bool_ else a
        i = xp.take(xp.argsort(src, axis=dim, kind="stable"), [k - 1], axis=dim)
        v = xp.take_along_axis(a, i, axis=dim)
        if not keepdim:
            v, i = xp.squeeze(v, dim), xp.squeeze(i, dim)
        return v, i.astype(np.int64)

    def backward(ctx, gv, gi):
        _, idx = ctx.saved
        return dispatch(value_selecting_reduction_backward, (gv, idx),
                        {"dim": ctx.attrs["dim"], "shape": ctx.in_shape})

    sample = lambda rng: [([_rn(rng, 3, 5)], {"k": 2, "dim": 1, "keepdim": False}),
                          ([_rn(rng, 4, 3)], {"k": 4, "dim": 0, "keepdim": True})]


@public("kthvalue")
@with_out("kthvalue")
def kthvalue_(input: Tensor, k: int, dim: int = -1, keepdim: bool = False, *, out=None):
    """(values, indices) of the k-th smallest element along ``dim``."""
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    v, i = dispatch(kthvalue, (input,), {"k": int(k), "dim": d, "keepdim": bool(keepdim)})
    return return_types.kthvalue(v, i)


# ---------------------------------------------------------------- unique
@register
class unique:
    """Sorted unique values (along ``dim`` when given), inverse indices and counts."""
    differentiable = False
    nout = 3
    onnx = "Unique"

    def forward(xp, a, *, dim):
        if dim is None:
            # torch keeps NaNs distinct
            u, inv, cnt = xp.unique(a.reshape(-1), return_inverse=True, return_counts=True,
                                    equal_nan=False)
            return u, inv.reshape(a.shape).astype(np.int64), cnt.astype(np.int64)
        if a.shape[dim] == 0:
            return a.copy(), xp.zeros(0, np.int64), xp.zeros(0, np.int64)
        u, inv, cnt = xp.unique(a, return_inverse=True, return_counts=True, axis=dim)
        return u, inv.reshape(-1).astype(np.int64), cnt.astype(np.int64)


def _unique_result(res, return_inverse, return_counts):
    out, inv, cnt = res
    if not return_inverse and not return_counts:
        return out
    r = (out,)
    if return_inverse:
        r += (inv,)
    if return_counts:
        r += (cnt,)
    return r


@public("unique")
def unique_(input: Tensor, sorted: bool = True, return_inverse: bool = False,
            return_counts: bool = False, dim: int | None = None):
    """Unique elements (sorted), optionally with inverse indices and counts."""
    d = None if dim is None else wrap_dim(dim, input.ndim)
    return _unique_result(dispatch(unique, (input,), {"dim": d}), return_inverse,
                          return_counts)


@register
class unique_consecutive:
    """Collapse runs of equal consecutive values (slices along ``dim`` when given)."""
    differentiable = False
    nout = 3
    onnx = "decompose"

    def forward(xp, a, *, dim):
        if dim is None:
            flat = a.reshape(-1)
            n = flat.shape[0]
            change = xp.ones(n, bool)
            if n > 1:
                change[1:] = flat[1:] != flat[:-1]
            vals = flat[change]
            shape_inv = a.shape
        else:
            m = xp.moveaxis(a, dim, 0)
            n = m.shape[0]
            rows = m.reshape(n, -1)
            change = xp.ones(n, bool)
            if n > 1:
                change[1:] = (rows[1:] != rows[:-1]).any(axis=1)
            vals = xp.moveaxis(m[change], 0, dim)
            shape_inv = (n,)
        inv = (xp.cumsum(change) - 1).astype(np.int64).reshape(shape_inv)
        starts = xp.nonzero(change)[0]
        cnt = xp.diff(xp.append(starts, n)).astype(np.int64)
        return xp.ascontiguousarray(vals), inv, cnt


@public("unique_consecutive")
def unique_consecutive_(input: Tensor, return_inverse: bool = False,
                        return_counts: bool = False, dim: int | None = None):
    """Unique values of consecutive runs, optionally with inverse indices and counts."""
    d = None if dim is None else wrap_dim(dim, input.ndim)
    return _unique_result(dispatch(unique_consecutive, (input,), {"dim": d}), return_inverse,
                          return_counts)


# ---------------------------------------------------------------- searchsorted / bucketize
@register
class searchsorted:
    """Insertion points of ``values`` into the innermost dim of sorted ``seq``."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, seq, values, sorter=None, *, right, out_int32):
        odt = np.int32 if out_int32 else np.int64
        side = "right" if right else "left"
        scalar = np.ndim(values) == 0
        v = xp.asarray(values)
        if seq.ndim == 1:
            r = xp.searchsorted(seq, v, side=side, sorter=sorter)
            return xp.asarray(r).astype(odt)
        lead = seq.shape[:-1]
        s2 = seq.reshape(-1, seq.shape[-1])
        v2 = v.reshape(s2.shape[0], -1)
        so = None if sorter is None else sorter.reshape(s2.shape[0], -1)
        out = xp.empty(v2.shape, odt)
        for i in range(s2.shape[0]):  # one searchsorted per row (vectorized within rows)
            out[i] = xp.searchsorted(s2[i], v2[i], side=side,
                                     sorter=None if so is None else so[i])
        return out.reshape(v.shape if not scalar else ())


@public("searchsorted", method=False)
@with_out("searchsorted")
def searchsorted_(sorted_sequence: Tensor, input, *, out_int32: bool = False,
                  right: bool = False, side: str | None = None, out=None,
                  sorter: Tensor | None = None) -> Tensor:
    """Indices where ``input`` would be inserted into ``sorted_sequence`` to keep it sorted."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to "
                               "opposites, got side of left while right was True")
        right = side == "right"
    if isinstance(input, Tensor) and sorted_sequence.ndim > 1:
        if sorted_sequence.shape[:-1] != input.shape[:-1]:
            raise RuntimeError(
                "torch.searchsorted(): boundaries tensor should be 1 dimension or the first "
                "N-1 dimensions of boundaries tensor and input value tensor must match, but "
                f"we got boundaries tensor {list(sorted_sequence.shape)} and input value "
                f"tensor {list(input.shape)}")
    if sorter is not None and tuple(sorter.shape) != tuple(sorted_sequence.shape):
        raise RuntimeError(f"torch.searchsorted(): boundary and sorter must have the same size, "
                           f"but got boundary tensor {list(sorted_sequence.shape)}and got "
                           f"sorter tensor {list(sorter.shape)}")
    args = (sorted_sequence, input) + ((sorter,) if sorter is not None else ())
    return dispatch(searchsorted, args, {"right": bool(right), "out_int32": bool(out_int32)})


@public("bucketize")
@with_out("bucketize")
def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False,
              out=None) -> Tensor:
    """Bucket index of each element of ``input`` for 1-D ``boundaries``."""
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim})")
    return dispatch(searchsorted, (boundaries, input), {"right": bool(right),
                                                       "out_int32": bool(out_int32)})


# ---------------------------------------------------------------- in-place kernels
# ``inplace_forward(xp, out, *arrays, **attrs)`` writes an op's result straight into ``out``
# (self's array): dispatch_inplace uses it outside autograd, so x[idx] = v, index_add_,
# masked_fill_, ... cost O(touched elements) instead of two full copies.
def _copy_into(xp, out, src):
    if np.ndim(src) > out.ndim or not _broadcastable(np.shape(src), out.shape):
        copy.forward(xp, out, src)  # raises torch's error
    if xp is np:
        np.copyto(out, src if np.ndim(src) or not isinstance(src, complex) or
                  out.dtype.kind == "c" else src.real, casting="unsafe")
    else:
        out[...] = src


def _broadcastable(src_shape, dst_shape) -> bool:
    off = len(dst_shape) - len(src_shape)
    return off >= 0 and all(s == 1 or s == dst_shape[off + i] for i, s in enumerate(src_shape))


def _index_put_into(xp, out, v, *idx, accumulate):
    key = _np_key(idx)
    try:
        if accumulate:
            xp.add.at(out, key, v)
        else:
            out[key] = v
    except IndexError as e:
        raise _index_error(e, idx) from None
    except ValueError:
        sel = out[key]
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(np.shape(v))} cannot "
                           f"be broadcast to indexing result of shape {list(sel.shape)}") from None


def _masked_fill_into(xp, out, mask, value):
    if not _broadcastable(mask.shape, out.shape):
        raise RuntimeError(f"output with shape {list(out.shape)} doesn't match the broadcast "
                           f"shape {list(np.broadcast_shapes(out.shape, mask.shape))}")
    if isinstance(value, complex) and out.dtype.kind != "c":
        value = value.real
    if xp is np:
        np.copyto(out, value, casting="unsafe", where=mask)
    else:
        out[xp.broadcast_to(mask, out.shape)] = value


copy.inplace_forward = lambda xp, out, src: _copy_into(xp, out, src)
fill.inplace_forward = fill_tensor.inplace_forward = \
    lambda xp, out, value: _copy_into(xp, out, value)
zero.inplace_forward = lambda xp, out: out.fill(0)
index_put.inplace_forward = _index_put_into
masked_fill.inplace_forward = masked_fill_tensor.inplace_forward = _masked_fill_into
scatter.inplace_forward = scatter_value.inplace_forward = \
    lambda xp, out, idx, src, *, dim, reduce=None: _scatter_into(xp, out, idx, src, dim, reduce)
scatter_add.inplace_forward = \
    lambda xp, out, idx, src, *, dim: _scatter_into(xp, out, idx, src, dim, "add")


def _index_add_into(xp, out, idx, src, *, dim, alpha):
    if out.ndim == 0:
        out[...] = index_add.forward(xp, out, idx, src, dim=dim, alpha=alpha)
        return
    _check_index_bounds(idx, out.shape[dim], dim)
    if out.dtype.kind in "iu":
        alpha = int(alpha)
    xp.add.at(out, _dim_key(dim, idx.reshape(-1)), src * alpha if alpha != 1 else src)


def _index_copy_into(xp, out, idx, src, *, dim):
    if out.ndim == 0:
        out[...] = index_copy.forward(xp, out, idx, src, dim=dim)
        return
    try:
        _check_index_bounds(idx, out.shape[dim], dim, IndexError)
    except IndexError as e:
        raise IndexError(f"index_copy_(): {e}") from None
    out[_dim_key(dim, idx.reshape(-1))] = src


def _index_fill_into(xp, out, idx, value, *, dim):
    if out.ndim == 0:
        out[...] = index_fill.forward(xp, out, idx, value, dim=dim)
        return
    _check_index_bounds(idx, out.shape[dim], dim, IndexError)
    out[_dim_key(dim, idx.reshape(-1))] = value


def _put_into(xp, out, idx, src, *, accumulate):
    if not out.flags.c_contiguous:
        out[...] = put.forward(xp, out, idx, src, accumulate=accumulate)
        return
    _flat_bounds(idx, out.size)
    flat = out.reshape(-1)
    if accumulate:
        xp.add.at(flat, idx.reshape(-1), xp.reshape(src, -1))
    else:
        flat[idx.reshape(-1)] = xp.reshape(src, -1)


index_add.inplace_forward = _index_add_into
index_copy.inplace_forward = _index_copy_into
index_fill.inplace_forward = index_fill_tensor.inplace_forward = _index_fill_into
put.inplace_forward = _put_into


def _index_reduce_args(self, dim, index, source, reduce):
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    _check_vector_index("index_reduce", index)
    d = wrap_dim(dim, self.ndim)
    _index_src_check("index_reduce_", self, d, index, source)
    # index_reduce along dim == scatter_reduce with the index broadcast over source
    shape = [1] * max(source.ndim, 1)
    shape[d] = -1
    idx = index.reshape(shape).expand(*source.shape) if source.ndim else index.reshape(())
    return d, idx


@public("index_reduce")
def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                 include_self: bool = True) -> Tensor:
    """Reduce ``source`` slices into ``input`` at ``index`` along ``dim`` (prod, mean, amax,
    amin)."""
    d, idx = _index_reduce_args(input, dim, index, source, reduce)
    return dispatch(scatter_reduce, (input, idx.contiguous(), source),
                    {"dim": d, "reduce": reduce, "include_self": bool(include_self)})


@method("index_reduce_")
def index_reduce_inplace(self: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                         include_self: bool = True) -> Tensor:
    """In-place index_reduce."""
    d, idx = _index_reduce_args(self, dim, index, source, reduce)
    _check_overlap(self, source)
    return dispatch_inplace(scatter_reduce, self, (idx.contiguous(), source),
                            {"dim": d, "reduce": reduce, "include_self": bool(include_self)})
