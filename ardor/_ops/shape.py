"""Shape and movement ops: views (view, reshape, permute, expand, indexing, ...) and copies."""
from __future__ import annotations

import numpy as np

from .._tensor import Size, Tensor
from ._util import size_args as _size_args, wrap_dim
from .core import clone as clone_op
from .dispatch import MULTI_VIEW, dispatch, dispatch_inplace
from .registry import method, public, register


def _rn(rng, *shape):
    return rng.standard_normal(shape)


def size_args(args, fname: str = "view", argname: str = "size") -> tuple:
    """f(2, 3) / f((2, 3)) as a tuple of ints; torch's TypeError for anything else."""
    seq = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args
    for i, a in enumerate(seq):
        if isinstance(a, bool) or not (isinstance(a, (int, np.integer)) or (
                isinstance(a, Tensor) and a.ndim == 0 and a._data.dtype.kind in "iu")):
            raise TypeError(f"{fname}(): argument '{argname}' (position 1) must be tuple of "
                            f"ints, but found element of type {type(a).__name__} at pos {i}")
    return _size_args(args)


def write_out(fname: str, res, out, cast: bool = False):
    """Write ``res`` into the ``out=`` tensor(s) as torch does: no autograd, resize when the
    shape differs; a different dtype is cast (``cast``, the cat family) or refused."""
    if out is None:
        return res
    if isinstance(res, tuple):
        outs = tuple(write_out(fname, r, o, cast) for r, o in zip(res, out))
        return type(res)(*outs) if hasattr(res, "_fields") else outs
    from .. import _dtype as D
    from .._state import state
    if state.grad_enabled and (res.requires_grad or out.requires_grad):
        raise RuntimeError(f"{fname}(): functions with out=... arguments don't support "
                           "automatic differentiation, but one of the arguments requires grad.")
    if res.dtype is not out.dtype and not cast:
        raise RuntimeError(f"Expected out tensor to have dtype {str(res.dtype).split('.')[-1]}"
                           f", but got {str(out.dtype).split('.')[-1]} instead")
    if res.dtype is not out.dtype and not D.can_cast(res.dtype, out.dtype):
        raise TypeError(f"torch.{fname}(): input types can't be cast to the desired output type "
                        f"{out.dtype._torch_name}")
    if tuple(out.shape) != tuple(res.shape):
        if out.numel():
            import warnings
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out.shape)}, which does not match the required output shape "
                          f"{list(res.shape)}. This behavior is deprecated, and in a future "
                          "PyTorch release outputs will not be resized unless they have zero "
                          "elements. You can explicitly reuse an out tensor t by resizing it, "
                          "inplace, to zero elements with t.resize_(0).", UserWarning,
                          stacklevel=3)
        out._data = res._data.astype(out._data.dtype)
    else:
        out._data[...] = res._data
    out._version[0] += 1
    return out


def with_out(fname: str, cast: bool = False):
    """Give a public function torch's ``out=`` keyword (see write_out)."""
    import functools

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, out=None, **kwargs):
            return write_out(fname, fn(*args, **kwargs), out, cast)
        return wrapper
    return deco


def variant(op, name: str, node_name: str):
    """Register a copy of ``op`` under another name whose autograd node carries torch's name
    for that overload (``SqueezeBackward1`` for squeeze(dim), ...)."""
    from .registry import _FIELDS
    body = {f: getattr(op, f) for f in _FIELDS}
    body.update(forward=op.forward, name=name, node_name=node_name, __doc__=op.doc)
    return register(type(name, (), body))


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
    node_name = "UnsafeViewBackward0"  # torch: clone, then _unsafe_view
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
    shape = _infer_shape(size_args(shape, "view"), self.numel())
    return dispatch(view, (self,), {"shape": shape})


@public("reshape")
def reshape(input: Tensor, *shape) -> Tensor:
    """A view when strides allow, else a copy."""
    shape = _infer_shape(size_args(shape, "reshape", "shape"), input.numel())
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
    sizes = size_args(sizes, "expand")
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
    return dispatch(expand, (self,), {"shape": tuple(shape)})


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
    dims = size_args(dims, "permute", "dims")
    nd = input.ndim
    if len(dims) != nd:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, nd) for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return dispatch(permute, (input,), {"dims": dims})


def _transpose_forward(xp, a, *, dims):
    return xp.transpose(a, dims)


def _transpose_backward(ctx, g):
    return g.permute(tuple(np.argsort(ctx.attrs["dims"]).tolist()))


@register
class transpose_op:
    """Swap two dimensions (a view; permute's kernel under torch's node name)."""
    name = "transpose"
    view = True
    onnx = "Transpose"
    forward = _transpose_forward
    backward = _transpose_backward
    sample = lambda rng: [([_rn(rng, 2, 3, 4)], {"dims": (2, 1, 0)})]


@register
class t_op:
    """Transpose of a 2-D tensor (a view)."""
    name = "t"
    view = True
    onnx = "Transpose"
    forward = _transpose_forward
    backward = _transpose_backward
    sample = lambda rng: [([_rn(rng, 2, 3)], {"dims": (1, 0)})]


