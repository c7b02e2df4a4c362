"""Finite-difference gradient checks (torch.autograd.gradcheck / gradgradcheck).

The numerical Jacobian comes from central differences on the float64 inputs; the analytical
one from one ``autograd.grad`` call per output element. Both are laid out as torch's:
``J[input_element, output_element]``.
"""
from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np

from .._state import state

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError", "get_numerical_jacobian",
           "get_analytical_jacobian"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck / gradgradcheck when the gradients do not match."""


def _as_tuple(x) -> tuple:
    from .._tensor import Tensor
    if isinstance(x, Tensor):
        return (x,)
    if isinstance(x, (list, tuple)):
        return tuple(x)
    return (x,)


def _is_float_tensor(t) -> bool:
    from .._tensor import Tensor
    return isinstance(t, Tensor) and (t.dtype.is_floating_point or t.dtype.is_complex)


def _float_outputs(outs):
    return [o for o in outs if _is_float_tensor(o)]


def _run(func, inputs) -> tuple:
    return _as_tuple(func(*inputs))


def _numerical(func, inputs, wrt, eps):
    """For each input index in ``wrt``: a list (one per float output) of J[in_el, out_el]."""
    prev = state.grad_enabled
    state.grad_enabled = True  # func may itself differentiate (gradgradcheck)
    try:
        outs0 = _float_outputs(_run(func, inputs))
        result = []
        for i in wrt:
            arr = inputs[i]._data
            n = arr.size
            jac = [np.zeros((n, o._data.size), np.float64) for o in outs0]
            for k, idx in enumerate(np.ndindex(*arr.shape)):
                orig = arr[idx].copy()
                arr[idx] = orig - eps
                minus = [np.array(o._data, np.float64).ravel()
                         for o in _float_outputs(_run(func, inputs))]
                arr[idx] = orig + eps
                plus = [np.array(o._data, np.float64).ravel()
                        for o in _float_outputs(_run(func, inputs))]
                arr[idx] = orig
                for j, (p, m) in enumerate(zip(plus, minus)):
                    jac[j][k] = (p - m) / (2 * eps)
            result.append(jac)
        return outs0, result
    finally:
        state.grad_enabled = prev


def _analytical(outputs, inputs, wrt, check_grad_dtypes):
    """J[in_el, out_el] from backward passes, one per element of each differentiable output."""
    from .._tensor import _make
    from . import grad as autograd_grad
    diff_in = [inputs[i] for i in wrt]
    result = [[None] * len(outputs) for _ in wrt]
    for j, o in enumerate(outputs):
        for r, t in enumerate(diff_in):
            result[r][j] = np.zeros((t._data.size, o._data.size), np.float64)
        if not o._requires_grad:
            continue
        for e in range(o._data.size):
            go = np.zeros(o._data.shape, o._data.dtype)
            go.reshape(-1)[e] = 1
            grads = autograd_grad((o,), diff_in, (_make(go),), retain_graph=True,
                                  allow_unused=True)
            for r, (t, g) in enumerate(zip(diff_in, grads)):
                if g is None:
                    continue
                if tuple(g.shape) != tuple(t.shape):
                    raise GradcheckError("Analytical gradient has incorrect size")
                if check_grad_dtypes and g.dtype != t.dtype:
                    raise GradcheckError("Gradient has dtype mismatch")
                result[r][j][:, e] = np.asarray(g._data, np.float64).ravel()
    return result


def _fmt(jac: np.ndarray) -> str:
    from .._tensor import _make
    return repr(_make(jac))


def _check_undefined_grad(outputs, inputs, wrt) -> None:
    """Backward must cope with undefined (None) output gradients (all-None grads)."""
    from .engine import run_backward
    from .._ops.dispatch import _edge
    diff = [o for o in outputs if o._requires_grad]
    if not diff:
        return
    capture = {}
    for i in wrt:
        capture.setdefault(_edge(inputs[i]), len(capture))
    try:
        got = run_backward([_edge(o) for o in diff], [None] * len(diff), True, False,
                           capture=capture, accumulate=False)
    except Exception as e:  # noqa: BLE001 - reported as a gradcheck failure
        raise GradcheckError(
            "Expected backward function to handle undefined output grads. Please look at "
            "\"Notes about undefined output gradients\" in \"tools/autograd/derivatives.yaml\""
        ) from e
    for g in got:
        if g is not None and np.any(np.asarray(g._data) != 0):
            raise GradcheckError("Expected all input grads to be undefined or zero when all "
                                 "output grads are undefined or zero.")


def _gradcheck(func, inputs, eps, atol, rtol, check_undefined_grad, check_grad_dtypes):
    wrt = [i for i, t in enumerate(inputs) if _is_float_tensor(t) and t._requires_grad]
    outs_num, num = _numerical(func, inputs, wrt, eps)
    prev = state.grad_enabled
    state.grad_enabled = True
    try:
        outputs = _float_outputs(_run(func, inputs))
        ana = _analytical(outputs, inputs, wrt, check_grad_dtypes)
    finally:
        state.grad_enabled = prev
    for j, o in enumerate(outputs):
        if not o._requires_grad:
            for r in range(len(wrt)):
                if np.any(num[r][j] != 0):
                    raise GradcheckError("Numerical gradient for function expected to be zero")
            continue
        for r, i in enumerate(wrt):
            a, n = ana[r][j], num[r][j]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                raise GradcheckError(
                    f"Jacobian mismatch for output {j} with respect to input {i},\n"
                    f"numerical:{_fmt(n)}\nanalytical:{_fmt(a)}\n")
    if check_undefined_grad:
        _check_undefined_grad(outputs, inputs, wrt)
    return True


def gradcheck(func: Callable, inputs, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
              check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
              check_forward_ad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, masked: bool | None = None) -> bool:
    """Check analytical gradients of ``func`` against central finite differences.

    Returns True, or raises :class:`GradcheckError` (``raise_exception=False``: returns
    False). ``fast_mode`` is accepted and runs the full (stricter) check."""
    tupled = _as_tuple(inputs)
    if not any(_is_float_tensor(t) and t._requires_grad for t in tupled):
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of them have requires_grad=True.")
    from .. import _dtype as D
    for i, t in enumerate(tupled):
        if _is_float_tensor(t) and t._requires_grad and t.dtype not in (D.float64,
                                                                         D.complex128):
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          "point or complex. This check will likely fail if all the inputs are "
                          "not of double precision floating point or complex. ", stacklevel=2)
    if not check_backward_ad:
        return True
    try:
        return _gradcheck(func, tupled, eps, atol, rtol, check_undefined_grad,
                          check_grad_dtypes)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def gradgradcheck(func: Callable, inputs, grad_outputs=None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True,
                  check_grad_dtypes: bool = False, check_batched_grad: bool = False,
                  check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False, masked: bool = False) -> bool:
    """Check second-order gradients: gradcheck of the map (inputs, grad_outputs) ->
    gradients of ``func`` (computed with ``create_graph=True``)."""
    from .._tensor import _make
    from . import grad as autograd_grad
    tupled = _as_tuple(inputs)
    if grad_outputs is None:
        prev = state.grad_enabled
        state.grad_enabled = True
        try:
            outs = _run(func, tupled)
        finally:
            state.grad_enabled = prev
        rng = np.random.default_rng(0)
        grad_outputs = []
        for o in outs:
            if _is_float_tensor(o) and o._requires_grad:
                g = _make(rng.uniform(-1, 1, o._data.shape).astype(o._data.dtype))
                g._requires_grad = True
                grad_outputs.append(g)
        grad_outputs = tuple(grad_outputs)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    n_in = len(tupled)

    def new_func(*args):
        ins = args[:n_in]
        gos = args[n_in:]
        outs = [o for o in _as_tuple(func(*ins)) if _is_float_tensor(o) and o._requires_grad]
        diff_in = tuple(t for t in ins if _is_float_tensor(t) and t._requires_grad)
        gos = [g for g in gos]
        grads = autograd_grad(outs, diff_in, gos[:len(outs)], create_graph=True,
                              allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(new_func, tupled + tuple(grad_outputs), eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad,
                     check_grad_dtypes=check_grad_dtypes, fast_mode=fast_mode)


def get_numerical_jacobian(fn, inputs, target=None, eps: float = 1e-3, grad_out: float = 1.0):
    """Deprecated torch helper: numerical Jacobians of ``fn`` w.r.t. float inputs."""
    from .._tensor import _make
    tupled = _as_tuple(inputs)
    wrt = [i for i, t in enumerate(tupled) if _is_float_tensor(t) and t._requires_grad]
    _, num = _numerical(fn, tupled, wrt, eps)
    return tuple(_make(j[0] * grad_out) for j in num)


def get_analytical_jacobian(inputs, output, nondet_tol: float = 0.0, grad_out: float = 1.0):
    """Deprecated torch helper: (jacobians, reentrant, correct_grad_sizes,
    correct_grad_types)."""
    from .._tensor import _make
    tupled = _as_tuple(inputs)
    wrt = [i for i, t in enumerate(tupled) if _is_float_tensor(t) and t._requires_grad]
    ana = _analytical([output], tupled, wrt, False)
    return tuple(_make(a[0] * grad_out) for a in ana), True, True, True
