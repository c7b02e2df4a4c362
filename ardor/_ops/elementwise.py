"""Elementwise ops: arithmetic, unary math, comparisons, logical and bitwise ops.

Each op is one op-table declaration; the public functions and Tensor methods (and the
Python operators) are thin wrappers over ``dispatch``. Simple unary/binary ops are declared
through the small ``_decl`` helper (it builds the class body ``register`` reads), so that each
op is still exactly one declaration.

torch's overloads with distinct autograd node names (``pow(Tensor, Scalar)`` is PowBackward0,
``pow(Tensor, Tensor)`` PowBackward1, ``pow(Scalar, Tensor)`` PowBackward2, ...) are separate
ops sharing their forward/backward code.
"""
from __future__ import annotations

import cmath
import math
import warnings

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from .dispatch import dispatch, dispatch_inplace
from .registry import FUNCTIONS, method, public, register

_BY_NP = D._BY_NP
_EMPTY: dict = {}

# torch computes log(-1), 1/0, sqrt(-1), ... silently (NaN / inf); numpy warns. Ignoring the
# floating-point RuntimeWarnings raised from this module's forwards costs nothing per call
# (unlike np.errstate) and leaves the user's own numpy warnings alone.
warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ardor\._ops\.elementwise")
_PI = math.pi
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_2_SQRTPI = 2.0 / math.sqrt(math.pi)


# ================================================================ helpers
def _decl(name, forward, backward=None, *, promote="float", save=(0,), save_out=False,
          expr=None, onnx=None, node_name=None, sample=None, doc=None):
    """Register one op from its pieces (the same fields as a class-body declaration)."""
    body = {"forward": staticmethod(forward).__func__, "promote": promote, "save": save,
            "save_out": save_out, "expr": expr, "onnx": onnx, "sample": sample,
            "__doc__": doc or name}
    if backward is None:
        body["differentiable"] = False
    else:
        body["backward"] = backward
    if node_name is not None:
        body["node_name"] = node_name
    return register(type(name, (), body))


def _tname(arr) -> str:
    return _BY_NP[arr.dtype]._torch_name


def _not_impl(kernel: str, arr):
    raise NotImplementedError(f'"{kernel}" not implemented for \'{_tname(arr)}\'')


def _need_float(kernel: str, *arrs):
    """torch's NotImplementedError for float-only kernels given integer/bool data."""
    for a in arrs:
        if isinstance(a, np.ndarray) or hasattr(a, "__cuda_array_interface__"):
            if a.dtype.kind in "biu":
                _not_impl(kernel, a)
            return


def _no_bool(kernel: str, a):
    if a.dtype.kind == "b":
        _not_impl(kernel, a)


def _is_int(x) -> bool:
    """Integral (or bool) array or Python int after promotion."""
    k = getattr(x, "dtype", None)
    if k is not None:
        return k.kind in "biu"
    return isinstance(x, int)


def _zero_div_check(a, b):
    """Integer division by zero is a RuntimeError in torch (numpy returns 0)."""
    if _is_int(a) and _is_int(b):
        if isinstance(b, (int, np.integer)) and not isinstance(b, np.ndarray):
            if b == 0:
                raise RuntimeError("ZeroDivisionError")
        elif not b.all():
            raise RuntimeError("ZeroDivisionError")


_C_INT_NAMES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int",
                "int64": "long int", "uint16": "uint16_t", "uint32": "uint32_t",
                "uint64": "uint64_t"}


def _check_scalar_fits(input, *scalars):
    """torch converts a Scalar argument (pow / clamp bounds) to an integer result dtype and
    refuses values that overflow it (tensor-tensor promotion instead wraps)."""
    if input._data.dtype.kind not in "biu" or not any(type(x) is int for x in scalars):
        return
    dts = [input.dtype] + [D.scalar_dtype(x) for x in scalars if x is not None]
    dt = D.result_type_parts([input.dtype] if input._data.ndim else [],
                             [] if input._data.ndim else [input.dtype],
                             [d for d in dts[1:]])
    if dt.is_floating_point or dt.is_complex or dt.is_bool:
        return
    info = np.iinfo(dt.np)
    # c10::overflows: unsigned types accept negatives down to -max (they wrap around)
    lo = info.min if info.min < 0 else -info.max
    for x in scalars:
        if type(x) is int and not lo <= x <= info.max:
            raise RuntimeError(f"value cannot be converted to type "
                               f"{_C_INT_NAMES.get(dt.name, dt.name)} without overflow")


def _conj(t):
    """Complex conjugate for complex tensors (gradients of complex ops use it), else t."""
    if isinstance(t, Tensor):
        return t.conj() if t._data.dtype.kind == "c" else t
    return t.conjugate() if isinstance(t, complex) else t


def _zeros(g):
    from .creation import zeros_like
    return zeros_like(g)


def _out(res: Tensor, out) -> Tensor:
    """Write ``res`` into the ``out=`` tensor (torch resizes an empty/mismatched out)."""
    if out is None:
        return res
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    if out._requires_grad and res._requires_grad:
        raise RuntimeError("functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    if not D.can_cast(res.dtype, out.dtype):
        raise RuntimeError(f"result type {res.dtype._torch_name} can't be cast to the desired "
                           f"output type {out.dtype._torch_name}")
    if out._data.shape != res._data.shape:
        out._data = np.empty(res._data.shape, out._data.dtype)
    np.copyto(out._data, res._data, casting="unsafe")
    out._version[0] += 1
    return out


# sample inputs for the table-wide float64 gradcheck
def _s_unary(lo=-2.0, hi=2.0, avoid=None):
    def sample(rng):
        x = rng.uniform(lo, hi, (3, 4))
        if avoid is not None:  # keep away from kinks where finite differences break
            x = np.where(np.abs(x - np.round(x / avoid) * avoid) < 0.1, x + 0.25, x)
        return [((x,), {}), ((rng.uniform(lo, hi, ()),), {})]
    return sample


def _s_binary(lo=-2.0, hi=2.0, lo2=None, hi2=None):
    lo2 = lo if lo2 is None else lo2
    hi2 = hi if hi2 is None else hi2

    def sample(rng):
        return [((rng.uniform(lo, hi, (3, 4)), rng.uniform(lo2, hi2, (3, 4))), {}),
                ((rng.uniform(lo, hi, (2, 1, 4)), rng.uniform(lo2, hi2, (3, 1))), {})]
    return sample


def _s_scalar(lo, hi, scalar, second=True):
    def sample(rng):
        x = rng.uniform(lo, hi, (3, 4))
        return [(((x, scalar) if second else (scalar, x)), {})]
    return sample


# ================================================================ arithmetic
@register
class add:
    """a + b"""
    promote = "binary"
    expr = "add(a, b)"
    onnx = "Add"
    sample = _s_binary()

    def forward(xp, a, b):
        return xp.add(a, b)

    def backward(ctx, g):
        return g, g


def _check_bool_sub(a, b):
    """torch refuses `-` with any bool operand (the promoted forward only sees bool-bool)."""
    ab = isinstance(a, bool) or (isinstance(a, Tensor) and a._data.dtype == np.bool_)
    bb = isinstance(b, bool) or (isinstance(b, Tensor) and b._data.dtype == np.bool_)
    if ab and bb:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if ab or bb:
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not "
                           "supported. If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")


def _sub_forward(xp, a, b):
    try:
        return xp.subtract(a, b)
    except TypeError:  # numpy refuses bool - bool too; raise torch's error (free when fine)
        if getattr(a, "dtype", None) == np.bool_ or isinstance(a, bool):
            raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                               "supported. Use the `^` or `logical_xor()` operator "
                               "instead.") from None
        raise


@register
class sub:
    """a - b"""
    promote = "binary"
    expr = "sub(a, b)"
    onnx = "Sub"
    sample = _s_binary()
    forward = _sub_forward

    def backward(ctx, g):
        return g, -g


@register
class rsub_op:
    """scalar - tensor (torch's rsub: RsubBackward1)."""
    name = "rsub"
    promote = "binary"
    expr = "sub(b, a)"
    onnx = "Sub"
    node_name = "RsubBackward1"

    def forward(xp, a, b):
        return _sub_forward(xp, b, a)

    def backward(ctx, g):
        return -g, None

    def sample(rng):
        return [((rng.standard_normal((3, 4)), 1.5), {})]


@register
class mul:
    """a * b"""
    promote = "binary"
    save = (0, 1)
    save_when = ((1,), (0,))
    expr = "mul(a, b)"
    onnx = "Mul"
    sample = _s_binary()

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
    save_when = ((1,), (0, 1))
    expr = "div(a, b)"
    onnx = "Div"
    sample = _s_binary(0.5, 2.0)

    def forward(xp, a, b):
        return xp.true_divide(a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = g / _conj(b) if na else None
        gb = -g * _conj(a) / _conj(b * b) if nb else None
        return ga, gb


def _trunc_div(xp, a, b):
    if _is_int(a) and _is_int(b):
        q = xp.floor_divide(a, b)
        r = xp.subtract(a, xp.multiply(q, b))
        # floor and trunc differ where the quotient is negative and inexact
        fix = (r != 0) & ((xp.asarray(a) < 0) != (xp.asarray(b) < 0))
        return xp.add(q, fix.astype(xp.asarray(q).dtype))
    return xp.trunc(xp.true_divide(a, b))


def _rounded_forward(kernel):
    def forward(xp, a, b, *, rounding_mode):
        for x in (a, b):
            if getattr(x, "dtype", None) == np.bool_:
                _not_impl(kernel if rounding_mode == "floor" else "div_trunc_cpu", x)
        _zero_div_check(a, b)
        if rounding_mode == "trunc":
            return _trunc_div(xp, a, b)
        return xp.floor_divide(a, b)
    return forward


def _rounded_backward(ctx, g):
    # torch: the gradient of a rounded quotient is zero almost everywhere
    return tuple(_zeros(g) if n else None for n in ctx.needs_input_grad)


div_rounding = _decl("div_rounding", _rounded_forward("div_floor_cpu"), _rounded_backward,
                     promote="binary", save=(), node_name="DivBackward2", onnx="decompose",
                     expr=None,  # the rounding mode is a string attr: no single expression
                     sample=lambda rng: [((rng.uniform(1, 3, (3, 4)), rng.uniform(1, 2, (4,))),
                                          {"rounding_mode": "floor"})],
                     doc="a / b rounded ('trunc' or 'floor'); integer inputs stay integer.")


def _not_implemented_backward(name):
    def backward(ctx, g):
        raise RuntimeError(f"the derivative for '{name}' is not implemented.")
    return backward


floor_divide = _decl(
    "floor_divide", lambda xp, a, b: _rounded_forward("div_floor_cpu")(
        xp, a, b, rounding_mode="floor"),
    _not_implemented_backward("floor_divide"), promote="binary", save=(),
    node_name="NotImplemented", onnx="decompose", expr="floor(div(a, b))",
    sample=lambda rng: [],  # torch has a grad_fn but no derivative: nothing to check
    doc="a // b (floor rounding, as Python).")


def _modulo_forward(kernel: str, fn: str):
    """Forward of a modulus (``xp.<fn>``): torch's bool and integer-by-zero errors."""
    def forward(xp, a, b):
        for x in (a, b):
            if getattr(x, "dtype", None) == np.bool_:
                _not_impl(kernel, x)
        _zero_div_check(a, b)
        return getattr(xp, fn)(a, b)
    return forward


def _modulo_backward(quotient):
    """d(a mod b) = da - q(a, b) db, with ``quotient`` the division the modulus rounds by."""
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        gb = -g * quotient(a, b) if nb else None
        return (g if na else None), gb
    return backward


_remainder_forward = _modulo_forward("remainder_cpu", "remainder")
_remainder_backward = _modulo_backward(lambda a, b: floor_divide_(a, b))


remainder = _decl("remainder", _remainder_forward, _remainder_backward, promote="binary",
                  save=(0, 1), node_name="RemainderBackward1", onnx="Mod",
                  expr="remainder(a, b)", sample=_s_binary(1.1, 3.0, 0.7, 1.0),
                  doc="Python-style modulus: the result has the sign of the divisor.")
remainder_scalar = _decl("remainder_scalar", _remainder_forward, _remainder_backward,
                         promote="binary", save=(0, 1), node_name="RemainderBackward0",
                         onnx="Mod", expr="remainder(a, b)",
                         sample=_s_scalar(1.1, 3.0, 0.75), doc="tensor % scalar")
remainder_rscalar = _decl("remainder_rscalar", _remainder_forward,
                          _not_implemented_backward("remainder"), promote="binary", save=(),
                          node_name="NotImplemented", onnx="Mod", expr="remainder(a, b)",
                          sample=lambda rng: [],  # no derivative in torch either
                          doc="scalar % tensor")


_fmod_forward = _modulo_forward("fmod_cpu", "fmod")
_fmod_backward = _modulo_backward(lambda a, b: div_(a, b, rounding_mode="trunc"))


fmod = _decl("fmod", _fmod_forward, _fmod_backward, promote="binary", save=(0, 1),
             node_name="FmodBackward1", onnx="Mod", expr="fmod(a, b)",
             sample=_s_binary(1.1, 3.0, 0.7, 1.0),
             doc="C-style modulus: the result has the sign of the dividend.")
fmod_scalar = _decl("fmod_scalar", _fmod_forward, _fmod_backward, promote="binary",
                    save=(0, 1), node_name="FmodBackward0", onnx="Mod", expr="fmod(a, b)",
                    sample=_s_scalar(1.1, 3.0, 0.75), doc="fmod(tensor, scalar)")


# ---------------------------------------------------------------- pow
def _int_pow(xp, a, b):
    """Integer power with torch's results for negative exponents (1, -1 or 0)."""
    bb = xp.asarray(b)
    if not (bb < 0).any():
        return xp.power(a, b)
    dt = xp.result_type(a, b)  # python ints stay weak (int8 ** -1 stays int8)
    aa = xp.asarray(a, dtype=dt)
    bb = bb.astype(dt, copy=False)
    neg = bb < 0
    pos = xp.power(aa, xp.where(neg, 0, bb))
    one = xp.ones((), pos.dtype)
    odd = (bb & 1).astype(bool)
    negres = xp.where(aa == 1, one, xp.where(aa == -1, xp.where(odd, -one, one), 0 * one))
    return xp.where(neg, negres, pos)


def _pow_forward(xp, a, b):
    if getattr(b, "dtype", None) == np.bool_ and (
            isinstance(a, bool) or getattr(a, "dtype", None) == np.bool_):
        _not_impl("pow", b)
    if _is_int(a) and _is_int(b):
        return _int_pow(xp, a, b)
    return xp.power(a, b)


def _pow_scalar_forward(xp, a, b):
    if _is_int(a) and _is_int(b):
        if b < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if a.dtype == np.bool_:
            if isinstance(b, (bool, np.bool_)):  # bool ** bool stays bool (x or True)
                return a.copy() if b else xp.ones(a.shape, bool)
            a = a.astype(np.int64)
    if b == 2:
        return xp.square(a)
    if b == 1:
        return a.copy()
    if a.dtype.kind == "f" and not isinstance(b, complex):
        # torch's special cases for float tensors (bit-identical results)
        if b == 0.5:
            return xp.sqrt(a)
        if b == 3:
            return a * a * a
        if b == -1:
            return xp.reciprocal(a)
        if b == -0.5:
            return xp.reciprocal(xp.sqrt(a))
        if b == -2:
            return xp.reciprocal(a * a)
    return xp.power(a, b)


def _pow_grad_base(g, a, b):
    """d(a**b)/da for tensor or scalar b; torch gives 0 where b == 0."""
    if isinstance(b, Tensor):
        return where(b == 0, 0.0, g * _conj(b * a ** (b - 1)))
    if b == 0:
        return _zeros(g)
    return g * _conj(b * a ** (b - 1))


def _pow_grad_exp(g, a, out):
    """d(a**b)/db = out * log(a), with 0 where a == 0 and b >= 0 (torch's masking)."""
    return g * _conj(out * log_(a))


def _pow_backward(ctx, g):
    a, b, out = ctx.saved
    na, nb = ctx.needs_input_grad
    ga = _pow_grad_base(g, a, b) if na else None
    gb = None
    if nb:
        gb = where(logical_and_(a == 0, b >= 0), 0.0, _pow_grad_exp(g, a, out))
    return ga, gb


def _pow_scalar_backward(ctx, g):
    a, b = ctx.saved
    return _pow_grad_base(g, a, b), None


def _pow_rscalar_backward(ctx, g):
    s, b, out = ctx.saved  # s is the Python scalar base
    if isinstance(s, complex):
        ls = cmath.log(s)
    elif s > 0:
        ls = math.log(s)
    else:  # torch: Scalar.log() of 0 is -inf, of a negative real NaN
        ls = float("-inf") if s == 0 else float("nan")
    gb = g * _conj(out * ls)
    if s == 0:
        gb = where(b >= 0, 0.0, gb)
    return None, gb


def _pow_sample(rng):
    return [((rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(-1.5, 1.5, (4,))), {})]


pow = _decl("pow", _pow_forward, _pow_backward, promote="binary", save=(0, 1),
            save_out=True, node_name="PowBackward1", onnx="Pow", expr="pow(a, b)",
            sample=_pow_sample, doc="a ** b for two tensors")
pow_scalar = _decl("pow_scalar", _pow_scalar_forward, _pow_scalar_backward, promote="binary",
                   save=(0, 1), node_name="PowBackward0", onnx="Pow", expr="pow(a, b)",
                   sample=_s_scalar(0.5, 2.0, 2.5), doc="tensor ** scalar")
pow_rscalar = _decl("pow_rscalar", _pow_forward, _pow_rscalar_backward, promote="binary",
                    save=(0, 1), save_out=True, node_name="PowBackward2", onnx="Pow",
                    expr="pow(a, b)", sample=_s_scalar(-1.0, 1.0, 1.7, second=False),
                    doc="scalar ** tensor")


def _check_int_pow(input, exponent):
    # before promotion: an unsigned tensor would otherwise wrap -1 around to 255
    if type(exponent) is int and input._data.dtype.kind in "biu":
        if exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        _check_scalar_fits(input, exponent)


def _pow_dispatch(input, exponent):
    if isinstance(input, Tensor):
        if isinstance(exponent, Tensor):
            return dispatch(pow, (input, exponent))
        exponent = _pyscalar(exponent)
        _check_int_pow(input, exponent)
        return dispatch(pow_scalar, (input, exponent))
    if isinstance(exponent, Tensor):
        return dispatch(pow_rscalar, (_pyscalar(input), exponent))
    raise TypeError("pow() received an invalid combination of arguments: neither input nor "
                    "exponent is a Tensor")


def _pyscalar(x):
    if isinstance(x, np.generic):
        return x.item()
    return x


# ================================================================ unary ops
def _neg_forward(xp, a):
    if a.dtype == bool:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or "
                           "`logical_not()` operator instead.")
    return xp.negative(a)


