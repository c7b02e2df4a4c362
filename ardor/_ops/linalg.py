"""Linear algebra: matmul and friends, einsum, decompositions (ardor.linalg's ops).

Forwards call numpy/cupy (``xp.matmul``, ``xp.einsum``, ``xp.linalg.*``); backwards are the
standard matrix-calculus formulas written over Tensors (so they are differentiable again).
"""
from __future__ import annotations

import functools
import math
import string

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor
from . import _gemm as _cgemm
from ._util import wrap_dim
from .core import sum_to
from .dispatch import dispatch, dispatch_inplace
from .reduction import _mask, _nt
from .registry import method, public, register


class LinAlgError(RuntimeError):
    """Error of a linear-algebra routine on a singular / non-definite input
    (torch.linalg.LinAlgError, a RuntimeError)."""


LinAlgError.__module__ = "ardor.linalg"

slogdet_t = _nt("linalg_slogdet", "sign logabsdet")
slogdet_old_t = _nt("slogdet", "sign logabsdet")
qr_t = _nt("linalg_qr", "Q R")
qr_old_t = _nt("qr", "Q R")
svd_t = _nt("linalg_svd", "U S Vh")
svd_old_t = _nt("svd", "U S V")
eigh_t = _nt("linalg_eigh", "eigenvalues eigenvectors")


def _tn(t: Tensor) -> str:
    return t.dtype._torch_name


def _with_out(name: str):
    """torch's ``out=`` for a function returning one tensor: dtype check, no autograd, the
    result written into (or, with a resize warning, rebound to) ``out``."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, out=None, **kwargs):
            r = fn(*args, **kwargs)
            if out is None:
                return r
            if r.requires_grad:
                raise RuntimeError(f"{name}(): functions with out=... arguments don't support "
                                   "automatic differentiation, but one of the arguments "
                                   "requires grad.")
            if r.dtype is not out.dtype:
                raise RuntimeError(f"Expected out tensor to have dtype "
                                   f"{r.dtype._torch_name.lower()}, but got "
                                   f"{out.dtype._torch_name.lower()} instead")
            if tuple(out.shape) != tuple(r.shape):
                if out.numel():
                    import warnings
                    warnings.warn(
                        f"An output with one or more elements was resized since it had shape "
                        f"{list(out.shape)}, which does not match the required output shape "
                        f"{list(r.shape)}. This behavior is deprecated, and in a future PyTorch "
                        "release outputs will not be resized unless they have zero elements. "
                        "You can explicitly reuse an out tensor t by resizing it, inplace, to "
                        "zero elements with t.resize_(0).", UserWarning, stacklevel=2)
                out._data = r._data.copy()
                out._version[0] += 1
            else:
                from ..autograd.grad_mode import no_grad
                with no_grad():
                    out.copy_(r)
            return out
        return wrapper
    return deco


def _no_out(name: str):
    """Functions returning several tensors: ``out=`` is refused rather than ignored."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, out=None, **kwargs):
            if out is not None:
                raise NotImplementedError(f"{name}(): out= is not supported by ardor")
            return fn(*args, **kwargs)
        return wrapper
    return deco


# ---------------------------------------------------------------- matmul family
def _H(t: Tensor) -> Tensor:
    """Conjugate transpose of the last two dims (the transpose for real tensors)."""
    return t.mT.conj() if t.is_complex() else t.mT


def _conj(t: Tensor) -> Tensor:
    return t.conj() if t.is_complex() else t


def _matmul_backward(ctx, g):
    a, b = ctx.saved
    na, nb = ctx.needs_input_grad
    ga = gb = None
    if a.ndim == 1 and b.ndim == 1:
        return (g * _conj(b) if na else None, g * _conj(a) if nb else None)
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    g2 = g
    if a.ndim == 1:
        g2 = g2.unsqueeze(-2)
    if b.ndim == 1:
        g2 = g2.unsqueeze(-1)
    if na:
        ga = g2 @ _H(b2)
        if a.ndim == 1:
            ga = ga.squeeze(-2)
        ga = sum_to(ga, a.shape)
    if nb:
        if b.ndim <= 2 and a2.ndim > 2:
            # fold the batch into the rows: one GEMM instead of a batch of them plus a sum
            k = a2.shape[-1]
            gb = _H(a2.reshape(-1, k)) @ g2.reshape(-1, g2.shape[-1])
        else:
            gb = _H(a2) @ g2
        if b.ndim == 1:
            gb = gb.squeeze(-1)
        gb = sum_to(gb, b.shape)
    return ga, gb


def _mm_sample(sa, sb):
    def sample(rng):
        return [((rng.standard_normal(sa), rng.standard_normal(sb)), {})]
    return sample


@register
class matmul:
    """Matrix product with numpy/torch broadcasting semantics."""
    promote = "binary"
    save = (0, 1)
    onnx = "MatMul"
    node_name = "MmBackward0"
    backward = _matmul_backward

    def sample(rng):
        r = rng.standard_normal
        return [((r((2, 3, 4)), r((4, 5))), {}), ((r(4), r((2, 4, 3))), {}),
                ((r((3, 4)), r(4)), {}), ((r((2, 1, 3, 4)), r((3, 4, 2))), {})]

    def forward(xp, a, b):
        if a.ndim > 2 and b.ndim <= 2:
            # numpy runs a stack @ one matrix far slower than the same rows as one GEMM
            r = _cgemm.mm(xp, a.reshape(-1, a.shape[-1]), b)
            return r.reshape(a.shape[:-1] + b.shape[1:])
        return _cgemm.mm(xp, a, b)


def _same_dtype(a: Tensor, b: Tensor, msg: str):
    if a.dtype is not b.dtype:
        raise RuntimeError(msg.format(a=_tn(a), b=_tn(b), al=_tn(a).lower(), bl=_tn(b).lower()))


def _bcast(sa, sb):
    try:
        return tuple(np.broadcast_shapes(tuple(sa), tuple(sb)))
    except ValueError:
        sa, sb = list(sa), list(sb)
        n = max(len(sa), len(sb))
        sa, sb = [1] * (n - len(sa)) + sa, [1] * (n - len(sb)) + sb
        for i in range(n - 1, -1, -1):
            if sa[i] != sb[i] and sa[i] != 1 and sb[i] != 1:
                raise RuntimeError(f"The size of tensor a ({sa[i]}) must match the size of "
                                   f"tensor b ({sb[i]}) at non-singleton dimension {i}") from None
        raise


def _prod(s) -> int:
    n = 1
    for v in s:
        n *= v
    return n


def _check_matmul(x: Tensor, y: Tensor) -> None:
    """torch.matmul's shape errors, each phrased as the kernel torch dispatches to."""
    dx, dy = x.ndim, y.ndim
    if dx == 0 or dy == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{dx}D and {dy}D")
    k1 = x.shape[-1]
    k2 = y.shape[-2] if dy > 1 else y.shape[0]
    if dx == 1 and dy == 1:
        if k1 != k2:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{k1}] and src [{k2}] "
                               f"to have the same number of elements, but got {k1} and {k2} "
                               "elements respectively")
    elif dy == 1:
        if k1 != k2:
            m = _prod(x.shape[:-1])
            raise RuntimeError(f"size mismatch, got input ({m}), mat ({m}x{k1}), vec ({k2})")
    elif dy == 2 and dx <= 2 or dx >= 3 and dy == 2:
        if k1 != k2:
            m = _prod(x.shape[:-1])
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({m}x{k1} and "
                               f"{k2}x{y.shape[-1]})")
    else:
        batch = _bcast(x.shape[:-2] if dx > 1 else (), y.shape[:-2])
        if k1 != k2:
            b = _prod(batch)
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                               f"[{b}, {k1}] but got: [{b}, {k2}].")
    _same_dtype(x, y, "expected m1 and m2 to have the same dtype, but got: {al} != {bl}")