@public("transpose", "swapaxes", "swapdims")
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions (a view)."""
    nd = input.ndim
    d0, d1 = wrap_dim(dim0, nd), wrap_dim(dim1, nd)
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return dispatch(transpose_op, (input,), {"dims": tuple(dims)})


@public("t")
def t(input: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dims."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.ndim}D")
    if input.ndim < 2:
        return dispatch(t_op, (input,), {"dims": tuple(range(input.ndim))})
    return dispatch(t_op, (input,), {"dims": (1, 0)})


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


squeeze_dim = variant(squeeze, "squeeze_dim", "SqueezeBackward1")
squeeze_dims = variant(squeeze, "squeeze_dims", "SqueezeBackward2")


@public("squeeze")
def squeeze_(input: Tensor, dim=None) -> Tensor:
    """Remove dimensions of size 1 (all of them, or those in ``dim``)."""
    nd = input.ndim
    if dim is None:
        dims = tuple(i for i, s in enumerate(input.shape) if s == 1)
    else:
        ds = dim if isinstance(dim, (list, tuple)) else (dim,)
        wrapped = [wrap_dim(d, nd) for d in ds]
        if len(set(wrapped)) != len(wrapped):
            raise RuntimeError(f"dim {wrapped[0]} appears multiple times in the list of dims")
        dims = tuple(sorted({d for d in wrapped if nd}))
        dims = tuple(d for d in dims if input.shape[d] == 1)
        op = squeeze_dims if isinstance(dim, (list, tuple)) else squeeze_dim
        return dispatch(op, (input,), {"dims": dims})
    return dispatch(squeeze, (input,), {"dims": dims})


# ---------------------------------------------------------------- samples of the ops above


view.sample = lambda rng: [([_rn(rng, 2, 6)], {"shape": (3, 4)}),
                           ([_rn(rng, 4)], {"shape": (2, 1, 2)})]
reshape_copy.sample = lambda rng: [([_rn(rng, 3, 4).T], {"shape": (12,)})]
expand.sample = lambda rng: [([_rn(rng, 3, 1)], {"shape": (2, 3, 4)})]
permute.sample = lambda rng: [([_rn(rng, 2, 3, 4)], {"dims": (2, 0, 1)})]
unsqueeze.sample = lambda rng: [([_rn(rng, 2, 3)], {"dim": 1})]
squeeze.sample = lambda rng: [([_rn(rng, 2, 1, 3, 1)], {"dims": (1, 3)})]
squeeze_dim.sample = squeeze_dims.sample = squeeze.sample


# ---------------------------------------------------------------- select / slice / diagonal
def _key(ndim_before: int, item):
    # A trailing Ellipsis keeps numpy from returning a scalar instead of a 0-d view.
    return (slice(None),) * ndim_before + (item, Ellipsis)


@register
class select:
    """input[..., index, ...] along ``dim`` (a view, one dimension fewer)."""
    view = True
    onnx = "Gather"

    def forward(xp, a, *, dim, index):
        return a[_key(dim, index)]

    def backward(ctx, g):
        at = ctx.attrs
        return dispatch(select_backward, (g,), {"shape": ctx.in_shape, "dim": at["dim"],
                                               "index": at["index"]})

    sample = lambda rng: [([_rn(rng, 3, 4)], {"dim": 1, "index": 2}),
                          ([_rn(rng, 3)], {"dim": 0, "index": 0})]


@register
class select_backward:
    """Zeros of ``shape`` with ``g`` written at ``index`` of ``dim`` (select's gradient)."""
    onnx = "decompose"

    def forward(xp, g, *, shape, dim, index):
        out = xp.zeros(shape, g.dtype)
        out[_key(dim, index)] = g
        return out

    def backward(ctx, gg):
        at = ctx.attrs
        return dispatch(select, (gg,), {"dim": at["dim"], "index": at["index"]})

    sample = lambda rng: [([_rn(rng, 3)], {"shape": (3, 4), "dim": 1, "index": 1})]


@register
class slice_op:
    """input[start:stop:step] along ``dim`` (a view)."""
    name = "slice"
    view = True
    onnx = "Slice"

    def forward(xp, a, *, dim, start, stop, step):
        return a[_key(dim, slice(start, stop, step))]

    def backward(ctx, g):
        at = ctx.attrs
        return dispatch(slice_backward, (g,), dict(at, shape=ctx.in_shape))

    sample = lambda rng: [([_rn(rng, 5, 4)], {"dim": 0, "start": 1, "stop": 5, "step": 2})]


@register
class slice_backward:
    """Zeros of ``shape`` with ``g`` written into a slice (slice's gradient)."""
    onnx = "decompose"

    def forward(xp, g, *, shape, dim, start, stop, step):
        out = xp.zeros(shape, g.dtype)
        out[_key(dim, slice(start, stop, step))] = g
        return out

    def backward(ctx, gg):
        at = dict(ctx.attrs)
        del at["shape"]
        return dispatch(slice_op, (gg,), at)

    sample = lambda rng: [([_rn(rng, 2, 4)], {"shape": (5, 4), "dim": 0, "start": 1,
                                              "stop": 5, "step": 2})]


def _diag_view(xp, a, offset, dim1, dim2):
    d = xp.diagonal(a, offset, dim1, dim2)
    if xp is np and a.flags.writeable:
        d.flags.writeable = True  # numpy marks diagonal views read-only; torch's are writable
    return d


@register
class diagonal:
    """The diagonal (offset) of the planes spanned by dim1, dim2, as the last dim (a view)."""
    view = True
    onnx = "decompose"

    def forward(xp, a, *, offset, dim1, dim2):
        return _diag_view(xp, a, offset, dim1, dim2)

    def backward(ctx, g):
        return dispatch(diagonal_backward, (g,), dict(ctx.attrs, shape=ctx.in_shape))

    sample = lambda rng: [([_rn(rng, 3, 4)], {"offset": 1, "dim1": 0, "dim2": 1}),
                          ([_rn(rng, 2, 3, 3)], {"offset": -1, "dim1": 2, "dim2": 1})]


@register
class diagonal_backward:
    """Zeros of ``shape`` with ``g`` written on a diagonal (diagonal's gradient)."""
    onnx = "decompose"

    def forward(xp, g, *, shape, offset, dim1, dim2):
        out = xp.zeros(shape, g.dtype)
        _diag_view(xp, out, offset, dim1, dim2)[...] = g
        return out

    def backward(ctx, gg):
        at = dict(ctx.attrs)
        del at["shape"]
        return dispatch(diagonal, (gg,), at)

    sample = lambda rng: [([_rn(rng, 3)], {"shape": (3, 4), "offset": 1, "dim1": 0, "dim2": 1})]


@public("select")
def select_(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` of ``dim`` (a view with that dimension removed)."""
    nd = input.ndim
    if nd == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, nd)
    n = input.shape[d]
    i = int(index)
    if not -n <= i < n:
        raise IndexError(f"select(): index {i} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {dim}")
    return dispatch(select, (input,), {"dim": d, "index": i + n if i < 0 else i})


def _slice(input: Tensor, d: int, start, stop, step) -> Tensor:
    # start/stop normalized to 0 <= start <= stop <= size, as torch's slice does
    start, stop, step = slice(start, stop, step).indices(input.shape[d])
    if stop < start:
        stop = start
    if start == 0 and stop == input.shape[d] and step == 1:
        return dispatch(slice_op, (input,), {"dim": d, "start": 0, "stop": stop, "step": 1})
    return dispatch(slice_op, (input,), {"dim": d, "start": start, "stop": stop, "step": step})


@public("narrow")
def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """``length`` elements of ``dim`` from ``start`` (a view)."""
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d]
    start = int(start)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return dispatch(slice_op, (input,), {"dim": d, "start": start, "stop": start + length,
                                         "step": 1})


@public("diagonal")
def diagonal_(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal of the (dim1, dim2) planes, appended as the last dimension (a view)."""
    nd = input.ndim
    d1, d2 = wrap_dim(dim1, nd), wrap_dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return dispatch(diagonal, (input,), {"offset": int(offset), "dim1": d1, "dim2": d2})


# ---------------------------------------------------------------- unbind / split (multi-view)
@register
class unbind:
    """All slices along ``dim`` (views; one output per index)."""
    view = True
    nout = 0
    onnx = "decompose"

    def forward(xp, a, *, dim):
        return tuple(a[_key(dim, i)] for i in range(a.shape[dim]))

    def backward(ctx, *gs):
        return dispatch(stack, tuple(gs), {"dim": ctx.attrs["dim"]})

    sample = lambda rng: [([_rn(rng, 2, 3)], {"dim": 1})]


def _split_bounds(attrs, size=None):
    if "sizes" in attrs:
        sizes = attrs["sizes"]
    else:
        s = attrs["split_size"]
        n = attrs["size"]
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if s else [0]
    out, off = [], 0
    for s in sizes:
        out.append((off, off + s))
        off += s
    return out


def _split_forward(xp, a, **attrs):
    dim = attrs["dim"]
    return tuple(a[_key(dim, slice(b, e))] for b, e in _split_bounds(attrs))


def _split_backward(ctx, *gs):
    return dispatch(cat, tuple(gs), {"dim": ctx.attrs["dim"]})


@register
class split:
    """Equal pieces of ``split_size`` along ``dim`` (the last may be smaller; views)."""
    view = True
    nout = 0
    onnx = "Split"
    forward = _split_forward
    backward = _split_backward
    sample = lambda rng: [([_rn(rng, 5, 2)], {"split_size": 2, "size": 5, "dim": 0})]


@register
class split_with_sizes:
    """Pieces of the given sizes along ``dim`` (views)."""
    view = True
    nout = 0
    onnx = "Split"
    forward = _split_forward
    backward = _split_backward
    sample = lambda rng: [([_rn(rng, 2, 5)], {"sizes": (1, 4, 0), "dim": 1})]


def _piece(attrs, i):
    b, e = _split_bounds(attrs)[i]
    return (slice_op, {"dim": attrs["dim"], "start": b, "stop": e, "step": 1})


MULTI_VIEW["unbind"] = lambda attrs, i: (select, {"dim": attrs["dim"], "index": i})
MULTI_VIEW["split"] = _piece
MULTI_VIEW["split_with_sizes"] = _piece


@public("unbind")
def unbind_(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim`` as a tuple of views."""
    if input.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return dispatch(unbind, (input,), {"dim": wrap_dim(dim, input.ndim)})


@public("split", "unsafe_split")
def split_(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into pieces of ``split_size`` (int) or of the listed sizes along ``dim``."""
    if tensor.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, tensor.ndim)
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = tuple(int(s) for s in split_size_or_sections)
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={list(sizes)}")
        return dispatch(split_with_sizes, (tensor,), {"sizes": sizes, "dim": d})
    s = int(split_size_or_sections)
    if s < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={s}")
    if s == 0 and n != 0:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension "
                           f"size of {n}")
    return dispatch(split, (tensor,), {"split_size": s, "size": n, "dim": d})


@public("split_with_sizes", "unsafe_split_with_sizes")
def split_with_sizes_(self: Tensor, split_sizes, dim: int = 0) -> tuple:
    """Split into pieces of the listed sizes."""
    return split_(self, list(split_sizes), dim)


@public("chunk", "unsafe_chunk")
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` pieces of (nearly) equal size along ``dim``."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if input.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d]
    size = -(-n // chunks)
    if size == 0 and n == 0:
        return split_with_sizes_(input, [0] * chunks, d)
    return split_(input, size, d)


@public("tensor_split")
def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """Split at the given indices, or into ``sections`` nearly equal pieces (views)."""
    if input.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = wrap_dim(dim, input.ndim)
    n = input.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.dtype.is_floating_point or ios.dtype.is_complex or ios.dtype.is_bool:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have "
                               f"integer dtype, but got {ios.dtype}")
        if ios.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a "
                               f"zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {ios.ndim} dims")
        ios = ios.item() if ios.ndim == 0 else ios.tolist()
    if isinstance(ios, (list, tuple)):
        bounds = [0] + [int(i) for i in ios] + [n]
    else:
        k = int(ios)
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        q, r = divmod(n, k)
        bounds = [0]
        for i in range(k):
            bounds.append(bounds[-1] + q + (1 if i < r else 0))
    out = []
    for b, e in zip(bounds[:-1], bounds[1:]):
        b = min(max(b + n if b < 0 else b, 0), n)
        e = min(max(e + n if e < 0 else e, 0), n)
        out.append(dispatch(slice_op, (input,), {"dim": d, "start": b, "stop": max(b, e),
                                                 "step": 1}))
    return tuple(out)


def _split_sections(name, dim_needed):
    def fn(input: Tensor, indices_or_sections) -> tuple:
        if input.ndim < dim_needed + 1:
            raise RuntimeError(f"torch.{name} requires a tensor with at least "
                               f"{dim_needed + 1} dimension, but got a tensor with "
                               f"{input.ndim} dimensions!")
        d = 1 if name == "hsplit" and input.ndim > 1 else (0 if name != "dsplit" else 2)
        if not isinstance(indices_or_sections, (list, tuple)):
            k = int(indices_or_sections)
            if k == 0 or input.shape[d] % k:
                raise RuntimeError(f"torch.{name} attempted to split along dimension {d}, but "
                                   f"the size of the dimension {input.shape[d]} is not "
                                   f"divisible by the split_size {k}!")
        return tensor_split(input, indices_or_sections, d)
    fn.__doc__ = f"numpy-style {name}: tensor_split along a fixed dimension."
    fn.__name__ = name
    return fn


public("hsplit")(_split_sections("hsplit", 0))
public("vsplit")(_split_sections("vsplit", 1))
public("dsplit")(_split_sections("dsplit", 2))


# ---------------------------------------------------------------- view-producing wrappers
@method("view_as")
def view_as(self: Tensor, other: Tensor) -> Tensor:
    """A view with ``other``'s shape."""
    return view_(self, tuple(other.shape))


@method("reshape_as")
def reshape_as(self: Tensor, other: Tensor) -> Tensor:
    """reshape to ``other``'s shape."""
    return reshape(self, tuple(other.shape))


@method("expand_as")
def expand_as(self: Tensor, other: Tensor) -> Tensor:
    """expand to ``other``'s shape."""
    return expand_(self, tuple(other.shape))


@public("broadcast_to")
def broadcast_to(input: Tensor, size) -> Tensor:
    """expand to ``size`` (a view)."""
    return expand_(input, tuple(size))


@public("flatten")
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one (a view when strides allow)."""
    nd = input.ndim
    if nd == 0:
        return reshape(input, (1,))
    s, e = wrap_dim(start_dim, nd), wrap_dim(end_dim, nd)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    shp = input.shape
    n = 1
    for x in shp[s:e + 1]:
        n *= x
    return reshape(input, tuple(shp[:s]) + (n,) + tuple(shp[e + 1:]))


@public("unflatten")
def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Split dimension ``dim`` into ``sizes`` (one may be -1)."""
    nd = input.ndim
    d = wrap_dim(dim, nd)
    sizes = tuple(int(x) for x in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = input.shape[d]
    known = 1
    for x in sizes:
        if x != -1:
            known *= x
    if sizes.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if (-1 in sizes and (known == 0 or n % known)) or (-1 not in sizes and known != n):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    if -1 in sizes:
        sizes = tuple(n // known if x == -1 else x for x in sizes)
    return reshape(input, tuple(input.shape[:d]) + sizes + tuple(input.shape[d + 1:]))


@public("movedim", "moveaxis")
def movedim(input: Tensor, source, destination) -> Tensor:
    """Move dims ``source`` to positions ``destination`` (a view)."""
    nd = input.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} dims)")
    given_src, given_dst = list(src), list(dst)
    src = [wrap_dim(x, nd) for x in src]
    dst = [wrap_dim(x, nd) for x in dst]
    if len(set(src)) != len(src):
        raise RuntimeError(f"movedim: repeated dim in `source` ({given_src})")
    if len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({given_dst})")
    order = [None] * nd
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(i for i in range(nd) if i not in src)
    order = tuple(o if o is not None else next(rest) for o in order)
    return dispatch(permute, (input,), {"dims": order})


@public("adjoint")
def adjoint(input: Tensor) -> Tensor:
    """Conjugate transpose of the last two dims."""
    t_ = transpose(input, -2, -1)
    return t_.conj() if input.is_complex() else t_


def _atleast(n):
    def fn(*tensors):
        single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
        ts = tensors[0] if len(tensors) == 1 and not single else tensors
        out = []
        for x in ts:
            nd = x.ndim
            if nd >= n:
                out.append(x)
            elif n == 1:
                out.append(reshape(x, (1,)))
            elif n == 2:
                out.append(reshape(x, (1,) * (2 - nd) + tuple(x.shape)))
            else:
                shp = {0: (1, 1, 1), 1: (1,) + tuple(x.shape) + (1,),
                       2: tuple(x.shape) + (1,)}[nd]
                out.append(reshape(x, shp))
        return out[0] if single else tuple(out)
    fn.__doc__ = f"Each input viewed with at least {n} dimensions."
    fn.__name__ = f"atleast_{n}d"
    return fn


atleast_1d = public("atleast_1d", method=False)(_atleast(1))
atleast_2d = public("atleast_2d", method=False)(_atleast(2))
atleast_3d = public("atleast_3d", method=False)(_atleast(3))


@public("broadcast_shapes", method=False)
def broadcast_shapes(*shapes) -> Size:
    """The shape all ``shapes`` broadcast to (torch's RuntimeError when they do not)."""
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    nd = max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for k, s in enumerate(shapes):
        for i, x in enumerate(s):
            j = nd - len(s) + i
            if x < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {x}: "
                                   f"{list(s)}")
            if out[j] == 1:
                out[j] = x
            elif x != 1 and x != out[j]:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {x} at {i - len(s)}! "
                    f"Mismatching argument at index {k} had {tuple(s)}; but expected shape "
                    f"should be broadcastable to {out}")
    return Size(out)