neg = _decl("neg", _neg_forward, lambda ctx, g: -g, promote=None, save=(), onnx="Neg",
            expr="neg(a)", sample=_s_unary(), doc="-a")
exp = _decl("exp", lambda xp, a: xp.exp(a), lambda ctx, g: g * _conj(ctx.out), save=(),
            save_out=True, onnx="Exp", expr="exp(a)", sample=_s_unary(), doc="e ** a")


def _abs_forward(xp, a):
    _no_bool("abs_cpu", a)
    return xp.abs(a)


def _abs_backward(ctx, g):
    (a,) = ctx.saved
    return g * sgn_(a)


abs = _decl("abs", _abs_forward, _abs_backward, promote=None, onnx="Abs", expr="abs(a)",
            sample=_s_unary(avoid=10.0), doc="|a|")


def _sign_forward(xp, a):
    if a.dtype.kind == "c":
        raise NotImplementedError("Unlike NumPy, torch.sign is not intended to support complex "
                           "numbers. Please use torch.sgn instead.")
    if a.dtype == np.bool_:
        return a.copy()
    if a.dtype.kind in "fV":  # torch: (0 < a) - (a < 0): sign(nan) = 0, sign(-0.) = +0
        return xp.subtract(a > 0, a < 0, dtype=a.dtype)
    return xp.sign(a)


def _zero_backward(ctx, g):
    return _zeros(g)


sign = _decl("sign", _sign_forward, _zero_backward, promote=None, save=(), onnx="Sign",
             expr="sign(a)", sample=_s_unary(avoid=10.0), doc="-1, 0 or 1 by the sign of a")


def _sgn_forward(xp, a):
    if a.dtype.kind == "c":
        m = xp.abs(a)
        return xp.where(m == 0, 0, a / xp.where(m == 0, 1, m)).astype(a.dtype)
    return _sign_forward(xp, a)


def _sgn_backward(ctx, g):
    (a,) = ctx.saved
    if not a.is_complex():
        return _zeros(g)
    # torch's sgn_backward for complex inputs
    m = abs_(a)
    sg = sgn_(a)
    r = (g - real_(g * sg.conj()) * sg) / m
    return where(m == 0, 0.0, r)


sgn = _decl("sgn", _sgn_forward, _sgn_backward, promote=None, onnx="Sign", expr="sign(a)",
            sample=_s_unary(avoid=10.0), doc="sign for real, a / |a| for complex")


_NODE_NAMES = {"log1p": "Log1PBackward0", "deg2rad": "Deg2RadBackward0",
               "rad2deg": "Rad2DegBackward0"}


def _unary_float(name, fwd, bwd, expr, onnx, *, save=(0,), save_out=False, sample=None,
                 doc=None):
    return _decl(name, fwd, bwd, promote="float", save=save, save_out=save_out, expr=expr,
                 onnx=onnx, sample=sample or _s_unary(), doc=doc,
                 node_name=_NODE_NAMES.get(name))


def _saved_a(ctx):
    return ctx.saved[0]


exp2 = _unary_float("exp2", lambda xp, a: xp.exp2(a),
                    lambda ctx, g: g * _conj(ctx.out) * _LN2, "exp(mul(a, 0.6931471805599453))",
                    "decompose", save=(), save_out=True, doc="2 ** a")
# (expm1/log1p/sinh/asinh/atanh have no expression: the naive formulas in the vocabulary
# lose all relative precision near 0, so a fused kernel would not reproduce the op)
expm1 = _unary_float("expm1", lambda xp, a: xp.expm1(a),
                     lambda ctx, g: g * (_conj(ctx.out) + 1), None, "decompose",
                     save=(), save_out=True, doc="e ** a - 1")
log = _unary_float("log", lambda xp, a: xp.log(a), lambda ctx, g: g / _conj(_saved_a(ctx)),
                   "log(a)", "Log", sample=_s_unary(0.3, 3.0), doc="natural logarithm")
log2 = _unary_float("log2", lambda xp, a: xp.log2(a),
                    lambda ctx, g: g / (_conj(_saved_a(ctx)) * _LN2),
                    "div(log(a), 0.6931471805599453)", "decompose",
                    sample=_s_unary(0.3, 3.0), doc="base-2 logarithm")
log10 = _unary_float("log10", lambda xp, a: xp.log10(a),
                     lambda ctx, g: g / (_conj(_saved_a(ctx)) * _LN10),
                     "div(log(a), 2.302585092994046)", "decompose",
                     sample=_s_unary(0.3, 3.0), doc="base-10 logarithm")
log1p = _unary_float("log1p", lambda xp, a: xp.log1p(a),
                     lambda ctx, g: g / (_conj(_saved_a(ctx)) + 1), None, "decompose",
                     sample=_s_unary(-0.5, 3.0), doc="log(1 + a)")
sqrt = _unary_float("sqrt", lambda xp, a: xp.sqrt(a),
                    lambda ctx, g: g / (2 * _conj(ctx.out)), "sqrt(a)", "Sqrt", save=(),
                    save_out=True, sample=_s_unary(0.3, 3.0), doc="square root")
rsqrt = _unary_float("rsqrt", lambda xp, a: xp.reciprocal(xp.sqrt(a)),
                     lambda ctx, g: -0.5 * g * _conj(ctx.out) ** 3, "rsqrt(a)", "decompose",
                     save=(), save_out=True, sample=_s_unary(0.3, 3.0), doc="1 / sqrt(a)")
sin = _unary_float("sin", lambda xp, a: xp.sin(a),
                   lambda ctx, g: g * _conj(cos_(_saved_a(ctx))), "sin(a)", "Sin", doc="sine")
cos = _unary_float("cos", lambda xp, a: xp.cos(a),
                   lambda ctx, g: -g * _conj(sin_(_saved_a(ctx))), "cos(a)", "Cos",
                   doc="cosine")
tan = _unary_float("tan", lambda xp, a: xp.tan(a),
                   lambda ctx, g: g * (1 + _conj(ctx.out) ** 2), "div(sin(a), cos(a))", "Tan",
                   save=(), save_out=True, sample=_s_unary(-1.2, 1.2), doc="tangent")
asin = _unary_float("asin", lambda xp, a: xp.arcsin(a),
                    lambda ctx, g: g * _conj(rsqrt_(1 - _saved_a(ctx) ** 2)), None, "Asin",
                    sample=_s_unary(-0.9, 0.9), doc="inverse sine")
acos = _unary_float("acos", lambda xp, a: xp.arccos(a),
                    lambda ctx, g: -g * _conj(rsqrt_(1 - _saved_a(ctx) ** 2)), None, "Acos",
                    sample=_s_unary(-0.9, 0.9), doc="inverse cosine")
atan = _unary_float("atan", lambda xp, a: xp.arctan(a),
                    lambda ctx, g: g / _conj(1 + _saved_a(ctx) ** 2), None, "Atan",
                    doc="inverse tangent")
sinh = _unary_float("sinh", lambda xp, a: xp.sinh(a),
                    lambda ctx, g: g * _conj(cosh_(_saved_a(ctx))),
                    None, "Sinh", doc="hyperbolic sine")
cosh = _unary_float("cosh", lambda xp, a: xp.cosh(a),
                    lambda ctx, g: g * _conj(sinh_(_saved_a(ctx))),
                    "mul(add(exp(a), exp(neg(a))), 0.5)", "Cosh", doc="hyperbolic cosine")
tanh = _unary_float("tanh", lambda xp, a: xp.tanh(a),
                    lambda ctx, g: g * (1 - _conj(ctx.out) ** 2), "tanh(a)", "Tanh", save=(),
                    save_out=True, doc="hyperbolic tangent")
asinh = _unary_float("asinh", lambda xp, a: xp.arcsinh(a),
                     lambda ctx, g: g * _conj(rsqrt_(_saved_a(ctx) ** 2 + 1)),
                     None, "Asinh",
                     doc="inverse hyperbolic sine")
acosh = _unary_float("acosh", lambda xp, a: xp.arccosh(a),
                     lambda ctx, g: g * _conj(rsqrt_(_saved_a(ctx) + 1)
                                              * rsqrt_(_saved_a(ctx) - 1)),
                     "log(add(a, sqrt(sub(mul(a, a), 1))))", "Acosh",
                     sample=_s_unary(1.2, 3.0), doc="inverse hyperbolic cosine")
atanh = _unary_float("atanh", lambda xp, a: xp.arctanh(a),
                     lambda ctx, g: g / _conj(1 - _saved_a(ctx) ** 2),
                     None, "Atanh",
                     sample=_s_unary(-0.9, 0.9), doc="inverse hyperbolic tangent")


def _sigmoid_forward(xp, a):
    if a.dtype.kind == "c":
        return 1 / (1 + xp.exp(-a))
    # exp(min(a, 0)) / (1 + exp(-|a|)): never overflows, accurate on both half-lines, and
    # branch-free (numpy's where() is slow on unpredictable masks)
    return xp.exp(xp.minimum(a, 0)) / (1 + xp.exp(-xp.abs(a)))


sigmoid = _unary_float("sigmoid", _sigmoid_forward,
                       lambda ctx, g: g * _conj(ctx.out * (1 - ctx.out)), "sigmoid(a)",
                       "Sigmoid", save=(), save_out=True, doc="1 / (1 + exp(-a))")
reciprocal = _unary_float("reciprocal", lambda xp, a: xp.reciprocal(a),
                          lambda ctx, g: -g * _conj(ctx.out * ctx.out), "div(1, a)",
                          "Reciprocal", save=(), save_out=True, sample=_s_unary(0.5, 2.0),
                          doc="1 / a")
