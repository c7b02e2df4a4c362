"""Reductions: sum, mean, prod, max/min, var/std, norms, cumulative ops, ...

Forwards are numpy/cupy calls over the array module ``xp``; backwards are formulas over
Tensors. Gradient masks that torch builds in C++ (ties of a max, the one-hot of an argmax,
the not-NaN mask of nansum) come from one non-differentiable helper op, ``reduction_mask``,
so that no backward formula touches arrays directly.
"""
from __future__ import annotations

import builtins
import collections
import math

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from . import _ckern
from ._util import dims_arg, wrap_dim
from .dispatch import dispatch, dispatch_inplace
from .registry import method, public, register

_bmax = builtins.max  # this module defines its own max/min/all/any


# ---------------------------------------------------------------- helpers
class _NoDim:
    """Default of ``dim`` where torch has a separate overload without it."""

    def __repr__(self) -> str:
        return "None"


_NO_DIM = _NoDim()


def _nt(name: str, fields: str):
    """A torch.return_types-like named tuple type (unpacks as a plain tuple)."""
    base = collections.namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"ardor.return_types.{name}(\n{body})"
    cls = type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__str__": __repr__,
                               "__module__": "ardor.return_types", "__qualname__": name})
    return cls


max_t = _nt("max", "values indices")
min_t = _nt("min", "values indices")
median_t = _nt("median", "values indices")
mode_t = _nt("mode", "values indices")
cummax_t = _nt("cummax", "values indices")
cummin_t = _nt("cummin", "values indices")
aminmax_t = _nt("aminmax", "min max")


def _dims(dim, ndim: int):
    """dim argument -> sorted tuple of wrapped dims, or None for 'all' (torch: [] means all)."""
    dims = dims_arg(dim, ndim)
    if dims is not None and (len(dims) == 0 or ndim == 0):
        return None
    return dims


def _axis(dims):
    return dims if dims is None else tuple(dims)


def _reduced_count(shape, dims) -> int:
    n = 1
    for d in (range(len(shape)) if dims is None else dims):
        n *= shape[d]
    return n


def _expand_grad(g, in_shape, dims, keepdim):
    """Broadcast a reduced gradient back over the reduced dims."""
    if not keepdim and len(in_shape) and g.ndim != len(in_shape):
        red = range(len(in_shape)) if dims is None else dims
        g = g.reshape(tuple(1 if i in red else n for i, n in enumerate(in_shape)))
    return g.expand(tuple(in_shape))


def _keep(out, in_ndim, dims, keepdim):
    """Unsqueeze a reduced tensor so it broadcasts against the input."""
    if keepdim or in_ndim == 0 or out.ndim == in_ndim:
        return out
    for d in (range(in_ndim) if dims is None else dims):
        out = out.unsqueeze(d)
    return out


def _np_keep(xp, out, in_ndim, dims):
    if out.ndim == in_ndim:
        return out
    return xp.expand_dims(out, tuple(range(in_ndim)) if dims is None else dims)


def _require_float(name: str, t: Tensor, what="input"):
    if not (t.dtype.is_floating_point or t.dtype.is_complex):
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as {what}. "
                           f"Got {t.dtype._torch_name}")


def _check_nonempty(name: str, t: Tensor, dims):
    """torch's errors for value-selecting reductions over zero-size dims."""
    if t.numel() != 0:
        return
    if dims is None:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                           "== 0. Specify the reduction dim with the 'dim' argument.")
    for d in dims:
        if t.ndim and t.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _int_result(a):
    return D.int64.np if a.dtype.kind in "biu" else a.dtype


_HALF = (np.dtype(np.float16), D.bfloat16.np)


def _acc(out_dt):
    """Accumulation dtype: float32 for half types (torch accumulates them in float32)."""
    return np.float32 if out_dt in _HALF else out_dt


def _dt(dtype):
    return None if dtype is None else D.as_dtype(dtype)


def _cast(t: Tensor, dtype) -> Tensor:
    """torch's dtype= on reductions: the input is cast before reducing (so the gradient
    flows back through the cast)."""
    return t if dtype is None else t.to(D.as_dtype(dtype))


def _mask(mode: str, a: Tensor, b=None, **attrs) -> Tensor:
    return dispatch(reduction_mask, (a, b), dict({"mode": mode}, **attrs))


def _has_zero(t: Tensor) -> bool:
    """Data-dependent branch of prod/cumprod backward (torch branches on it too)."""
    return bool((t._data == 0).any())