def _broadcast_shape_of(tensors):
    nd = max(t.ndim for t in tensors)
    out = [1] * nd
    for t in tensors:
        for i, x in enumerate(t.shape):
            j = nd - t.ndim + i
            if out[j] == 1:
                out[j] = x
            elif x != 1 and x != out[j]:
                raise RuntimeError(f"The size of tensor a ({out[j]}) must match the size of "
                                   f"tensor b ({x}) at non-singleton dimension {j}")
    return tuple(out)


@public("broadcast_tensors", method=False)
def broadcast_tensors(*tensors) -> tuple:
    """Expand all inputs to their common broadcast shape (views)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        return ()
    shape = _broadcast_shape_of(tensors)
    return tuple(t if tuple(t.shape) == shape else dispatch(expand, (t,), {"shape": shape})
                 for t in tensors)


@public("meshgrid", method=False)
def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids from 1-D tensors (expanded views); indexing 'ij' (default) or 'xy'."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        import warnings
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t_ in tensors:
        if t_.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got: {t_}")
    ts = [reshape(t_, (-1,)) for t_ in tensors]
    # 'xy' is 'ij' over the first two inputs swapped, with the outputs swapped back
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t_.shape[0] for t_ in ts)
    out = []
    for i, t_ in enumerate(ts):
        v = [1] * len(ts)
        v[i] = -1
        out.append(expand_(view_(t_, *v), shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


# ---------------------------------------------------------------- cat / stack
@register
class cat:
    """Concatenate along ``dim`` (legacy empty 1-D inputs are skipped)."""
    promote = "binary"
    onnx = "Concat"

    def forward(xp, *arrays, dim):
        keep = [a for a in arrays if not (a.ndim == 1 and a.shape[0] == 0)]
        if not keep:
            return arrays[0].copy()
        return xp.concatenate(keep, axis=dim)

    def backward(ctx, g):
        dim = ctx.attrs["dim"]
        out, off = [], 0
        for (shape, dt), need in zip(ctx.in_meta, ctx.needs_input_grad):
            if len(shape) == 1 and shape[0] == 0 and g.ndim != 1:
                from .creation import zeros
                out.append(zeros(0, dtype=g.dtype) if need else None)
                continue
            n = shape[dim]
            out.append(narrow(g, dim, off, n) if need else None)
            off += n
        return tuple(out)

    sample = lambda rng: [([_rn(rng, 2, 3), _rn(rng, 2, 1)], {"dim": 1}),
                          ([_rn(rng, 2), _rn(rng, 0), _rn(rng, 3)], {"dim": 0})]


@register
class stack:
    """Stack equally shaped tensors along a new ``dim``."""
    promote = "binary"
    onnx = "decompose"

    def forward(xp, *arrays, dim):
        return xp.stack(arrays, axis=dim)

    def backward(ctx, g):
        return tuple(unbind_(g, ctx.attrs["dim"]))

    sample = lambda rng: [([_rn(rng, 2, 3), _rn(rng, 2, 3)], {"dim": 1})]


def _tensor_list(tensors, fname):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{fname}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not Tensor")
    tensors = tuple(tensors)
    for i, t_ in enumerate(tensors):
        if not isinstance(t_, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(t_).__name__}")
    return tensors


@public("cat", "concat", "concatenate", method=False)
@with_out("cat", cast=True)
def cat_(tensors, dim: int = 0, *, axis=None, out=None) -> Tensor:
    """Concatenate tensors along an existing ``dim``; dtypes promote as torch.result_type."""
    if axis is not None:
        dim = axis
    tensors = _tensor_list(tensors, "cat")
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    shapes = [t_._data.shape for t_ in tensors]
    ref = None
    for i, sh in enumerate(shapes):
        if not sh:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               f"concatenated")
        if ref is None and sh != (0,):  # legacy empty 1-D tensors are skipped
            ref = sh
    if ref is None:
        d = wrap_dim(dim, 1)
    else:
        nd = len(ref)
        d = wrap_dim(dim, nd)
        for i, sh in enumerate(shapes):
            if sh == ref or sh == (0,):
                continue
            if len(sh) != nd:
                raise RuntimeError(f"Tensors must have same number of dimensions: got "
                                   f"{nd} and {len(sh)}")
            for k in range(nd):
                if k != d and sh[k] != ref[k]:
                    raise RuntimeError(
                        f"Sizes of tensors must match except in dimension {d}. Expected size "
                        f"{ref[k]} but got size {sh[k]} for tensor number {i} in the list.")
    return dispatch(cat, tensors, {"dim": d})


@public("stack", method=False)
@with_out("stack", cast=True)
def stack_(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Stack equally shaped tensors along a new dimension ``dim``."""
    tensors = _tensor_list(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shp = tensors[0].shape
    for i, t_ in enumerate(tensors):
        if t_.shape != shp:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shp)} at entry 0 and {list(t_.shape)} at entry {i}")
    d = wrap_dim(dim, len(shp) + 1)
    return dispatch(stack, tensors, {"dim": d})