# (the constant in the tensor's dtype: ml_dtypes' bfloat16 upcasts Python floats)
deg2rad = _unary_float("deg2rad", lambda xp, a: xp.multiply(a, a.dtype.type(_PI / 180)),
                       lambda ctx, g: g * (_PI / 180), "mul(a, 0.017453292519943295)",
                       "decompose", save=(), doc="degrees to radians")
rad2deg = _unary_float("rad2deg", lambda xp, a: xp.multiply(a, a.dtype.type(180 / _PI)),
                       lambda ctx, g: g * (180 / _PI), "mul(a, 57.29577951308232)",
                       "decompose", save=(), doc="radians to degrees")


def _sinc_forward(xp, a):
    pa = a * _PI
    zero = a == 0
    safe = _sel(xp, zero, 1, pa)
    return _sel(xp, zero, 1, xp.sin(safe) / safe).astype(a.dtype, copy=False)


def _sinc_backward(ctx, g):
    (a,) = ctx.saved
    pa = a * _PI
    d = (pa * cos_(pa) - sin_(pa)) / (pa * a)
    return g * where(a == 0, 0.0, d)


sinc = _unary_float("sinc", _sinc_forward, _sinc_backward,
                    "where(eq(a, 0), 1, div(sin(mul(a, 3.141592653589793)), "
                    "mul(a, 3.141592653589793)))", "decompose",
                    sample=_s_unary(0.2, 2.0), doc="sin(pi a) / (pi a)")


# ---------------------------------------------------------------- erf family
# W. J. Cody, "Rational Chebyshev approximations for the error function" (1969), as in
# netlib specfun CALERF: three rational approximations accurate to ~1e-16.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)
_SQRPI = 5.6418958354775628695e-1  # 1 / sqrt(pi)


def _erf_small(x):
    """erf(x) for |x| <= 0.46875 (Cody's first approximation)."""
    ysq = x * x
    xnum = _ERF_A[4] * ysq
    xden = ysq.copy()
    for i in range(3):
        xnum += _ERF_A[i]
        xnum *= ysq
        xden += _ERF_B[i]
        xden *= ysq
    xnum += _ERF_A[3]
    xden += _ERF_B[3]
    return x * xnum / xden


def _erfc_mid(y):
    """erfc(y) for 0.46875 < y <= 4, without the exp(-y^2) factor."""
    xnum = _ERF_C[8] * y
    xden = y.copy()
    for i in range(7):
        xnum += _ERF_C[i]
        xnum *= y
        xden += _ERF_D[i]
        xden *= y
    xnum += _ERF_C[7]
    xden += _ERF_D[7]
    return xnum / xden


def _erfc_big(y):
    """erfc(y) for y > 4, without the exp(-y^2) factor."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        z = 1.0 / (y * y)
        xnum = _ERF_P[5] * z
        xden = z.copy()
        for i in range(4):
            xnum += _ERF_P[i]
            xnum *= z
            xden += _ERF_Q[i]
            xden *= z
        xnum += _ERF_P[4]
        xden += _ERF_Q[4]
        r = (_SQRPI - z * xnum / xden) / y
    return r


def _erfc_pos(xp, y):
    """erfc(y) for y = |x| > 0.46875 (any dtype float; NaN passes through)."""
    mid = y <= 4.0
    if mid.all():
        r = _erfc_mid(y)
    else:
        r = xp.empty_like(y)
        r[mid] = _erfc_mid(y[mid])
        big = ~mid
        r[big] = _erfc_big(y[big])
    # exp(-y^2) as exp(-y16^2) exp(-(y - y16)(y + y16)) keeps its accuracy (Cody)
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        y16 = xp.trunc(y * 16.0) / 16.0
        r *= xp.exp(-y16 * y16) * xp.exp(-(y - y16) * (y + y16))
    inf = xp.isinf(y)
    if inf.any():
        r[inf] = 0.0
    return r


def _erf_dtype(a):
    """Compute float32 in float32 (the approximations are accurate beyond its precision),
    everything else in float64."""
    return a if a.dtype == np.float32 or a.dtype == np.float64 else a.astype(np.float64)


def _one_d(fn):
    """Run fn on a 1-element view of 0-d inputs (numpy turns 0-d results into scalars,
    which the masked assignments below cannot write into)."""
    def wrapper(xp, a):
        if a.ndim == 0:
            return fn(xp, a.reshape(1)).reshape(())
        return fn(xp, a)
    return wrapper


@_one_d
def _erf_np(xp, a):
    x = _erf_dtype(a)
    ax = xp.abs(x)
    small = ax <= 0.46875
    if small.all():
        out = _erf_small(x)
    else:
        out = xp.empty_like(x)
        if small.any():
            out[small] = _erf_small(x[small])
            big = ~small
            out[big] = xp.copysign(1.0 - _erfc_pos(xp, ax[big]), x[big])
        else:
            out = xp.copysign(1.0 - _erfc_pos(xp, ax), x)
    return out.astype(a.dtype, copy=False)


@_one_d
def _erfc_np(xp, a):
    x = _erf_dtype(a)
    ax = xp.abs(x)
    small = ax <= 0.46875
    if small.all():
        out = 1.0 - _erf_small(x)
    else:
        out = xp.empty_like(x)
        big = ~small
        if small.any():
            out[small] = 1.0 - _erf_small(x[small])
        xb, e = x[big], _erfc_pos(xp, ax[big])
        out[big] = e + (xb < 0) * (2.0 - 2.0 * e)  # 2 - e for negative x, branch-free
    return out.astype(a.dtype, copy=False)


@_one_d
def _erfinv_np(xp, a):
    x = a.astype(np.float64) if a.dtype != np.float64 else a
    ax = xp.abs(x)
    # M. Giles' single-precision approximation as the starting point ...
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        w = -xp.log((1.0 - x) * (1.0 + x))
        w1 = w - 2.5
        p1 = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
            p1 = c + p1 * w1
        w2 = xp.sqrt(w) - 3.0
        p2 = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773,
                  -0.0076224613, 0.00943887047, 1.00167406, 2.83297682):
            p2 = c + p2 * w2
        y = xp.where(w < 5.0, p1, p2) * x
        ok = ax < 1.0
        y[~ok] = 0.0
        # ... refined by Newton steps: on erf(y) - x near 0, and on
        # log(erfc(|y|)) - log(1 - |x|) in the tails, where 1 - |x| keeps its precision and
        # the logarithm makes the Gaussian tail nearly linear (fast convergence, even from
        # the poor start Giles' float32 fit gives for |x| within 1e-8 of 1)
        far = w > 16.0
        steps = 2 if a.dtype == np.float32 else 3
        if far.any():
            steps += 3
        log_c = xp.log1p(-ax)
        sgn_x = xp.sign(x)
        for _ in range(steps):
            ay = xp.abs(y)
            small = ay <= 0.46875
            dens = _2_SQRTPI * xp.exp(-y * y)
            step = xp.empty_like(y)
            if small.any():
                step[small] = (_erf_small(y[small]) - x[small]) / dens[small]
            big = ~small
            if big.any():
                e = _erfc_pos(xp, ay[big])
                step[big] = sgn_x[big] * (xp.log(e) - log_c[big]) * e / (-dens[big])
            y -= step
        y[ax == 1.0] = (sgn_x * xp.inf)[ax == 1.0]
        y[(ax > 1.0) | xp.isnan(x)] = xp.nan
        y[x == 0] = x[x == 0]  # keeps the sign of zero
    return y.astype(a.dtype, copy=False)


_UNSET = object()
_sp_special = _UNSET  # scipy.special (None without scipy), looked up on first use


def _load_scipy_special():
    # Imported on first use, not at `import ardor`: scipy.special alone costs ~0.1 s.
    global _sp_special
    if _sp_special is _UNSET:
        try:  # scipy's kernels are compiled (much faster than the numpy fallback above)
            from scipy import special
        except Exception:  # pragma: no cover - scipy is optional
            special = None
        _sp_special = special
    return _sp_special


def _fast(fallback, name):
    """Use scipy.special.<name> for numpy arrays when scipy is installed, else Cody's."""
    def forward(xp, a):
        if xp is np and a.dtype.kind == "f":
            special = _load_scipy_special()
            if special is not None:
                return getattr(special, name)(a).astype(a.dtype, copy=False)
        return fallback(xp, a)
    return forward


erf = _unary_float("erf", _fast(_erf_np, "erf"),
                   lambda ctx, g: g * (_2_SQRTPI * exp_(-_saved_a(ctx) ** 2)), "erf(a)", "Erf",
                   doc="error function")
erfc = _unary_float("erfc", _fast(_erfc_np, "erfc"),
                    lambda ctx, g: g * (-_2_SQRTPI * exp_(-_saved_a(ctx) ** 2)),
                    "sub(1, erf(a))", "decompose", doc="complementary error function")
erfinv = _unary_float("erfinv", _fast(_erfinv_np, "erfinv"),
                      lambda ctx, g: g * (0.5 * math.sqrt(_PI)) * exp_(ctx.out ** 2), None,
                      "decompose", save=(), save_out=True, sample=_s_unary(-0.9, 0.9),
                      doc="inverse error function")


# ---------------------------------------------------------------- Bessel I0 (I1 for its grad)
def _i0_forward(xp, a):
    with np.errstate(over="ignore"):  # i0 overflows to inf beyond |x| ~ 713, as torch
        return xp.i0(a).astype(a.dtype, copy=False)


def _i1_np(xp, a):
    """Modified Bessel function I1: power series for |x| <= 15, the asymptotic expansion
    (relative error ~ e^(-2|x|)) beyond."""
    x = a.astype(np.float64)
    ax = xp.abs(x)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        # series sum_k (x/2)^(2k+1) / (k! (k+1)!)
        xs = xp.minimum(ax, 15.0)
        q = (xs * 0.5) ** 2
        term = xs * 0.5
        ser = term.copy()
        for k in range(60):
            term = term * q / ((k + 1) * (k + 2))
            ser += term
        # e^x / sqrt(2 pi x) * sum_k (-1)^k a_k / x^k, a_k = prod_j (4 - (2j-1)^2) / (k! 8^k)
        xl = xp.maximum(ax, 15.0)
        coef, acc = 1.0, xp.ones_like(xl)
        inv = 1.0 / xl
        pw = xp.ones_like(xl)
        for k in range(1, 25):
            coef *= -(4.0 - (2 * k - 1) ** 2) / (k * 8.0)
            pw = pw * inv
            acc += coef * pw
        asym = xp.exp(xl) / xp.sqrt(2 * math.pi * xl) * acc
        r = xp.where(ax <= 15.0, ser, asym)
    return xp.copysign(r, x).astype(a.dtype, copy=False)


@register
class i1_grad:
    """Modified Bessel I1 (the derivative of i0; used by its backward)."""
    differentiable = False
    onnx = "decompose"
    promote = "float"
    forward = _i1_np


i0 = _unary_float("i0", _i0_forward, lambda ctx, g: g * dispatch(i1_grad, (_saved_a(ctx),)),
                  None, "decompose", sample=_s_unary(-3.0, 3.0),
                  doc="modified Bessel function of the first kind, order 0")


# ---------------------------------------------------------------- rounding
def _round_like(name, fn, expr, onnx, kernel):
    def forward(xp, a):
        if a.dtype.kind in "iu":
            return a.copy()
        if a.dtype.kind == "b":
            _not_impl(kernel, a)
        return fn(xp, a)
    return _decl(name, forward, _zero_backward, promote=None, save=(), expr=expr, onnx=onnx,
                 sample=_s_unary(avoid=1.0), doc=f"{name} of each element (ints unchanged)")


floor = _round_like("floor", lambda xp, a: xp.floor(a), "floor(a)", "Floor",
                    "floor_vml_cpu")
ceil = _round_like("ceil", lambda xp, a: xp.ceil(a), "ceil(a)", "Ceil", "ceil_vml_cpu")
trunc = _round_like("trunc", lambda xp, a: xp.trunc(a), "trunc(a)", "decompose",
                    "trunc_vml_cpu")
round = _round_like("round", lambda xp, a: xp.rint(a), "round(a)", "Round", "round_cpu")


def _round_dec_forward(xp, a, *, decimals):
    if a.dtype.kind in "biu":
        _not_impl("round_cpu", a)
    # torch: nearbyint(a * 10^d) / 10^d (d >= 0), nearbyint(a / 10^-d) * 10^-d otherwise,
    # with the power of ten in the tensor's dtype
    if decimals >= 0:
        p = a.dtype.type(10.0 ** decimals)
        return xp.rint(a * p) / p
    p = a.dtype.type(10.0 ** (-decimals))
    return xp.rint(a / p) * p


round_decimals = _decl("round_decimals", _round_dec_forward, _zero_backward, promote=None,
                       save=(), node_name="RoundBackward1", onnx="decompose",
                       expr=None, sample=lambda rng: [((rng.uniform(-2, 2, (3, 4)) + 0.013,),
                                                       {"decimals": 1})],
                       doc="round to a number of decimals")


def _frac_forward(xp, a):
    if a.dtype.kind in "biu":
        _not_impl("frac_cpu", a)
    return a - xp.trunc(a)


frac = _decl("frac", _frac_forward, lambda ctx, g: g, promote=None, save=(),
             expr="sub(a, trunc(a))", onnx="decompose", sample=_s_unary(avoid=1.0),
             doc="a - trunc(a)")


# ---------------------------------------------------------------- misc unary
def _relu_forward(xp, a):
    if a.dtype == np.bool_:
        raise RuntimeError("Boolean inputs not supported for relu")
    return xp.maximum(a, 0)


def _relu_backward(ctx, g):
    # the threshold activation's gradient op: one multiply by the mask (numpy's where is
    # many times slower on large random masks), and torch's node names for double backward
    from .nn_basic_ops import ACT_OPS
    return dispatch(ACT_OPS["threshold_backward"], (g, ctx.out), {"threshold": 0.0,
                                                                   "value": 0.0})


relu = _decl("relu", _relu_forward, _relu_backward, promote=None,
             save=(), save_out=True, expr="maximum(a, 0)", onnx="Relu",
             sample=_s_unary(avoid=10.0), doc="max(a, 0)")


def _logit_forward(xp, a, *, eps=None):
    if eps is not None:
        a = xp.clip(a, eps, 1 - eps)
    return xp.log(a / (1 - a))


def _logit_backward(ctx, g):
    (a,) = ctx.saved
    eps = ctx.attrs.get("eps")
    d = g / (a * (1 - a))
    if eps is None:
        return where(logical_or_(a < 0, a > 1), float("nan"), d)
    return where(logical_or_(a < eps, a > 1 - eps), 0.0, d)


