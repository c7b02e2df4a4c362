"""Elementwise ops: arithmetic, unary math, comparisons, logical and bitwise ops.

Each op is one op-table declaration; the public functions and Tensor methods (and the
Python operators) are thin wrappers over ``dispatch``.
"""
from __future__ import annotations

from .._tensor import Tensor
from .dispatch import dispatch, dispatch_inplace
from .registry import public, register


# ---------------------------------------------------------------- arithmetic
@register
class add:
    """a + b"""
    promote = "binary"
    expr = "add(a, b)"
    onnx = "Add"

    def forward(xp, a, b):
        return xp.add(a, b)

    def backward(ctx, g):
        return g, g


@register
class sub:
    """a - b"""
    promote = "binary"
    expr = "sub(a, b)"
    onnx = "Sub"

    def forward(xp, a, b):
        return xp.subtract(a, b)

    def backward(ctx, g):
        return g, -g


@register
class mul:
    """a * b"""
    promote = "binary"
    save = (0, 1)
    expr = "mul(a, b)"
    onnx = "Mul"

    def forward(xp, a, b):
        return xp.multiply(a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (g * _conj(b) if na else None, g * _conj(a) if nb else None)


@register
class div:
    """a / b (true division; integers promote to the default float dtype)."""
    promote = "float"
    save = (0, 1)
    expr = "div(a, b)"
    onnx = "Div"

    def forward(xp, a, b):
        return xp.true_divide(a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = g / _conj(b) if na else None
        gb = -g * _conj(a) / _conj(b * b) if nb else None
        return ga, gb


@register
class neg:
    """-a"""
    promote = "binary"
    expr = "neg(a)"
    onnx = "Neg"

    def forward(xp, a):
        if a.dtype == bool:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return xp.negative(a)

    def backward(ctx, g):
        return -g


@register
class exp:
    """e ** a"""
    promote = "float"
    save_out = True
    expr = "exp(a)"
    onnx = "Exp"

    def forward(xp, a):
        return xp.exp(a)

    def backward(ctx, g):
        return g * _conj(ctx.out)


def _conj(t):
    """Complex conjugate for complex tensors (gradients of complex ops use it), else t."""
    if isinstance(t, Tensor):
        return t.conj() if t._data.dtype.kind == "c" else t
    return t.conjugate() if isinstance(t, complex) else t


# ---------------------------------------------------------------- public API
def _other(a, b):
    return b


@public("add")
def add_(input, other, *, alpha=1, out=None) -> Tensor:
    """input + alpha * other"""
    if alpha != 1:
        other = mul_(other, alpha)
    return dispatch(add, (input, other))


@public("sub", "subtract")
def sub_(input, other, *, alpha=1, out=None) -> Tensor:
    """input - alpha * other"""
    if alpha != 1:
        other = mul_(other, alpha)
    return dispatch(sub, (input, other))


@public("mul", "multiply")
def mul_(input, other, *, out=None) -> Tensor:
    """input * other"""
    return dispatch(mul, (input, other))


@public("div", "divide", "true_divide")
def div_(input, other, *, rounding_mode=None, out=None) -> Tensor:
    """input / other; rounding_mode 'trunc' or 'floor' rounds the quotient."""
    if rounding_mode is None:
        return dispatch(div, (input, other))
    from . import elementwise as _self
    return _self._rounded_div(input, other, rounding_mode)


@public("neg", "negative")
def neg_(input) -> Tensor:
    """-input"""
    return dispatch(neg, (input,))


@public("exp")
def exp_(input, *, out=None) -> Tensor:
    """Elementwise e ** input."""
    return dispatch(exp, (input,))


def _rounded_div(input, other, rounding_mode):
    raise NotImplementedError("div rounding_mode")  # replaced by the full elementwise set


# ---------------------------------------------------------------- Python operators
def _install_operators():
    T = Tensor
    T.__add__ = lambda self, other: dispatch(add, (self, other))
    T.__radd__ = lambda self, other: dispatch(add, (other, self))
    T.__sub__ = lambda self, other: dispatch(sub, (self, other))
    T.__rsub__ = lambda self, other: dispatch(sub, (other, self))
    T.__mul__ = lambda self, other: dispatch(mul, (self, other))
    T.__rmul__ = lambda self, other: dispatch(mul, (other, self))
    T.__truediv__ = lambda self, other: dispatch(div, (self, other))
    T.__rtruediv__ = lambda self, other: dispatch(div, (other, self))
    T.__neg__ = lambda self: dispatch(neg, (self,))
    T.__pos__ = lambda self: self
    T.__iadd__ = lambda self, other: dispatch_inplace(add, self, (other,))
    T.__isub__ = lambda self, other: dispatch_inplace(sub, self, (other,))
    T.__imul__ = lambda self, other: dispatch_inplace(mul, self, (other,))
    T.__itruediv__ = lambda self, other: dispatch_inplace(div, self, (other,))

    def add_inplace(self, other, *, alpha=1):
        """In-place add."""
        if alpha != 1:
            other = mul_(other, alpha)
        return dispatch_inplace(add, self, (other,))

    def sub_inplace(self, other, *, alpha=1):
        """In-place subtract."""
        if alpha != 1:
            other = mul_(other, alpha)
        return dispatch_inplace(sub, self, (other,))
    T.add_ = add_inplace
    T.sub_ = sub_inplace
    T.mul_ = lambda self, other: dispatch_inplace(mul, self, (other,))
    T.div_ = lambda self, other: dispatch_inplace(div, self, (other,))
    T.neg_ = lambda self: dispatch_inplace(neg, self, ())
    T.exp_ = lambda self: dispatch_inplace(exp, self, ())


_install_operators()