@public("hstack", method=False)
@with_out("hstack", cast=True)
def hstack(tensors, *, out=None) -> Tensor:
    """Concatenate horizontally (dim 1, or dim 0 for 1-D inputs)."""
    ts = atleast_1d(*_tensor_list(tensors, "hstack"))
    ts = (ts,) if isinstance(ts, Tensor) else ts
    return cat_(ts, 0 if ts[0].ndim == 1 else 1)


@public("vstack", "row_stack", method=False)
@with_out("vstack", cast=True)
def vstack(tensors, *, out=None) -> Tensor:
    """Concatenate vertically (inputs viewed as at least 2-D)."""
    ts = atleast_2d(*_tensor_list(tensors, "vstack"))
    ts = (ts,) if isinstance(ts, Tensor) else ts
    return cat_(ts, 0)


@public("dstack", method=False)
@with_out("dstack", cast=True)
def dstack(tensors, *, out=None) -> Tensor:
    """Concatenate along the third dimension (inputs viewed as at least 3-D)."""
    ts = atleast_3d(*_tensor_list(tensors, "dstack"))
    ts = (ts,) if isinstance(ts, Tensor) else ts
    return cat_(ts, 2)


@public("column_stack", method=False)
@with_out("column_stack", cast=True)
def column_stack(tensors, *, out=None) -> Tensor:
    """Stack 0-D/1-D inputs as columns, 2-D+ inputs side by side."""
    ts = [reshape(t_, (t_.numel(), 1)) if t_.ndim <= 1 else t_
          for t_ in _tensor_list(tensors, "column_stack")]
    return cat_(ts, 1)