logit = _decl("logit", _logit_forward, _logit_backward, promote="float",
              expr="log(div(a, sub(1, a)))", onnx="decompose",
              sample=lambda rng: [((rng.uniform(0.1, 0.9, (3, 4)),), {"eps": None}),
                                  ((rng.uniform(0.1, 0.9, (3, 4)),), {"eps": 0.05})],
              doc="log(a / (1 - a)), a clamped to [eps, 1 - eps] when eps is given")


def _nan_to_num_forward(xp, a, *, nan=0.0, posinf=None, neginf=None):
    if a.dtype.kind in "biu":
        return a.copy()
    if a.dtype.kind == "V":  # bfloat16 (ml_dtypes): numpy's nan_to_num leaves it alone
        import ml_dtypes
        fi = ml_dtypes.finfo(a.dtype)
        r = xp.nan_to_num(a.astype(np.float32), nan=nan,
                          posinf=float(fi.max) if posinf is None else posinf,
                          neginf=float(fi.min) if neginf is None else neginf)
        return r.astype(a.dtype)
    return xp.nan_to_num(a, copy=True, nan=nan, posinf=posinf, neginf=neginf)


nan_to_num = _decl("nan_to_num", _nan_to_num_forward,
                   lambda ctx, g: g * isfinite_(ctx.saved[0]), promote=None,
                   expr=None, onnx="decompose",
                   sample=lambda rng: [((rng.standard_normal((3, 4)),),
                                        {"nan": 0.0, "posinf": None, "neginf": None})],
                   doc="replace NaN / +inf / -inf by finite numbers")


def _angle_forward(xp, a):
    if a.dtype.kind == "c":
        return xp.angle(a)
    if a.dtype.kind in "biu":
        a = a.astype(D.get_default_dtype().np)
    return xp.where(a < 0, a.dtype.type(_PI), xp.where(xp.isnan(a), a, 0)).astype(a.dtype)


def _angle_backward(ctx, g):
    (a,) = ctx.saved
    if not a.is_complex():
        return _zeros(g)
    return where(a == 0, 0.0, g * a / (abs_(a) ** 2) * 1j)


angle = _decl("angle", _angle_forward, _angle_backward, promote=None,
              expr="where(lt(a, 0), 3.141592653589793, where(ne(a, a), a, 0))",
              onnx="decompose", sample=_s_unary(avoid=10.0),
              doc="the argument of a complex number (0 or pi for reals)")


def _conj_forward(xp, a):
    return xp.conj(a)


conj_physical = _decl("conj_physical", _conj_forward, lambda ctx, g: g.conj(), promote=None,
                      save=(), expr=None, onnx="Identity", node_name="ConjPhysicalBackward0",
                      sample=_s_unary(), doc="complex conjugate (a copy)")


def _real_backward(ctx, g):
    return g * (1 + 0j) if g.dtype.is_floating_point else g


def _imag_backward(ctx, g):
    return g * 1j


@register
class real:
    """Real part of a complex tensor (a view)."""
    view = True
    onnx = "decompose"

    def sample(rng):  # complex inputs only: no float64 finite-difference check
        return []

    def forward(xp, a):
        return a.real

    backward = _real_backward


@register
class imag:
    """Imaginary part of a complex tensor (a view)."""
    view = True
    onnx = "decompose"

    def sample(rng):  # complex inputs only: no float64 finite-difference check
        return []

    def forward(xp, a):
        return a.imag

    backward = _imag_backward


# ================================================================ binary float ops
def _atan2_backward(ctx, g):
    a, b = ctx.saved
    r = g / (a * a + b * b)
    na, nb = ctx.needs_input_grad
    return (r * b if na else None), (-r * a if nb else None)


atan2 = _decl("atan2", lambda xp, a, b: xp.arctan2(a, b), _atan2_backward, promote="float",
              save=(0, 1), expr=None, onnx="decompose", sample=_s_binary(0.2, 2.0),
              doc="arctangent of a / b with the quadrant")


def _hypot_forward(xp, a, b):
    _need_float("hypot_cpu", a)
    return xp.hypot(a, b)


def _hypot_backward(ctx, g):
    a, b, out = ctx.saved
    na, nb = ctx.needs_input_grad
    return (g * a / out if na else None), (g * b / out if nb else None)


hypot = _decl("hypot", _hypot_forward, _hypot_backward, promote="binary", save=(0, 1),
              save_out=True, expr="sqrt(add(mul(a, a), mul(b, b)))", onnx="decompose",
              sample=_s_binary(0.2, 2.0), doc="sqrt(a^2 + b^2)")


def _logaddexp_forward(xp, a, b):
    _need_float("logaddexp_cpu", a)
    return xp.logaddexp(a, b)


def _logaddexp2_forward(xp, a, b):
    _need_float("logaddexp2_cpu", a)
    return xp.logaddexp2(a, b)


def _logaddexp_backward(ctx, g):
    a, b = ctx.saved
    na, nb = ctx.needs_input_grad
    return (g / (1 + exp_(b - a)) if na else None), (g / (1 + exp_(a - b)) if nb else None)


def _logaddexp2_backward(ctx, g):
    a, b = ctx.saved
    na, nb = ctx.needs_input_grad
    return ((g / (1 + exp2_(b - a)) if na else None),
            (g / (1 + exp2_(a - b)) if nb else None))


logaddexp = _decl("logaddexp", _logaddexp_forward, _logaddexp_backward, promote="binary",
                  save=(0, 1), expr="add(maximum(a, b), log(add(1, exp(neg(abs(sub(a, b)))))))",
                  onnx="decompose", sample=_s_binary(), doc="log(exp(a) + exp(b))")
logaddexp2 = _decl("logaddexp2", _logaddexp2_forward, _logaddexp2_backward, promote="binary",
                   save=(0, 1), onnx="decompose", sample=_s_binary(),
                   expr="add(maximum(a, b), div(log(add(1, exp(mul(neg(abs(sub(a, b))), "
                        "0.6931471805599453)))), 0.6931471805599453))",
                   doc="log2(2^a + 2^b)")


def _xlogy_forward(xp, a, b):
    aa = xp.asarray(a)
    bb = xp.asarray(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = xp.multiply(a, xp.log(b))
    # torch: NaN where b is NaN, else 0 where a == 0
    return _sel(xp, (aa == 0) & ~xp.isnan(bb), 0, r)


def _xlogy_backward(ctx, g):
    a, b = ctx.saved
    na, nb = ctx.needs_input_grad
    ga = gb = None
    if na:
        ga = xlogy_(g, b)
        if isinstance(b, Tensor):
            ga = where(logical_and_(a == 0, b <= 0), 0.0, ga)
    if nb:
        gb = g * a / b
    return ga, gb


def _like_tensor_operand(forward):
    """Keep the promoted dtype: a Python-scalar operand goes through numpy as float64."""
    def fwd(xp, a, b):
        r = forward(xp, a, b)
        ref = a if isinstance(a, np.ndarray) or hasattr(a, "__cuda_array_interface__") else b
        return r.astype(ref.dtype, copy=False) if r.dtype != ref.dtype else r
    return fwd


xlogy = _decl("xlogy", _like_tensor_operand(_xlogy_forward), _xlogy_backward, promote="float",
              save=(0, 1), expr="where(eq(a, 0), 0, mul(a, log(b)))", onnx="decompose",
              node_name="XlogyBackward0", sample=_s_binary(0.2, 2.0),
              doc="a * log(b), 0 where a == 0")
xlogy_self_scalar = _decl("xlogy_self_scalar", _like_tensor_operand(_xlogy_forward),
                          _xlogy_backward, promote="float", save=(0, 1),
                          expr="where(eq(a, 0), 0, mul(a, log(b)))", onnx="decompose",
                          node_name="XlogyBackward1",
                          sample=_s_scalar(0.2, 2.0, 1.5, second=False),
                          doc="xlogy(scalar, tensor)")
xlogy_other_scalar = _decl("xlogy_other_scalar", _like_tensor_operand(_xlogy_forward),
                           _xlogy_backward, promote="float", save=(0, 1),
                           expr="where(eq(a, 0), 0, mul(a, log(b)))", onnx="decompose",
                           node_name="XlogyBackward2", sample=_s_scalar(0.2, 2.0, 1.5),
                           doc="xlogy(tensor, scalar)")


@_like_tensor_operand
def _copysign_forward(xp, a, b):
    return xp.copysign(a, b)


def _copysign_backward(ctx, g):
    a, b, out = ctx.saved
    na, nb = ctx.needs_input_grad
    ga = where(a == 0, 0.0, g * (out / a)) if na else None
    return ga, (_zeros(g) if nb else None)


copysign = _decl("copysign", _copysign_forward, _copysign_backward, promote="float",
                 save=(0, 1), save_out=True, expr=None, onnx="decompose",
                 node_name="CopysignBackward0", sample=_s_binary(0.2, 2.0, -1.0, 1.0),
                 doc="|a| with the sign of b")
copysign_scalar = _decl("copysign_scalar", _copysign_forward, _copysign_backward,
                        promote="float", save=(0, 1), save_out=True, expr=None,
                        onnx="decompose", node_name="CopysignBackward1",
                        sample=_s_scalar(0.2, 2.0, -1.0), doc="copysign(tensor, scalar)")


def _heaviside_forward(xp, a, b):
    if a.dtype != b.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different "
                           "dtypes.")
    return xp.where(a == 0, b, a > 0).astype(a.dtype, copy=False)


heaviside = _decl("heaviside", _heaviside_forward, _not_implemented_backward("heaviside"),
                  promote=None, save=(), expr="where(eq(a, 0), b, where(gt(a, 0), 1, 0))",
                  onnx="decompose", node_name="NotImplemented",
                  sample=lambda rng: [],  # no derivative in torch either
                  doc="step function: 0 below 0, b at 0, 1 above")


# ---------------------------------------------------------------- maximum / minimum
def _maxmin_backward(greater):
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        half = where(a == b, g / 2, g)
        ga = gb = None
        if na:
            ga = where((a < b) if greater else (a > b), 0.0, half)
        if nb:
            gb = where((a > b) if greater else (a < b), 0.0, half)
        return ga, gb
    return backward


def _fmaxmin_backward(greater):
    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        keep_a = logical_or_((a >= b) if greater else (a <= b), isnan_(b))
        return (where(keep_a, g, 0.0) if na else None), (where(keep_a, 0.0, g) if nb else None)
    return backward


def _s_distinct(rng):
    a = rng.uniform(-2, 2, (3, 4))
    b = a + rng.choice([-1.0, 1.0], (3, 4)) * rng.uniform(0.3, 1.0, (3, 4))
    return [((a, b), {})]


maximum = _decl("maximum", lambda xp, a, b: xp.maximum(a, b), _maxmin_backward(True),
                promote="binary", save=(0, 1), expr="maximum(a, b)", onnx="Max",
                sample=_s_distinct, doc="elementwise max (NaN propagates)")
minimum = _decl("minimum", lambda xp, a, b: xp.minimum(a, b), _maxmin_backward(False),
                promote="binary", save=(0, 1), expr="minimum(a, b)", onnx="Min",
                sample=_s_distinct, doc="elementwise min (NaN propagates)")
fmax = _decl("fmax", lambda xp, a, b: xp.fmax(a, b), _fmaxmin_backward(True),
             promote="binary", save=(0, 1),
             expr="where(ne(b, b), a, where(ne(a, a), b, maximum(a, b)))", onnx="decompose",
             sample=_s_distinct, doc="elementwise max ignoring NaN")
fmin = _decl("fmin", lambda xp, a, b: xp.fmin(a, b), _fmaxmin_backward(False),
             promote="binary", save=(0, 1),
             expr="where(ne(b, b), a, where(ne(a, a), b, minimum(a, b)))", onnx="decompose",
             sample=_s_distinct, doc="elementwise min ignoring NaN")


# ---------------------------------------------------------------- clamp
def _clamp_forward(xp, a, lo, hi):
    if a.dtype.kind == "c":
        raise RuntimeError("clamp is not supported for complex types")
    if a.dtype == np.bool_:
        _not_impl("clamp_cpu" if isinstance(lo, np.ndarray) or isinstance(hi, np.ndarray)
                  else "clamp_scalar_cpu", a)
    if lo is not None and hi is not None:
        # torch: min > max gives max everywhere; NaN in a bound propagates
        return xp.minimum(xp.maximum(a, lo), hi)
    if lo is not None:
        return xp.maximum(a, lo)
    return xp.minimum(a, hi)


def _clamp_backward(ctx, g):
    a, lo, hi = ctx.saved
    na, nl, nh = (ctx.needs_input_grad + (False, False))[:3]
    ga = gl = gh = None
    if lo is not None and hi is not None:
        if na:
            ga = where(logical_and_(a >= lo, a <= hi), g, 0.0)
        if nl:
            gl = where(logical_and_(a < lo, lo < hi), g, 0.0)
        if nh:
            gh = where(logical_or_(a > hi, hi < lo), g, 0.0)
    elif lo is not None:
        if na:
            ga = where(a >= lo, g, 0.0)
        if nl:
            gl = where(a < lo, g, 0.0)
    else:
        if na:
            ga = where(a <= hi, g, 0.0)
        if nh:
            gh = where(a > hi, g, 0.0)
    return ga, gl, gh


def _s_clamp(rng):
    x = rng.uniform(-2, 2, (3, 4))
    x = np.where(np.abs(np.abs(x) - 1) < 0.1, x * 0.5, x)
    return [((x, -1.0, 1.0), {}), ((x, None, 0.7), {}), ((x, -0.7, None), {})]


def _s_clamp_t(rng):
    x = rng.uniform(-2, 2, (3, 4))
    lo = rng.uniform(-1.5, -0.5, (4,))
    hi = rng.uniform(0.5, 1.5, (3, 1))
    x = np.where(np.abs(x - lo) < 0.1, x + 0.25, x)
    x = np.where(np.abs(x - hi) < 0.1, x + 0.25, x)
    return [((x, lo, hi), {})]


clamp = _decl("clamp", _clamp_forward, _clamp_backward, promote="binary", save=(0, 1, 2),
              node_name="ClampBackward1", expr="minimum(maximum(a, b), c)", onnx="Clip",
              sample=_s_clamp, doc="clamp to scalar bounds [min, max]")
