"""Anomaly detection against torch.autograd.detect_anomaly / set_detect_anomaly."""
import warnings

import pytest
import torch

import ardor
from autograd_helpers import catch, rng, same

X = rng(0).standard_normal(4)


def _nan_scenario(lib, check_nan=True):
    x = lib.tensor([0.0, 1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        with lib.autograd.detect_anomaly(check_nan=check_nan):
            y = x / x  # gradient at 0 is nan
            e = catch(lambda: y.sum().backward())
    msgs = [str(m.message) for m in w if m.category is UserWarning]
    return e, msgs


def test_nan_in_backward_raises_with_forward_trace():
    def sc(lib):
        e, msgs = _nan_scenario(lib)
        first_lines = [m.splitlines()[0] for m in msgs]
        has_trace = any("y = x / x" in m for m in msgs)
        return e, first_lines, has_trace
    same(sc)


def test_check_nan_false_does_not_raise():
    def sc(lib):
        e, msgs = _nan_scenario(lib, check_nan=False)
        return e is None, len(msgs)
    same(sc)


def test_flags_and_set_detect_anomaly():
    def sc(lib):
        anom = getattr(lib, "is_anomaly_enabled", None) or lib.autograd.is_anomaly_enabled
        r = [anom()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly():
                r.append(anom())
        r.append(anom())
        m = lib.autograd.set_detect_anomaly(True)
        r.append(anom())
        lib.autograd.set_detect_anomaly(False)
        r.append(anom())
        with lib.autograd.set_detect_anomaly(True):
            r.append(anom())
        r.append(anom())
        r.append(type(m).__name__)
        return r
    same(sc)


def test_error_in_custom_backward_warns_with_trace():
    def sc(lib):
        class Boom(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                raise ValueError("boom")
        x = lib.tensor(X, requires_grad=True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with lib.autograd.detect_anomaly():
                out = Boom.apply(x)
                e = catch(lambda: out.sum().backward())
        msgs = [str(m.message).splitlines()[0] for m in w if m.category is UserWarning]
        return e, msgs, any("out = Boom.apply(x)" in str(m.message) for m in w)
    same(sc)


def test_custom_function_nan():
    def sc(lib):
        class NanGrad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * float("nan")
        x = lib.tensor(X, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly():
                return catch(lambda: NanGrad.apply(x).sum().backward())
    same(sc)


def test_no_trace_overhead_outside_anomaly_mode():
    x = ardor.tensor(X, requires_grad=True)
    y = x * 2
    assert y.grad_fn._trace is None
    with pytest.warns(UserWarning):
        with ardor.autograd.detect_anomaly():
            z = x * 2
    assert z.grad_fn._trace
