"""Shape and movement ops: views (view, reshape, permute, expand, indexing, ...) and copies."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from ._util import size_args, wrap_dim
from .dispatch import dispatch
from .registry import method, public, register


def _infer_shape(shape, numel):
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{shape}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{shape}' is invalid for input of size {numel}")
    return tuple(shape)


@register
class view:
    """A view with a new shape (no copy; errors when strides do not allow it)."""
    view = True
    onnx = "Reshape"

    def forward(xp, a, *, shape):
        try:
            return xp.reshape(a, shape, copy=False)
        except ValueError:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) instead."
            ) from None

    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


@register
class reshape_copy:
    """A reshape that had to copy (non-viewable strides)."""
    node_name = "ReshapeAliasBackward0"
    onnx = "Reshape"

    def forward(xp, a, *, shape):
        return xp.reshape(a, shape).copy()

    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


def _viewable(a: np.ndarray, shape) -> bool:
    try:
        np.reshape(a, shape, copy=False)
        return True
    except ValueError:
        return False


@method("view")
def view_(self: Tensor, *shape) -> Tensor:
    """A view with the given shape (one dim may be -1)."""
    if len(shape) == 1 and not isinstance(shape[0], (int, list, tuple, np.integer)):
        from .core import cast
        from .. import _dtype as D
        dt = D.as_dtype(shape[0])
        if dt.itemsize != self.dtype.itemsize:
            raise RuntimeError("view(dtype) with a different element size is not supported")
        from .._tensor import _make
        t = _make(self._data.view(dt.np))
        t._version = self._version
        return t
    shape = _infer_shape(size_args(shape), self.numel())
    return dispatch(view, (self,), {"shape": shape})


@public("reshape")
def reshape(input: Tensor, *shape) -> Tensor:
    """A view when strides allow, else a copy."""
    shape = _infer_shape(size_args(shape), input.numel())
    if _viewable(input._data, shape):
        return dispatch(view, (input,), {"shape": shape})
    return dispatch(reshape_copy, (input,), {"shape": shape})


@register
class expand:
    """Broadcast to a larger shape as a view (stride 0)."""
    view = True
    onnx = "Expand"

    def forward(xp, a, *, shape):
        return xp.broadcast_to(a, shape)

    def backward(ctx, g):
        from .core import sum_to
        return sum_to(g, ctx.in_shape)


@method("expand")
def expand_(self: Tensor, *sizes) -> Tensor:
    """A broadcast view; -1 keeps a dimension."""
    sizes = size_args(sizes)
    nd = self.ndim
    if len(sizes) < nd:
        raise RuntimeError(
            f"expand(ardor.{self.dtype._torch_name}Tensor{{{list(self.shape)}}}, "
            f"size={list(sizes)}): the number of sizes provided ({len(sizes)}) must be greater "
            f"or equal to the number of dimensions in the tensor ({nd})")
    lead = len(sizes) - nd
    shape = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s == -1:
                raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a "
                                   f"leading, non-existing dimension {i}")
            shape.append(s)
        else:
            cur = self.shape[i - lead]
            if s == -1:
                s = cur
            elif cur != 1 and s != cur:
                raise RuntimeError(
                    f"The expanded size of the tensor ({s}) must match the existing size "
                    f"({cur}) at non-singleton dimension {i}.  Target sizes: {list(sizes)}.  "
                    f"Tensor sizes: {list(self.shape)}")
            shape.append(s)
    shape = tuple(shape)
    if shape == self.shape:
        return self
    return dispatch(expand, (self,), {"shape": shape})


@register
class permute:
    """Reorder dimensions (a view)."""
    view = True
    onnx = "Transpose"

    def forward(xp, a, *, dims):
        return xp.transpose(a, dims)

    def backward(ctx, g):
        return g.permute(tuple(np.argsort(ctx.attrs["dims"]).tolist()))


@public("permute")
def permute_(input: Tensor, *dims) -> Tensor:
    """Reorder dimensions as a view."""
    dims = size_args(dims)
    nd = input.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, nd) for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return dispatch(permute, (input,), {"dims": dims})


@public("transpose", "swapaxes", "swapdims")
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions (a view)."""
    nd = input.ndim
    d0, d1 = wrap_dim(dim0, nd), wrap_dim(dim1, nd)
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return dispatch(permute, (input,), {"dims": tuple(dims)})


@public("t")
def t(input: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dims."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.ndim}D")
    if input.ndim < 2:
        return input
    return transpose(input, 0, 1)


@register
class unsqueeze:
    """Insert a size-1 dimension (a view)."""
    view = True
    onnx = "Unsqueeze"

    def forward(xp, a, *, dim):
        return xp.expand_dims(a, dim)

    def backward(ctx, g):
        return g.squeeze(ctx.attrs["dim"])


@public("unsqueeze")
def unsqueeze_(input: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at ``dim``."""
    return dispatch(unsqueeze, (input,), {"dim": wrap_dim(dim, input.ndim + 1)})


@register
class squeeze:
    """Remove size-1 dimensions (a view)."""
    view = True
    onnx = "Squeeze"

    def forward(xp, a, *, dims):
        return xp.squeeze(a, axis=dims)

    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


@public("squeeze")
def squeeze_(input: Tensor, dim=None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or those in ``dim``)."""
    nd = input.ndim
    if dim is None:
        dims = tuple(i for i, s in enumerate(input.shape) if s == 1)
    else:
        ds = dim if isinstance(dim, (list, tuple)) else (dim,)
        dims = tuple(sorted({wrap_dim(d, nd) for d in ds if nd}))
        dims = tuple(d for d in dims if input.shape[d] == 1)
    return dispatch(squeeze, (input,), {"dims": dims})


def _install():
    Tensor.T = property(lambda self: self.permute(*reversed(range(self.ndim))))
    Tensor.mT = property(lambda self: self.transpose(-2, -1))


_install()