clamp_tensor = _decl("clamp_tensor", _clamp_forward, _clamp_backward, promote="binary",
                     save=(0, 1, 2), node_name="ClampBackward0",
                     expr="minimum(maximum(a, b), c)", onnx="decompose", sample=_s_clamp_t,
                     doc="clamp to tensor bounds")


def _clamp_min_forward(xp, a, lo):
    if a.dtype == np.bool_ and not isinstance(lo, np.ndarray):
        _not_impl("clamp_min_scalar_cpu", a)
    return xp.maximum(a, lo)


def _clamp_max_forward(xp, a, hi):
    if a.dtype == np.bool_ and not isinstance(hi, np.ndarray):
        _not_impl("clamp_max_scalar_cpu", a)
    return xp.minimum(a, hi)


def _clamp_min_backward(ctx, g):
    a, lo = ctx.saved
    na, nl = ctx.needs_input_grad
    return (where(a >= lo, g, 0.0) if na else None), (where(a < lo, g, 0.0) if nl else None)


def _clamp_max_backward(ctx, g):
    a, hi = ctx.saved
    na, nh = ctx.needs_input_grad
    return (where(a <= hi, g, 0.0) if na else None), (where(a > hi, g, 0.0) if nh else None)


def _s_clamp1(rng):
    x = rng.uniform(-2, 2, (3, 4))
    return [((np.where(np.abs(x - 0.3) < 0.1, x + 0.25, x), 0.3), {})]


def _s_clamp1_t(rng):
    x = rng.uniform(-2, 2, (3, 4))
    b = rng.uniform(-1, 1, (4,))
    return [((np.where(np.abs(x - b) < 0.1, x + 0.25, x), b), {})]


clamp_min = _decl("clamp_min", _clamp_min_forward, _clamp_min_backward, promote="binary",
                  save=(0, 1), node_name="ClampMinBackward0", expr="maximum(a, b)",
                  onnx="Max", sample=_s_clamp1, doc="max(a, min)")
clamp_min_tensor = _decl("clamp_min_tensor", _clamp_min_forward, _clamp_min_backward,
                         promote="binary", save=(0, 1), node_name="ClampMinBackward1",
                         expr="maximum(a, b)", onnx="Max", sample=_s_clamp1_t,
                         doc="max(a, min tensor)")
clamp_max = _decl("clamp_max", _clamp_max_forward, _clamp_max_backward, promote="binary",
                  save=(0, 1), node_name="ClampMaxBackward0", expr="minimum(a, b)",
                  onnx="Min", sample=_s_clamp1, doc="min(a, max)")
clamp_max_tensor = _decl("clamp_max_tensor", _clamp_max_forward, _clamp_max_backward,
                         promote="binary", save=(0, 1), node_name="ClampMaxBackward1",
                         expr="minimum(a, b)", onnx="Min", sample=_s_clamp1_t,
                         doc="min(a, max tensor)")


# ---------------------------------------------------------------- where / lerp / addc*
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_BLEND_MIN = 4096  # below this numpy's where() is cheaper than the extra calls


def _where_forward(xp, cond, a, b, *, dtype):
    npdt = dtype.np
    size = getattr(cond, "size", 1)
    for x in (a, b):
        size = max(size, getattr(x, "size", 1))
    if xp is np and size >= _BLEND_MIN and npdt.kind in "fiu" and npdt.itemsize in _UINT:
        return _blend(cond, a, b, npdt)
    r = xp.where(cond, a, b)
    return r.astype(npdt, copy=False) if r.dtype != npdt else r


def _blend(cond, a, b, npdt):
    """where(cond, a, b) as a bitwise select: numpy's where() is branchy and ~30x slower
    than plain arithmetic on unpredictable masks; selecting bits is exact (NaN, -0.)."""
    shape = np.broadcast_shapes(np.shape(cond), np.shape(a), np.shape(b))
    uint = _UINT[npdt.itemsize]
    m = cond if cond.dtype == np.bool_ else cond.astype(bool)
    mask = np.broadcast_to(m, shape).astype(uint)
    np.negative(mask, out=mask)  # 0 -> 0, 1 -> all ones
    ab = np.broadcast_to(np.asarray(a, dtype=npdt), shape).view(uint)
    if not isinstance(b, np.ndarray) and b == 0 and not math.copysign(1.0, b) < 0:
        np.bitwise_and(mask, ab, out=mask)  # where(cond, a, +0): the common gradient mask
        return mask.view(npdt)
    bb = np.broadcast_to(np.asarray(b, dtype=npdt), shape).view(uint)
    np.bitwise_and(mask, np.bitwise_xor(ab, bb), out=mask)
    np.bitwise_xor(mask, bb, out=mask)
    return mask.view(npdt)


def _sel(xp, cond, a, b):
    """xp.where for forwards: the bitwise select on large numpy float/int arrays."""
    if xp is np and getattr(cond, "size", 0) >= _BLEND_MIN:
        dt = np.result_type(a, b)
        if dt.kind in "fiu" and dt.itemsize in _UINT:
            return _blend(cond, a, b, dt)
    return xp.where(cond, a, b)


def _where_backward(ctx, g):
    cond = ctx.saved[0]
    _, na, nb = ctx.needs_input_grad
    return (None, where(cond, g, 0.0) if na else None, where(cond, 0.0, g) if nb else None)


@register
class where_op:
    """cond ? a : b (a, b promoted to their common dtype)."""
    name = "where"
    node_name = "WhereBackward0"
    save = (0,)
    expr = "where(a, b, c)"
    onnx = "Where"
    forward = _where_forward
    backward = _where_backward

    def sample(rng):
        c = rng.standard_normal((3, 4)) > 0
        return [((c, rng.standard_normal((3, 4)), rng.standard_normal((4,))),
                 {"dtype": D.float64})]


# broadcasting gradients of where are reduced/cast to the inputs by the engine, as for ops
# with a promote rule (where promotes itself: the condition must stay bool)
where_op.node_cls.fit_inputs = True


def _lerp_forward(xp, a, b, w):
    # torch's formula: exact at both ends and monotone
    d = b - a
    if isinstance(w, (int, float)) and not isinstance(w, bool):
        return a + w * d if -0.5 < w < 0.5 else b - d * (1 - w)
    return _sel(xp, xp.abs(w) < 0.5, a + w * d, b - d * (1 - w))


def _lerp_backward(ctx, g):
    a, b, w = ctx.saved
    na, nb, nw = ctx.needs_input_grad
    return ((g * (1 - w) if na else None), (g * w if nb else None),
            (g * (b - a) if nw else None))


lerp = _decl("lerp", _lerp_forward, _lerp_backward, promote="binary", save=(0, 1, 2),
             node_name="LerpBackward0", expr="add(a, mul(c, sub(b, a)))", onnx="decompose",
             sample=lambda rng: [((rng.standard_normal((3, 4)), rng.standard_normal((4,)),
                                   0.3), {})], doc="a + w (b - a), scalar weight")
lerp_tensor = _decl("lerp_tensor", _lerp_forward, _lerp_backward, promote="binary",
                    save=(0, 1, 2), node_name="LerpBackward1",
                    expr="add(a, mul(c, sub(b, a)))", onnx="decompose",
                    sample=lambda rng: [((rng.standard_normal((3, 4)),
                                          rng.standard_normal((4,)),
                                          rng.uniform(0, 1, (3, 1))), {})],
                    doc="a + w (b - a), tensor weight")


def _value_like(value, arr):
    """The ``value`` attr in the operands' dtype where numpy would upcast (bfloat16)."""
    dt = getattr(arr, "dtype", None)
    return dt.type(value) if dt is not None and dt.kind == "V" else value


def _addcmul_forward(xp, a, t1, t2, *, value=1):
    # torch evaluates self + value * t1 * t2 left to right
    return a + _value_like(value, t1) * t1 * t2 if value != 1 else a + t1 * t2


def _addcmul_backward(ctx, g):
    _, t1, t2 = ctx.saved
    v = ctx.attrs.get("value", 1)
    na, n1, n2 = ctx.needs_input_grad
    return ((g if na else None), (g * _conj(t2) * v if n1 else None),
            (g * _conj(t1) * v if n2 else None))


def _addcdiv_check(t1, t2):
    if all(isinstance(t, Tensor) and not (t.dtype.is_floating_point or t.dtype.is_complex)
           for t in (t1, t2)):
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic "
            "addcdiv behavior can be implemented as (input + value * torch.trunc(tensor1 / "
            "tensor2)).to(input.dtype) for integer inputs and as (input + value * tensor1 / "
            "tensor2) for float inputs. The future addcdiv behavior is just the latter "
            "implementation: (input + value * tensor1 / tensor2), for all dtypes.")


def _addcdiv_forward(xp, a, t1, t2, *, value=1):
    return a + _value_like(value, t1) * t1 / t2  # (value * t1) / t2, torch's order


def _addcdiv_backward(ctx, g):
    _, t1, t2 = ctx.saved
    v = ctx.attrs.get("value", 1)
    na, n1, n2 = ctx.needs_input_grad
    return ((g if na else None), (g * v / _conj(t2) if n1 else None),
            (-g * v * _conj(t1) / _conj(t2 * t2) if n2 else None))


def _s_addc(rng):
    return [((rng.standard_normal((3, 4)), rng.standard_normal((4,)),
              rng.uniform(0.5, 2, (3, 1))), {"value": 0.5})]


addcmul = _decl("addcmul", _addcmul_forward, _addcmul_backward, promote="binary",
                save=(0, 1, 2), expr="add(a, mul(value, mul(b, c)))", onnx="decompose",
                sample=_s_addc, doc="input + value * tensor1 * tensor2")
addcdiv = _decl("addcdiv", _addcdiv_forward, _addcdiv_backward, promote="binary",
                save=(0, 1, 2), expr="add(a, mul(value, div(b, c)))", onnx="decompose",
                sample=_s_addc, doc="input + value * tensor1 / tensor2")


# ================================================================ comparisons and predicates
def _cmp(name, ufunc, expr, onnx):
    return _decl(name, lambda xp, a, b: getattr(xp, ufunc)(a, b), None, promote="compare",
                 save=(), expr=expr, onnx=onnx, doc=f"elementwise {name} (bool result)")


def _cmp_inplace(name, ufunc, expr):
    """x.eq_(y) and friends: torch differentiates them with zero gradients. The result is
    written in self's dtype (no promotion of self: an int tensor may compare with 1.5)."""
    def forward(xp, a, b, *, out_dtype):
        return getattr(xp, ufunc)(a, b).astype(out_dtype.np)
    op = _decl(name + "_inplace", forward, _rounded_backward,
                 promote="compare", save=(), expr=expr, onnx="decompose",
                 node_name=name.capitalize() + "Backward1",
                 sample=lambda rng: [((rng.standard_normal((3, 4)), rng.standard_normal(4)),
                                      {"out_dtype": D.float64})],
                 doc=f"in-place {name}: writes 0/1 into self (in self's dtype, out_dtype)")
    return op


eq = _cmp("eq", "equal", "eq(a, b)", "Equal")
ne = _cmp("ne", "not_equal", "ne(a, b)", "decompose")
lt = _cmp("lt", "less", "lt(a, b)", "Less")
le = _cmp("le", "less_equal", "le(a, b)", "LessOrEqual")
gt = _cmp("gt", "greater", "gt(a, b)", "Greater")
ge = _cmp("ge", "greater_equal", "ge(a, b)", "GreaterOrEqual")
eq_inplace = _cmp_inplace("eq", "equal", "eq(a, b)")
ne_inplace = _cmp_inplace("ne", "not_equal", "ne(a, b)")
lt_inplace = _cmp_inplace("lt", "less", "lt(a, b)")
le_inplace = _cmp_inplace("le", "less_equal", "le(a, b)")
gt_inplace = _cmp_inplace("gt", "greater", "gt(a, b)")
ge_inplace = _cmp_inplace("ge", "greater_equal", "ge(a, b)")


def _logical(name, ufunc, expr, onnx):
    return _decl(name, lambda xp, a, b: getattr(xp, ufunc)(a, b), None, promote=None,
                 save=(), expr=expr, onnx=onnx, doc=f"elementwise {name} (bool result)")


logical_and = _logical("logical_and", "logical_and", "logical_and(a, b)", "And")
logical_or = _logical("logical_or", "logical_or", "logical_or(a, b)", "Or")
logical_xor = _logical("logical_xor", "logical_xor", "ne(logical_or(a, 0), logical_or(b, 0))",
                       "Xor")
logical_not = _decl("logical_not", lambda xp, a: xp.logical_not(a), None, promote=None,
                    save=(), expr="logical_not(a)", onnx="Not", doc="not a (bool result)")


def _bitwise(name, kernel, fn, expr, onnx):
    def forward(xp, a, b):
        for x in (a, b):  # a float scalar has promoted the tensor operand to float
            if getattr(x, "dtype", None) is not None and x.dtype.kind not in "biu":
                _not_impl(kernel, x)
        return fn(xp, a, b)
    return _decl(name, forward, None, promote="binary", save=(), expr=expr, onnx=onnx,
                 doc=f"elementwise {name} of integers / bools")


def _shift_amount(xp, a, b):
    bits = a.dtype.itemsize * 8
    bb = xp.asarray(b)
    out_of_range = (bb < 0) | (bb >= bits)
    return bits, out_of_range, xp.where(out_of_range, 0, bb).astype(a.dtype)


def _shift_lhs(xp, a, b):
    if isinstance(a, np.ndarray) or hasattr(a, "__cuda_array_interface__"):
        return a
    return xp.asarray(a, dtype=xp.asarray(b).dtype)


def _lshift(xp, a, b):
    a = _shift_lhs(xp, a, b)
    _no_bool("lshift_cpu", a)
    bits, oor, s = _shift_amount(xp, a, b)
    r = xp.left_shift(a, s)
    return xp.where(oor, 0, r).astype(a.dtype, copy=False) if oor.any() else r


def _rshift(xp, a, b):
    a = _shift_lhs(xp, a, b)
    _no_bool("rshift_cpu", a)
    bits, oor, s = _shift_amount(xp, a, b)
    r = xp.right_shift(a, s)
    if oor.any():  # torch: out-of-range shifts give a >> (bits - 1) (sign fill)
        r = xp.where(oor, xp.right_shift(a, a.dtype.type(bits - 1)), r)
    return r