@register
class reduction_mask:
    """Constant masks for gradient formulas (torch builds these inside its C++ backwards).

    modes: "ties" (1/count on the elements of ``a`` equal to the reduced ``b``),
    "onehot" (1 where the position along ``dim`` equals the index ``a``; ``shape``),
    "notnan", "nonzero", "sign", "eye" (identity over the last two dims of ``a``),
    "tril_half" (lower triangle, 0.5 on the diagonal), "tril"/"triu" (offset ``k``)."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, a, b=None, *, mode, dims=None, dim=None, shape=None, dtype=None, k=0):
        if mode == "ties":
            m = a == _np_keep(xp, b, a.ndim, dims)
            m = m.astype(a.dtype)
            return m / xp.sum(m, axis=_axis(dims), keepdims=True)
        if mode == "onehot":
            idx = _np_keep(xp, a, len(shape), (dim,)) if a.ndim != len(shape) else a
            n = shape[dim]
            ar = xp.arange(n).reshape((n,) + (1,) * (len(shape) - dim - 1))
            return (idx == ar).astype(dtype.np)
        if mode == "notnan":
            return (~xp.isnan(a)).astype(a.dtype)
        if mode == "nonzero":
            return (a != 0).astype(a.dtype)
        if mode == "sign":
            return xp.sign(a)
        if mode == "eye":
            n, m = a.shape[-2], a.shape[-1]
            return xp.eye(n, m, dtype=a.dtype)
        if mode in ("tril", "triu"):
            n, m = a.shape[-2], a.shape[-1]
            return getattr(xp, mode)(xp.ones((n, m), dtype=a.dtype), k)
        if mode == "tril_half":
            n = a.shape[-1]
            return (xp.tril(xp.ones((n, n), dtype=a.dtype)) - 0.5 * xp.eye(n, dtype=a.dtype))
        raise ValueError(mode)


# ---------------------------------------------------------------- sum / mean / prod
def _sample_dims(rng):
    x = rng.standard_normal((3, 4))
    return [((x,), {"dim": None, "keepdim": False, "dtype": None}),
            ((x,), {"dim": (1,), "keepdim": True, "dtype": None}),
            ((x,), {"dim": (0, 1), "keepdim": False, "dtype": None})]


@register
class sum:
    """Sum over dims (all when dim is None)."""
    onnx = "ReduceSum"
    node_name = "SumBackward1"   # torch's sum.dim_IntList; whole-tensor: sum_all
    sample = _sample_dims

    def forward(xp, a, *, dim=None, keepdim=False, dtype=None):
        out_dt = dtype.np if dtype is not None else _int_result(a)
        if not keepdim and dim is not None and xp is np and out_dt == a.dtype == np.float32:
            r = _ckern.channel_sum(a, dim)
            if r is not None:
                return r
        r = xp.sum(a, axis=dim, keepdims=keepdim, dtype=_acc(out_dt))
        return r.astype(out_dt) if r.dtype != out_dt else r

    def backward(ctx, g):
        at = ctx.attrs
        g = _expand_grad(g, ctx.in_shape, at["dim"], at["keepdim"])
        src = ctx.in_meta[0][1]
        return g.to(src) if g.dtype is not src and src.is_floating_point else g


def _overload(op, name: str, node_name: str, doc: str):
    """A second table entry sharing an op's formulas under torch's other overload name (its
    autograd node is named like torch's: SumBackward0 for a whole-tensor sum, ...)."""
    body = {f: getattr(op, f) for f in ("forward", "backward", "onnx", "sample", "save",
                                        "save_out", "promote")}
    body.update({"node_name": node_name, "__doc__": doc})
    return register(type(name, (), body))


sum_all = _overload(sum, "sum_all", "SumBackward0", "Sum of all elements.")


@public("sum")
def sum_(input: Tensor, dim=_NO_DIM, keepdim: bool = False, *, dtype=None,
         axis=None) -> Tensor:
    """Sum of elements, over ``dim`` (int or tuple) when given."""
    whole = dim is _NO_DIM and axis is None     # torch's overload without dim: SumBackward0
    if dim is _NO_DIM:
        dim = None
    if axis is not None and dim is None:
        dim = axis
    dims = _dims(dim, input.ndim)
    return dispatch(sum_all if whole else sum, (_cast(input, dtype),), {"dim": dims,
                                                  "keepdim": keepdim, "dtype": _dt(dtype)})


@register
class nansum:
    """Sum treating NaN as zero."""
    onnx = "decompose"
    save = (0,)
    sample = _sample_dims

    def forward(xp, a, *, dim=None, keepdim=False, dtype=None):
        out_dt = dtype.np if dtype is not None else _int_result(a)
        return xp.nansum(a, axis=dim, keepdims=keepdim, dtype=out_dt)

    def backward(ctx, g):
        at = ctx.attrs
        (a,) = ctx.saved
        return _expand_grad(g, ctx.in_shape, at["dim"], at["keepdim"]) * _mask("notnan", a)


@public("nansum")
def nansum_(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum of elements treating NaN as zero."""
    return dispatch(nansum, (_cast(input, dtype),), {"dim": _dims(dim, input.ndim),
                                                     "keepdim": keepdim, "dtype": _dt(dtype)})


@register
class mean:
    """Arithmetic mean over dims."""
    onnx = "ReduceMean"
    node_name = "MeanBackward1"  # torch's mean.dim; whole-tensor: mean_all
    sample = _sample_dims

    def forward(xp, a, *, dim=None, keepdim=False, dtype=None):
        n = _reduced_count(a.shape, dim)
        out_dt = a.dtype if dtype is None else dtype.np
        s = xp.sum(a, axis=dim, keepdims=keepdim, dtype=_acc(out_dt))
        with np.errstate(invalid="ignore", divide="ignore"):
            return xp.true_divide(s, n if n else s.dtype.type(0)).astype(out_dt, copy=False)

    def backward(ctx, g):
        at = ctx.attrs
        n = _reduced_count(ctx.in_shape, at["dim"])
        return _expand_grad(g / n if n else g, ctx.in_shape, at["dim"], at["keepdim"])


mean_all = _overload(mean, "mean_all", "MeanBackward0", "Mean of all elements.")


@public("mean")
def mean_(input: Tensor, dim=_NO_DIM, keepdim: bool = False, *, dtype=None,
          axis=None) -> Tensor:
    """Mean of elements (floating-point inputs only, as torch)."""
    whole = dim is _NO_DIM and axis is None     # torch's overload without dim: MeanBackward0
    if dim is _NO_DIM:
        dim = None
    if axis is not None and dim is None:
        dim = axis
    dt = input.dtype if dtype is None else D.as_dtype(dtype)
    if not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {dt._torch_name}")
    x = input if dtype is None else input.to(dt)
    return dispatch(mean_all if whole else mean, (x,), {"dim": _dims(dim, input.ndim),
                                                                "keepdim": keepdim,
                                 "dtype": None})


@public("nanmean")
def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean of the non-NaN elements."""
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError("nanmean(): expected input to have floating point or complex dtype "
                           f"but got {input.dtype._torch_name}")
    cnt = sum_(_mask("notnan", input.detach()), dim, keepdim)
    return nansum_(input, dim, keepdim, dtype=dtype) / cnt


@register
class prod:
    """Product over one dim (all when dim is None)."""
    onnx = "ReduceProd"
    save = (0,)
    save_out = True

    def sample(rng):
        x = rng.standard_normal((3, 4))
        return [((x,), {"dim": None, "keepdim": False, "dtype": None}),
                ((x,), {"dim": (1,), "keepdim": True, "dtype": None})]

    def forward(xp, a, *, dim=None, keepdim=False, dtype=None):
        out_dt = dtype.np if dtype is not None else _int_result(a)
        return xp.prod(a, axis=dim, keepdims=keepdim, dtype=out_dt)

    def backward(ctx, g):
        a, out = ctx.saved
        at = ctx.attrs
        dims, keepdim = at["dim"], at["keepdim"]
        if a.ndim == 0:
            return g
        ge = _expand_grad(g, a.shape, dims, keepdim)
        if not _has_zero(a):
            q = _keep(out, a.ndim, dims, keepdim) / a
            return ge * (q.conj() if q.is_complex() else q)
        # torch's prod_safe_zeros_backward: product of all other elements, computed exactly
        others = dispatch(prod_others, (a,), {"dim": None if dims is None else dims[0]})
        return ge * others


@register
class prod_others:
    """For each element, the product of the other elements along ``dim`` (None: all);
    prod's backward uses it when the input has zeros (torch's prod_safe_zeros_backward).
    Treated as a constant: double backward through prod of an input with zeros misses
    this term."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, a, *, dim):
        shape = a.shape
        x = a.reshape(-1) if dim is None else a
        d = 0 if dim is None else dim
        n = x.shape[d]
        if n == 0:
            return a.copy()
        ones = xp.ones_like(xp.take(x, [0], axis=d))
        head = xp.take(x, xp.arange(n - 1), axis=d)
        left = xp.cumprod(xp.concatenate([ones, head], axis=d), axis=d)
        rx = xp.flip(x, axis=d)
        rhead = xp.take(rx, xp.arange(n - 1), axis=d)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, rhead], axis=d), axis=d), axis=d)
        return (left * right).reshape(shape)


@public("prod")
def prod_(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of elements (over one int ``dim`` when given)."""
    if isinstance(dim, (list, tuple)):
        raise TypeError("prod() received an invalid combination of arguments - got (tuple), "
                        "but expected one of:\n * (*, torch.dtype dtype = None)\n * (int dim, "
                        "bool keepdim = False, *, torch.dtype dtype = None)")
    dims = None if dim is None else _dims(dim, input.ndim)
    return dispatch(prod, (_cast(input, dtype),), {"dim": dims, "keepdim": keepdim,
                                                   "dtype": _dt(dtype)})


# ---------------------------------------------------------------- max / min family
def _sample_vals(rng):
    x = rng.permutation(12).reshape(3, 4).astype(np.float64) + rng.uniform(0, 0.3, (3, 4))
    return [((x,), {"dim": None, "keepdim": False}), ((x,), {"dim": (1,), "keepdim": True}),
            ((x,), {"dim": (0, 1), "keepdim": False})]


def _sample_dim(rng):
    x = rng.permutation(12).reshape(3, 4).astype(np.float64) + rng.uniform(0, 0.3, (3, 4))
    return [((x,), {"dim": 1, "keepdim": False}), ((x,), {"dim": 0, "keepdim": True})]


def _tie_backward(ctx, g):
    """Gradient of a whole/multi-dim value reduction: split evenly among ties (torch's
    evenly_distribute_backward / scale_grad_by_count)."""
    (a, out) = ctx.saved
    at = ctx.attrs
    dims, keepdim = at.get("dim"), at.get("keepdim", False)
    ge = _expand_grad(g, a.shape, dims, keepdim)
    return ge * _mask("ties", a, out, dims=dims)


def _index_backward(ctx, g, gi=None):
    """Gradient of a (values, indices) reduction over one dim: route to the index
    (torch's value_selecting_reduction_backward)."""
    _, idx = ctx.saved[-2:]
    at = ctx.attrs
    shape, dt = ctx.in_meta[0]
    if len(shape) == 0:
        return g
    d = at["dim"]
    ge = _expand_grad(g, shape, (d,), at["keepdim"])
    return ge * _mask("onehot", idx, None, dim=d, shape=tuple(shape), dtype=dt)


def _amax_fwd(fn):
    def forward(xp, a, *, dim=None, keepdim=False):
        return fn(xp)(a, axis=dim, keepdims=keepdim)
    return forward


@register
class amax:
    """Maximum over dims (gradient split evenly among ties)."""
    onnx = "ReduceMax"
    save = (0,)
    save_out = True
    sample = _sample_vals
    forward = _amax_fwd(lambda xp: xp.amax)
    backward = _tie_backward


@register
class amin:
    """Minimum over dims (gradient split evenly among ties)."""
    onnx = "ReduceMin"
    save = (0,)
    save_out = True
    sample = _sample_vals
    forward = _amax_fwd(lambda xp: xp.amin)
    backward = _tie_backward


@register
class max_all:
    """Maximum of all elements (0-d)."""
    name = "max"
    node_name = "MaxBackward1"
    onnx = "ReduceMax"
    save = (0,)
    save_out = True
    sample = lambda rng: _sample_vals(rng)[:1]  # noqa: E731
    forward = _amax_fwd(lambda xp: xp.amax)
    backward = _tie_backward


@register
class min_all:
    """Minimum of all elements (0-d)."""
    name = "min"
    node_name = "MinBackward1"
    onnx = "ReduceMin"
    save = (0,)
    save_out = True
    sample = lambda rng: _sample_vals(rng)[:1]  # noqa: E731
    forward = _amax_fwd(lambda xp: xp.amin)
    backward = _tie_backward


def _select_fwd(argfn):
    def forward(xp, a, *, dim, keepdim=False):
        if a.ndim == 0:
            return a.copy(), xp.zeros((), dtype=np.int64)
        idx = argfn(xp)(a, axis=dim, keepdims=True)
        vals = xp.take_along_axis(a, idx, axis=dim)
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        return vals, idx.astype(np.int64, copy=False)
    return forward


@register
class max_dim:
    """(values, indices) of the maximum along one dim."""
    nout = 2
    node_name = "MaxBackward0"
    onnx = "decompose"
    save_out = True
    sample = _sample_dim
    forward = _select_fwd(lambda xp: xp.argmax)
    backward = _index_backward


@register
class min_dim:
    """(values, indices) of the minimum along one dim."""
    nout = 2
    node_name = "MinBackward0"
    onnx = "decompose"
    save_out = True
    sample = _sample_dim
    forward = _select_fwd(lambda xp: xp.argmin)
    backward = _index_backward


def _max_min(name, input, dim, keepdim, other, whole_op, dim_op, tup, binary):
    if isinstance(dim, Tensor):
        other, dim = dim, None
    if other is not None:
        import ardor
        return getattr(ardor, binary)(input, other)
    if dim is None:
        if keepdim:
            raise TypeError(f"{name}() received an invalid combination of arguments - got "
                            "(keepdim=bool)")
        _check_nonempty(name, input, None)
        return dispatch(whole_op, (input,), {"dim": None, "keepdim": False})
    d = wrap_dim(int(dim), input.ndim)
    _check_nonempty(name, input, (d,))
    return tup(*dispatch(dim_op, (input,), {"dim": d, "keepdim": bool(keepdim)}))


@public("max")
def max_(input: Tensor, dim=None, keepdim: bool = False, *, other=None):
    """max(input) -> 0-d; max(input, dim, keepdim) -> (values, indices); max(input, other)
    -> elementwise maximum."""
    return _max_min("max", input, dim, keepdim, other, max_all, max_dim, max_t, "maximum")


@public("min")
def min_(input: Tensor, dim=None, keepdim: bool = False, *, other=None):
    """min(input) -> 0-d; min(input, dim, keepdim) -> (values, indices); min(input, other)
    -> elementwise minimum."""
    return _max_min("min", input, dim, keepdim, other, min_all, min_dim, min_t, "minimum")


def _amaxmin(name, op, input, dim, keepdim):
    dims = _dims(() if dim is None else dim, input.ndim)
    _check_nonempty(name, input, dims)
    return dispatch(op, (input,), {"dim": dims, "keepdim": keepdim})


@public("amax")
def amax_(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (all dims when empty); ties share the gradient evenly."""
    return _amaxmin("amax", amax, input, dim, keepdim)


@public("amin")
def amin_(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (all dims when empty); ties share the gradient evenly."""
    return _amaxmin("amin", amin, input, dim, keepdim)


@public("aminmax")
def aminmax(input: Tensor, *, dim=None, keepdim: bool = False):
    """(min, max) over ``dim`` (all dims when None)."""
    return aminmax_t(amin_(input, () if dim is None else dim, keepdim),
                     amax_(input, () if dim is None else dim, keepdim))


def _arg_fwd(fn):
    def forward(xp, a, *, dim=None, keepdim=False):
        if dim is None:
            r = fn(xp)(a.reshape(-1))
            return xp.asarray(r, dtype=np.int64).reshape((1,) * a.ndim if keepdim else ())
        if a.ndim == 0:
            return xp.zeros((), dtype=np.int64)
        return fn(xp)(a, axis=dim, keepdims=keepdim).astype(np.int64, copy=False)
    return forward


@register
class argmax:
    """Index of the maximum (flattened when dim is None)."""
    differentiable = False
    onnx = "ArgMax"
    forward = _arg_fwd(lambda xp: xp.argmax)


@register
class argmin:
    """Index of the minimum (flattened when dim is None)."""
    differentiable = False
    onnx = "ArgMin"
    forward = _arg_fwd(lambda xp: xp.argmin)


def _arg(name, op, input, dim, keepdim):
    if input.dtype is D.bool_:
        raise RuntimeError(f"{name}(): does not support bool input")
    if dim is None:
        if input.numel() == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        return dispatch(op, (input,), {"dim": None, "keepdim": keepdim})
    d = wrap_dim(int(dim), input.ndim)
    _check_nonempty(name, input, (d,))
    return dispatch(op, (input,), {"dim": d, "keepdim": keepdim})


@public("argmax")
def argmax_(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (int64); over the flattened input when dim is None."""
    return _arg("argmax", argmax, input, dim, keepdim)


@public("argmin")
def argmin_(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the minimum (int64); over the flattened input when dim is None."""
    return _arg("argmin", argmin, input, dim, keepdim)


# ---------------------------------------------------------------- median / mode
@register
class median_all:
    """Lower median of all elements (NaN if any is NaN)."""
    name = "median"
    onnx = "decompose"
    save = (0,)
    save_out = True
    sample = lambda rng: _sample_vals(rng)[:1]  # noqa: E731
    backward = _tie_backward

    def forward(xp, a, *, dim=None, keepdim=False):
        f = a.reshape(-1)
        if xp.isnan(f).any():
            return xp.asarray(xp.nan, dtype=a.dtype)
        k = (f.size - 1) // 2
        return xp.partition(f, k)[k].copy()


@register
class median_dim:
    """(values, indices) of the lower median along one dim."""
    nout = 2
    node_name = "MedianBackward1"
    onnx = "decompose"
    save_out = True
    sample = _sample_dim
    backward = _index_backward

    def forward(xp, a, *, dim, keepdim=False):
        if a.ndim == 0:
            return a.copy(), xp.zeros((), dtype=np.int64)
        n = a.shape[dim]
        order = xp.argsort(a, axis=dim, kind="stable")
        idx = xp.take(order, [(n - 1) // 2], axis=dim)
        if a.dtype.kind in "fc":
            nan = xp.isnan(a)
            anynan = nan.any(axis=dim, keepdims=True)
            idx = xp.where(anynan, xp.argmax(nan, axis=dim, keepdims=True), idx)
        vals = xp.take_along_axis(a, idx, axis=dim)
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        return vals, idx.astype(np.int64, copy=False)


@public("median")
def median(input: Tensor, dim=None, keepdim: bool = False):
    """Lower median: of all elements (0-d), or (values, indices) along ``dim``."""
    if dim is None:
        if input.numel() == 0:
            return dispatch(_nan_scalar, (input,))
        return dispatch(median_all, (input,), {"dim": None, "keepdim": False})
    d = wrap_dim(int(dim), input.ndim)
    _check_nonempty("median", input, (d,))
    return median_t(*dispatch(median_dim, (input,), {"dim": d, "keepdim": bool(keepdim)}))


@register
class _nan_scalar:
    """A 0-d NaN of the input's dtype (median of an empty tensor)."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, a):
        return xp.asarray(xp.nan, dtype=a.dtype)


@register
class mode_dim:
    """(values, indices) of the most frequent value along one dim (smallest among equally
    frequent values; the index of its last occurrence, as torch)."""
    name = "mode"
    nout = 2
    onnx = "decompose"
    save_out = True
    backward = _index_backward

    def sample(rng):
        x = rng.standard_normal((3, 5))   # distinct values: the mode is the minimum
        return [((x,), {"dim": 1, "keepdim": False})]

    def forward(xp, a, *, dim, keepdim=False):
        if a.ndim == 0:
            return a.copy(), xp.zeros((), dtype=np.int64)
        x = xp.moveaxis(a, dim, -1)
        lead, n = x.shape[:-1], x.shape[-1]
        r = x.reshape(-1, n)
        s = xp.sort(r, axis=-1)
        new = xp.ones(s.shape, dtype=bool)
        new[:, 1:] = s[:, 1:] != s[:, :-1]
        run_id = xp.cumsum(new, axis=-1) - 1
        counts = xp.zeros(s.shape, dtype=np.int64)
        rows = xp.repeat(xp.arange(s.shape[0]), n)
        xp.add.at(counts, (rows, run_id.reshape(-1)), 1)
        best = xp.argmax(counts, axis=-1)              # first (smallest) most frequent run
        first_pos = xp.argmax(run_id == best[:, None], axis=-1)
        vals = s[xp.arange(s.shape[0]), first_pos]
        eq = r == vals[:, None]
        idx = n - 1 - xp.argmax(eq[:, ::-1], axis=-1)
        vals = vals.reshape(lead)
        idx = idx.reshape(lead).astype(np.int64)
        if keepdim:
            vals, idx = xp.expand_dims(vals, dim), xp.expand_dims(idx, dim)
        return vals, idx


@public("mode")
def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """(values, indices) of the most frequent value along ``dim``."""
    d = wrap_dim(int(dim), input.ndim)
    _check_nonempty("mode", input, (d,))
    return mode_t(*dispatch(mode_dim, (input,), {"dim": d, "keepdim": bool(keepdim)}))


# ---------------------------------------------------------------- var / std
def _sample_var(rng):
    x = rng.standard_normal((3, 4))
    return [((x,), {"dim": None, "correction": 1, "keepdim": False}),
            ((x,), {"dim": (1,), "correction": 0, "keepdim": True}),
            ((x,), {"dim": (0, 1), "correction": 2, "keepdim": False})]


def _var_np(xp, a, dim, correction, keepdim):
    if a.dtype in _HALF:
        return _var_np(xp, a.astype(np.float32), dim, correction, keepdim).astype(a.dtype)
    n = _reduced_count(a.shape, dim)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = xp.sum(a, axis=dim, keepdims=True) / (n if n else a.dtype.type(0))
        d = a - mu
        sq = (d * d.conj()).real if a.dtype.kind == "c" else d * d
        s = xp.sum(sq, axis=dim, keepdims=keepdim)
        dof = _bmax(0, n - correction)
        return (s / (dof if dof else s.dtype.type(0))).astype(s.dtype, copy=False)


def _var_backward(g, a, dims, correction, keepdim):
    n = _reduced_count(a.shape, dims)
    dof = n - correction
    scale = 2.0 / dof if dof else math.inf
    ge = _expand_grad(g, a.shape, dims, keepdim)
    mu = dispatch(mean, (a,), {"dim": dims, "keepdim": True, "dtype": None})
    return (scale * ge) * (a - mu)


@register
class var:
    """Variance over dims with Bessel-style ``correction``."""
    onnx = "decompose"
    save = (0,)
    sample = _sample_var

    def forward(xp, a, *, dim=None, correction=1, keepdim=False):
        return _var_np(xp, a, dim, correction, keepdim)

    def backward(ctx, g):
        (a,) = ctx.saved
        at = ctx.attrs
        return _var_backward(g, a, at["dim"], at["correction"], at["keepdim"])


@register
class std:
    """Standard deviation over dims with ``correction``."""
    onnx = "decompose"
    save = (0,)
    save_out = True
    sample = _sample_var

    def forward(xp, a, *, dim=None, correction=1, keepdim=False):
        return xp.sqrt(_var_np(xp, a, dim, correction, keepdim))

    def backward(ctx, g):
        a, out = ctx.saved
        at = ctx.attrs
        nz = _mask("nonzero", out)           # torch masks std == 0 to a zero gradient
        gv = g * nz / (2 * out + (1 - nz))
        return _var_backward(gv, a, at["dim"], at["correction"], at["keepdim"])


def _var_args(name, input, dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):            # var(input, unbiased)
        unbiased, dim = dim, None
    if not (input.dtype.is_floating_point or input.dtype.is_complex):
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if correction is not None and unbiased is not None:
        raise RuntimeError(f"{name}: can't specify both unbiased and correction")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    dims = _dims(dim, input.ndim)
    n = _reduced_count(input.shape, dims)
    if n - correction <= 0:
        import warnings
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                      "less than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=3)
    return {"dim": dims, "correction": correction, "keepdim": bool(keepdim)}


@public("var")
def var_(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
         correction=None) -> Tensor:
    """Variance (``correction=1`` by default, ``unbiased=False`` means 0)."""
    return dispatch(var, (input,), _var_args("var", input, dim, unbiased, keepdim, correction))


@public("std")
def std_(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
         correction=None) -> Tensor:
    """Standard deviation (``correction=1`` by default, ``unbiased=False`` means 0)."""
    return dispatch(std, (input,), _var_args("std", input, dim, unbiased, keepdim, correction))


@public("var_mean")
def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
             correction=None):
    """(var, mean) over the same dims."""
    at = _var_args("var_mean", input, dim, unbiased, keepdim, correction)
    return (dispatch(var, (input,), at),
            dispatch(mean, (input,), {"dim": at["dim"], "keepdim": at["keepdim"], "dtype": None}))


@public("std_mean")
def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
             correction=None):
    """(std, mean) over the same dims."""
    at = _var_args("std_mean", input, dim, unbiased, keepdim, correction)
    return (dispatch(std, (input,), at),
            dispatch(mean, (input,), {"dim": at["dim"], "keepdim": at["keepdim"], "dtype": None}))


# ---------------------------------------------------------------- logsumexp
@register
class logsumexp:
    """log(sum(exp(x))) over dims, computed stably; gradient is the softmax."""
    promote = "float"
    onnx = "ReduceLogSumExp"
    save = (0,)
    save_out = True

    def sample(rng):
        x = rng.standard_normal((3, 4))
        return [((x,), {"dim": (1,), "keepdim": False}), ((x,), {"dim": None, "keepdim": True})]

    def forward(xp, a, *, dim=None, keepdim=False):
        if a.size == 0:
            with np.errstate(divide="ignore"):
                return xp.log(xp.sum(xp.exp(a), axis=dim, keepdims=keepdim))
        m = xp.amax(a, axis=dim, keepdims=True)
        m = xp.where(xp.isinf(m), 0, m).astype(a.dtype, copy=False)
        with np.errstate(divide="ignore"):
            s = xp.log(xp.sum(xp.exp(a - m), axis=dim, keepdims=True)) + m
        if not keepdim:
            s = s.reshape(()) if dim is None else s.squeeze(axis=dim)
        return s

    def backward(ctx, g):
        a, out = ctx.saved
        at = ctx.attrs
        ge = _expand_grad(g, a.shape, at["dim"], at["keepdim"])
        return ge * (a - _keep(out, a.ndim, at["dim"], at["keepdim"])).exp()


@public("logsumexp")
def logsumexp_(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input))) over ``dim``, stable for large inputs."""
    return dispatch(logsumexp, (input,), {"dim": _dims(() if dim is None else dim, input.ndim),
                                          "keepdim": keepdim})


# ---------------------------------------------------------------- cumulative ops
def _sample_cum(rng):
    x = rng.standard_normal((3, 4))
    return [((x,), {"dim": 1, "dtype": None}), ((x,), {"dim": 0, "dtype": None})]


@register
class cumsum:
    """Cumulative sum along ``dim`` (``reverse``: from the end, used by backwards)."""
    onnx = "CumSum"

    def sample(rng):
        x = rng.standard_normal((3, 4))
        return [((x,), {"dim": 1, "dtype": None, "reverse": False}),
                ((x,), {"dim": 0, "dtype": None, "reverse": True})]

    def forward(xp, a, *, dim, dtype=None, reverse=False):
        out_dt = dtype.np if dtype is not None else _int_result(a)
        if a.ndim == 0:
            return a.astype(out_dt)
        if reverse:
            return xp.flip(xp.cumsum(xp.flip(a, dim), axis=dim, dtype=out_dt), dim)
        return xp.cumsum(a, axis=dim, dtype=out_dt)

    def backward(ctx, g):
        at = ctx.attrs
        if g.ndim == 0:
            gi = g
        else:
            gi = dispatch(cumsum, (g,), {"dim": at["dim"], "dtype": None,
                                         "reverse": not at["reverse"]})
        src = ctx.in_meta[0][1]
        return gi.to(src) if gi.dtype is not src and src.is_floating_point else gi


def _cum_dim(name, input, dim):
    if dim is None:
        raise TypeError(f"{name}(): argument 'dim' (position 2) must be int, not NoneType")
    return wrap_dim(int(dim), input.ndim) if input.ndim else 0


@public("cumsum")
def cumsum_(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Cumulative sum along ``dim`` (integers and bool accumulate in int64)."""
    return dispatch(cumsum, (_cast(input, dtype),), {"dim": _cum_dim("cumsum", input, dim),
                                       "dtype": _dt(dtype), "reverse": False})


@method("cumsum_")
def cumsum_inplace(self: Tensor, dim: int, *, dtype=None) -> Tensor:
    """In-place cumulative sum along ``dim``."""
    return dispatch_inplace(cumsum, self, (), {"dim": _cum_dim("cumsum", self, dim),
                                               "dtype": _dt(dtype) or self.dtype,
                                               "reverse": False})


@register
class cumprod:
    """Cumulative product along ``dim``."""
    onnx = "decompose"
    save = (0,)
    save_out = True
    sample = _sample_cum

    def forward(xp, a, *, dim, dtype=None):
        out_dt = dtype.np if dtype is not None else _int_result(a)
        if a.ndim == 0:
            return a.astype(out_dt)
        return xp.cumprod(a, axis=dim, dtype=out_dt)

    def backward(ctx, g):
        a, out = ctx.saved
        d = ctx.attrs["dim"]
        if a.ndim == 0 or a.numel() == 0:
            return g
        if not _has_zero(a):
            if a.is_complex():
                a, out = a.conj(), out.conj()
            rc = dispatch(cumsum, (g * out,), {"dim": d, "dtype": None, "reverse": True})
            return rc / a
        return dispatch(cumprod_zero_grad, (a, g), {"dim": d})


@method("cumprod_")
def cumprod_inplace(self: Tensor, dim: int, *, dtype=None) -> Tensor:
    """In-place cumulative product along ``dim``."""
    return dispatch_inplace(cumprod, self, (), {"dim": _cum_dim("cumprod", self, dim),
                                                "dtype": _dt(dtype) or self.dtype})


@register
class cumprod_zero_grad:
    """cumprod's input gradient when the input has zeros (exact, no NaN); a constant for
    double backward."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, a, g, *, dim):
        x = xp.moveaxis(a, dim, -1)
        G = xp.moveaxis(g, dim, -1).astype(x.dtype, copy=False)
        n = x.shape[-1]
        pos = xp.arange(n)
        zero = x == 0
        nz = xp.cumsum(zero, axis=-1)                        # zeros seen up to i
        first = xp.where(zero.any(-1, keepdims=True), xp.argmax(zero, -1)[..., None], n)
        safe = xp.where(zero, 1, x)
        out = xp.cumprod(x, axis=-1)
        before = pos < first
        t = xp.flip(xp.cumsum(xp.flip(G * out * before, -1), -1), -1)
        res = xp.where(before, t / safe, 0)
        P = xp.cumprod(safe, axis=-1)
        at_first = xp.sum(G * P * (nz == 1), axis=-1, keepdims=True)
        res = xp.where(pos == first, at_first, res)
        return xp.moveaxis(res, -1, dim)


@public("cumprod")
def cumprod_(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Cumulative product along ``dim`` (integers and bool accumulate in int64)."""
    return dispatch(cumprod, (_cast(input, dtype),), {"dim": _cum_dim("cumprod", input, dim),
                                        "dtype": _dt(dtype)})


def _cumext_fwd(acc):
    def forward(xp, a, *, dim):
        if a.ndim == 0:
            return a.copy(), xp.zeros((), dtype=np.int64)
        vals = acc(xp).accumulate(a, axis=dim)
        n = a.shape[dim]
        pos = xp.arange(n).reshape((n,) + (1,) * (a.ndim - dim - 1))
        hit = (a == vals)
        if a.dtype.kind in "fc":
            hit = hit | xp.isnan(a)
        cand = xp.where(hit, pos, 0)
        idx = xp.maximum.accumulate(cand, axis=dim) if n else cand
        return vals, idx.astype(np.int64)
    return forward


def _cumext_backward(ctx, g, gi=None):
    _, idx = ctx.saved
    shape, dt = ctx.in_meta[0]
    if len(shape) == 0:
        return g
    import ardor
    return ardor.zeros(shape, dtype=g.dtype).scatter_add(ctx.attrs["dim"], idx, g)


@register
class cummax:
    """(values, indices) of the running maximum along ``dim``."""
    nout = 2
    onnx = "decompose"
    save_out = True
    forward = _cumext_fwd(lambda xp: xp.maximum)
    backward = _cumext_backward
    sample = lambda rng: [((_sample_dim(rng)[0][0][0],), {"dim": 1})]  # noqa: E731


@register
class cummin:
    """(values, indices) of the running minimum along ``dim``."""
    nout = 2
    onnx = "decompose"
    save_out = True
    forward = _cumext_fwd(lambda xp: xp.minimum)
    backward = _cumext_backward
    sample = lambda rng: [((_sample_dim(rng)[0][0][0],), {"dim": 1})]  # noqa: E731


@public("cummax")
def cummax_(input: Tensor, dim: int):
    """(values, indices) of the running maximum along ``dim``."""
    return cummax_t(*dispatch(cummax, (input,), {"dim": _cum_dim("cummax", input, dim)}))


@public("cummin")
def cummin_(input: Tensor, dim: int):
    """(values, indices) of the running minimum along ``dim``."""
    return cummin_t(*dispatch(cummin, (input,), {"dim": _cum_dim("cummin", input, dim)}))


# ---------------------------------------------------------------- logical reductions
def _logical_fwd(fn):
    def forward(xp, a, *, dim=None, keepdim=False):
        r = fn(xp)(a, axis=dim, keepdims=keepdim)
        return r.astype(np.uint8) if a.dtype == np.uint8 else r
    return forward


@register
class all:
    """True where all elements are non-zero (uint8 in, uint8 out, as torch)."""
    differentiable = False
    onnx = "decompose"
    forward = _logical_fwd(lambda xp: xp.all)


@register
class any:
    """True where any element is non-zero (uint8 in, uint8 out, as torch)."""
    differentiable = False
    onnx = "decompose"
    forward = _logical_fwd(lambda xp: xp.any)


@public("all")
def all_(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether all elements (over ``dim``) are non-zero."""
    return dispatch(all, (input,), {"dim": _dims(dim, input.ndim), "keepdim": keepdim})


@public("any")
def any_(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether any element (over ``dim``) is non-zero."""
    return dispatch(any, (input,), {"dim": _dims(dim, input.ndim), "keepdim": keepdim})


@register
class count_nonzero:
    """Number of non-zero elements over dims (int64)."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, a, *, dim=None):
        return xp.asarray(xp.count_nonzero(a, axis=dim), dtype=np.int64)


@public("count_nonzero")
def count_nonzero_(input: Tensor, dim=None) -> Tensor:
    """Number of non-zero elements (over ``dim`` when given)."""
    return dispatch(count_nonzero, (input,), {"dim": _dims(dim, input.ndim)})


# ---------------------------------------------------------------- norms
@register
class linalg_vector_norm:
    """Vector p-norm over dims (ord: any float, inf, -inf, 0)."""
    onnx = "decompose"
    save = (0,)
    save_out = True

    def sample(rng):
        x = rng.standard_normal((3, 4))
        return [((x,), {"ord": o, "dim": d, "keepdim": k})
                for o, d, k in ((2.0, None, False), (1.0, (1,), True), (math.inf, (0,), False),
                                (-math.inf, None, False), (3.0, (0, 1), False),
                                (1.5, (1,), False), (0.5, None, False))]

    def forward(xp, a, *, ord=2.0, dim=None, keepdim=False):
        if a.dtype in _HALF:
            return linalg_vector_norm.forward(xp, a.astype(np.float32), ord=ord, dim=dim,
                                              keepdim=keepdim).astype(a.dtype)
        x = xp.abs(a)
        if ord == 2:
            return xp.sqrt(xp.sum(x * x, axis=dim, keepdims=keepdim))
        if ord == 1:
            return xp.sum(x, axis=dim, keepdims=keepdim)
        if ord == math.inf:
            return xp.amax(x, axis=dim, keepdims=keepdim)
        if ord == -math.inf:
            return xp.amin(x, axis=dim, keepdims=keepdim)
        if ord == 0:
            return xp.sum(x != 0, axis=dim, keepdims=keepdim).astype(x.dtype)
        with np.errstate(divide="ignore"):
            return xp.power(xp.sum(xp.power(x, ord), axis=dim, keepdims=keepdim), 1.0 / ord)

    def backward(ctx, g):
        a, out = ctx.saved
        at = ctx.attrs
        p, dims, keepdim = at["ord"], at["dim"], at["keepdim"]
        ge = _expand_grad(g, a.shape, dims, keepdim)
        norm = _keep(out, a.ndim, dims, keepdim)
        sgn = _mask("sign", a)
        if p == 0:
            return None  # torch leaves the gradient undefined (None) for the 0-"norm"
        if p == 1:
            return ge * sgn
        absx = a.abs() if a.is_complex() else a * sgn
        if p in (math.inf, -math.inf):
            return sgn * ge * _mask("ties", absx, norm, dims=dims)
        nz = _mask("nonzero", norm)
        if p == 2:
            return ge * nz / (norm + (1 - nz)) * a
        if p < 1:
            xnz = _mask("nonzero", a)
            scaled = sgn * (absx + (1 - xnz)) ** (p - 1) * xnz
            return scaled * ge * norm ** (1 - p)
        scale = ge * nz / (norm + (1 - nz)) ** (p - 1)
        if p < 2:
            return sgn * absx ** (p - 1) * scale
        return a * absx ** (p - 2) * scale


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """torch.linalg.vector_norm."""
    if isinstance(ord, str):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, "
                        f"not str")
    _require_float("linalg.vector_norm", x)
    if dtype is not None:
        x = x.to(D.as_dtype(dtype))
    dims = _dims(dim, x.ndim)
    if x.numel() == 0 and (ord < 0 or ord == math.inf):
        if dims is None:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on an "
                               "empty tensor because the operation does not have an identity")
        for d in dims:
            if x.shape[d] == 0:
                raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on the "
                                   f"dimension {d}because this dimension is empty and the "
                                   "operation does not have an identity")
    return dispatch(linalg_vector_norm, (x,), {"ord": float(ord), "dim": dims,
                                               "keepdim": bool(keepdim)})


@public("norm")
def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, out=None, dtype=None):
    """torch.norm: vector p-norm (numbers), Frobenius ('fro') or nuclear ('nuc') norm."""
    if isinstance(dim, int):
        dim = (dim,)
    if isinstance(p, str):
        if p == "fro" and (dim is None or len(dim) <= 2):
            return vector_norm(input, 2, dim, keepdim, dtype=dtype)
        from ..linalg import matrix_norm
        return matrix_norm(input, p, tuple(range(input.ndim)) if dim is None else dim,
                           keepdim, dtype=dtype)
    return vector_norm(input, 2.0 if p is None else p, dim, keepdim, dtype=dtype)


# ---------------------------------------------------------------- more reductions
@register
class logcumsumexp:
    """log(cumsum(exp(x))) along ``dim``, computed exactly with logaddexp."""
    promote = "float"
    onnx = "decompose"
    save = (0,)
    save_out = True

    def sample(rng):
        x = rng.standard_normal((3, 4))
        return [((x,), {"dim": 1, "reverse": False}), ((x,), {"dim": 0, "reverse": True})]

    def forward(xp, a, *, dim, reverse=False):
        if a.ndim == 0 or a.size == 0:
            return a.copy()
        if reverse:
            return xp.flip(xp.logaddexp.accumulate(xp.flip(a, dim), axis=dim), dim)
        return xp.logaddexp.accumulate(a, axis=dim)

    def backward(ctx, g):
        # torch's logcumsumexp_backward: split the gradient by sign so that only logs of
        # positive numbers are taken, and accumulate in log space (no overflow).
        import ardor
        a, out = ctx.saved
        d, rev = ctx.attrs["dim"], ctx.attrs["reverse"]
        if a.ndim == 0:
            return g
        low = float(np.finfo(a.dtype.np).min)
        sgn = _mask("sign", g)
        pos, neg = sgn * (sgn + 1) * 0.5, sgn * (sgn - 1) * 0.5   # 1 where g>0 / g<0
        log_abs = (g * sgn + (1 - pos - neg)).log()                  # log|g| (0 where g==0)
        lp = log_abs * pos + low * (1 - pos)
        ln = log_abs * neg + low * (1 - neg)

        def acc(x):
            return dispatch(logcumsumexp, (x,), {"dim": d, "reverse": not rev})
        return (acc(lp - out) + a).exp() - (acc(ln - out) + a).exp()


@public("logcumsumexp")
def logcumsumexp_(input: Tensor, dim: int) -> Tensor:
    """log(cumsum(exp(input))) along ``dim``."""
    return dispatch(logcumsumexp, (input,), {"dim": _cum_dim("logcumsumexp", input, dim),
                                             "reverse": False})


@register
class nanmedian_all:
    """Lower median of the non-NaN elements (NaN when there are none)."""
    name = "nanmedian"
    onnx = "decompose"
    save = (0,)
    save_out = True
    sample = lambda rng: _sample_vals(rng)[:1]  # noqa: E731
    backward = _tie_backward

    def forward(xp, a, *, dim=None, keepdim=False):
        f = a.reshape(-1)
        f = f[~xp.isnan(f)]
        if f.size == 0:
            return xp.asarray(xp.nan, dtype=a.dtype)
        k = (f.size - 1) // 2
        return xp.partition(f, k)[k].copy()


@register
class nanmedian_dim:
    """(values, indices) of the lower median of the non-NaN elements along one dim."""
    nout = 2
    node_name = "NanmedianBackward1"
    onnx = "decompose"
    save_out = True
    sample = _sample_dim
    backward = _index_backward

    def forward(xp, a, *, dim, keepdim=False):
        if a.ndim == 0:
            return a.copy(), xp.zeros((), dtype=np.int64)
        order = xp.argsort(a, axis=dim, kind="stable")          # NaN sort last
        k = xp.sum(~xp.isnan(a), axis=dim, keepdims=True)
        pos = xp.maximum((k - 1) // 2, 0)
        idx = xp.take_along_axis(order, pos, axis=dim)
        vals = xp.take_along_axis(a, idx, axis=dim)
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        return vals, idx.astype(np.int64, copy=False)


nanmedian_t = _nt("nanmedian", "values indices")


@public("nanmedian")
def nanmedian(input: Tensor, dim=None, keepdim: bool = False):
    """Lower median ignoring NaN: of all elements (0-d), or (values, indices) along dim."""
    if dim is None:
        if input.numel() == 0:
            return dispatch(_nan_scalar, (input,))
        return dispatch(nanmedian_all, (input,), {"dim": None, "keepdim": False})
    d = wrap_dim(int(dim), input.ndim)
    _check_nonempty("nanmedian", input, (d,))
    return nanmedian_t(*dispatch(nanmedian_dim, (input,), {"dim": d, "keepdim": bool(keepdim)}))


_INTERP = ("linear", "lower", "higher", "midpoint", "nearest")


@register
class quantile_index:
    """Positions in a sorted last dim for quantiles ``q``: (lo, hi, weight), where NaN
    slices (quantile) / all-NaN slices (nanquantile) point at the last (NaN) element."""
    nout = 3
    differentiable = False
    onnx = "decompose"

    def forward(xp, s, *, q, interpolation, ignore_nan):
        n = s.shape[-1]
        qs = xp.asarray(q, dtype=np.float64)
        nan = xp.isnan(s)
        if ignore_nan:
            k = xp.sum(~nan, axis=-1, keepdims=True)
        else:
            k = xp.full(s.shape[:-1] + (1,), n)
        pos = qs * (k - 1)                                        # (..., Q)
        lo = xp.floor(pos)
        hi = xp.ceil(pos)
        w = pos - lo
        if interpolation == "lower":
            hi, w = lo, xp.zeros_like(w)
        elif interpolation == "higher":
            lo, w = hi, xp.zeros_like(w)
        elif interpolation == "nearest":
            lo = hi = xp.round(pos)                              # half to even, as torch
            w = xp.zeros_like(w)
        elif interpolation == "midpoint":
            w = xp.where(hi != lo, 0.5, 0.0)
        bad = (k == 0) if ignore_nan else nan.any(-1, keepdims=True)
        lo = xp.where(bad, n - 1, lo).astype(np.int64)
        hi = xp.where(bad, n - 1, hi).astype(np.int64)
        return lo, hi, w.astype(s.dtype)


def _quantile(name, input, q, dim, keepdim, interpolation, ignore_nan):
    if input.dtype not in (D.float32, D.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if interpolation not in _INTERP:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    scalar = not isinstance(q, (Tensor, list, tuple))
    qs = [float(q)] if scalar else [float(v) for v in (q.tolist() if isinstance(q, Tensor)
                                                       else q)]
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        scalar = q.ndim == 0
        if q.dtype is not input.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
    for v in qs:
        if not 0 <= v <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {v:g}")
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if dim is None:
        x, d = input.reshape(-1), 0
    else:
        x, d = input, wrap_dim(int(dim), input.ndim)
    if x.ndim == 0:
        x, d = x.reshape(1), 0
    s = x.sort(d).values.movedim(d, -1)
    lo, hi, w = dispatch(quantile_index, (s,), {"q": tuple(qs), "interpolation": interpolation,
                                                "ignore_nan": ignore_nan})
    vlo, vhi = s.gather(-1, lo), s.gather(-1, hi)
    r = vlo + w * (vhi - vlo)                    # (..., Q)
    r = r.movedim(-1, 0)
    if keepdim:
        if dim is None:
            r = r.reshape((len(qs),) + (1,) * input.ndim)
        elif input.ndim:
            r = r.unsqueeze(d + 1)
    return r.squeeze(0) if scalar else r


@public("quantile")
def quantile(input: Tensor, q, dim=None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """q-th quantiles (q a float or 1-D tensor) over ``dim`` (flattened when None)."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation, False)


@public("nanquantile")
def nanquantile(input: Tensor, q, dim=None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """Like quantile, ignoring NaN values."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, True)


@public("dist")
def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """p-norm of input - other."""
    return vector_norm(input - other, p)


@public("cov")
def cov(input: Tensor, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
    """Covariance of the rows (variables) of a 2-D input (observations in columns)."""
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov(): fweights/aweights are not supported by ardor yet")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        x = x.to(D.get_default_dtype())
    n = x.shape[1]
    xm = x - x.mean(1, keepdim=True)
    c = (xm @ (xm.conj() if xm.is_complex() else xm).mT) / max(0, n - correction)
    return c.squeeze() if input.ndim < 2 else c


@public("corrcoef")
def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the rows of a 2-D input."""
    import ardor
    c = cov(input)
    if c.ndim == 0:
        return c / c
    d = ardor.diagonal(c).sqrt()
    c = c / d.unsqueeze(1) / d.unsqueeze(0)
    return c.clamp(-1, 1) if not c.is_complex() else c


# ---------------------------------------------------------------- counting / integration
@register
class bincount:
    """Occurrences (or summed weights) of each non-negative integer value."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, a, w=None, *, minlength=0):
        n = max(int(a.max()) + 1 if a.size else 0, minlength)
        if w is None:
            return xp.bincount(a, minlength=n).astype(np.int64)
        return xp.bincount(a, weights=w, minlength=n).astype(w.dtype if w.dtype.kind == "f"
                                                            else np.float64)


@public("bincount")
def bincount_(input: Tensor, weights=None, minlength: int = 0) -> Tensor:
    """Counts of each value of a 1-D non-negative integer tensor (weighted sums with
    ``weights``)."""
    if input.dtype.is_floating_point or input.dtype.is_complex or input.dtype is D.bool_:
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for "
                                  f"'{input.dtype._torch_name}'")
    if input.ndim != 1 or (input.numel() and bool((input._data < 0).any())):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    return dispatch(bincount, (input, weights), {"minlength": int(minlength)})


@register
class histc:
    """Histogram with ``bins`` equal bins over [min, max] (data range when both are 0)."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, a, *, bins=100, min=0.0, max=0.0):
        lo, hi = float(min), float(max)
        if lo == hi and a.size:
            lo, hi = float(a.min()), float(a.max())
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        x = a.reshape(-1)
        x = x[(x >= lo) & (x <= hi)]
        idx = ((x - lo) * (bins / (hi - lo))).astype(np.int64)
        idx = xp.minimum(idx, bins - 1)
        return xp.bincount(idx, minlength=bins).astype(a.dtype)


@public("histc")
def histc_(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Histogram of the elements (elements outside [min, max] are ignored)."""
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for "
                                  f"'{input.dtype._torch_name}'")
    if min > max:
        raise RuntimeError("torch.histc: max must be larger than min")
    return dispatch(histc, (input,), {"bins": int(bins), "min": float(min), "max": float(max)})


def _trapz_parts(y: Tensor, x, dx, dim: int):
    import ardor
    d = wrap_dim(dim, y.ndim)
    n = y.shape[d]
    left, right = y.narrow(d, 0, max(n - 1, 0)), y.narrow(d, 1, max(n - 1, 0))
    avg = (left + right)
    if x is None:
        return avg, (dx if dx is not None else 1) / 2, d
    x = x if isinstance(x, Tensor) else ardor.tensor(x)
    if (x.shape[0] if x.ndim == 1 else x.shape[wrap_dim(dim, x.ndim)]) != n:
        raise RuntimeError("trapezoid: There must be one `x` value for each sample point")
    if x.ndim == 1:
        shape = [1] * y.ndim
        shape[d] = x.shape[0]
        x = x.reshape(shape)
        dx_ = x.narrow(d, 1, max(n - 1, 0)) - x.narrow(d, 0, max(n - 1, 0))
    else:
        xd = wrap_dim(dim, x.ndim)
        dx_ = x.narrow(xd, 1, max(n - 1, 0)) - x.narrow(xd, 0, max(n - 1, 0))
    return avg * dx_, 0.5, d


@public("trapezoid", method=False)
def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Trapezoidal rule along ``dim`` (spacing ``dx`` or sample points ``x``)."""
    parts, scale, d = _trapz_parts(y, x, dx, dim)
    return parts.sum(d) * scale


@public("trapz", method=False)
def trapz(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Alias of trapezoid."""
    return trapezoid(y, x, dx=dx, dim=dim)


@public("cumulative_trapezoid", method=False)
def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Cumulative trapezoidal rule along ``dim``."""
    parts, scale, d = _trapz_parts(y, x, dx, dim)
    return cumsum_(parts, d) * scale


@public("diff")
def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """n-th forward difference along ``dim`` (with optional prepended/appended values)."""
    import ardor
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    d = wrap_dim(dim, input.ndim)
    x = input
    if prepend is not None or append is not None:
        parts = [t for t in (prepend, input, append) if t is not None]
        x = ardor.cat(parts, d)
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi, lo = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
        x = ardor.logical_xor(hi, lo) if x.dtype is D.bool_ else hi - lo
    return x


@public("frobenius_norm", method=False)
def frobenius_norm(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """Frobenius norm over ``dim`` (deprecated in torch)."""
    return vector_norm(input, 2, dim, keepdim)


@public("nuclear_norm", method=False)
def nuclear_norm(input: Tensor, dim=(-2, -1), keepdim: bool = False) -> Tensor:
    """Nuclear norm (sum of singular values) over ``dim`` (deprecated in torch)."""
    from ..linalg import matrix_norm
    return matrix_norm(input, "nuc", dim, keepdim)
