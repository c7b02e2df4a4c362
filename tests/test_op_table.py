"""The op table is complete, and every differentiable op's backward is right.

(a) every op declares a backward (or ``differentiable = False``) and an ONNX lowering; every
differentiable op declares ``sample`` inputs.
(b) float64 finite-difference gradcheck on every sample of every differentiable op,
differentiating its float64 array arguments; gradgradcheck on the first sample of each op
whose backward is itself differentiable (the second derivative through the backward formula).

Multi-output ops name the gradient parameters of auxiliary outputs (saved statistics such as
batch_norm's mean/invstd) with a leading underscore, e.g. ``backward(ctx, g, _gm, _gi)``: like
torch's ``output_differentiability: [True, False, False]``, those outputs are not checked.
An op whose ``sample`` returns an empty list declares that it cannot be finite-differenced
(it draws random numbers on every call, takes complex inputs only, or has no derivative in
torch either); it is skipped and reported as skipped.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import ardor
from ardor._ops.dispatch import dispatch
from ardor._ops.registry import OPS

def _import_all() -> None:
    """Import every ardor module, so that ops registered outside ``import ardor`` count."""
    import importlib
    import pkgutil
    for m in pkgutil.walk_packages(ardor.__path__, "ardor."):
        try:
            importlib.import_module(m.name)
        except ImportError:  # an optional extra (cupy, onnx, ...) that is not installed
            pass


_import_all()
DIFFERENTIABLE = sorted(n for n, op in OPS.items() if op.differentiable)

# Ops whose backward is (by design, as in torch) not differentiable again: their backward
# formula calls a dedicated non-differentiable ``*_backward`` kernel, or the op is piecewise
# constant so that a second derivative is identically zero and numerically noisy.
_NOT_TWICE = ("_backward", "_grad")


def _samples(op):
    return op.sample(np.random.default_rng(0))


def _prepare(args):
    """Sample arguments as ardor values: float64 arrays become tensors requiring grad."""
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            t = ardor.tensor(a.copy())
            if a.dtype == np.float64:
                t.requires_grad_(True)
            out.append(t)
        else:
            out.append(a)
    return tuple(out)


def _differentiable_outputs(op):
    """Indices of the outputs gradcheck should check (None: all of them)."""
    import inspect
    if op.nout == 1:
        return None
    params = list(inspect.signature(op.backward).parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    keep = tuple(i for i, p in enumerate(params) if not p.name.startswith("_"))
    return keep if len(keep) < len(params) else None


def _fn(op, attrs):
    keep = _differentiable_outputs(op)

    def f(*args):
        out = dispatch(op, args, attrs)
        return out if keep is None else tuple(out[i] for i in keep)
    return f


# ---------------------------------------------------------------- (a) completeness
@pytest.mark.parametrize("name", sorted(OPS))
def test_op_declares_its_pieces(name):
    op = OPS[name]
    missing = []
    if op.differentiable and op.backward is None:
        missing.append("backward (or differentiable = False)")
    if op.onnx is None:
        missing.append("onnx")
    if op.differentiable and op.sample is None:
        missing.append("sample")
    assert not missing, f"op {name!r} is missing: {', '.join(missing)}"


# ---------------------------------------------------------------- (b) gradients
def _check_sample(op, args, attrs, second_order: bool):
    inputs = _prepare(args)
    if not any(isinstance(t, ardor.Tensor) and t.requires_grad for t in inputs):
        return False
    f = _fn(op, attrs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert ardor.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-3), op.name
        if second_order:
            assert ardor.autograd.gradgradcheck(f, inputs, eps=1e-6, atol=1e-4, rtol=1e-3), \
                op.name
    return True


def _twice_differentiable(op) -> bool:
    import inspect
    try:
        src = inspect.getsource(op.backward)
    except (OSError, TypeError):
        return False
    return not any(k in src for k in _NOT_TWICE)


@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_gradcheck_samples(name):
    op = OPS[name]
    if op.sample is None:
        pytest.fail(f"op {name!r} has no sample inputs")
    samples = _samples(op)
    if not samples:
        pytest.skip(f"op {name!r} declares no finite-difference samples (random, complex-only "
                    "or no derivative in torch either)")
    checked = 0
    for k, (args, attrs) in enumerate(samples):
        small = sum(np.size(a) for a in args if isinstance(a, np.ndarray)) <= 64
        checked += _check_sample(op, args, attrs,
                                 second_order=(k == 0 and small and _twice_differentiable(op)))
    assert checked, f"op {name!r}: no sample has a float64 array argument to differentiate"