bitwise_and = _bitwise("bitwise_and", "bitwise_and_cpu",
                       lambda xp, a, b: xp.bitwise_and(a, b), None, "BitwiseAnd")
bitwise_or = _bitwise("bitwise_or", "bitwise_or_cpu",
                      lambda xp, a, b: xp.bitwise_or(a, b), None, "BitwiseOr")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor_cpu",
                       lambda xp, a, b: xp.bitwise_xor(a, b), None, "BitwiseXor")
bitwise_left_shift = _bitwise("bitwise_left_shift", "lshift_cpu", _lshift, None,
                              "BitShift")
bitwise_right_shift = _bitwise("bitwise_right_shift", "rshift_cpu", _rshift, None,
                               "BitShift")


def _bitwise_not_forward(xp, a):
    if a.dtype.kind not in "biu":
        _not_impl("bitwise_not_cpu", a)
    return xp.invert(a)


bitwise_not = _decl("bitwise_not", _bitwise_not_forward, None, promote=None, save=(),
                    expr=None, onnx="BitwiseNot", doc="~a for integers / bools")


def _pred(name, fn, expr, onnx):
    return _decl(name, fn, None, promote=None, save=(), expr=expr, onnx=onnx,
                 doc=f"{name}: a bool tensor")


def _float_pred(fn, int_value=False):
    def forward(xp, a):
        if a.dtype.kind in "biu":
            return xp.full(a.shape, int_value, dtype=bool)
        return fn(xp, a)
    return forward


isnan = _pred("isnan", _float_pred(lambda xp, a: xp.isnan(a)), "ne(a, a)", "IsNaN")
# a - a is 0 for finite a and NaN for +-inf / NaN
isinf = _pred("isinf", _float_pred(lambda xp, a: xp.isinf(a)),
              "logical_and(eq(a, a), ne(sub(a, a), 0))", "IsInf")
isposinf = _pred("isposinf", _float_pred(lambda xp, a: xp.isposinf(a)),
                 "logical_and(gt(a, 0), ne(sub(a, a), 0))", "IsInf")
isneginf = _pred("isneginf", _float_pred(lambda xp, a: xp.isneginf(a)),
                 "logical_and(lt(a, 0), ne(sub(a, a), 0))", "IsInf")
isfinite = _pred("isfinite", _float_pred(lambda xp, a: xp.isfinite(a), True),
                 "eq(sub(a, a), 0)", "decompose")
isreal = _pred("isreal", lambda xp, a: (a.imag == 0) if a.dtype.kind == "c"
               else xp.ones(a.shape, dtype=bool), None, "decompose")


def _isclose_forward(xp, a, b, *, rtol, atol, equal_nan):
    if a.dtype != b.dtype:
        raise RuntimeError(f"{_tname(a)} did not match {_tname(b)}")
    close = a == b
    if equal_nan and a.dtype.kind in "fc":
        close = close | (xp.isnan(a) & xp.isnan(b))
    if rtol == 0 and atol == 0:
        return close
    if a.dtype.kind == "b":
        a = a.astype(D.get_default_dtype().np)
        b = b.astype(D.get_default_dtype().np)
    if a.dtype.kind in "iu":  # torch computes the allowed error in the default float dtype
        fd = D.get_default_dtype().np
        allowed = atol + xp.abs(rtol * b.astype(fd))
        actual = xp.abs(a - b).astype(fd)
    else:
        allowed = atol + xp.abs(rtol * b)
        with np.errstate(invalid="ignore", over="ignore"):
            actual = xp.abs(a - b)
    with np.errstate(invalid="ignore"):
        return close | (xp.isfinite(actual) & (actual <= allowed))


isclose = _decl("isclose", _isclose_forward, None, promote=None, save=(), expr=None,
                onnx="decompose", doc="|a - b| <= atol + rtol |b|")


# ================================================================ public API
def _unary_public(op, names, inplace=True, function_inplace=True):
    """Publish ``ardor.<name>(input, *, out=None)`` / ``Tensor.<name>()`` and the in-place
    ``<name>_`` variants for a unary op."""
    name = names[0]

    def fn(input, *, out=None):
        if not isinstance(input, Tensor):
            _need_tensor(name, input, "input", 1)
        return _out(dispatch(op, (input,)), out)

    def fn_(input):
        return dispatch_inplace(op, input, ())
    fn.__doc__ = op.doc
    fn.__name__ = names[0]
    fn_.__doc__ = f"In-place {names[0]}."
    fn_.__name__ = names[0] + "_"
    public(*names)(fn)
    if inplace:
        public(*(n + "_" for n in names), function=function_inplace)(fn_)
    return fn


exp_ = _unary_public(exp, ("exp",))
exp2_ = _unary_public(exp2, ("exp2",))
expm1_ = _unary_public(expm1, ("expm1",))
log_ = _unary_public(log, ("log",))
log2_ = _unary_public(log2, ("log2",))
log10_ = _unary_public(log10, ("log10",))
log1p_ = _unary_public(log1p, ("log1p",))
sqrt_ = _unary_public(sqrt, ("sqrt",))
rsqrt_ = _unary_public(rsqrt, ("rsqrt",))
sin_ = _unary_public(sin, ("sin",))
cos_ = _unary_public(cos, ("cos",))
tan_ = _unary_public(tan, ("tan",))
asin_ = _unary_public(asin, ("asin", "arcsin"))
acos_ = _unary_public(acos, ("acos", "arccos"))
atan_ = _unary_public(atan, ("atan", "arctan"))
sinh_ = _unary_public(sinh, ("sinh",))
cosh_ = _unary_public(cosh, ("cosh",))
tanh_ = _unary_public(tanh, ("tanh",))
asinh_ = _unary_public(asinh, ("asinh", "arcsinh"))
acosh_ = _unary_public(acosh, ("acosh", "arccosh"))
atanh_ = _unary_public(atanh, ("atanh", "arctanh"))
sigmoid_ = _unary_public(sigmoid, ("sigmoid",))
erf_ = _unary_public(erf, ("erf",))
erfc_ = _unary_public(erfc, ("erfc",))
erfinv_ = _unary_public(erfinv, ("erfinv",))
reciprocal_ = _unary_public(reciprocal, ("reciprocal",))
deg2rad_ = _unary_public(deg2rad, ("deg2rad",))
rad2deg_ = _unary_public(rad2deg, ("rad2deg",))
sinc_ = _unary_public(sinc, ("sinc",))
i0_ = _unary_public(i0, ("i0",))
neg_ = _unary_public(neg, ("neg", "negative"))
abs_ = _unary_public(abs, ("abs", "absolute"))
sign_ = _unary_public(sign, ("sign",))
sgn_ = _unary_public(sgn, ("sgn",))
floor_ = _unary_public(floor, ("floor",))
ceil_ = _unary_public(ceil, ("ceil",))
trunc_ = _unary_public(trunc, ("trunc", "fix"))
frac_ = _unary_public(frac, ("frac",))
relu_ = _unary_public(relu, ("relu",))
logical_not_ = _unary_public(logical_not, ("logical_not",))
bitwise_not_ = _unary_public(bitwise_not, ("bitwise_not",))
isnan_ = _unary_public(isnan, ("isnan",), inplace=False)
isinf_ = _unary_public(isinf, ("isinf",), inplace=False)
isposinf_ = _unary_public(isposinf, ("isposinf",), inplace=False)
isneginf_ = _unary_public(isneginf, ("isneginf",), inplace=False)
isfinite_ = _unary_public(isfinite, ("isfinite",), inplace=False)
isreal_ = _unary_public(isreal, ("isreal",), inplace=False)
angle_ = _unary_public(angle, ("angle",), inplace=False)


@public("round")
def round_(input: Tensor, *, decimals: int = 0, out=None) -> Tensor:
    """Round half to even; with ``decimals`` round to that many decimal places."""
    if decimals == 0:
        return _out(dispatch(round, (input,)), out)
    return _out(dispatch(round_decimals, (input,), {"decimals": int(decimals)}), out)


@public("round_")
def round_inplace(input: Tensor, *, decimals: int = 0) -> Tensor:
    """In-place round."""
    if decimals == 0:
        return dispatch_inplace(round, input, ())
    return dispatch_inplace(round_decimals, input, (), {"decimals": int(decimals)})


@public("square")
def square(input: Tensor, *, out=None) -> Tensor:
    """input ** 2 (integers stay integer; bool becomes int64)."""
    return _out(dispatch(pow_scalar, (input, 2)), out)


@public("square_")
def square_inplace(input: Tensor) -> Tensor:
    """In-place square."""
    return dispatch_inplace(pow_scalar, input, (2,))


@public("positive")
def positive(input: Tensor) -> Tensor:
    """+input (the input itself; refused for bool as torch)."""
    if input._data.dtype == np.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


@public("conj")
def conj(input: Tensor) -> Tensor:
    """Complex conjugate (the input itself for real tensors)."""
    if input._data.dtype.kind != "c":
        return input
    return dispatch(conj_physical, (input,))


@public("conj_physical")
def conj_physical_(input: Tensor) -> Tensor:
    """Complex conjugate as a materialized copy."""
    if input._data.dtype.kind != "c":
        return input
    return dispatch(conj_physical, (input,))


@public("resolve_conj", "resolve_neg")
def resolve_conj(input: Tensor) -> Tensor:
    """ardor materializes conjugation eagerly: returns the input."""
    return input


@public("is_conj", "is_neg")
def is_conj(input: Tensor) -> bool:
    """Always False: ardor has no lazy conjugate/negative bits."""
    return False


@public("real")
def real_(input: Tensor) -> Tensor:
    """The real part (the input itself for real tensors)."""
    if input._data.dtype.kind != "c":
        return input
    return dispatch(real, (input,))


@public("imag")
def imag_(input: Tensor) -> Tensor:
    """The imaginary part of a complex tensor (a view)."""
    if input._data.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return dispatch(imag, (input,))


@public("logit")
def logit_(input: Tensor, eps: float | None = None, *, out=None) -> Tensor:
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given."""
    return _out(dispatch(logit, (input,), {"eps": None if eps is None else float(eps)}), out)


@public("logit_")
def logit_inplace(input: Tensor, eps: float | None = None) -> Tensor:
    """In-place logit."""
    return dispatch_inplace(logit, input, (), {"eps": None if eps is None else float(eps)})


def _nan_attrs(nan, posinf, neginf):
    return {"nan": 0.0 if nan is None else float(nan),
            "posinf": None if posinf is None else float(posinf),
            "neginf": None if neginf is None else float(neginf)}


@public("nan_to_num")
def nan_to_num_(input: Tensor, nan: float = 0.0, posinf: float | None = None,
                neginf: float | None = None, *, out=None) -> Tensor:
    """Replace NaN, +inf, -inf by nan / posinf / neginf (defaults: 0, dtype max, dtype min)."""
    return _out(dispatch(nan_to_num, (input,), _nan_attrs(nan, posinf, neginf)), out)


@public("nan_to_num_")
def nan_to_num_inplace(input: Tensor, nan: float = 0.0, posinf: float | None = None,
                       neginf: float | None = None) -> Tensor:
    """In-place nan_to_num."""
    return dispatch_inplace(nan_to_num, input, (), _nan_attrs(nan, posinf, neginf))


# ---------------------------------------------------------------- binary public functions
def _check_alpha(input, other, alpha):
    dt = input.dtype if isinstance(input, Tensor) else None
    if dt is not None and isinstance(other, Tensor):
        dt = D.promote_types(dt, other.dtype)
    if dt is not None and not (dt.is_floating_point or dt.is_complex) and \
            isinstance(alpha, float):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    if isinstance(alpha, bool) and dt is not None and not dt.is_bool:
        raise RuntimeError("Boolean alpha only supported for Boolean results.")


@public("add")
def add_(input, other, *, alpha=1, out=None) -> Tensor:
    """input + alpha * other"""
    if alpha != 1 or alpha is True:
        _check_alpha(input, other, alpha)
        other = mul_(other, alpha) if isinstance(other, Tensor) else _pyscalar(other) * alpha
    return _out(dispatch(add, (input, other)), out)


@public("sub", "subtract")
def sub_(input, other, *, alpha=1, out=None) -> Tensor:
    """input - alpha * other"""
    _check_bool_sub(input, other)
    if alpha != 1 or alpha is True:
        _check_alpha(input, other, alpha)
        other = mul_(other, alpha) if isinstance(other, Tensor) else _pyscalar(other) * alpha
    return _out(dispatch(sub, (input, other)), out)


@public("rsub", method=False)
def rsub(input, other, *, alpha=1) -> Tensor:
    """other - alpha * input"""
    if isinstance(other, Tensor) or alpha != 1:
        return sub_(other, input, alpha=alpha)
    _check_bool_sub(input, other)
    return dispatch(rsub_op, (input, _pyscalar(other)))


@public("mul", "multiply")
def mul_(input, other, *, out=None) -> Tensor:
    """input * other"""
    return _out(dispatch(mul, (input, other)), out)


@public("div", "divide")
def div_(input, other, *, rounding_mode=None, out=None) -> Tensor:
    """input / other; rounding_mode 'trunc' or 'floor' rounds the quotient."""
    if rounding_mode is None:
        return _out(dispatch(div, (input, other)), out)
    return _out(_rounded_div(input, other, rounding_mode), out)


@public("true_divide")
def true_divide(input, other, *, out=None) -> Tensor:
    """input / other (true division)."""
    return _out(dispatch(div, (input, other)), out)


def _check_rounding(rounding_mode):
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError("div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")


def _rounded_div(input, other, rounding_mode):
    _check_rounding(rounding_mode)
    return dispatch(div_rounding, (input, other), {"rounding_mode": rounding_mode})


@public("floor_divide")
def floor_divide_(input, other, *, out=None) -> Tensor:
    """input // other, rounding toward -inf (Python semantics)."""
    return _out(dispatch(floor_divide, (input, other)), out)


@public("remainder")
def remainder_(input, other, *, out=None) -> Tensor:
    """Python-style modulus (sign of the divisor)."""
    if not isinstance(input, Tensor):
        return dispatch(remainder_rscalar, (_pyscalar(input), other))
    op = remainder if isinstance(other, Tensor) else remainder_scalar
    return _out(dispatch(op, (input, _pyscalar(other))), out)