# ---------------------------------------------------------------- repeat / tile / flip / roll
@register
class repeat:
    """Tile the tensor ``repeats`` times along each dimension."""
    onnx = "Tile"

    def forward(xp, a, *, repeats):
        a = a.reshape((1,) * (len(repeats) - a.ndim) + a.shape)
        return xp.tile(a, repeats)

    def backward(ctx, g):
        reps = ctx.attrs["repeats"]
        shp = ctx.in_shape
        shp = (1,) * (len(reps) - len(shp)) + tuple(shp)
        inter = []
        for r, s in zip(reps, shp):
            inter += [r, s]
        if 0 in inter:
            from .creation import zeros
            return zeros(ctx.in_shape, dtype=g.dtype)
        gs = g.reshape(tuple(inter)).sum(tuple(range(0, 2 * len(reps), 2)))
        return gs.reshape(ctx.in_shape)

    sample = lambda rng: [([_rn(rng, 2, 3)], {"repeats": (2, 1, 3)})]


@method("repeat")
def repeat_(self: Tensor, *sizes) -> Tensor:
    """Tile the tensor along each dimension (len(sizes) >= ndim)."""
    reps = size_args(sizes, "repeat", "repeats")
    if len(reps) < self.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    for r in reps:
        if r < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {r}: "
                               f"{list(reps)}")
    return dispatch(repeat, (self,), {"repeats": reps})


@public("tile")
def tile(input: Tensor, dims) -> Tensor:
    """numpy-style tile: repeat, with missing leading repeats taken as 1."""
    dims = size_args((dims,) if isinstance(dims, int) else tuple(dims), "tile", "dims")
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return repeat_(input, dims)


