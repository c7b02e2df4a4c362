"""Reductions: sum, mean, prod, max/min, var/std, norms, cumulative ops, ..."""
from __future__ import annotations

from .. import _dtype as D
from .._tensor import Tensor
from ._util import dims_arg
from .dispatch import dispatch
from .registry import public, register


def _expand_grad(g, in_shape, dims, keepdim):
    """Broadcast a reduced gradient back over the reduced dims."""
    if not keepdim and dims is not None:
        for d in dims:
            g = g.unsqueeze(d)
    return g.expand(in_shape)


@register
class sum:
    """Sum over dims (all when dim is None)."""
    onnx = "ReduceSum"

    def forward(xp, a, *, dim=None, keepdim=False, dtype=None):
        out_dt = dtype.np if dtype is not None else (
            D.int64.np if a.dtype.kind in "biu" else a.dtype)
        return xp.sum(a, axis=dim, keepdims=keepdim, dtype=out_dt)

    def backward(ctx, g):
        at = ctx.attrs
        return _expand_grad(g, ctx.in_shape, at["dim"], at["keepdim"])


@public("sum")
def sum_(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum of elements, over ``dim`` (int or tuple) when given."""
    dims = dims_arg(dim, input.ndim)
    if dims == () and isinstance(dim, (list, tuple)):
        dims = None
    return dispatch(sum, (input,), {"dim": dims, "keepdim": keepdim,
                                    "dtype": None if dtype is None else D.as_dtype(dtype)})


@public("mean")
def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean of elements (floating-point inputs only, as torch)."""
    dt = input.dtype if dtype is None else D.as_dtype(dtype)
    if not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {input.dtype._torch_name}")
    dims = dims_arg(dim, input.ndim)
    if dims == () and isinstance(dim, (list, tuple)):
        dims = None
    n = 1
    for d in (range(input.ndim) if dims is None else dims):
        n *= input.shape[d]
    s = sum_(input if dtype is None else input.to(dt), dims, keepdim)
    return s / n if n else s / 0.0