@public("fmod")
def fmod_(input, other, *, out=None) -> Tensor:
    """C-style modulus (sign of the dividend)."""
    _need_tensor("fmod", input, "input", 1)
    op = fmod if isinstance(other, Tensor) else fmod_scalar
    return _out(dispatch(op, (input, _pyscalar(other))), out)


@public("pow")
def pow_(input, exponent, *, out=None) -> Tensor:
    """input ** exponent (tensor or scalar on either side)."""
    return _out(_pow_dispatch(input, exponent), out)


@public("float_power")
def float_power(input, exponent, *, out=None) -> Tensor:
    """input ** exponent computed in float64 (complex128 for complex operands)."""
    cplx = any(isinstance(x, complex) or (isinstance(x, Tensor) and x.is_complex())
               for x in (input, exponent))
    dt = D.complex128 if cplx else D.float64

    def up(x):
        if isinstance(x, Tensor):
            return x.to(dt)
        return complex(x) if cplx else float(x)
    return _out(_pow_dispatch(up(input), up(exponent)), out)


def _xlogy_op(input, other):
    if not isinstance(input, Tensor):
        return xlogy_self_scalar, (_pyscalar(input), other)
    if not isinstance(other, Tensor):
        return xlogy_other_scalar, (input, _pyscalar(other))
    return xlogy, (input, other)


@public("xlogy")
def xlogy_(input, other, *, out=None) -> Tensor:
    """input * log(other), 0 where input == 0 (NaN where other is NaN)."""
    op, args = _xlogy_op(input, other)
    return _out(dispatch(op, args), out)


@public("copysign")
def copysign_(input, other, *, out=None) -> Tensor:
    """|input| with the sign of other (float result)."""
    _need_tensor("copysign", input, "input", 1)
    op = copysign if isinstance(other, Tensor) else copysign_scalar
    return _out(dispatch(op, (input, _pyscalar(other))), out)


@public("heaviside")
def heaviside_(input: Tensor, values: Tensor, *, out=None) -> Tensor:
    """0 where input < 0, values where input == 0, 1 where input > 0."""
    _need_tensor("heaviside", input, "input", 1)
    _need_tensor("heaviside", values, "values")
    return _out(dispatch(heaviside, (input, values)), out)


def _publish_tensor_pair(op, doc: str, *aliases: str) -> None:
    """Publish ``ardor.<op>(input, other, *, out=None)`` for ops whose torch signatures take
    only tensors (a non-Tensor argument raises torch's TypeError)."""
    name = op.name

    def fn(input: Tensor, other: Tensor, *, out=None) -> Tensor:
        _need_tensor(name, input, "input", 1)
        _need_tensor(name, other)
        return _out(dispatch(op, (input, other)), out)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    public(name, *aliases)(fn)


for _op, _doc, *_aliases in (
        (atan2, "Angle of (other, input) in radians, in (-pi, pi].", "arctan2"),
        (hypot, "sqrt(input^2 + other^2)"),
        (logaddexp, "log(exp(input) + exp(other))"),
        (logaddexp2, "log2(2^input + 2^other)"),
        (maximum, "Elementwise maximum (NaN propagates)."),
        (minimum, "Elementwise minimum (NaN propagates)."),
        (fmax, "Elementwise maximum ignoring NaN."),
        (fmin, "Elementwise minimum ignoring NaN.")):
    _publish_tensor_pair(_op, _doc, *_aliases)


def _need_tensor(name, x, arg="other", pos=2):
    """torch's TypeError for a non-Tensor where its signature has only Tensor overloads."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not "
                        f"{type(x).__name__}")


def _clamp_op(min, max, tensor_op, scalar_op):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        if not all(isinstance(x, Tensor) or x is None for x in (min, max)):
            kinds = ", ".join(type(x).__name__ if not isinstance(x, Tensor) else "Tensor"
                              for x in (min, max))
            raise TypeError(f"clamp() received an invalid combination of arguments - got "
                            f"(Tensor, {kinds}), but expected one of:\n"
                            " * (Tensor input, Tensor min = None, Tensor max = None)\n"
                            " * (Tensor input, Number min = None, Number max = None)")
        return tensor_op
    return scalar_op


def _clamp_args(input, min, max):
    min, max = _pyscalar(min), _pyscalar(max)
    if not isinstance(min, Tensor) and not isinstance(max, Tensor):
        _check_scalar_fits(input, min, max)
    return (input, min, max)


@public("clamp", "clip")
def clamp_(input: Tensor, min=None, max=None, *, out=None) -> Tensor:
    """Clamp into [min, max] (scalars or tensors; either may be None)."""
    op = _clamp_op(min, max, clamp_tensor, clamp)
    return _out(dispatch(op, _clamp_args(input, min, max)), out)


@public("clamp_", "clip_")
def clamp_inplace(input: Tensor, min=None, max=None) -> Tensor:
    """In-place clamp."""
    op = _clamp_op(min, max, clamp_tensor, clamp)
    return dispatch_inplace(op, input, _clamp_args(input, min, max)[1:])


@public("clamp_min")
def clamp_min_(input: Tensor, min) -> Tensor:
    """max(input, min)"""
    _need_tensor("clamp_min", input, "input", 1)
    op = clamp_min_tensor if isinstance(min, Tensor) else clamp_min
    if op is clamp_min:
        _check_scalar_fits(input, _pyscalar(min))
    return dispatch(op, (input, _pyscalar(min)))


@public("clamp_max")
def clamp_max_(input: Tensor, max) -> Tensor:
    """min(input, max)"""
    _need_tensor("clamp_max", input, "input", 1)
    op = clamp_max_tensor if isinstance(max, Tensor) else clamp_max
    if op is clamp_max:
        _check_scalar_fits(input, _pyscalar(max))
    return dispatch(op, (input, _pyscalar(max)))


@public("clamp_min_")
def clamp_min_inplace(input: Tensor, min) -> Tensor:
    """In-place clamp_min."""
    op = clamp_min_tensor if isinstance(min, Tensor) else clamp_min
    if op is clamp_min:
        _check_scalar_fits(input, _pyscalar(min))
    return dispatch_inplace(op, input, (_pyscalar(min),))


@public("clamp_max_")
def clamp_max_inplace(input: Tensor, max) -> Tensor:
    """In-place clamp_max."""
    op = clamp_max_tensor if isinstance(max, Tensor) else clamp_max
    if op is clamp_max:
        _check_scalar_fits(input, _pyscalar(max))
    return dispatch_inplace(op, input, (_pyscalar(max),))


def _where_dtype(input, other):
    dims, zeros, scalars = [], [], []
    for x in (input, other):
        if isinstance(x, Tensor):
            (dims if x._data.ndim else zeros).append(x.dtype)
        else:
            scalars.append(D.scalar_dtype(x))
    return D.result_type_parts(dims, zeros, scalars)


@public("where", method=False)
def where(condition: Tensor, input=None, other=None, *, out=None):
    """condition ? input : other elementwise; where(condition) is nonzero(as_tuple=True)."""
    if input is None and other is None:
        import ardor
        return ardor.nonzero(condition, as_tuple=True)
    if not isinstance(condition, Tensor):
        raise TypeError("where(): argument 'condition' (position 1) must be Tensor, not "
                        f"{type(condition).__name__}")
    cdt = condition._data.dtype
    if cdt != np.bool_:
        if cdt == np.uint8:
            import warnings
            warnings.warn("where received a uint8 condition tensor. This behavior is deprecated "
                          "and will be removed in a future version of PyTorch. Use a boolean "
                          "condition instead.")
        else:
            raise RuntimeError("where expected condition to be a boolean tensor, but got a "
                               f"tensor with dtype {_BY_NP[cdt]._torch_name}")
    if isinstance(input, Tensor) and isinstance(other, Tensor) and \
            input._data.dtype == other._data.dtype:
        dt = _BY_NP[input._data.dtype]
    else:
        input, other = _pyscalar(input), _pyscalar(other)
        dt = _where_dtype(input, other)
    return _out(dispatch(where_op, (condition, input, other), {"dtype": dt}), out)


@method("where")
def where_method(self: Tensor, condition: Tensor, other) -> Tensor:
    """self where condition else other."""
    return where(condition, self, other)


def _lerp_check(start, end, weight):
    for nm, x in (("end", end), ("weight", weight)):
        if isinstance(x, Tensor) and x.dtype is not start.dtype:
            raise RuntimeError(f"expected dtype {start.dtype._torch_name.lower()} for `{nm}` "
                               f"but got dtype {x.dtype._torch_name.lower()}")
    if not (start.dtype.is_floating_point or start.dtype.is_complex):
        _not_impl("lerp_kernel_tensor" if isinstance(weight, Tensor) else "lerp_kernel_scalar",
                  start._data)


@public("lerp")
def lerp_(input: Tensor, end: Tensor, weight, *, out=None) -> Tensor:
    """input + weight * (end - input) (scalar or tensor weight)."""
    _lerp_check(input, end, weight)
    op = lerp_tensor if isinstance(weight, Tensor) else lerp
    return _out(dispatch(op, (input, end, _pyscalar(weight))), out)


@public("lerp_")
def lerp_inplace(input: Tensor, end: Tensor, weight) -> Tensor:
    """In-place lerp."""
    _lerp_check(input, end, weight)
    op = lerp_tensor if isinstance(weight, Tensor) else lerp
    return dispatch_inplace(op, input, (end, _pyscalar(weight)))


@public("addcmul")
def addcmul_(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1, out=None) -> Tensor:
    """input + value * tensor1 * tensor2"""
    return _out(dispatch(addcmul, (input, tensor1, tensor2), {"value": value}), out)


@public("addcdiv")
def addcdiv_(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1, out=None) -> Tensor:
    """input + value * tensor1 / tensor2"""
    _addcdiv_check(tensor1, tensor2)
    return _out(dispatch(addcdiv, (input, tensor1, tensor2), {"value": value}), out)


@public("addcmul_")
def addcmul_inplace(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """In-place addcmul."""
    return dispatch_inplace(addcmul, input, (tensor1, tensor2), {"value": value})


@public("addcdiv_")
def addcdiv_inplace(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """In-place addcdiv."""
    _addcdiv_check(tensor1, tensor2)
    return dispatch_inplace(addcdiv, input, (tensor1, tensor2), {"value": value})


# ---------------------------------------------------------------- comparisons / logical / bits
def _binary_public(op, names, inplace=True, scalar_other=True, inplace_op=None,
                   scalar_input=False):
    name = names[0]
    iop = inplace_op or op

    def fn(input, other, *, out=None):
        if not isinstance(input, Tensor) and not (scalar_input and isinstance(other, Tensor)):
            _need_tensor(name, input, "input", 1)
        if not scalar_other and not isinstance(other, Tensor):
            _need_tensor(name, other)
        return _out(dispatch(op, (_pyscalar(input), _pyscalar(other))), out)

    def fn_(input, other):
        if not scalar_other and not isinstance(other, Tensor):
            _need_tensor(name + "_", other, pos=1)
        return dispatch_inplace(iop, input, (_pyscalar(other),))
    fn.__doc__ = op.doc
    fn.__name__ = names[0]
    def fn_cmp_(input, other):
        return dispatch_inplace(iop, input, (_pyscalar(other),), {"out_dtype": input.dtype})
    fn_.__doc__ = fn_cmp_.__doc__ = f"In-place {names[0]}."
    public(*names)(fn)
    if inplace:
        public(*(n + "_" for n in names))(fn_cmp_ if inplace_op is not None else fn_)
    return fn


eq_ = _binary_public(eq, ("eq",), inplace_op=eq_inplace)
ne_ = _binary_public(ne, ("ne", "not_equal"), inplace_op=ne_inplace)
lt_ = _binary_public(lt, ("lt", "less"), inplace_op=lt_inplace)
le_ = _binary_public(le, ("le", "less_equal"), inplace_op=le_inplace)
gt_ = _binary_public(gt, ("gt", "greater"), inplace_op=gt_inplace)
ge_ = _binary_public(ge, ("ge", "greater_equal"), inplace_op=ge_inplace)
logical_and_ = _binary_public(logical_and, ("logical_and",), scalar_other=False)
logical_or_ = _binary_public(logical_or, ("logical_or",), scalar_other=False)
logical_xor_ = _binary_public(logical_xor, ("logical_xor",), scalar_other=False)
bitwise_and_ = _binary_public(bitwise_and, ("bitwise_and",), scalar_input=True)
bitwise_or_ = _binary_public(bitwise_or, ("bitwise_or",), scalar_input=True)
bitwise_xor_ = _binary_public(bitwise_xor, ("bitwise_xor",), scalar_input=True)
bitwise_left_shift_ = _binary_public(bitwise_left_shift, ("bitwise_left_shift",),
                                     scalar_input=True)
bitwise_right_shift_ = _binary_public(bitwise_right_shift, ("bitwise_right_shift",),
                                      scalar_input=True)


@public("isclose")
def isclose_(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> Tensor:
    """Elementwise |input - other| <= atol + rtol * |other| (same dtypes required)."""
    _need_tensor("isclose", input, "input", 1)
    _need_tensor("isclose", other)
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    return dispatch(isclose, (input, other),
                    {"rtol": float(rtol), "atol": float(atol), "equal_nan": bool(equal_nan)})


@public("allclose")
def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True when isclose holds everywhere."""
    return bool(isclose_(input, other, rtol, atol, equal_nan)._data.all())