@public("repeat_interleave")
def repeat_interleave_(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Repeat elements of ``input`` (flattened when dim is None) ``repeats`` times each."""
    from .._tensor import _make
    if repeats is None:  # repeat_interleave(repeats): indices repeated by their counts
        reps = input
        if reps.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        r = reps._data.astype(np.int64)
        if (r < 0).any():
            raise RuntimeError("repeats can not be negative")
        return _make(np.repeat(np.arange(r.shape[0], dtype=np.int64), r))
    if dim is None:
        input = reshape(input, (-1,))
        d = 0
    else:
        d = wrap_dim(dim, input.ndim)
    if isinstance(repeats, Tensor):
        if repeats.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        if repeats.dtype.is_floating_point or repeats.dtype.is_complex:
            raise RuntimeError(f"repeat_interleave: repeats has to be Long or Int tensor")
        r = repeats._data.reshape(-1)
        if r.shape[0] == 1:
            reps = int(r[0])
        else:
            if r.shape[0] != input.shape[d]:
                raise RuntimeError("repeats must have the same size as input along dim, but "
                                   f"got repeats.size(0) = {r.shape[0]} and input.size({d}) = "
                                   f"{input.shape[d]}")
            reps = tuple(int(x) for x in r)
    else:
        reps = int(repeats)
    if min(reps if isinstance(reps, tuple) else (reps,), default=0) < 0:
        raise RuntimeError("repeats can not be negative")
    if input.ndim == 0:
        input = reshape(input, (1,))
    if isinstance(reps, int):
        # torch's composite: unsqueeze, expand, contiguous copy, flatten (a view of the copy)
        shp = tuple(input.shape)
        e = expand_(unsqueeze_(input, d + 1), shp[:d + 1] + (reps,) + shp[d + 1:])
        return flatten(dispatch(clone_op, (e,)), d, d + 1)
    from .._tensor import _make
    idx = _make(np.repeat(np.arange(input.shape[d], dtype=np.int64), reps))
    return input.index_select(d, idx)  # torch's composite: IndexSelectBackward0


@register
class flip:
    """Reverse the order of elements along ``dims`` (a copy)."""
    onnx = "decompose"

    def forward(xp, a, *, dims):
        return xp.flip(a, axis=dims).copy()

    def backward(ctx, g):
        return dispatch(flip, (g,), ctx.attrs)

    sample = lambda rng: [([_rn(rng, 2, 3, 2)], {"dims": (0, 2)})]


@public("flip")
def flip_(input: Tensor, *dims) -> Tensor:
    """Reverse the order of elements along ``dims``."""
    dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (list, tuple)) else dims
    nd = input.ndim
    ds = tuple(wrap_dim(int(d), nd) for d in dims)
    if len(set(ds)) != len(ds):
        raise RuntimeError(f"dims has duplicates, original flip dims size={len(ds)}, but "
                           f"unique flip dims size={len(set(ds))}")
    return dispatch(flip, (input,), {"dims": ds})


@public("fliplr")
def fliplr(input: Tensor) -> Tensor:
    """Flip along dim 1 (inputs of at least 2 dims)."""
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip_(input, 1)


@public("flipud")
def flipud(input: Tensor) -> Tensor:
    """Flip along dim 0 (inputs of at least 1 dim)."""
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip_(input, 0)


@register
class roll:
    """Shift elements cyclically along ``dims`` (flattened when dims is None)."""
    onnx = "decompose"

    def forward(xp, a, *, shifts, dims):
        if dims is None:
            return xp.roll(a.reshape(-1), shifts).reshape(a.shape)
        return xp.roll(a, shifts, axis=dims)

    def backward(ctx, g):
        at = ctx.attrs
        s = at["shifts"]
        s = tuple(-x for x in s) if isinstance(s, tuple) else -s
        return dispatch(roll, (g,), {"shifts": s, "dims": at["dims"]})

    sample = lambda rng: [([_rn(rng, 3, 4)], {"shifts": (1, -2), "dims": (0, 1)}),
                          ([_rn(rng, 3, 2)], {"shifts": 2, "dims": None})]


@public("roll")
def roll_(input: Tensor, shifts, dims=None) -> Tensor:
    """Roll elements along ``dims`` by ``shifts`` (flattened when dims is None)."""
    if dims is None:
        if isinstance(shifts, (list, tuple)):
            if len(shifts) != 1:
                raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                                   f"dims:0")
            shifts = shifts[0]
        return dispatch(roll, (input,), {"shifts": int(shifts), "dims": None})
    sh = tuple(shifts) if isinstance(shifts, (list, tuple)) else (shifts,)
    ds = tuple(dims) if isinstance(dims, (list, tuple)) else (dims,)
    if len(sh) != len(ds):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:"
                           f"{len(ds)}")
    ds = tuple(wrap_dim(int(d), input.ndim) for d in ds)
    return dispatch(roll, (input,), {"shifts": tuple(int(s) for s in sh), "dims": ds})


# ---------------------------------------------------------------- triangles and diagonals
@register
class tril:
    """The lower triangle of the last two dims (elements above ``diagonal`` zeroed)."""
    onnx = "Trilu"

    def forward(xp, a, *, diagonal):
        return xp.tril(a, diagonal)

    def backward(ctx, g):
        return dispatch(tril, (g,), ctx.attrs)

    sample = lambda rng: [([_rn(rng, 3, 4)], {"diagonal": 1}),
                          ([_rn(rng, 2, 3, 3)], {"diagonal": -1})]


@register
class triu:
    """The upper triangle of the last two dims (elements below ``diagonal`` zeroed)."""
    onnx = "Trilu"

    def forward(xp, a, *, diagonal):
        return xp.triu(a, diagonal)

    def backward(ctx, g):
        return dispatch(triu, (g,), ctx.attrs)

    sample = lambda rng: [([_rn(rng, 3, 4)], {"diagonal": 1}),
                          ([_rn(rng, 2, 3, 3)], {"diagonal": -1})]


def _tri_check(input, name):
    if input.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")


@public("tril")
@with_out("tril")
def tril_(input: Tensor, diagonal: int = 0, *, out=None) -> Tensor:
    """Lower triangle (elements above ``diagonal`` zeroed)."""
    _tri_check(input, "tril")
    return dispatch(tril, (input,), {"diagonal": int(diagonal)})


@public("triu")
@with_out("triu")
def triu_(input: Tensor, diagonal: int = 0, *, out=None) -> Tensor:
    """Upper triangle (elements below ``diagonal`` zeroed)."""
    _tri_check(input, "triu")
    return dispatch(triu, (input,), {"diagonal": int(diagonal)})


@method("tril_")
def tril_inplace(self: Tensor, diagonal: int = 0) -> Tensor:
    """In-place tril."""
    _tri_check(self, "tril")
    return dispatch_inplace(tril, self, (), {"diagonal": int(diagonal)})


@method("triu_")
def triu_inplace(self: Tensor, diagonal: int = 0) -> Tensor:
    """In-place triu."""
    _tri_check(self, "triu")
    return dispatch_inplace(triu, self, (), {"diagonal": int(diagonal)})


@register
class diag_embed:
    """Batches of diagonal matrices whose (offset) diagonals are the last dim of the input."""
    onnx = "decompose"

    def forward(xp, a, *, offset, dim1, dim2):
        n = a.ndim + 1
        m = a.shape[-1] + abs(offset)
        rest = iter(a.shape[:-1])
        shape = tuple(m if i in (dim1, dim2) else next(rest) for i in range(n))
        out = xp.zeros(shape, a.dtype)
        _diag_view(xp, out, offset, dim1, dim2)[...] = a
        return out

    def backward(ctx, g):
        return dispatch(diagonal, (g,), ctx.attrs)

    sample = lambda rng: [([_rn(rng, 2, 3)], {"offset": 1, "dim1": 0, "dim2": 2})]


@public("diag_embed")
def diag_embed_(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Embed the last dimension as the (offset) diagonal of new dims dim1, dim2."""
    n = input.ndim + 1
    d1, d2 = wrap_dim(dim1, n), wrap_dim(dim2, n)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    if input.ndim == 0:
        input = reshape(input, (1,))
        n = 2
    return dispatch(diag_embed, (input,), {"offset": int(offset), "dim1": d1, "dim2": d2})


@public("diag")
@with_out("diag")
def diag(input: Tensor, diagonal: int = 0, *, out=None) -> Tensor:
    """1-D input: a matrix with it on the (offset) diagonal; 2-D input: that diagonal (copy)."""
    if input.ndim == 1:
        return diag_embed_(input, diagonal, 0, 1)
    if input.ndim == 2:
        return dispatch(clone_op, (diagonal_(input, diagonal, 0, 1),))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


@public("diagflat")
def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """A matrix with the flattened input on its (offset) diagonal."""
    return diag_embed_(reshape(input, (-1,)), offset, 0, 1)


# ---------------------------------------------------------------- new_* factories
def _new_factory(kind):
    def fn(self: Tensor, *args, dtype=None, device=None, requires_grad=False, layout=None,
           pin_memory=False):
        from . import creation
        dt = self.dtype if dtype is None else dtype
        if kind == "tensor":
            return creation.tensor(args[0], dtype=dt, requires_grad=requires_grad)
        if kind == "full":
            size, fill = args
            t_ = creation.zeros(size_args((size,)), dtype=dt)
            t_._data[...] = fill
        else:
            t_ = (creation.ones if kind == "ones" else creation.zeros)(*args, dtype=dt)
        if requires_grad:
            t_.requires_grad_(True)
        return t_
    fn.__doc__ = f"A new {kind} tensor with this tensor's dtype unless given."
    fn.__name__ = "new_" + kind
    return fn


for _k in ("zeros", "ones", "full", "empty", "tensor"):
    method("new_" + _k)(_new_factory(_k))

# ---------------------------------------------------------------- as_strided / unfold
def _positions(xp, shape, stride, offset):
    """Storage index of every element of a strided geometry."""
    pos = xp.full(tuple(shape), offset, np.int64)
    for d, (n, s) in enumerate(zip(shape, stride)):
        sh = [1] * len(shape)
        sh[d] = n
        pos = pos + xp.arange(n, dtype=np.int64).reshape(sh) * s
    return pos


def _root(a):
    r = a
    while isinstance(r.base, np.ndarray):
        r = r.base
    return r


@register
class as_strided:
    """A view of the input's storage with the given sizes, strides (elements) and offset."""
    view = True
    onnx = "decompose"

    def forward(xp, a, *, size, stride, storage_offset, in_stride=None, in_offset=None):
        if xp is not np:
            return xp.lib.stride_tricks.as_strided(
                a, size, tuple(s * a.itemsize for s in stride))
        root = _root(a)
        return np.ndarray(size, a.dtype, buffer=root, offset=storage_offset * a.itemsize,
                          strides=tuple(s * a.itemsize for s in stride))

    def backward(ctx, g):
        at = ctx.attrs
        return dispatch(strided_transfer, (g,), {
            "src": (tuple(at["size"]), tuple(at["stride"]), at["storage_offset"]),
            "dst": (tuple(ctx.in_shape), tuple(at["in_stride"]), at["in_offset"])})

    sample = lambda rng: [([_rn(rng, 3, 4)], {"size": (2, 2), "stride": (1, 4),
                                              "storage_offset": 1, "in_stride": (4, 1),
                                              "in_offset": 0})]


@register
class strided_transfer:
    """Gradient plumbing of as_strided: scatter-add ``g`` from the ``src`` geometry into a
    zero storage, then read the ``dst`` geometry."""
    onnx = "decompose"

    def forward(xp, g, *, src, dst):
        sp = _positions(xp, *src)
        dp = _positions(xp, *dst)
        n = 1 + max(int(sp.max()) if sp.size else 0, int(dp.max()) if dp.size else 0)
        storage = xp.zeros(n, g.dtype)
        xp.add.at(storage, sp.reshape(-1), g.reshape(-1))
        return storage[dp]

    def backward(ctx, gg):
        at = ctx.attrs
        return dispatch(strided_transfer, (gg,), {"src": at["dst"], "dst": at["src"]})

    sample = lambda rng: [([_rn(rng, 2, 2)], {"src": ((2, 2), (1, 4), 1),
                                              "dst": ((3, 4), (4, 1), 0)})]


@public("as_strided")
def as_strided_(input: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:
    """A view of ``input``'s storage with explicit sizes, strides and storage offset."""
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape")
    off = input.storage_offset() if storage_offset is None else int(storage_offset)
    if any(s < 0 for s in stride):
        raise RuntimeError("as_strided: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    total = _root(input._data).size if type(input._data) is np.ndarray else input.numel()
    need = 0 if 0 in size else off + 1 + sum((n - 1) * s for n, s in zip(size, stride))
    if need > total:
        it = input.element_size()
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {off}, and itemsize {it} requiring a storage size of "
                           f"{need * it} are out of bounds for storage of size {total * it}")
    return dispatch(as_strided, (input,), {"size": size, "stride": stride,
                                           "storage_offset": off,
                                           "in_stride": tuple(input.stride()),
                                           "in_offset": input.storage_offset()})


@register
class unfold:
    """All windows of ``size`` elements, ``step`` apart, along ``dimension`` (a view; the
    window is a new last dimension)."""
    view = True
    onnx = "decompose"

    def forward(xp, a, *, dimension, size, step):
        if a.ndim == 0:
            return a.reshape(1)
        n = (a.shape[dimension] - size) // step + 1
        shape = a.shape[:dimension] + (n,) + a.shape[dimension + 1:] + (size,)
        st = a.strides
        strides = st[:dimension] + (st[dimension] * step,) + st[dimension + 1:] + \
            (st[dimension],)
        return xp.lib.stride_tricks.as_strided(a, shape, strides)

    def backward(ctx, g):
        return dispatch(unfold_backward, (g,), dict(ctx.attrs, shape=ctx.in_shape))

    sample = lambda rng: [([_rn(rng, 3, 5)], {"dimension": 1, "size": 2, "step": 2}),
                          ([_rn(rng, 4, 2)], {"dimension": 0, "size": 3, "step": 1})]


@register
class unfold_backward:
    """Sum the windows of ``g`` back into a tensor of ``shape`` (unfold's gradient)."""
    onnx = "decompose"

    def forward(xp, g, *, shape, dimension, size, step):
        out = xp.zeros(shape, g.dtype)
        if len(shape) == 0:
            out[...] = g.reshape(())
            return out
        n = g.shape[dimension]
        for j in range(size):  # one strided add per window offset
            out[_key(dimension, slice(j, j + step * (n - 1) + 1, step))] += g[..., j]
        return out

    def backward(ctx, gg):
        at = dict(ctx.attrs)
        del at["shape"]
        return dispatch(unfold, (gg,), at)

    sample = lambda rng: [([_rn(rng, 3, 2, 2)], {"shape": (3, 5), "dimension": 1, "size": 2,
                                                 "step": 2})]


@method("unfold")
def unfold_(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Sliding windows of ``size`` with ``step`` along ``dimension`` (a view)."""
    d = wrap_dim(dimension, self.ndim)
    n = self.shape[d] if self.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is "
                           f"{size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    return dispatch(unfold, (self,), {"dimension": d, "size": int(size), "step": int(step)})


# ---------------------------------------------------------------- *_scatter, rot90, ravel...
def _scatter_region(kind):
    def key_of(attrs):
        if kind == "select":
            return _key(attrs["dim"], attrs["index"])
        return _key(attrs["dim"], slice(attrs["start"], attrs["stop"], attrs["step"]))
    return key_of


def _region_view(xp, a, kind, attrs):
    if kind == "diagonal":
        return _diag_view(xp, a, attrs["offset"], attrs["dim1"], attrs["dim2"])
    return a[_scatter_region(kind)(attrs)]


def _make_scatter(kind, view_op):
    def forward(xp, a, src, **attrs):
        out = a.copy()
        _region_view(xp, out, kind, attrs)[...] = src
        return out

    def backward(ctx, g):
        at = ctx.attrs
        na, ns = ctx.needs_input_grad
        ga = gs = None
        if na:
            z = g.new_zeros(tuple(ctx.in_meta[1][0]))
            ga = dispatch(ctx.op, (g, z), at)
        if ns:
            gs = dispatch(view_op, (g,), at)
        return ga, gs
    return forward, backward


_ss_f, _ss_b = _make_scatter("select", select)
_sl_f, _sl_b = _make_scatter("slice", slice_op)
_ds_f, _ds_b = _make_scatter("diagonal", diagonal)


@register
class select_scatter:
    """A copy of input with ``src`` embedded at ``index`` of ``dim``."""
    onnx = "decompose"
    forward = _ss_f
    backward = _ss_b
    sample = lambda rng: [([_rn(rng, 3, 4), _rn(rng, 3)], {"dim": 1, "index": 2})]


@register
class slice_scatter:
    """A copy of input with ``src`` embedded into a slice of ``dim``."""
    onnx = "decompose"
    forward = _sl_f
    backward = _sl_b
    sample = lambda rng: [([_rn(rng, 5, 2), _rn(rng, 2, 2)],
                           {"dim": 0, "start": 1, "stop": 5, "step": 2})]


@register
class diagonal_scatter:
    """A copy of input with ``src`` embedded on a diagonal."""
    onnx = "decompose"
    forward = _ds_f
    backward = _ds_b
    sample = lambda rng: [([_rn(rng, 3, 4), _rn(rng, 3)], {"offset": 1, "dim1": 0,
                                                           "dim2": 1})]


def _embed_check(name, region: Tensor, src: Tensor):
    if tuple(region.shape) != tuple(src.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size "
                           f"= {list(src.shape)}, slice size = {list(region.shape)}")


@public("select_scatter")
def select_scatter_(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """``input`` with ``src`` embedded at ``index`` along ``dim`` (a copy)."""
    v = select_(input, dim, index)
    _embed_check("select_scatter", v, src)
    return dispatch(select_scatter, (input, src), {"dim": v._view_ops[-1][1]["dim"],
                                                   "index": v._view_ops[-1][1]["index"]})


@public("slice_scatter")
def slice_scatter_(input: Tensor, src: Tensor, dim: int = 0, start=None, end=None,
                   step: int = 1) -> Tensor:
    """``input`` with ``src`` embedded into input[start:end:step] along ``dim`` (a copy)."""
    d = wrap_dim(dim, input.ndim)
    a, b, s = slice(start, end, step).indices(input.shape[d])
    v = _slice(input, d, a, b, s)
    _embed_check("slice_scatter", v, src)
    at = v._view_ops[-1][1]
    return dispatch(slice_scatter, (input, src), dict(at))


@public("diagonal_scatter")
def diagonal_scatter_(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0,
                      dim2: int = 1) -> Tensor:
    """``input`` with ``src`` embedded on a diagonal (a copy)."""
    v = diagonal_(input, offset, dim1, dim2)
    _embed_check("diagonal_scatter", v, src)
    return dispatch(diagonal_scatter, (input, src), dict(v._view_ops[-1][1]))


@register
class rot90:
    """Rotate by 90 degrees ``k`` times in the plane of ``dims`` (a copy)."""
    onnx = "decompose"

    def forward(xp, a, *, k, dims):
        return xp.ascontiguousarray(xp.rot90(a, k, axes=dims))

    def backward(ctx, g):
        at = ctx.attrs
        return dispatch(rot90, (g,), {"k": -at["k"], "dims": at["dims"]})

    sample = lambda rng: [([_rn(rng, 2, 3)], {"k": 1, "dims": (0, 1)}),
                          ([_rn(rng, 2, 3, 2)], {"k": 3, "dims": (2, 0)})]


@public("rot90")
def rot90_(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times, from the first towards the second of ``dims``."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = wrap_dim(dims[0], input.ndim), wrap_dim(dims[1], input.ndim)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    return dispatch(rot90, (input,), {"k": int(k) % 4, "dims": (d0, d1)})


@public("ravel")
def ravel(input: Tensor) -> Tensor:
    """The elements as a 1-D tensor (a view when contiguous)."""
    from .core import contiguous
    return view_(contiguous(input), -1)


@public("narrow_copy")
def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """narrow, as a copy."""
    return dispatch(clone_op, (narrow(input, dim, start, length),))


@register
class block_diag:
    """A block-diagonal matrix of the (0-, 1- or 2-D) inputs."""
    promote = "binary"
    onnx = "decompose"

    def forward(xp, *arrays):
        mats = [a.reshape(1, -1) if a.ndim < 2 else a for a in arrays]
        if not mats:
            return xp.zeros((1, 0))
        r = sum(m.shape[0] for m in mats)
        c = sum(m.shape[1] for m in mats)
        out = xp.zeros((r, c), mats[0].dtype)
        i = j = 0
        for m in mats:
            out[i:i + m.shape[0], j:j + m.shape[1]] = m
            i += m.shape[0]
            j += m.shape[1]
        return out

    def backward(ctx, g):
        out, i, j = [], 0, 0
        for shape, dt in ctx.in_meta:
            r, c = (1, int(np.prod(shape))) if len(shape) < 2 else shape
            out.append(g[i:i + r, j:j + c].reshape(shape))
            i += r
            j += c
        return tuple(out)

    sample = lambda rng: [([_rn(rng, 2, 2), _rn(rng, 3), _rn(rng)], {})]


@public("block_diag", method=False)
def block_diag_(*tensors) -> Tensor:
    """A block-diagonal matrix of the inputs (0-D/1-D inputs as a single row)."""
    for i, t_ in enumerate(tensors):
        if t_.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {t_.ndim} dimensions")
    return dispatch(block_diag, tuple(tensors))


@public("cartesian_prod", method=False)
def cartesian_prod(*tensors) -> Tensor:
    """All combinations of the elements of the 1-D inputs (rows of a 2-D tensor)."""
    for t_ in tensors:
        if t_.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t_.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack_([reshape(g, (-1,)) for g in grids], 1)


# ---------------------------------------------------------------- in-place shape changes
squeeze_all_inplace = variant(squeeze, "squeeze_inplace", "SqueezeBackward3")
squeeze_dim_inplace = variant(squeeze, "squeeze_dim_inplace", "SqueezeBackward4")
squeeze_dims_inplace = variant(squeeze, "squeeze_dims_inplace", "SqueezeBackward5")
unsqueeze_inplace = variant(unsqueeze, "unsqueeze_inplace", "UnsqueezeBackward1")
t_inplace = variant(t_op, "t_inplace", "TBackward1")
transpose_inplace = variant(transpose_op, "transpose_inplace", "TransposeBackward1")
as_strided_inplace = variant(as_strided, "as_strided_inplace", "AsStridedBackward1")


def _meta_inplace(self: Tensor, op, attrs) -> Tensor:
    """Change this tensor's shape/strides in place (squeeze_, t_, ...): it becomes the view
    ``op`` makes of it, keeping its storage and version counter; autograd records ``op``."""
    from .._state import state
    if state.grad_enabled and self._requires_grad and self.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    new = dispatch(op, (self,), attrs)
    self._data = new._data
    self._version[0] += 1
    if new._requires_grad:
        self._requires_grad = True
        self.grad_fn = new.grad_fn
        self._output_nr = new._output_nr
    if self._base is not None:
        self._view_ops = new._view_ops
        self._vver = self._version[0]
    return self


@method("squeeze_")
def squeeze_inplace_(self: Tensor, dim=None) -> Tensor:
    """squeeze in place."""
    r = squeeze_(self, dim)
    op = squeeze_all_inplace if dim is None else (
        squeeze_dims_inplace if isinstance(dim, (list, tuple)) else squeeze_dim_inplace)
    return _meta_inplace(self, op, r._view_ops[-1][1])


@method("unsqueeze_")
def unsqueeze_inplace_(self: Tensor, dim: int) -> Tensor:
    """unsqueeze in place."""
    return _meta_inplace(self, unsqueeze_inplace, {"dim": wrap_dim(dim, self.ndim + 1)})


@method("t_")
def t_inplace_(self: Tensor) -> Tensor:
    """t in place."""
    if self.ndim > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is "
                           f"{self.ndim}D")
    dims = (1, 0) if self.ndim == 2 else tuple(range(self.ndim))
    return _meta_inplace(self, t_inplace, {"dims": dims})


@method("transpose_", "swapaxes_", "swapdims_")
def transpose_inplace_(self: Tensor, dim0: int, dim1: int) -> Tensor:
    """transpose in place."""
    nd = self.ndim
    d0, d1 = wrap_dim(dim0, nd), wrap_dim(dim1, nd)
    dims = list(range(nd))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return _meta_inplace(self, transpose_inplace, {"dims": tuple(dims)})


@public("as_strided_")
def as_strided_inplace_(self: Tensor, size, stride, storage_offset=None) -> Tensor:
    """as_strided in place."""
    r = as_strided_(self, size, stride, storage_offset)
    return _meta_inplace(self, as_strided_inplace, r._view_ops[-1][1])


@method("resize_")
def resize_inplace(self: Tensor, *sizes, memory_format=None) -> Tensor:
    """Give this tensor a new shape in place, keeping its leading elements (row-major) and
    growing its storage with zeros when needed (torch leaves new memory uninitialized)."""
    sizes = size_args(sizes, "resize_", "size")
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    for s in sizes:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(sizes)}")
    n = 1
    for s in sizes:
        n *= s
    arr = self._data
    root = _root(arr) if type(arr) is np.ndarray else arr
    off = self.storage_offset() if root is not arr else 0
    if arr.flags.c_contiguous and root.flags.c_contiguous and off + n <= root.size:
        # the storage is large enough: reuse it (its elements past the old end included)
        self._data = root.reshape(-1)[off:off + n].reshape(sizes)
    else:
        xp = np if type(arr) is np.ndarray else None
        flat = (xp or __import__("cupy")).zeros(n, arr.dtype)
        k = min(n, arr.size)
        flat[:k] = arr.reshape(-1)[:k]
        self._data = flat.reshape(sizes)
    return self


@public("resize_as_")
def resize_as_inplace(self: Tensor, the_template: Tensor, memory_format=None) -> Tensor:
    """resize_ to ``the_template``'s shape."""
    return resize_inplace(self, tuple(the_template.shape))


def _install():
    Tensor.T = property(lambda self: self.permute(*reversed(range(self.ndim))))
    Tensor.mT = property(lambda self: self.transpose(-2, -1))


_install()