@public("matmul")
@_with_out("matmul")
def matmul_(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Matrix product (batched and broadcast like torch.matmul)."""
    try:   # fast path: 1-D/2-D operands of one dtype whose inner sizes agree
        x, y = input._data, other._data
        ok = 0 < x.ndim <= 2 and 0 < y.ndim <= 2 and x.dtype == y.dtype and \
            x.shape[-1] == y.shape[0]
    except AttributeError:
        bad, pos, name = (input, 1, "input") if not isinstance(input, Tensor) else \
            (other, 2, "other")
        raise TypeError(f"matmul(): argument '{name}' (position {pos}) must be Tensor, not "
                        f"{type(bad).__name__}") from None
    if not ok:
        _check_matmul(input, other)
    return dispatch(matmul, (input, other))


def _mm_like(name, node, doc, sample):
    cls = type(name, (), {"__doc__": doc, "save": (0, 1), "onnx": "MatMul", "node_name": node,
                          "backward": _matmul_backward, "sample": sample,
                          "forward": lambda xp, a, b: xp.matmul(a, b)})
    return register(cls)


mm = _mm_like("mm", "MmBackward0", "2-D matrix product.", _mm_sample((3, 4), (4, 2)))
bmm = _mm_like("bmm", "BmmBackward0", "Batched 3-D matrix product.",
               _mm_sample((2, 3, 4), (2, 4, 2)))
mv = _mm_like("mv", "MvBackward0", "Matrix-vector product.", _mm_sample((3, 4), (4,)))
dot = _mm_like("dot", "DotBackward0", "Dot product of 1-D tensors.", _mm_sample((4,), (4,)))


@public("mm")
@_with_out("mm")
def mm_(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Matrix product of two 2-D tensors."""
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x"
                           f"{input.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    _same_dtype(input, mat2, "expected m1 and m2 to have the same dtype, but got: {al} != {bl}")
    return dispatch(mm, (input, mat2))


@public("bmm")
@_with_out("bmm")
def bmm_(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Batched matrix product of two 3-D tensors (no broadcasting)."""
    if input.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if mat2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    b, _, k = input.shape
    if tuple(mat2.shape[:2]) != (b, k):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{b}, {k}] but got: [{mat2.shape[0]}, {mat2.shape[1]}].")
    _same_dtype(input, mat2, "expected scalar type {a} but found {b}")
    return dispatch(bmm, (input, mat2))


@public("mv")
@_with_out("mv")
def mv_(input: Tensor, vec: Tensor, *, out=None) -> Tensor:
    """Matrix-vector product."""
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input.shape[0]}), mat ({input.shape[0]}"
                           f"x{input.shape[1]}), vec ({vec.shape[0]})")
    if input.dtype is not vec.dtype:
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got "
                           f"{_tn(vec)}, {_tn(input)}, and {_tn(vec)}")
    return dispatch(mv, (input, vec))


def _check_dot(name, a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src "
                           f"[{b.shape[0]}] to have the same number of elements, but got "
                           f"{a.shape[0]} and {b.shape[0]} elements respectively")
    if a.dtype is not b.dtype:
        raise RuntimeError(f"{name} : expected both vectors to have same dtype, but found "
                           f"{_tn(a)} and {_tn(b)}")


@public("dot")
@_with_out("dot")
def dot_(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Dot product of two 1-D tensors."""
    _check_dot("dot", input, other)
    return dispatch(dot, (input, other))


@public("vdot")
@_with_out("vdot")
def vdot(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Dot product conjugating the first argument (plain dot for real tensors)."""
    _check_dot("vdot", input, other)
    if input.is_complex():
        input = input.conj()
    return dispatch(dot, (input, other))


@public("outer", "ger")
def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two 1-D tensors."""
    if input.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {input.ndim}-D")
    if vec2.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument vec2, but got {vec2.ndim}-D")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


@public("inner")
def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum product over the last dims (a scalar product for 0-d inputs)."""
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([input.ndim - 1], [other.ndim - 1]))


# ---------------------------------------------------------------- add* (fused) products
def _add_prod_backward(ctx, g):
    inp, m1, m2 = ctx.saved
    beta, alpha = ctx.attrs["beta"], ctx.attrs["alpha"]
    ni, n1, n2 = ctx.needs_input_grad
    gi = sum_to(g * beta if beta != 1 else g, inp.shape) if ni else None
    ga = g * alpha if alpha != 1 else g
    g1 = ga @ _H(m2) if n1 else None
    if n2 and m2.ndim == 2 and not m2._data.flags.c_contiguous and m2._data.flags.f_contiguous:
        # mat2 is a transposed view (nn.Linear's weight.t()): give its gradient the same
        # layout, (ga^H m1)^H, so the weight's own gradient arrives contiguous and is
        # adopted as .grad without a copy (one GEMM either way)
        g2 = _H(_H(ga) @ m1)
    else:
        g2 = _H(m1) @ ga if n2 else None
    return gi, g1, g2


def _add_prod_forward(xp, inp, m1, m2, *, beta=1, alpha=1):
    r = _cgemm.mm(xp, m1, m2)
    if alpha != 1:
        r = r * xp.asarray(alpha, dtype=r.dtype)
    if beta == 0:  # torch ignores input (NaN/inf do not propagate) when beta is 0
        return xp.ascontiguousarray(xp.broadcast_to(r, np.broadcast_shapes(inp.shape, r.shape)))
    if beta != 1:
        inp = inp * xp.asarray(beta, dtype=r.dtype)
    if type(r) is np.ndarray and type(inp) is np.ndarray and r.dtype == inp.dtype \
            and np.broadcast_shapes(inp.shape, r.shape) == r.shape:
        r += inp        # r is the GEMM's fresh result: add the bias in place (no new array)
        return r
    return r + inp


@register
class addmm:
    """beta * input + alpha * (mat1 @ mat2), one op (nn.Linear's kernel)."""
    save = (0, 1, 2)
    onnx = "Gemm"
    forward = _add_prod_forward
    backward = _add_prod_backward

    def sample(rng):
        r = rng.standard_normal
        return [((r(5), r((3, 4)), r((4, 5))), {"beta": 1, "alpha": 1}),
                ((r((3, 5)), r((3, 4)), r((4, 5))), {"beta": 0.5, "alpha": -2.0})]


@register
class baddbmm:
    """beta * input + alpha * (batch1 @ batch2), batched."""
    save = (0, 1, 2)
    onnx = "decompose"
    forward = _add_prod_forward
    backward = _add_prod_backward

    def sample(rng):
        r = rng.standard_normal
        return [((r((3, 5)), r((2, 3, 4)), r((2, 4, 5))), {"beta": 0.5, "alpha": 2.0})]


def _check_input_bcast(inp: Tensor, target) -> None:
    try:
        if tuple(np.broadcast_shapes(tuple(inp.shape), tuple(target))) == tuple(target):
            return
    except ValueError:
        pass
    s, t = list(inp.shape), list(target)
    for i in range(1, len(s) + 1):
        if i > len(t) or (s[-i] != t[-i] and s[-i] != 1):
            raise RuntimeError(f"The expanded size of the tensor ({t[-i] if i <= len(t) else 1})"
                               f" must match the existing size ({s[-i]}) at non-singleton "
                               f"dimension {len(t) - i}.  Target sizes: {t}.  Tensor sizes: {s}")


@public("addmm")
@_with_out("addmm")
def addmm_(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2) as a single op (input broadcasts)."""
    if mat1.ndim != 2:
        raise RuntimeError(f"mat1 must be a matrix, got {mat1.ndim}-D tensor")
    if mat2.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix, got {mat2.ndim}-D tensor")
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({mat1.shape[0]}x"
                           f"{mat1.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    _same_dtype(mat1, mat2, "self and mat2 must have the same dtype, but got {a} and {b}")
    _same_dtype(input, mat1, "self and mat2 must have the same dtype, but got {a} and {b}")
    _check_input_bcast(input, (mat1.shape[0], mat2.shape[1]))
    return dispatch(addmm, (input, mat1, mat2), {"beta": beta, "alpha": alpha})


@public("baddbmm")
@_with_out("baddbmm")
def baddbmm_(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1,
             out=None) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2) as a single op."""
    if batch1.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if batch2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    b, n, k = batch1.shape
    if tuple(batch2.shape[:2]) != (b, k):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{b}, {k}] but got: [{batch2.shape[0]}, {batch2.shape[1]}].")
    _same_dtype(batch1, batch2, "expected scalar type {a} but found {b}")
    _same_dtype(input, batch1, "expected scalar type {a} but found {b}")
    _check_input_bcast(input, (b, n, batch2.shape[2]))
    return dispatch(baddbmm, (input, batch1, batch2), {"beta": beta, "alpha": alpha})


@method("addmm_")
def addmm_inplace(self: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """In-place addmm: self = beta * self + alpha * (mat1 @ mat2)."""
    addmm_(self, mat1, mat2, beta=beta, alpha=alpha)  # shape/dtype checks
    return dispatch_inplace(addmm, self, (mat1, mat2), {"beta": beta, "alpha": alpha})


@method("baddbmm_")
def baddbmm_inplace(self: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1,
                    alpha=1) -> Tensor:
    """In-place baddbmm: self = beta * self + alpha * bmm(batch1, batch2)."""
    baddbmm_(self, batch1, batch2, beta=beta, alpha=alpha)
    return dispatch_inplace(baddbmm, self, (batch1, batch2), {"beta": beta, "alpha": alpha})


def _scaled_add(input, prod, beta, alpha):
    r = prod * alpha if alpha != 1 else prod
    _check_input_bcast(input, tuple(r.shape))
    return dispatch(add_scaled, (input, r), {"beta": beta})


@register
class add_scaled:
    """beta * input + x, where beta == 0 ignores input's values (NaN/inf do not propagate)
    but input still gets a (zero) gradient, as torch's add* ops."""
    onnx = "decompose"

    def sample(rng):
        return [((rng.standard_normal(3), rng.standard_normal((2, 3))), {"beta": 0.5})]

    def forward(xp, a, x, *, beta=1):
        if beta == 0:
            return xp.ascontiguousarray(xp.broadcast_to(x, np.broadcast_shapes(a.shape, x.shape)))
        return x + (a * xp.asarray(beta, dtype=x.dtype) if beta != 1 else a)

    def backward(ctx, g):
        beta = ctx.attrs["beta"]
        na, nx = ctx.needs_input_grad
        ga = sum_to(g * beta, ctx.in_meta[0][0]) if na else None
        return ga, (sum_to(g, ctx.in_meta[1][0]) if nx else None)


@public("addmv")
@_with_out("addmv")
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    return _scaled_add(input, mv_(mat, vec), beta, alpha)


@public("addbmm")
@_with_out("addbmm")
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1,
           out=None) -> Tensor:
    """beta * input + alpha * sum_b(batch1[b] @ batch2[b])."""
    return _scaled_add(input, bmm_(batch1, batch2).sum(0), beta, alpha)


@public("addr")
@_with_out("addr")
def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2)."""
    return _scaled_add(input, outer(vec1, vec2), beta, alpha)


# ---------------------------------------------------------------- einsum / tensordot
_LETTERS = string.ascii_uppercase + string.ascii_lowercase


@functools.lru_cache(maxsize=1024)
def _einsum_parse(eq: str, shapes):
    """Equation + operand shapes -> (explicit input subscripts, output subscripts) with the
    ellipsis expanded into letters; torch's errors."""
    eq = eq.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    if len(ins) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    used = set(c for c in eq if c.isalpha())
    for c in eq.replace("...", "").replace(",", "").replace("->", ""):
        if not c.isalpha():
            raise RuntimeError(f"einsum(): invalid subscript given at index {eq.index(c)} in "
                               f"the equation string, subscripts must be in [a-zA-Z]")
    n_ell = 0
    for i, (s, shp) in enumerate(zip(ins, shapes)):
        n = len(s.replace("...", ""))
        if "..." in s:
            if len(shp) < n:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) "
                                   f"is more than the number of dimensions ({len(shp)}) for "
                                   f"operand {i}")
            n_ell = max(n_ell, len(shp) - n)
        elif n != len(shp):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) does "
                               f"not match the number of dimensions ({len(shp)}) for operand "
                               f"{i} and no ellipsis was given")
    free = [c for c in _LETTERS if c not in used]
    ell = "".join(free[:n_ell])
    ins = [s.replace("...", ell[n_ell - (len(shp) - len(s.replace("...", ""))):] if n_ell else "")
           for s, shp in zip(ins, shapes)]
    if arrow:
        for c in rhs.replace("...", ""):
            if rhs.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   "the output")
            if not any(c in s for s in ins):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   "equation for any input operand")
        out = rhs.replace("...", ell)
    else:
        counts = {}
        for s in ins:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted((c for c, k in counts.items() if k == 1 and c not in ell),
                                   key=_LETTERS.index))
    # sizes: equal, or broadcast from 1
    sizes = {}
    for i, (s, shp) in enumerate(zip(ins, shapes)):
        seen = {}
        for c, n in zip(s, shp):
            if c in seen and seen[c] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but the "
                                   f"sizes don't match, {n} != {seen[c]}")
            seen[c] = n
            if c in sizes and sizes[c] != n and n != 1 and sizes[c] != 1:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which "
                                   f"does not broadcast with previously seen size {sizes[c]}")
            sizes[c] = n if c not in sizes or sizes[c] == 1 else sizes[c]
    return ins, out, sizes