@public("equal")
def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and equal values."""
    for nm, x in (("input", input), ("other", other)):
        if not isinstance(x, Tensor):
            raise TypeError(f"equal(): argument '{nm}' must be Tensor, not {type(x).__name__}")
    if input._data.shape != other._data.shape:
        return False
    return bool(np.array_equal(input._data, other._data))


# ================================================================ in-place kernels
# ``inplace_forward(xp, out, other)`` writes self op other straight into self's array (the
# dispatcher uses it for in-place calls outside autograd): torch's casting rule (the result
# category may not exceed self's), a 0-d tensor / Python scalar computed in self's dtype,
# out-of-range Python ints wrapped, and torch's message for a broadcast larger than self.
_CAT = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3, "V": 2}  # "V": ml_dtypes' bfloat16


def _scalar_cat(x) -> int:
    if isinstance(x, (bool, np.bool_)):
        return 0
    if isinstance(x, (int, np.integer)):
        return 1
    if isinstance(x, (float, np.floating)):
        return 2
    return 3


def _inplace_kernel(ufunc, float_result=False):
    def kernel(xp, out, other):
        sdt = out.dtype
        scat = _CAT[sdt.kind]
        if isinstance(other, np.ndarray):
            ocat = _CAT[other.dtype.kind]
        else:
            if isinstance(other, np.generic):
                other = other.item()
            ocat = _scalar_cat(other)
        rcat = max(scat, ocat, 2) if float_result else max(scat, ocat)
        if rcat > scat:
            _inplace_cast_error(out, other, float_result)
        if isinstance(other, np.ndarray):
            if other.ndim == 0 and other.dtype != sdt:
                other = other.astype(sdt)  # a 0-d tensor does not promote a dimensioned self
        elif scat == 1 and type(other) is int and not _fits_int(other, sdt):
            other = sdt.type(other % (1 << (8 * sdt.itemsize)))  # torch wraps around
        try:
            ufunc(out, other, out=out, casting="unsafe")
        except ValueError:
            shape = np.broadcast_shapes(out.shape, np.shape(other))
            raise RuntimeError(f"output with shape {list(out.shape)} doesn't match the "
                               f"broadcast shape {list(shape)}") from None
    return kernel


def _fits_int(v: int, npdt) -> bool:
    info = np.iinfo(npdt)
    return info.min <= v <= info.max


def _inplace_cast_error(out, other, float_result):
    sdt = _BY_NP[out.dtype]
    if isinstance(other, np.ndarray):
        odt = _BY_NP[other.dtype]
        r = D.result_type_parts([sdt, odt] if other.ndim else [sdt],
                                [] if other.ndim else [odt], [])
    else:
        r = D.result_type_parts([sdt], [], [D.scalar_dtype(other)])
    if float_result and not (r.is_floating_point or r.is_complex):
        r = D.get_default_dtype()
    raise RuntimeError(f"result type {r._torch_name} can't be cast to the desired output type "
                       f"{sdt._torch_name}")


def _same_dtype(out, others) -> bool:
    """All tensor operands share self's dtype and no scalar raises its category."""
    scat = _CAT[out.dtype.kind]
    for o in others:
        if isinstance(o, np.ndarray):
            if o.dtype != out.dtype:
                return False
        elif o is not None and _scalar_cat(o) > scat:
            return False
    return True


def _write_result(out, r):
    if r.shape != out.shape:
        shape = np.broadcast_shapes(out.shape, r.shape)
        if shape != out.shape:
            raise RuntimeError(f"output with shape {list(out.shape)} doesn't match the "
                               f"broadcast shape {list(shape)}")
    np.copyto(out, r, casting="unsafe")


def _generic_inplace(op, fast):
    """An inplace_forward for op: ``fast(out, *others, **attrs)`` when every operand has
    self's dtype; otherwise the op's ordinary promotion (re-dispatched on tensors)."""
    def kernel(xp, out, *others, **attrs):
        if _same_dtype(out, others):
            return fast(out, *others, **attrs)
        from .._tensor import _make
        from .dispatch import _check_cast
        t = _make(out)
        r = dispatch(op, (t,) + tuple(_make(o) if isinstance(o, np.ndarray) else o
                                       for o in others), attrs)
        _check_cast(op, r, t)
        _write_result(out, r._data)
    return kernel


def _addcmul_fast(out, t1, t2, *, value=1):
    tmp = np.multiply(t1, value) if value != 1 else t1
    tmp = np.multiply(tmp, t2)
    _write_result(out, np.add(out, tmp, out=out if tmp.shape == out.shape else None))


def _addcdiv_fast(out, t1, t2, *, value=1):
    tmp = np.multiply(t1, value) if value != 1 else t1
    tmp = np.true_divide(tmp, t2)
    _write_result(out, np.add(out, tmp, out=out if tmp.shape == out.shape else None))


def _lerp_fast(out, end, w):
    _write_result(out, _lerp_forward(np, out, end, w))


addcmul.inplace_forward = _generic_inplace(addcmul, _addcmul_fast)
addcdiv.inplace_forward = _generic_inplace(addcdiv, _addcdiv_fast)
lerp.inplace_forward = _generic_inplace(lerp, _lerp_fast)
lerp_tensor.inplace_forward = _generic_inplace(lerp_tensor, _lerp_fast)
add.inplace_forward = _inplace_kernel(np.add)
sub.inplace_forward = _inplace_kernel(np.subtract)
mul.inplace_forward = _inplace_kernel(np.multiply)
div.inplace_forward = _inplace_kernel(np.true_divide, float_result=True)


# ================================================================ Python operators
def _install_operators():
    T = Tensor
    T.__add__ = lambda self, other: dispatch(add, (self, other))
    T.__radd__ = lambda self, other: dispatch(add, (other, self))
    T.__sub__ = lambda self, other: dispatch(sub, (self, other))
    T.__rsub__ = _rsub_operator
    T.__mul__ = lambda self, other: dispatch(mul, (self, other))
    T.__rmul__ = lambda self, other: dispatch(mul, (other, self))
    T.__truediv__ = lambda self, other: dispatch(div, (self, other))
    T.__rtruediv__ = _rtruediv_operator
    T.__floordiv__ = lambda self, other: dispatch(floor_divide, (self, other))
    T.__rfloordiv__ = lambda self, other: dispatch(floor_divide, (other, self))
    T.__mod__ = lambda self, other: remainder_(self, other)
    T.__rmod__ = lambda self, other: remainder_(other, self)
    T.__pow__ = lambda self, other: _pow_dispatch(self, other)
    T.__rpow__ = lambda self, other: _pow_dispatch(other, self)
    T.__neg__ = lambda self: dispatch(neg, (self,))
    T.__pos__ = positive
    T.__abs__ = lambda self: dispatch(abs, (self,))
    T.__invert__ = _invert
    T.__and__ = lambda self, other: _bit_or_logical(bitwise_and, self, other)
    T.__rand__ = lambda self, other: _bit_or_logical(bitwise_and, other, self)
    T.__or__ = lambda self, other: _bit_or_logical(bitwise_or, self, other)
    T.__ror__ = lambda self, other: _bit_or_logical(bitwise_or, other, self)
    T.__xor__ = lambda self, other: _bit_or_logical(bitwise_xor, self, other)
    T.__rxor__ = lambda self, other: _bit_or_logical(bitwise_xor, other, self)
    T.__lshift__ = lambda self, other: dispatch(bitwise_left_shift, (self, other))
    T.__rlshift__ = lambda self, other: dispatch(bitwise_left_shift, (other, self))
    T.__rshift__ = lambda self, other: dispatch(bitwise_right_shift, (self, other))
    T.__rrshift__ = lambda self, other: dispatch(bitwise_right_shift, (other, self))
    T.__eq__ = _cmp_operator(eq)
    T.__ne__ = _cmp_operator(ne)
    T.__lt__ = _cmp_operator(lt)
    T.__le__ = _cmp_operator(le)
    T.__gt__ = _cmp_operator(gt)
    T.__ge__ = _cmp_operator(ge)
    T.__hash__ = lambda self: id(self)  # __eq__ is elementwise; tensors hash by identity
    T.real = property(real_, _set_part(real_), doc="The real part (a view for complex).")
    T.imag = property(imag_, _set_part(imag_), doc="The imaginary part (a view).")

    # in-place operators
    T.__iadd__ = lambda self, other: dispatch_inplace(add, self, (other,))
    T.__isub__ = lambda self, other: (_check_bool_sub(self, other),
                                      dispatch_inplace(sub, self, (other,)))[1]
    T.__imul__ = lambda self, other: dispatch_inplace(mul, self, (other,))
    T.__itruediv__ = lambda self, other: dispatch_inplace(div, self, (other,))
    T.__ifloordiv__ = lambda self, other: dispatch_inplace(floor_divide, self, (other,))
    T.__imod__ = remainder_inplace
    T.__ipow__ = pow_inplace
    T.__iand__ = lambda self, other: dispatch_inplace(bitwise_and, self, (other,))
    T.__ior__ = lambda self, other: dispatch_inplace(bitwise_or, self, (other,))
    T.__ixor__ = lambda self, other: dispatch_inplace(bitwise_xor, self, (other,))
    T.__ilshift__ = lambda self, other: dispatch_inplace(bitwise_left_shift, self, (other,))
    T.__irshift__ = lambda self, other: dispatch_inplace(bitwise_right_shift, self, (other,))

    T.add_ = add_inplace
    T.sub_ = T.subtract_ = sub_inplace
    T.mul_ = T.multiply_ = lambda self, other: dispatch_inplace(mul, self, (other,))
    T.div_ = T.divide_ = div_inplace
    T.true_divide_ = lambda self, other: dispatch_inplace(div, self, (other,))
    T.floor_divide_ = lambda self, other: dispatch_inplace(floor_divide, self, (other,))
    T.remainder_ = remainder_inplace
    T.fmod_ = fmod_inplace
    T.pow_ = pow_inplace
    T.float_power_ = float_power_inplace
    T.atan2_ = T.arctan2_ = lambda self, other: (_need_tensor("atan2_", other, pos=1),
                                                 dispatch_inplace(atan2, self, (other,)))[1]
    T.hypot_ = lambda self, other: (_need_tensor("hypot_", other, pos=1),
                                    dispatch_inplace(hypot, self, (other,)))[1]
    T.xlogy_ = xlogy_inplace
    T.copysign_ = copysign_inplace
    T.heaviside_ = lambda self, values: (_need_tensor("heaviside_", values, "values", 1),
                                         dispatch_inplace(heaviside, self, (values,)))[1]


def _rtruediv_operator(self, other):
    # torch computes scalar / t as reciprocal(t) * scalar (MulBackward0 <- ReciprocalBackward0)
    if isinstance(other, Tensor):
        return dispatch(div, (other, self))
    return dispatch(mul, (dispatch(reciprocal, (self,)), _pyscalar(other)))


def _rsub_operator(self, other):
    _check_bool_sub(other, self)
    if isinstance(other, Tensor):
        return dispatch(sub, (other, self))
    return dispatch(rsub_op, (self, _pyscalar(other)))


def _set_part(getter):
    def setter(self, value):
        part = getter(self)
        part._data[...] = value._data if isinstance(value, Tensor) else value
        part._version[0] += 1
    return setter


_PYNUM = (int, float, bool, complex)
_NPNUM = (np.number, np.bool_)


def _cmp_operator(op):
    def operator(self, other):
        if isinstance(other, Tensor) or isinstance(other, _PYNUM):
            return dispatch(op, (self, other))
        if isinstance(other, _NPNUM):
            return dispatch(op, (self, other.item()))
        return NotImplemented  # t == None is False, t < "a" a TypeError, as torch
    return operator


def _invert(self):
    if self._data.dtype.kind not in "biu":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return dispatch(bitwise_not, (self,))


def _bit_or_logical(op, a, b):
    return dispatch(op, (a, b))


def add_inplace(self, other, *, alpha=1):
    """In-place add."""
    if alpha != 1 or alpha is True:
        _check_alpha(self, other, alpha)
        other = mul_(other, alpha) if isinstance(other, Tensor) else _pyscalar(other) * alpha
    return dispatch_inplace(add, self, (other,))


def sub_inplace(self, other, *, alpha=1):
    """In-place subtract."""
    _check_bool_sub(self, other)
    if alpha != 1 or alpha is True:
        _check_alpha(self, other, alpha)
        other = mul_(other, alpha) if isinstance(other, Tensor) else _pyscalar(other) * alpha
    return dispatch_inplace(sub, self, (other,))


def div_inplace(self, other, *, rounding_mode=None):
    """In-place division."""
    if rounding_mode is None:
        return dispatch_inplace(div, self, (other,))
    _check_rounding(rounding_mode)
    return dispatch_inplace(div_rounding, self, (other,), {"rounding_mode": rounding_mode})


def remainder_inplace(self, other):
    """In-place remainder."""
    op = remainder if isinstance(other, Tensor) else remainder_scalar
    return dispatch_inplace(op, self, (_pyscalar(other),))


def fmod_inplace(self, other):
    """In-place fmod."""
    op = fmod if isinstance(other, Tensor) else fmod_scalar
    return dispatch_inplace(op, self, (_pyscalar(other),))


def pow_inplace(self, exponent):
    """In-place power."""
    op = pow if isinstance(exponent, Tensor) else pow_scalar
    exponent = _pyscalar(exponent)
    if op is pow_scalar:
        _check_int_pow(self, exponent)
    return dispatch_inplace(op, self, (exponent,))


def float_power_inplace(self, exponent):
    """In-place float_power (self must already be float64 / complex128)."""
    cplx = self.is_complex() or isinstance(exponent, complex) or (
        isinstance(exponent, Tensor) and exponent.is_complex())
    need = D.complex128 if cplx else D.float64
    if self.dtype is not need:
        raise RuntimeError(f"the base given to float_power_ has dtype "
                           f"{self.dtype._torch_name} but the operation's result requires "
                           f"dtype {need._torch_name}")
    if isinstance(exponent, Tensor):
        return dispatch_inplace(pow, self, (exponent.to(need),))
    return dispatch_inplace(pow_scalar, self, (complex(exponent) if cplx else
                                               float(exponent),))


def xlogy_inplace(self, other):
    """In-place xlogy."""
    op = xlogy if isinstance(other, Tensor) else xlogy_other_scalar
    return dispatch_inplace(op, self, (_pyscalar(other),))


def copysign_inplace(self, other):
    """In-place copysign."""
    op = copysign if isinstance(other, Tensor) else copysign_scalar
    return dispatch_inplace(op, self, (_pyscalar(other),))


_install_operators()

# torch exposes these in-place forms only as Tensor methods, not as torch.<name>_
for _n in ("absolute_ addcdiv_ addcmul_ bitwise_and_ bitwise_left_shift_ bitwise_not_ "
           "bitwise_or_ bitwise_right_shift_ bitwise_xor_ eq_ erfinv_ ge_ greater_ "
           "greater_equal_ gt_ le_ lerp_ less_ less_equal_ logical_and_ logical_not_ "
           "logical_or_ logical_xor_ lt_ ne_ not_equal_ sgn_ sign_").split():
    FUNCTIONS.pop(_n, None)
public("xlogy_", method=False)(xlogy_inplace)


@public("conj_physical_")
def conj_physical_inplace(input: Tensor) -> Tensor:
    """In-place complex conjugate (a no-op for real tensors)."""
    if input._data.dtype.kind != "c":
        return input
    return dispatch_inplace(conj_physical, input, ())
