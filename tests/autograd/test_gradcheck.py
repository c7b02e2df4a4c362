"""gradcheck / gradgradcheck against torch.autograd's."""
import warnings

import pytest
import torch

import ardor
from autograd_helpers import catch, norm, rng, same

X = rng(0).standard_normal((2, 3))
Y = rng(1).standard_normal((2, 3))


def _bad(lib, factor=3.0):
    class Bad(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * factor * x
    return Bad


@pytest.mark.parametrize("case", ["mul", "div_exp", "two_out", "broadcast", "scalar"])
def test_gradcheck_passes_like_torch(case):
    def sc(lib):
        x = lib.tensor(X, requires_grad=True)
        y = lib.tensor(Y, requires_grad=True)
        fn, args = {
            "mul": (lambda a, b: a * b, (x, y)),
            "div_exp": (lambda a, b: a.exp() / (1 + b * b), (x, y)),
            "two_out": (lambda a, b: (a * b, (a - b).sum()), (x, y)),
            "broadcast": (lambda a, b: a + b, (x, lib.tensor(Y[0], requires_grad=True))),
            "scalar": (lambda a, k: a * k, (x, 2.5)),
        }[case]
        return lib.autograd.gradcheck(fn, args), lib.autograd.gradgradcheck(fn, args)
    same(sc)


def test_mismatch_raises_gradcheck_error():
    def sc(lib):
        x = lib.tensor(X, requires_grad=True)
        e = catch(lambda: lib.autograd.gradcheck(_bad(lib).apply, (x,)))
        return type(e).__name__, isinstance(e, RuntimeError), str(e).split(",")[0], \
            lib.autograd.gradcheck(_bad(lib).apply, (x,), raise_exception=False), \
            lib.autograd.gradcheck(_bad(lib, 2.0).apply, (x,))
    same(sc)
    with pytest.raises(ardor.autograd.GradcheckError, match="(?s)numerical:.*analytical"):
        ardor.autograd.gradcheck(_bad(ardor).apply, (ardor.tensor(X, requires_grad=True),))


def test_gradgradcheck_catches_wrong_double_backward():
    class BadDouble(ardor.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            # right first derivative 3x^2, computed as 3 * x.detach() * x: wrong second one
            return 3 * g * x.detach() * x
    x = ardor.tensor(X, requires_grad=True)
    assert ardor.autograd.gradcheck(BadDouble.apply, (x,))
    assert not ardor.autograd.gradgradcheck(BadDouble.apply, (x,), raise_exception=False)


def test_input_errors_and_float32_warning():
    def sc(lib):
        e = catch(lambda: lib.autograd.gradcheck(lambda a: a * 2, (lib.tensor(X),)))
        x32 = lib.tensor(X, dtype=lib.float32, requires_grad=True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            ok = lib.autograd.gradcheck(lambda a: a * 2, (x32,), eps=1e-3, atol=1e-2,
                                        raise_exception=False)
        msgs = [str(m.message) for m in w if issubclass(m.category, UserWarning)]
        return e, ok is not None, msgs
    same(sc)


def test_non_differentiable_output_must_have_zero_numerical_grad():
    def sc(lib):
        x = lib.tensor(X, requires_grad=True)
        e = catch(lambda: lib.autograd.gradcheck(lambda a: a.detach() * 2, (x,)))
        e2 = catch(lambda: lib.autograd.gradcheck(lambda a: a.detach() * 2, (x,),
                                                  check_undefined_grad=False))
        ok = lib.autograd.gradcheck(lambda a: (a * 2).long(), (x,))
        return e, e2, ok
    same(sc)


def test_fast_mode_and_flags_accepted():
    x = ardor.tensor(X, requires_grad=True)
    assert ardor.autograd.gradcheck(lambda a: a.exp(), (x,), fast_mode=True, nondet_tol=0.0,
                                    check_batched_grad=False, check_grad_dtypes=True)
    assert ardor.autograd.gradcheck(lambda a: a.exp(), x)
    assert issubclass(ardor.autograd.GradcheckError, RuntimeError)
    assert norm(ardor.autograd.gradcheck) != norm(None)
