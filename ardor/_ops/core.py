"""Core ops the machinery itself needs: dtype/device casts, clone, sum_to, CopySlices."""
from __future__ import annotations

import numpy as np

from .. import _dtype as D
from .._device import as_device
from .._tensor import Tensor, _make
from ..autograd.graph import Node
from .dispatch import _edge, dispatch
from .registry import method, public, register


@register
class to_copy:
    """Cast to another dtype (a copy, as ``Tensor.to(dtype)``)."""
    node_name = "ToCopyBackward0"
    onnx = "Cast"

    def forward(xp, a, *, dtype):
        return a.astype(dtype.np, copy=True)

    def backward(ctx, g):
        src = ctx.in_meta[0][1]
        return g.to(src) if g.dtype is not src else g

    sample = lambda rng: [([rng.standard_normal((2, 3))], {"dtype": D.float64})]


@register
class clone:
    """A copy with its own storage."""
    onnx = "Identity"

    def forward(xp, a, *, memory_format=None):
        return a.copy()

    def backward(ctx, g):
        return g

    sample = lambda rng: [([rng.standard_normal((2, 3))], {})]


@register
class alias:
    """The same data as a new tensor object (a view; used by view_as-style no-ops)."""
    view = True
    onnx = "Identity"

    def forward(xp, a):
        return a.view()

    def backward(ctx, g):
        return g

    sample = lambda rng: [([rng.standard_normal((2, 3))], {})]


def cast(t: Tensor, dtype: D.dtype) -> Tensor:
    """``t`` converted to ``dtype`` (``t`` itself when it already has it)."""
    if t._data.dtype == dtype.np:
        return t
    return dispatch(to_copy, (t,), {"dtype": dtype})


@method("to")
def to(self: Tensor, *args, **kwargs) -> Tensor:
    """Tensor.to(dtype) / to(device) / to(device, dtype) / to(other): convert (a no-op when
    nothing changes unless ``copy=True``)."""
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, D.dtype) or a in (float, int, bool, complex) or \
                type(a).__name__ == "dtype":
            dtype = D.as_dtype(a)
        elif a is None:
            continue
        else:
            device = a
    if device is not None:
        dev = as_device(device)
        if dev.type != "cpu":
            from .._backend import array_module_for
            array_module_for(dev)  # raises a clear error while there is no GPU backend
    out = self
    if dtype is not None:
        out = cast(self, D.as_dtype(dtype))
    if copy and out is self:
        out = dispatch(clone, (self,))
    return out


def _converter(dt):
    def conv(self: Tensor, memory_format=None) -> Tensor:
        return cast(self, dt)
    conv.__doc__ = f"Convert to {dt}."
    return conv


for _name, _dt in (("float", D.float32), ("double", D.float64), ("half", D.float16),
                   ("bfloat16", D.bfloat16), ("long", D.int64), ("int", D.int32),
                   ("short", D.int16), ("char", D.int8), ("byte", D.uint8),
                   ("bool", D.bool_), ("cfloat", D.complex64), ("cdouble", D.complex128)):
    method(_name)(_converter(_dt))


@method("type_as")
def type_as(self: Tensor, other: Tensor) -> Tensor:
    """Cast to ``other``'s dtype."""
    return cast(self, other.dtype)


@method("cpu")
def cpu(self: Tensor, memory_format=None) -> Tensor:
    """This tensor on the CPU (itself when already there)."""
    return self


@method("cuda")
def cuda(self: Tensor, device=None, non_blocking: bool = False, memory_format=None) -> Tensor:
    """This tensor on a CUDA device."""
    return to(self, "cuda" if device is None else device)


@public("clone")
def clone_(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy of ``input`` with its own storage, differentiable."""
    return dispatch(clone, (input,))


@method("contiguous")
def contiguous(self: Tensor, memory_format=None) -> Tensor:
    """Itself when already contiguous, else a contiguous copy."""
    if self._data.flags.c_contiguous:
        return self
    return dispatch(clone, (self,))


def sum_to(g: Tensor, shape) -> Tensor:
    """Sum a broadcast gradient down to ``shape`` (the reverse of broadcasting)."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    dims = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(shape)
                                      if s == 1 and g.shape[i + lead] != 1)
    if dims:
        g = g.sum(dims, keepdim=True)
    if lead:
        g = g.reshape(shape)
    return g


class CopySlices(Node):
    """The base's node after an in-place op wrote through one of its views."""

    __slots__ = ("view_ops",)

    def apply(self, grads):
        # replaying view ops (view/reshape) needs a row-major gradient; an incoming one may be
        # transposed or expanded
        g = contiguous(grads[0])
        gb = g.clone()
        region = gb
        for op, attrs in self.view_ops:
            region = dispatch(op, (region,), attrs)
        region.zero_()  # an in-place op on a view: recorded when create_graph=True
        gv = g
        for op, attrs in self.view_ops:
            gv = dispatch(op, (gv,), attrs)
        return (gb, gv)


def copy_slices(base: Tensor, view_ops, new_value: Tensor) -> None:
    """Give ``base`` a CopySlices node: its old history outside the view, ``new_value``'s
    inside."""
    node = CopySlices()
    node.view_ops = view_ops
    node.next_functions = (_edge(base), _edge(new_value))
    base._requires_grad = True
    base.grad_fn = node
    base._output_nr = 0