def _label_sizes(ins, arrays):
    sizes = {}
    for s, a in zip(ins, arrays):
        for c, n in zip(s, a.shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
    return sizes


@register
class einsum:
    """Einstein summation over an explicit equation (ellipses already expanded)."""
    save = tuple(range(16))   # every operand (einsum is variadic; up to 16 differentiable)
    onnx = "Einsum"

    def sample(rng):
        r = rng.standard_normal
        return [((r((3, 4)), r((4, 2))), {"equation": "ij,jk->ik"}),
                ((r((2, 3, 4)), r((2, 4, 5))), {"equation": "bij,bjk->bik"}),
                ((r((3, 3)),), {"equation": "ii->"}),
                ((r(3), r(4)), {"equation": "i,j->ij"}),
                ((r((2, 1, 3)), r((4, 3))), {"equation": "abi,ci->abc"}),
                ((r((3, 4)),), {"equation": "ij->j"})]

    def forward(xp, *ops, equation):
        lhs, out = equation.split("->")
        ins = lhs.split(",")
        sizes = _label_sizes(ins, ops)
        ops = [a if all(n == sizes[c] for c, n in zip(s, a.shape))
               else xp.broadcast_to(a, tuple(sizes[c] for c in s)) for s, a in zip(ins, ops)]
        # the contraction-path search costs ~10us: worth it for 3+ operands or big ones
        big = len(ops) > 2 or (len(ops) == 2 and ops[0].size * ops[1].size > 1 << 16)
        r = xp.einsum(equation, *ops, optimize=big)
        return xp.asarray(r, dtype=xp.result_type(*ops)) if r.dtype != ops[0].dtype else r

    def backward(ctx, g):
        import ardor
        lhs, out = ctx.attrs["equation"].split("->")
        ins = lhs.split(",")
        ops = ctx.saved[:len(ins)]
        sizes = {}
        for s, (shp, _) in zip(ins, ctx.in_meta):
            for c, n in zip(s, shp):
                if sizes.get(c, 1) == 1:
                    sizes[c] = n
        full = [t if all(n == sizes[c] for c, n in zip(s, t.shape))
                else t.expand(*[sizes[c] for c in s]) for s, t in zip(ins, ops)]
        grads = []
        used = set(lhs) | set(out)
        free = [c for c in _LETTERS if c not in used]
        for i, need in enumerate(ctx.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            s = ins[i]
            subs = [out] + [ins[j] for j in range(len(ins)) if j != i]
            args = [g] + [_conj(full[j]) for j in range(len(ins)) if j != i]
            avail = set("".join(subs))
            missing = "".join(dict.fromkeys(c for c in s if c not in avail))
            if missing:
                subs.append(missing)
                args.append(ardor.ones(tuple(sizes[c] for c in missing), dtype=g.dtype))
            res, seen, k = "", set(), 0
            for c in s:
                if c in seen:      # repeated label: the gradient lives on the diagonal
                    f = free[k]
                    k += 1
                    subs.append(c + f)
                    args.append(_mask("eye", ardor.zeros((sizes[c], sizes[c]), dtype=g.dtype)))
                    res += f
                else:
                    seen.add(c)
                    res += c
            gi = dispatch(einsum, tuple(args), {"equation": ",".join(subs) + "->" + res})
            grads.append(sum_to(gi, ctx.in_meta[i][0]))
        return tuple(grads)


def _sublist_equation(args):
    """torch's sublist form einsum(a, [0, 1], b, [1, 2], [0, 2]) -> (equation, operands)."""
    def sub(lst):
        return "".join("..." if v is Ellipsis else _LETTERS[v] for v in lst)
    out = None
    if len(args) % 2:             # a trailing output sublist
        args, out = args[:-1], args[-1]
    ops, subs = list(args[0::2]), list(args[1::2])
    eq = ",".join(sub(x) for x in subs)
    return (eq if out is None else eq + "->" + sub(out)), ops


@public("einsum", method=False)
def einsum_(equation, *operands) -> Tensor:
    """Einstein summation: ``einsum('ij,jk->ik', a, b)``, ``einsum('ij,jk', [a, b])`` or the
    sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``."""
    if isinstance(equation, Tensor):
        equation, operands = _sublist_equation((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ins, out, _ = _einsum_parse(equation, tuple([t._data.shape for t in operands]))
    dt = operands[0].dtype
    for t in operands[1:]:
        if t.dtype is not dt:
            raise RuntimeError(f"expected scalar type {_tn(operands[0])} but found {_tn(t)}")
    return dispatch(einsum, tuple(operands), {"equation": ",".join(ins) + "->" + out})


@public("tensordot", method=False)
@_with_out("tensordot")
def tensordot(a: Tensor, b: Tensor, dims=2, out=None) -> Tensor:
    """Contract ``dims`` (an int: a's last and b's first dims; or a pair of dim lists)."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(-dims, 0)), list(range(dims))
        da_w = [a.ndim + d for d in da]
    else:
        da, db = dims
        da, db = ([da] if isinstance(da, int) else list(da)), ([db] if isinstance(db, int)
                                                                 else list(db))
        if len(da) != len(db):
            raise RuntimeError("both dimension lists should have same length")
        da_w = [wrap_dim(d, a.ndim) for d in da]
    db_w = [wrap_dim(d, b.ndim) for d in db]
    for x, y, wx, wy in zip(da, db, da_w, db_w):
        if a.shape[wx] != b.shape[wy]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[wx]} in dim {x} and second has size {b.shape[wy]} in "
                               f"dim {y}")
    la = _LETTERS[:a.ndim]
    lb = list(_LETTERS[a.ndim:a.ndim + b.ndim])
    for wx, wy in zip(da_w, db_w):
        lb[wy] = la[wx]
    lb = "".join(lb)
    out_s = "".join(c for i, c in enumerate(la) if i not in da_w) + \
        "".join(c for i, c in enumerate(lb) if i not in db_w)
    _same_dtype(a, b, "expected scalar type {a} but found {b}")
    return dispatch(einsum, (a, b), {"equation": f"{la},{lb}->{out_s}"})


@public("chain_matmul", method=False)
@_with_out("chain_matmul")
def chain_matmul(*matrices, out=None) -> Tensor:
    """Product of a chain of 2-D matrices (deprecated in torch for linalg.multi_dot)."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    r = matrices[0]
    for m in matrices[1:]:
        r = mm_(r, m)
    return r


@public("cdist", method=False)
def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """p-norm distances between the rows of x1 (..., P, M) and x2 (..., R, M)."""
    from .reduction import vector_norm
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values")
    diff = x1.unsqueeze(-2) - x2.unsqueeze(-3)          # (..., P, R, M)
    if p == 0:  # a count: torch gives the inputs zero (not undefined) gradients
        return dispatch(add_scaled, (diff.sum(-1), vector_norm(diff.detach(), 0, -1)),
                        {"beta": 0})
    return vector_norm(diff, p, -1)


@public("kron")
def kron(input: Tensor, other: Tensor) -> Tensor:
    """Kronecker product."""
    n = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (n - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (n - other.ndim) + tuple(other.shape))
    sa, sb = a.shape, b.shape
    ia = [v for i in range(n) for v in (sa[i], 1)]
    ib = [v for i in range(n) for v in (1, sb[i])]
    return (a.reshape(ia) * b.reshape(ib)).reshape(tuple(sa[i] * sb[i] for i in range(n)))


@register
class trace:
    """Sum of the main diagonal of a matrix."""
    onnx = "decompose"

    def sample(rng):
        return [((rng.standard_normal((3, 4)),), {})]

    def forward(xp, a):
        r = xp.trace(a)
        return xp.asarray(r, dtype=np.int64 if a.dtype.kind in "biu" else a.dtype)

    def backward(ctx, g):
        shape = ctx.in_shape
        return g.expand(*shape) * _mask("eye", g.expand(*shape))


@public("trace")
def trace_(input: Tensor) -> Tensor:
    """Sum of the diagonal of a 2-D tensor."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return dispatch(trace, (input,))


# ---------------------------------------------------------------- decompositions / solvers
def _check_float(name: str, A: Tensor, what="input"):
    if not (A.dtype.is_floating_point or A.dtype.is_complex):
        raise RuntimeError(f"{name}: Expected a floating point or complex tensor as {what}. "
                           f"Got {_tn(A)}")


def _check_mat(name: str, A: Tensor, square=True, what="A"):
    if A.ndim < 2:
        raise RuntimeError(f"{name}: The input tensor {what} must have at least 2 dimensions.")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{name}: {what} must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    _check_float(name, A)


def _lu_info(a: np.ndarray) -> int:
    """1-based index of the first exactly-zero pivot of an LU with partial pivoting (LAPACK
    getrf's info), 0 when none: used only to phrase torch's singular-matrix errors."""
    a = np.array(a, dtype=np.float64 if a.dtype.kind != "c" else np.complex128)
    n = a.shape[0]
    info = 0
    for k in range(n):
        p = k + int(np.argmax(np.abs(a[k:, k])))
        if a[p, k] == 0:
            info = info or k + 1
            continue
        a[[k, p]] = a[[p, k]]
        a[k + 1:, k] /= a[k, k]
        a[k + 1:, k + 1:] -= np.outer(a[k + 1:, k], a[k, k + 1:])
    return info


def _batch_prefix(shape, flat_index) -> str:
    if len(shape) <= 2:
        return ""
    return f"(Batch element {flat_index}): "


def _singular(name: str, a, kind: str):
    """Raise torch's LinAlgError for the first failing matrix of a batch."""
    a = np.asarray(a.get() if hasattr(a, "get") else a)
    flat = a.reshape((-1,) + a.shape[-2:])
    for i, m in enumerate(flat):
        if kind == "cholesky":
            order = _chol_order(m)
            if order:
                raise LinAlgError(f"{name}: {_batch_prefix(a.shape, i)}The factorization could "
                                  "not be completed because the input is not positive-definite "
                                  f"(the leading minor of order {order} is not "
                                  "positive-definite).")
        else:
            info = _lu_info(m)
            if info:
                if kind == "solve":
                    raise LinAlgError(f"torch.{name}: {_batch_prefix(a.shape, i)}The solver "
                                      "failed because the input matrix is singular.")
                raise LinAlgError(f"{name}: {_batch_prefix(a.shape, i)}The diagonal element "
                                  f"{info} is zero, the inversion could not be completed because "
                                  "the input matrix is singular.")
    raise LinAlgError(f"{name}: The input matrix is singular.")


def _chol_order(m) -> int:
    """Order of the first non-positive leading minor (potrf's info), 0 when none."""
    n = m.shape[0]
    L = np.zeros_like(m, dtype=np.float64 if m.dtype.kind != "c" else np.complex128)
    for j in range(n):
        d = m[j, j] - np.sum(np.abs(L[j, :j]) ** 2)
        if not (np.real(d) > 0):
            return j + 1
        L[j, j] = np.sqrt(np.real(d))
        L[j + 1:, j] = (m[j + 1:, j] - L[j + 1:, :j] @ np.conj(L[j, :j])) / L[j, j]
    return 0


def _spd_sample(rng, n=3, batch=()):
    a = rng.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _wc_sample(rng, n=3, batch=()):
    return rng.standard_normal(batch + (n, n)) + 3 * np.eye(n)


@register
class linalg_inv:
    """Matrix inverse (batched); LinAlgError for singular input."""
    node_name = "LinalgInvExBackward0"
    onnx = "decompose"
    save_out = True

    def sample(rng):
        return [((_wc_sample(rng),), {}), ((_wc_sample(rng, 2, (2,)),), {})]

    def forward(xp, a):
        try:
            return xp.linalg.inv(a)
        except np.linalg.LinAlgError:
            pass
        _singular("linalg.inv", a, "inv")

    def backward(ctx, g):
        (inv,) = ctx.saved
        it = _H(inv)
        return -(it @ g @ it)


@public("inverse")
@_with_out("inverse")
def inverse(input: Tensor, *, out=None) -> Tensor:
    """Inverse of a square matrix (or batch)."""
    return inv(input)


@_with_out("linalg_inv")
def inv(A: Tensor, *, out=None) -> Tensor:
    """torch.linalg.inv."""
    _check_mat("linalg.inv", A)
    return dispatch(linalg_inv, (A,))


@register
class linalg_det:
    """Determinant (batched)."""
    onnx = "Det"
    save = (0,)
    save_out = True

    def sample(rng):
        return [((_wc_sample(rng),), {}), ((_wc_sample(rng, 2, (2,)),), {})]

    def forward(xp, a):
        return xp.asarray(xp.linalg.det(a), dtype=a.dtype)

    def backward(ctx, g):
        # cofactor matrix det(A) A^-T; an exactly singular matrix (det == 0) gets a zero
        # gradient, as torch's LU-based backward gives (pinv keeps the formula finite)
        from .reduction import _has_zero
        a, d = ctx.saved
        ainv = pinv(a) if _has_zero(d) else dispatch(linalg_inv, (a,))
        return (g * _conj(d)).unsqueeze(-1).unsqueeze(-1) * _H(ainv)


@_with_out("linalg_det")
def det(A: Tensor, *, out=None) -> Tensor:
    """torch.linalg.det."""
    _check_mat("linalg.det", A)
    return dispatch(linalg_det, (A,))


@public("det")
def det_(input: Tensor) -> Tensor:
    """Determinant of a square matrix (or batch)."""
    return det(input)


@register
class linalg_slogdet:
    """(sign, log|det|) (batched)."""
    nout = 2
    onnx = "decompose"
    save = (0,)

    def sample(rng):
        return [((_wc_sample(rng),), {})]

    def forward(xp, a):
        s, l = xp.linalg.slogdet(a)
        return xp.asarray(s, dtype=a.dtype), xp.asarray(l, dtype=a.real.dtype)

    def backward(ctx, _gs, gl):   # the sign is piecewise constant: no gradient
        (a,) = ctx.saved
        return gl.unsqueeze(-1).unsqueeze(-1) * _H(dispatch(linalg_inv, (a,)))


@_no_out("linalg_slogdet")
def slogdet(A: Tensor, *, out=None):
    """torch.linalg.slogdet -> (sign, logabsdet)."""
    _check_mat("linalg.slogdet", A)
    return slogdet_t(*dispatch(linalg_slogdet, (A,)))


@public("slogdet")
def slogdet_(input: Tensor):
    """(sign, logabsdet) of a square matrix (or batch)."""
    return slogdet_old_t(*slogdet(input))


@public("logdet")
def logdet(input: Tensor) -> Tensor:
    """log(det(input)) (NaN for a negative determinant)."""
    s, l = slogdet(input)
    return l + dispatch(_log_sign, (s,))


@register
class _log_sign:
    """log of a determinant's sign: 0 for +1, NaN for -1, -inf for 0 (a constant)."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, s):
        with np.errstate(invalid="ignore", divide="ignore"):
            return xp.where(s > 0, 0, xp.where(s < 0, xp.nan, -xp.inf)).astype(s.dtype)


@register
class linalg_solve:
    """X with A X = B (B a batch of matrices; vectors are unsqueezed by the wrapper)."""
    onnx = "decompose"
    save = (0,)
    save_out = True

    def sample(rng):
        return [((_wc_sample(rng), rng.standard_normal((3, 2))), {}),
                ((_wc_sample(rng, 3, (2,)), rng.standard_normal((3, 1))), {})]

    def forward(xp, a, b):
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        a = xp.broadcast_to(a, batch + a.shape[-2:])
        b = xp.broadcast_to(b, batch + b.shape[-2:])
        try:
            return xp.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            pass
        _singular("linalg.solve", a, "solve")

    def backward(ctx, g):
        a, x = ctx.saved
        na, nb = ctx.needs_input_grad
        gb = dispatch(linalg_solve, (_H(a), g))
        ga = sum_to(-(gb @ _H(x)), a.shape) if na else None
        return ga, (sum_to(gb, ctx.in_meta[1][0]) if nb else None)


@_with_out("linalg_solve")
def solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """torch.linalg.solve: X with A X = B (or X A = B when left=False)."""
    _check_mat("linalg.solve", A)
    _check_float("linalg.solve", B)
    if A.dtype is not B.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A "
                           f"of type {_tn(A)} and B of type {_tn(B)} instead")
    if not left:
        return solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    B2 = B.unsqueeze(-1) if vector else B
    if B2.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({A.shape[-2]}x{A.shape[-1]} and "
                           f"{B2.shape[-2]}x{B2.shape[-1]})")
    _bcast(B2.shape[:-2], A.shape[:-2])   # torch names B's batch as "a" in this message
    X = dispatch(linalg_solve, (A, B2))
    return X.squeeze(-1) if vector else X


@_with_out("linalg_solve_triangular")
def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False, out=None) -> Tensor:
    """torch.linalg.solve_triangular: only the triangle of A named by ``upper`` is read."""
    _check_mat("linalg.solve_triangular", A)
    if B.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 "
                           "dimensions.")
    _check_float("linalg.solve_triangular", B)
    if A.dtype is not B.dtype:
        raise RuntimeError(f"linalg.solve_triangular: Expected A and B to have the same dtype, "
                           f"but found A of type {_tn(A)} and B of type {_tn(B)} instead")
    if unitriangular:
        T = A * _mask("triu" if upper else "tril", A, k=1 if upper else -1) + _mask("eye", A)
    else:
        T = A * _mask("triu" if upper else "tril", A)
    return solve(T, B, left=left)


triangular_solve_t = _nt("triangular_solve", "solution cloned_coefficient")


@public("triangular_solve")
@_no_out("triangular_solve")
def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False, *, out=None):
    """(solution, cloned_coefficient) of A X = b (torch.triangular_solve, deprecated)."""
    T = A.mT if transpose else A
    X = solve_triangular(T, b, upper=upper != transpose, unitriangular=unitriangular)
    return triangular_solve_t(X, A.clone())


@_with_out("linalg_matrix_power")
def matrix_power(A: Tensor, n: int, *, out=None) -> Tensor:
    """torch.linalg.matrix_power: A^n by repeated squaring (inverse first for n < 0)."""
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 "
                           "dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but "
                           f"they are {A.shape[-2]} by {A.shape[-1]} matrices")
    if n == 0:  # the identity; A gets a zero gradient as in torch
        return dispatch(add_scaled, (A, _mask("eye", A).expand(*A.shape)), {"beta": 0})
    if n < 0:
        A, n = inv(A), -n
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


@public("matrix_power")
def matrix_power_(input: Tensor, n: int) -> Tensor:
    """input^n for a square matrix (or batch)."""
    return matrix_power(input, n)


lstsq_t = _nt("linalg_lstsq", "solution residuals rank singular_values")


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None):
    """torch.linalg.lstsq (CPU default driver 'gelsy': residuals and singular values are
    empty); the solution is the minimum-norm least-squares one, via the pseudo-inverse."""
    _check_mat("linalg.lstsq", A, square=False)
    if A.dtype is not B.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same "
                           f"dtype, but got input's dtype {_tn(A)} and other's dtype "
                           f"{_tn(B)}")
    vector = B.ndim == A.ndim - 1
    B2 = B.unsqueeze(-1) if vector else B
    if B2.shape[-2] != A.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    P = pinv(A, rtol=rcond)
    X = P @ B2
    import ardor
    rank = matrix_rank(A, rtol=rcond)
    empty = ardor.zeros((0,), dtype=A.dtype)
    return lstsq_t(X.squeeze(-1) if vector else X, empty, rank, empty)


_PADE13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800.,
           129060195264000., 10559470521600., 670442572800., 33522128640., 1323241920.,
           40840800., 960960., 16380., 182., 1.)


@register
class linalg_matrix_exp:
    """Matrix exponential (scaling and squaring with a degree-13 Pade approximant, Higham
    2005); its gradient is a block of the exponential of a 2n x 2n block matrix."""
    onnx = "decompose"
    save = (0,)

    def sample(rng):
        return [((rng.standard_normal((3, 3)) * 0.7,), {}),
                ((rng.standard_normal((2, 2, 2)) * 3,), {})]

    def forward(xp, a):
        n = a.shape[-1]
        if a.size == 0:
            return a.copy()
        b = _PADE13
        norm = float(xp.abs(a).sum(-2).max()) if a.size else 0.0      # max 1-norm over the batch
        sq = max(0, int(math.ceil(math.log2(norm / 5.371920351148152)))) if norm > 0 else 0
        A = a / a.dtype.type(2.0 ** sq)
        eye = xp.eye(n, dtype=a.dtype)
        A2 = A @ A
        A4 = A2 @ A2
        A6 = A4 @ A2
        U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 +
                 b[3] * A2 + b[1] * eye)
        V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + \
            b[2] * A2 + b[0] * eye
        R = xp.linalg.solve(V - U, V + U)
        for _ in range(sq):
            R = R @ R
        return R.astype(a.dtype, copy=False)

    def backward(ctx, g):
        # d exp(A)[G] for the adjoint: the upper-right block of exp([[A^H, G], [0, A^H]])
        import ardor
        (a,) = ctx.saved
        n = a.shape[-1]
        at = _H(a)
        top = ardor.cat([at, g], -1)
        bottom = ardor.cat([ardor.zeros_like(at), at], -1)
        big = dispatch(linalg_matrix_exp, (ardor.cat([top, bottom], -2),))
        return big[..., :n, n:]


def matrix_exp(A: Tensor) -> Tensor:
    """torch.linalg.matrix_exp."""
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        _check_mat("linalg.matrix_exp", A)
    _check_float("linalg.matrix_exp", A)
    return dispatch(linalg_matrix_exp, (A,))


@public("matrix_exp")
def matrix_exp_(input: Tensor) -> Tensor:
    """Matrix exponential of a square matrix (or batch)."""
    return matrix_exp(input)


@register
class linalg_cholesky:
    """Lower Cholesky factor of a Hermitian positive-definite matrix."""
    onnx = "decompose"
    save_out = True

    def sample(rng):
        return [((_spd_sample(rng),), {}), ((_spd_sample(rng, 2, (2,)),), {})]

    def forward(xp, a):
        # A is Hermitian by contract; reading (A + A^H) / 2 (exactly A for a symmetric A)
        # makes the op's true derivative the symmetrized gradient torch returns.
        a = (a + xp.conj(xp.swapaxes(a, -1, -2))) * 0.5
        try:
            return xp.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            pass
        _singular("linalg.cholesky", a, "cholesky")

    def backward(ctx, g):
        # torch's cholesky_backward: gA = L^-H phi(L^H gL) L^-1, symmetrized
        (L,) = ctx.saved
        Linv = dispatch(linalg_inv, (L,))
        phi = (_H(L) @ g) * _mask("tril_half", L)
        ga = _H(Linv) @ phi @ Linv
        return (ga + _H(ga)) * 0.5


@_with_out("linalg_cholesky")
def cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """torch.linalg.cholesky (lower factor; upper=True gives its transpose)."""
    _check_mat("linalg.cholesky", A)
    L = dispatch(linalg_cholesky, (A,))
    return _H(L) if upper else L


@public("cholesky")
@_with_out("cholesky")
def cholesky_(input: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """Cholesky factor (torch.cholesky, deprecated in torch)."""
    return cholesky(input, upper=upper)


@public("cholesky_solve")
@_with_out("cholesky_solve")
def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """Solve A X = B given the Cholesky factor of A."""
    A = _H(L) @ L if upper else L @ _H(L)
    return solve(A, B)


@public("cholesky_inverse")
@_with_out("cholesky_inverse")
def cholesky_inverse(L: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """Inverse of A from its Cholesky factor."""
    A = _H(L) @ L if upper else L @ _H(L)
    return inv(A)


@register
class linalg_qr:
    """QR decomposition (mode 'reduced', 'complete' or 'r')."""
    nout = 2
    onnx = "decompose"
    save_out = True

    def sample(rng):
        return [((rng.standard_normal((4, 3)),), {"mode": "reduced"}),
                ((rng.standard_normal((3, 3)),), {"mode": "complete"})]

    def forward(xp, a, *, mode="reduced"):
        if mode == "r":
            r = xp.linalg.qr(a, mode="r")
            return xp.zeros((0,), dtype=a.dtype), r
        q, r = xp.linalg.qr(a, mode=mode)
        return q, r

    def backward(ctx, gQ, gR):
        # torch's linalg_qr_backward for m >= n (reduced) and square inputs:
        # gA = [gQ + Q copyltu(M)] R^-H, M = R gR^H - gQ^H Q
        Q, R = ctx.saved
        m, n = ctx.in_shape[-2:]
        if ctx.attrs["mode"] == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not "
                               "computed when mode='r'. Please use linalg.qr(A, mode='reduced') "
                               "if you are going to differentiate through linalg.qr.")
        if m < n:
            raise NotImplementedError("linalg.qr backward for wide matrices is not implemented")
        M = R @ gR.mT - gQ.mT @ Q
        tri = _mask("tril_half", M)          # lower triangle, 0.5 on the diagonal
        low = M * tri
        copyltu = low + low.mT
        b = gQ + Q @ copyltu
        return b @ dispatch(linalg_inv, (R,)).mT


@_no_out("linalg_qr")
def qr(A: Tensor, mode: str = "reduced", *, out=None):
    """torch.linalg.qr -> (Q, R)."""
    _check_mat("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    return qr_t(*dispatch(linalg_qr, (A,), {"mode": mode}))


@public("qr")
@_no_out("qr")
def qr_(input: Tensor, some: bool = True, *, out=None):
    """(Q, R) (torch.qr, deprecated in torch)."""
    return qr_old_t(*qr(input, "reduced" if some else "complete"))


@register
class linalg_eigh:
    """Eigenvalues (ascending) and eigenvectors of a symmetric/Hermitian matrix."""
    nout = 2
    onnx = "decompose"
    save_out = True

    def sample(rng):
        a = rng.standard_normal((3, 3))
        return [(((a + a.T) + np.diag([0.0, 3.0, 6.0]),), {"UPLO": "L"})]

    def forward(xp, a, *, UPLO="L"):
        # symmetrized as in linalg_cholesky (exactly A for a symmetric A)
        a = (a + xp.conj(xp.swapaxes(a, -1, -2))) * 0.5
        w, v = xp.linalg.eigh(a, UPLO=UPLO)
        return w, v

    def backward(ctx, gw, gV):
        # torch's linalg_eig_backward (hermitian): gA = V (diag(gw) + skew(V^H gV)/2 / E) V^H
        w, V = ctx.saved
        VhgV = V.mT @ gV
        VhgV = (VhgV - VhgV.mT) * 0.5
        eye = _mask("eye", VhgV)
        E = w.unsqueeze(-2) - w.unsqueeze(-1) + eye
        ret = VhgV / E * (1 - eye) + gw.unsqueeze(-1) * eye
        return V @ ret @ V.mT


@_no_out("linalg_eigh")
def eigh(A: Tensor, UPLO: str = "L", *, out=None):
    """torch.linalg.eigh -> (eigenvalues, eigenvectors)."""
    _check_mat("linalg.eigh", A)
    return eigh_t(*dispatch(linalg_eigh, (A,), {"UPLO": UPLO}))


eig_t = _nt("linalg_eig", "eigenvalues eigenvectors")


@register
class linalg_eig:
    """Eigenvalues and (unit-norm) eigenvectors of a general square matrix, always complex."""
    nout = 2
    onnx = "decompose"
    save = (0,)
    save_out = True

    def sample(rng):
        return [((rng.standard_normal((3, 3)) + np.diag([0.0, 3.0, 6.0]),), {})]

    def forward(xp, a):
        cdt = np.complex64 if a.dtype in (np.float32, np.complex64) else np.complex128
        w, v = xp.linalg.eig(a)
        return w.astype(cdt, copy=False), v.astype(cdt, copy=False)

    def backward(ctx, gL, gV):
        # torch's linalg_eig_backward: gA = V^-H (diag(gL) + (V^H gV - V^H V re(diag(V^H gV)))
        # / conj(E)) V^H, with E_ij = L_j - L_i; real inputs get the real part
        a, L, V = ctx.saved
        Vh = _H(V)
        VhgV = Vh @ gV
        eye = _mask("eye", VhgV)
        re_diag = (VhgV * eye).sum(-1).real
        VhgV = VhgV - Vh @ (V * re_diag.unsqueeze(-2))
        Lc = L.conj()
        E = Lc.unsqueeze(-2) - Lc.unsqueeze(-1) + eye
        ret = VhgV / E * (1 - eye) + gL.unsqueeze(-1) * eye
        gA = dispatch(linalg_solve, (Vh, ret @ Vh))
        return gA if a.is_complex() else gA.real


@_no_out("linalg_eig")
def eig(A: Tensor, *, out=None):
    """torch.linalg.eig -> (eigenvalues, eigenvectors), complex."""
    _check_mat("linalg.eig", A)
    return eig_t(*dispatch(linalg_eig, (A,)))


@_with_out("linalg_eigvals")
def eigvals(A: Tensor, *, out=None) -> Tensor:
    """torch.linalg.eigvals (complex)."""
    _check_mat("linalg.eigvals", A)
    return dispatch(linalg_eig, (A,))[0]


@_with_out("linalg_eigvalsh")
def eigvalsh(A: Tensor, UPLO: str = "L", *, out=None) -> Tensor:
    """torch.linalg.eigvalsh."""
    _check_mat("linalg.eigvalsh", A)
    return dispatch(linalg_eigh, (A,), {"UPLO": UPLO})[0]


@register
class linalg_svd:
    """Singular value decomposition U, S, Vh (S descending)."""
    nout = 3
    onnx = "decompose"
    save_out = True

    def sample(rng):
        return [((rng.standard_normal((4, 3)),), {"full_matrices": False}),
                ((rng.standard_normal((3, 4)),), {"full_matrices": False})]

    def forward(xp, a, *, full_matrices=True):
        u, s, vh = xp.linalg.svd(a, full_matrices=full_matrices)
        return u, s.astype(a.real.dtype, copy=False), vh

    def backward(ctx, gU, gS, gVh):
        # torch's svd_backward (full_matrices=False)
        U, S, Vh = ctx.saved
        if ctx.attrs["full_matrices"] and U.shape[-1] != Vh.shape[-2]:
            raise RuntimeError("linalg_svd_backward: The singular vectors in the complex case "
                               "are specified up to multiplication by e^{i phi}... use "
                               "full_matrices=False to differentiate through linalg.svd")
        m, n = ctx.in_shape[-2:]
        V, gV = Vh.mT, gVh.mT
        eye = _mask("eye", U.mT @ U)
        UhgU = U.mT @ gU
        VhgV = V.mT @ gV
        S2 = S * S
        E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + eye
        skU, skV = UhgU - UhgU.mT, VhgV - VhgV.mT
        ret = (skU * S.unsqueeze(-2) + S.unsqueeze(-1) * skV) / E * (1 - eye)
        ret = ret + gS.unsqueeze(-1) * eye
        if m > n:
            gA = U @ ret
            gUSinv = gU / S.unsqueeze(-2)
            gA = gA + gUSinv - U @ (U.mT @ gUSinv)
            return gA @ Vh
        if m < n:
            gA = ret @ Vh
            SinvgVh = gV.mT / S.unsqueeze(-1)
            gA = gA + SinvgVh - (SinvgVh @ V) @ Vh
            return U @ gA
        return U @ ret @ Vh


@_no_out("linalg_svd")
def svd(A: Tensor, full_matrices: bool = True, *, driver=None, out=None):
    """torch.linalg.svd -> (U, S, Vh)."""
    _check_mat("linalg.svd", A, square=False)
    return svd_t(*dispatch(linalg_svd, (A,), {"full_matrices": full_matrices}))


@_with_out("linalg_svdvals")
def svdvals(A: Tensor, *, driver=None, out=None) -> Tensor:
    """torch.linalg.svdvals (descending)."""
    _check_mat("linalg.svdvals", A, square=False)
    return dispatch(linalg_svd, (A,), {"full_matrices": False})[1]


@public("svd")
@_no_out("svd")
def svd_(input: Tensor, some: bool = True, compute_uv: bool = True, *, out=None):
    """(U, S, V) with V not transposed (torch.svd); compute_uv=False gives zero U and V."""
    if not compute_uv:
        import ardor
        S = svdvals(input)
        m, n = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        return svd_old_t(ardor.zeros(batch + (m, m), dtype=input.dtype), S,
                         ardor.zeros(batch + (n, n), dtype=input.dtype))
    U, S, Vh = svd(input, full_matrices=not some)
    return svd_old_t(U, S, _H(Vh))


def _rank_tol(S: Tensor, shape, atol, rtol, hermitian=False):
    import ardor
    if rtol is None:
        rtol = 0.0 if (atol is not None and atol > 0) else \
            ardor.finfo(S.dtype).eps * max(shape[-2], shape[-1])
    smax = S.amax(-1, keepdim=True) if S.shape[-1] else S.sum(-1, keepdim=True)
    tol = smax.detach() * rtol
    if atol is not None:
        tol = dispatch(_max_scalar, (tol,), {"value": float(atol)})
    return tol


@register
class _max_scalar:
    """max(a, value) for a constant threshold."""
    differentiable = False
    onnx = "Max"

    def forward(xp, a, *, value):
        return xp.maximum(a, a.dtype.type(value))


@register
class _above:
    """1 where a > b else 0 (a constant mask, a's dtype)."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, a, b):
        return (a > b).astype(a.dtype)


@_with_out("linalg_pinv")
def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, out=None) -> Tensor:
    """torch.linalg.pinv via the SVD (singular values below the tolerance are dropped)."""
    _check_mat("linalg.pinv", A, square=False)
    U, S, Vh = svd(A, full_matrices=False)
    tol = _rank_tol(S, A.shape, atol, rtol)
    keep = dispatch(_above, (S, tol))
    sinv = keep / (S + (1 - keep))
    return (_H(Vh) * sinv.unsqueeze(-2)) @ _H(U)


@public("pinverse")
def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """Pseudo-inverse (torch.pinverse)."""
    return pinv(input, rtol=rcond)


@_with_out("linalg_matrix_rank")
def matrix_rank(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, tol=None,
                out=None) -> Tensor:
    """torch.linalg.matrix_rank (int64)."""
    _check_mat("linalg.matrix_rank", A, square=False)
    S = svdvals(A.detach())
    if tol is not None:
        atol, rtol = tol, 0.0
    t = _rank_tol(S, A.shape, atol, rtol)
    return dispatch(_above, (S, t)).sum(-1).to(D.int64)


@register
class linalg_cross:
    """Cross product of 3-vectors along ``dim`` (broadcast)."""
    promote = "binary"
    save = (0, 1)
    onnx = "decompose"

    def sample(rng):
        return [((rng.standard_normal((2, 3)), rng.standard_normal(3)), {"dim": -1})]

    def forward(xp, a, b, *, dim=-1):
        shape = np.broadcast_shapes(a.shape, b.shape)
        return xp.cross(xp.broadcast_to(a, shape), xp.broadcast_to(b, shape), axis=dim)

    def backward(ctx, g):
        a, b = ctx.saved
        d = ctx.attrs["dim"]
        na, nb = ctx.needs_input_grad
        ga = dispatch(linalg_cross, (b, g), {"dim": d}) if na else None
        gb = dispatch(linalg_cross, (g, a), {"dim": d}) if nb else None
        return ga, gb


@_with_out("linalg_cross")
def cross(input: Tensor, other: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """torch.linalg.cross along ``dim`` (inputs broadcast)."""
    if input.ndim != other.ndim:
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions.")
    d = wrap_dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[d]} and {other.shape[d]}")
    _bcast(input.shape, other.shape)
    return dispatch(linalg_cross, (input, other), {"dim": d - input.ndim})


@public("cross")
@_with_out("cross")
def cross_(input: Tensor, other: Tensor, dim=None, *, out=None) -> Tensor:
    """Cross product (dim defaults to the first dim of size 3, as torch.cross)."""
    if dim is None:
        dim = next((i for i, s in enumerate(input.shape) if s == 3), -1)
    return cross(input, other, dim=dim)


# ---------------------------------------------------------------- norms
@_with_out("linalg_matrix_norm")
def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None,
                out=None) -> Tensor:
    """torch.linalg.matrix_norm: 'fro', 'nuc', inf, -inf, 1, -1, 2, -2."""
    from .reduction import vector_norm
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    _check_float("linalg.matrix_norm", A)
    if dtype is not None:
        A = A.to(D.as_dtype(dtype))
    d0, d1 = (wrap_dim(d, A.ndim) for d in dim)
    if d0 == d1:
        raise RuntimeError("linalg.matrix_norm: dims must be different. Got "
                           f"({dim[0]}, {dim[1]})")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc" or ord in (2, -2):
        B = A.movedim((d0, d1), (-2, -1)) if (d0, d1) != (A.ndim - 2, A.ndim - 1) else A
        S = svdvals(B)
        if ord == -2 and S.shape[-1] == 0:
            raise IndexError("amin(): Expected reduction dim -1 to have non-zero size.")
        if ord == "nuc" or S.shape[-1] == 0:   # an empty matrix has norm 0
            r = S.sum(-1)
        else:
            r = S.amax(-1) if ord == 2 else S.amin(-1)
        if keepdim:
            for d in sorted((d0, d1)):
                r = r.unsqueeze(d)
        return r
    if ord in (1, -1, math.inf, -math.inf):
        sum_dim, red_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
        absA = A * _mask("sign", A)
        s = absA.sum(sum_dim, keepdim=True)
        r = s.amax(red_dim, keepdim=True) if ord > 0 else s.amin(red_dim, keepdim=True)
        if not keepdim:
            r = r.squeeze((d0, d1))
        return r
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


@_with_out("linalg_norm")
def linalg_norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None,
                out=None) -> Tensor:
    """torch.linalg.norm: vector or matrix norm depending on ``dim`` / ``ord``."""
    from .reduction import vector_norm
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None:
        if len(dim) == 1:
            return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)





def cond(A: Tensor, p=None, *, out=None) -> Tensor:
    """torch.linalg.cond: ratio of singular values (p None/2/-2) or norm(A) * norm(A^-1)."""
    _check_mat("linalg.cond", A, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        S = svdvals(A)
        return S[..., 0] / S[..., -1] if p != -2 else S[..., -1] / S[..., 0]
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def vander(x: Tensor, *, N=None) -> Tensor:
    """torch.linalg.vander: columns x**0, x**1, ..., x**(N-1)."""
    import ardor
    n = x.shape[-1] if N is None else int(N)
    if n <= 0:
        raise RuntimeError("N must be greater than 1.")
    if x.ndim == 0:
        raise RuntimeError("x must have at least one dimension.")
    cols = [ardor.ones_like(x)] + [x] * (n - 1)
    return ardor.cumprod(ardor.stack(cols, -1), -1) if n > 1 else ardor.ones_like(x).unsqueeze(-1)


def tensorinv(A: Tensor, ind: int = 2, *, out=None) -> Tensor:
    """torch.linalg.tensorinv: inverse with respect to tensordot over the first ``ind``
    dims."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    out_shape = tuple(A.shape[ind:]) + tuple(A.shape[:ind])
    rows = _prod(A.shape[:ind])
    cols = _prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) "
                           f"== prod(self.shape[:ind]), but got {cols} != {rows}")
    return inv(A.reshape(rows, cols)).reshape(out_shape)


def tensorsolve(A: Tensor, B: Tensor, dims=None, *, out=None) -> Tensor:
    """torch.linalg.tensorsolve: X with tensordot(A, X, X.ndim) = B."""
    if dims is not None:
        nd = A.ndim
        dims = [d % nd for d in dims]
        A = A.permute(*[i for i in range(nd) if i not in dims], *dims)
    rest = tuple(A.shape[B.ndim:])
    X = solve(A.reshape(B.numel(), _prod(rest)), B.reshape(-1))
    return X.reshape(rest)


# ---------------------------------------------------------------- LU
lu_factor_t = _nt("linalg_lu_factor", "LU pivots")
lu_t = _nt("linalg_lu", "P L U")
lu_unpack_t = _nt("lu_unpack", "P L U")


def _lu_np(xp, a):
    """Batched LU with partial pivoting (LAPACK getrf's pivot choice): (LU, 1-based pivots,
    info), looping over columns and vectorized over the batch."""
    lu = a.astype(a.dtype, copy=True)
    m, n = lu.shape[-2:]
    k = min(m, n)
    flat = lu.reshape((-1, m, n))
    piv = xp.zeros((flat.shape[0], k), dtype=np.int32)
    info = xp.zeros(flat.shape[0], dtype=np.int32)
    rows = xp.arange(flat.shape[0])
    for j in range(k):
        p = j + xp.argmax(xp.abs(flat[:, j:, j]), axis=1)
        piv[:, j] = p + 1
        swap = flat[rows, p].copy()
        flat[rows, p] = flat[:, j]
        flat[:, j] = swap
        d = flat[:, j, j]
        zero = d == 0
        info = xp.where(zero & (info == 0), j + 1, info)
        safe = xp.where(zero, 1, d)
        flat[:, j + 1:, j] = xp.where(zero[:, None], flat[:, j + 1:, j],
                                      flat[:, j + 1:, j] / safe[:, None])
        flat[:, j + 1:, j + 1:] -= flat[:, j + 1:, j, None] * flat[:, j, None, j + 1:]
    return lu, piv.reshape(a.shape[:-2] + (k,)), info.reshape(a.shape[:-2])


@register
class _lu_perm:
    """The permutation matrix P (A = P L U) of 1-based LAPACK pivots (a constant)."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, piv, like, *, m):
        k = piv.shape[-1]
        flat = piv.reshape(-1, k)
        perm = xp.tile(xp.arange(m), (flat.shape[0], 1))
        rows = xp.arange(flat.shape[0])
        for j in range(k):
            p = flat[:, j] - 1
            a, b = perm[rows, j].copy(), perm[rows, p].copy()
            perm[rows, j], perm[rows, p] = b, a
        # row i of P^T A is row perm[i] of A, so P[perm[i], i] = 1
        P = xp.zeros((flat.shape[0], m, m), dtype=like.dtype)
        P[rows[:, None], perm, xp.arange(m)[None, :]] = 1
        return P.reshape(piv.shape[:-1] + (m, m))


@register
class linalg_lu_factor:
    """Packed LU factorization with partial pivoting: (LU, pivots)."""
    nout = 2
    onnx = "decompose"
    save_out = True

    def sample(rng):
        r = rng.standard_normal
        return [((r((3, 3)),), {}), ((r((2, 3, 3)),), {}), ((r((3, 5)),), {}),
                ((r((5, 3)),), {})]

    def forward(xp, a):
        lu, piv, _ = _lu_np(xp, a)
        return lu, piv

    def backward(ctx, gLU, _gpiv):
        # torch's linalg_lu_backward, with gL / gU the strict-lower / upper parts of gLU.
        # square: gA = P L^-H [tril(L^H gL, -1) + triu(gU U^H)] U^-H; wide and tall cases
        # solve with the square blocks L1 / U1 and pass the rectangular remainder through.
        import ardor
        LU, piv = ctx.saved
        m, n = ctx.in_shape[-2:]
        k = min(m, n)
        P = dispatch(_lu_perm, (piv, LU), {"m": m})
        Lb, Ub = LU[..., :, :k], LU[..., :k, :]
        low, up = _mask("tril", Lb, k=-1), _mask("triu", Ub)
        L, U = Lb * low + _mask("eye", Lb), Ub * up
        gL, gU = gLU[..., :, :k] * low, gLU[..., :k, :] * up
        if m == n:
            phi = (_H(L) @ gL) * low + (gU @ _H(U)) * up
            gA = _H(dispatch(linalg_inv, (L,))) @ phi @ _H(dispatch(linalg_inv, (U,)))
        elif m < n:
            U1 = U[..., :, :k]
            X = (_H(L) @ gL - gU @ _H(U)) * _mask("tril", U1, k=-1)
            X = X @ _H(dispatch(linalg_inv, (U1,)))
            gA = ardor.cat([X + gU[..., :, :k], gU[..., :, k:]], -1)
            gA = _H(dispatch(linalg_inv, (L,))) @ gA
        else:
            L1 = L[..., :k, :]
            X = (gU @ _H(U) - _H(L) @ gL) * _mask("triu", L1)
            X = _H(dispatch(linalg_inv, (L1,))) @ X
            gA = ardor.cat([X + gL[..., :k, :], gL[..., k:, :]], -2)
            gA = gA @ _H(dispatch(linalg_inv, (U,)))
        return P @ gA


def _check_lu(name, A):
    if A.ndim < 2:
        raise RuntimeError(f"torch.lu_factor: Expected tensor with 2 or more dimensions. Got "
                           f"size: {list(A.shape)} instead")
    if not (A.dtype.is_floating_point or A.dtype.is_complex):
        raise NotImplementedError(f"\"lu_cpu\" not implemented for '{_tn(A)}'")


@_no_out("linalg_lu_factor")
def lu_factor(A: Tensor, *, pivot: bool = True, out=None):
    """torch.linalg.lu_factor -> (LU, pivots); raises for an exactly singular U."""
    _check_lu("torch.linalg.lu_factor", A)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    LU, piv = dispatch(linalg_lu_factor, (A,))
    a = LU.detach().numpy(force=True)
    d = np.diagonal(a, axis1=-2, axis2=-1)
    if d.size and (d == 0).any():
        z = (d == 0).reshape(-1, d.shape[-1])
        j = int(np.argmax(z[int(np.argmax(z.any(1)))])) + 1     # LAPACK's 1-based info
        raise RuntimeError(f"torch.linalg.lu_factor: U[{j},{j}] is zero and using it on "
                           "lu_solve would result in a division by zero. If you still want to "
                           "perform the factorization, consider calling linalg.lu(A, pivot) or "
                           "linalg.lu_factor_ex(A, pivot)")
    return lu_factor_t(LU, piv)


def _unpack(LU: Tensor, piv: Tensor):
    m, n = LU.shape[-2:]
    k = min(m, n)
    L = LU[..., :, :k] * _mask("tril", LU[..., :, :k], k=-1) + _mask("eye", LU[..., :, :k])
    U = LU[..., :k, :] * _mask("triu", LU[..., :k, :])
    P = dispatch(_lu_perm, (piv, LU), {"m": m})
    return P, L, U


@_no_out("linalg_lu")
def lu(A: Tensor, *, pivot: bool = True, out=None):
    """torch.linalg.lu -> (P, L, U) with A = P L U."""
    _check_lu("linalg.lu", A)
    LU, piv = dispatch(linalg_lu_factor, (A,))
    return lu_t(*_unpack(LU, piv))


@public("lu_unpack", method=False)
def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,
              unpack_pivots: bool = True, *, out=None):
    """(P, L, U) from a packed LU factorization."""
    return lu_unpack_t(*_unpack(LU_data, LU_pivots))


@_with_out("linalg_lu_solve")
def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True, adjoint: bool = False,
             out=None) -> Tensor:
    """torch.linalg.lu_solve: solve A X = B from A's LU factorization."""
    P, L, U = _unpack(LU, pivots)
    A = P @ L @ U
    if adjoint:
        A = _H(A)
    return solve(A, B, left=left)


@public("lu_solve", method=True)
def lu_solve_(b: Tensor, LU_data: Tensor, LU_pivots: Tensor, *, out=None) -> Tensor:
    """torch.lu_solve(b, LU_data, LU_pivots) (deprecated argument order)."""
    return lu_solve(LU_data, LU_pivots, b)


@public("lu", method=True)
def lu_old(A: Tensor, pivot: bool = True, get_infos: bool = False, out=None):
    """torch.lu -> (LU, pivots[, infos])."""
    LU, piv = dispatch(linalg_lu_factor, (A,))
    if get_infos:
        import ardor
        _, _, info = _lu_np(np, A.detach().numpy(force=True))
        return LU, piv, ardor.tensor(info)
    return LU, piv


lu_factor_ex_t = _nt("linalg_lu_factor_ex", "LU pivots info")


@_no_out("linalg_lu_factor_ex")
def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False, out=None):
    """torch.linalg.lu_factor_ex -> (LU, pivots, info); info > 0 marks an exactly zero
    pivot (raises only with check_errors=True)."""
    import ardor
    _check_lu("torch.linalg.lu_factor_ex", A)
    LU, piv = dispatch(linalg_lu_factor, (A,))
    d = np.diagonal(LU.detach().numpy(force=True), axis1=-2, axis2=-1)
    z = d == 0
    info = np.where(z.any(-1), np.argmax(z, -1) + 1, 0).astype(np.int32) if d.size else \
        np.zeros(d.shape[:-1], np.int32)
    if check_errors and info.any():
        j = int(info.reshape(-1)[np.argmax(info.reshape(-1) > 0)])
        raise LinAlgError(f"torch.linalg.lu_factor_ex: U[{j},{j}] is zero and using it on "
                          "lu_solve would result in a division by zero.")
    return lu_factor_ex_t(LU, piv, ardor.tensor(info))


_matmul_plain = matmul_.__wrapped__          # the operator path skips the out= wrapper


def _matmul_op(self, other):
    return _matmul_plain(self, other) if isinstance(other, Tensor) else NotImplemented


def _rmatmul_op(self, other):
    return _matmul_plain(other, self) if isinstance(other, Tensor) else NotImplemented


Tensor.__matmul__ = _matmul_op
Tensor.__rmatmul__ = _rmatmul_op
