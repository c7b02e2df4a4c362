"""Reductions against torch 2.13: values, dtypes, gradients, dim/keepdim forms, errors."""

import numpy as np
import pytest
import torch

import ardor
from ardor._ops import reduction as R
from ardor._ops.dispatch import dispatch
from ardor._ops.registry import OPS
from tests.oracle import check

rng = np.random.default_rng(0)
X = rng.standard_normal((2, 3, 4))


def _flat(r):
    if isinstance(r, (tuple, list)):
        return [x for y in r for x in _flat(y)]
    return [r]


def run(fn, *arrays, grad=True, transpose=False, rtol=1e-5, atol=1e-6, seed=1):
    """fn(lib, *tensors) on ardor and torch over the same data; compare outputs (values,
    shapes, dtypes, tuple types) and, with ``grad``, the input gradients of a random
    weighted sum of the float outputs."""
    A = [ardor.tensor(x) for x in arrays]
    T = [torch.tensor(x) for x in arrays]
    if grad:
        for a, t in zip(A, T):
            if t.is_floating_point():
                a.requires_grad_(True)
                t.requires_grad_(True)
    ia = [a.transpose(0, -1) if transpose and a.ndim > 1 else a for a in A]
    it = [t.transpose(0, -1) if transpose and t.ndim > 1 else t for t in T]
    ra, rt = fn(ardor, *ia), fn(torch, *it)
    check(ra, rt, rtol, atol)
    if type(rt) is not torch.Tensor and isinstance(rt, tuple) and hasattr(rt, "_fields"):
        assert list(ra._fields) == list(rt._fields)
    if not grad:
        return ra, rt
    oa = [o for o in _flat(ra) if o.dtype.is_floating_point]
    ot = [o for o in _flat(rt) if o.is_floating_point()]
    if not ot or not any(o.requires_grad for o in ot):
        return ra, rt
    g = np.random.default_rng(seed)
    ws = [g.standard_normal(tuple(o.shape)) for o in ot]
    la = sum((o * ardor.tensor(w).to(o.dtype)).sum() for o, w in zip(oa, ws))
    lt = sum((o * torch.tensor(w).to(o.dtype)).sum() for o, w in zip(ot, ws))
    la.backward()
    lt.backward()
    for a, t in zip(A, T):
        if t.requires_grad:
            check(a.grad, t.grad, rtol, atol)
    return ra, rt


def raises_like(fn, *arrays):
    """ardor raises the same exception type and message as torch."""
    with pytest.raises(Exception) as et:
        fn(torch, *[torch.tensor(x) for x in arrays])
    with pytest.raises(type(et.value)) as ea:
        fn(ardor, *[ardor.tensor(x) for x in arrays])
    assert str(ea.value) == str(et.value)


DIMS = [None, 1, -1, (0, 2), (-1, 0), ()]


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "nansum", "amax", "amin", "logsumexp", "var",
                                  "std", "nanmean"])
def test_reduce_dims(name, dim, keepdim):
    x = X.copy()
    x[0, 1, 2] = x[1, 0, 3]  # a value tie across slices must not confuse amax
    if dim is None and name in ("amax", "amin", "logsumexp"):
        dim = ()
    if dim == () and name == "logsumexp":
        dim = (0, 1, 2)  # torch 2.13 itself fails on logsumexp(dim=()) of a 3-D input
    if dim is None:
        fn = lambda L, a: getattr(L, name)(a, keepdim=keepdim) if keepdim else \
            getattr(L, name)(a)  # noqa: E731
        if name in ("var", "std", "nanmean", "nansum", "sum", "mean") and keepdim:
            fn = lambda L, a: getattr(L, name)(a, dim=None, keepdim=True)  # noqa: E731
    else:
        fn = lambda L, a: getattr(L, name)(a, dim, keepdim=keepdim)  # noqa: E731
    # torch's var/std backward with dim=() divides by (1 - correction): not mimicked
    grad = not (dim == () and name in ("var", "std"))
    run(fn, x, grad=grad)
    run(fn, x, transpose=True, grad=grad)


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "logsumexp", "var", "std", "prod",
                                  "nansum", "cumsum", "cumprod"])
def test_float32_stays_float32(name):
    x = X.astype(np.float32)
    fn = (lambda L, a: getattr(L, name)(a, 1)) if name != "amax" else \
        (lambda L, a: L.amax(a, (0, 1)))
    run(fn, x, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dim", [None, 0, 2, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_prod(dim, keepdim):
    x = X.copy()
    fn = (lambda L, a: L.prod(a)) if dim is None else (lambda L, a: L.prod(a, dim, keepdim))
    run(fn, x)
    x[0, 1, 2] = 0.0
    run(fn, x)
    x[1, 2, 3] = x[1, 0, 3] = 0.0
    run(fn, x)


def test_prod_tuple_dim_is_type_error():
    with pytest.raises(TypeError):
        torch.tensor(X).prod((0, 1))
    with pytest.raises(TypeError, match="prod"):
        ardor.tensor(X).prod((0, 1))


@pytest.mark.parametrize("name", ["max", "min", "median"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_value_index_reductions(name, dim, keepdim):
    x = rng.permutation(24).reshape(2, 3, 4).astype(np.float64)
    ra, rt = run(lambda L, a: getattr(L, name)(a, dim, keepdim), x)
    assert type(ra).__name__ == type(rt).__name__ == name
    v, i = ra
    assert v is ra.values and i is ra.indices and i.dtype == ardor.int64
    run(lambda L, a: getattr(a, name)(dim=dim, keepdim=keepdim).values, x, transpose=True)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim", [None, 0, -1, 2])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax(name, dim, keepdim):
    run(lambda L, a: getattr(L, name)(a, dim, keepdim), X, grad=False)
    run(lambda L, a: getattr(L, name)(a, dim=dim, keepdim=keepdim), X, grad=False,
        transpose=True)


def test_whole_tensor_reductions_and_ties():
    x = np.array([[1.0, 3.0, 3.0], [0.5, 3.0, -1.0]])
    for fn in (lambda L, a: L.max(a), lambda L, a: a.min(), lambda L, a: L.amax(a),
               lambda L, a: L.amax(a, 1), lambda L, a: L.amin(a, (0, 1), True),
               lambda L, a: a.median(), lambda L, a: L.max(a, 1).values,
               lambda L, a: L.norm(a, float("inf")), lambda L, a: L.aminmax(a, dim=1)):
        run(fn, x)
    y = np.array([[2.0, 1.0, 2.0, 0.0]])
    run(lambda L, a: L.median(a), y)          # lower median: 1.0
    run(lambda L, a: L.median(a, 1), y[:, :3])


def test_binary_max_min_delegate():
    run(lambda L, a, b: L.max(a, b), X, X[0, 0])
    run(lambda L, a, b: a.min(b), X, X[:, :1])


def test_mode():
    x = np.array([[1.0, 2.0, 2.0, 3.0, 3.0], [4.0, 4.0, 1.0, 1.0, 0.0]])
    ra, rt = run(lambda L, a: L.mode(a), x)
    run(lambda L, a: L.mode(a, 0, True), x)
    assert type(ra).__name__ == "mode"


@pytest.mark.parametrize("kw", [{}, {"unbiased": False}, {"correction": 0}, {"correction": 2},
                                {"dim": (0, 2), "unbiased": True}, {"dim": 1, "correction": 0,
                                                                     "keepdim": True}])
@pytest.mark.parametrize("name", ["var", "std", "var_mean", "std_mean"])
def test_var_std_forms(name, kw):
    run(lambda L, a: getattr(L, name)(a, **kw), X)


def test_var_positional_forms():
    run(lambda L, a: L.var(a, 1, True, True), X)
    run(lambda L, a: L.std(a, False), X)
    run(lambda L, a: a.var(0, False), X)


def test_std_zero_gives_zero_grad():
    run(lambda L, a: L.std(a, 1), np.ones((2, 3)))


@pytest.mark.parametrize("p", [2, 1, float("inf"), float("-inf"), "fro", 3, 0.5, 1.5, 0])
@pytest.mark.parametrize("dim", [None, 1, (0, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_norm(p, dim, keepdim):
    run(lambda L, a: L.norm(a, p, dim, keepdim), X)


def test_norm_with_zero_entries():
    x = X.copy()
    x[0] = 0.0
    for p in (2, 3, 1.5, 0.5, 1):
        run(lambda L, a: a.norm(p, dim=(1, 2)), x)


def test_logsumexp_stable():
    x = np.array([[1000.0, 1000.0, -1000.0], [-np.inf, -np.inf, -np.inf]])
    run(lambda L, a: L.logsumexp(a, 1), x[:1])
    run(lambda L, a: L.logsumexp(a, 1), x, grad=False)


@pytest.mark.parametrize("name", ["cumsum", "cumprod", "cummax", "cummin"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumulative(name, dim):
    x = X.copy()
    x[0, 1, 1] = x[0, 1, 0]     # a tie inside a running max/min
    run(lambda L, a: getattr(L, name)(a, dim), x)
    run(lambda L, a: getattr(a, name)(dim=dim), x, transpose=True)


def test_cumprod_zeros_no_nan():
    x = rng.standard_normal((3, 5))
    x[0, 2] = 0.0
    x[1, 1] = x[1, 3] = 0.0
    x[2, 4] = 0.0
    run(lambda L, a: L.cumprod(a, 1), x)
    run(lambda L, a: L.cumprod(a, 0), x.T.copy())


def test_nan_handling():
    x = X.copy()
    x[0, 0, 0] = x[1, 2, 1] = np.nan
    run(lambda L, a: L.nansum(a, 1), x)
    run(lambda L, a: L.nanmean(a, (0, 2)), x)
    run(lambda L, a: L.max(a, 2), x, grad=False)
    run(lambda L, a: L.median(a, 1), x, grad=False)


@pytest.mark.parametrize("dt", [np.int32, np.int64, np.bool_, np.uint8, np.int8])
@pytest.mark.parametrize("name", ["sum", "prod", "cumsum", "cumprod", "amax", "max", "argmax",
                                  "all", "any", "count_nonzero", "nansum", "aminmax",
                                  "cummax"])
def test_int_bool_result_dtypes(dt, name):
    x = (rng.integers(0, 3, (3, 4))).astype(dt)
    if name in ("cumsum", "cumprod", "cummax"):
        run(lambda L, a: getattr(L, name)(a, 1), x, grad=False)
        return
    if name == "argmax" and dt == np.bool_:
        raises_like(lambda L, a: L.argmax(a), x)
        return
    run(lambda L, a: getattr(L, name)(a), x, grad=False)
    if name not in ("argmax", "aminmax", "count_nonzero"):
        run(lambda L, a: getattr(L, name)(a, 0), x, grad=False)


@pytest.mark.parametrize("name", ["mean", "var", "std", "norm", "nanmean", "logsumexp"])
def test_int_input_float_only_ops(name):
    x = rng.integers(0, 5, (3, 4))
    fn = lambda L, a: getattr(L, name)(a) if name != "logsumexp" else L.logsumexp(a, 0)  # noqa
    try:
        torch_out = fn(torch, torch.tensor(x))
    except RuntimeError:
        raises_like(fn, x)
    else:
        check(fn(ardor, ardor.tensor(x)), torch_out)


def test_dtype_argument_casts_first():
    xi = rng.integers(-3, 3, (3, 4)).astype(np.int32)
    run(lambda L, a: L.sum(a, 1, dtype=L.float64), xi, grad=False)
    run(lambda L, a: L.sum(a, dtype=L.int32), X, grad=False)
    run(lambda L, a: L.mean(a, 0, dtype=L.float64), xi, grad=False)
    run(lambda L, a: L.cumsum(a, 1, dtype=L.float64), X.astype(np.float32))
    run(lambda L, a: L.prod(a, 1, dtype=L.float64), X.astype(np.float32))
    run(lambda L, a: L.norm(a, dtype=L.float64), X.astype(np.float32))


def test_zero_dim_inputs():
    s = np.array(2.5)
    for fn in (lambda L, a: L.sum(a, 0), lambda L, a: L.mean(a, -1, True), lambda L, a: a.max(),
               lambda L, a: L.max(a, 0), lambda L, a: L.amax(a, 0), lambda L, a: L.prod(a, 0),
               lambda L, a: L.cumsum(a, 0), lambda L, a: L.cumprod(a, 0),
               lambda L, a: L.logsumexp(a, 0), lambda L, a: L.median(a),
               lambda L, a: L.norm(a), lambda L, a: L.argmax(a, 0, True),
               lambda L, a: L.cummax(a, 0), lambda L, a: L.median(a, 0)):
        run(fn, s)
    run(lambda L, a: L.all(a, 0), s, grad=False)
    raises_like(lambda L, a: L.sum(a, 1), s)


EMPTY_CASES = [
    lambda L, a: L.sum(a), lambda L, a: L.sum(a, 0), lambda L, a: L.prod(a, 1),
    lambda L, a: L.mean(a, 1), lambda L, a: L.amax(a, 1), lambda L, a: L.max(a, 1),
    lambda L, a: L.logsumexp(a, 0), lambda L, a: L.logsumexp(a, 1), lambda L, a: L.norm(a),
    lambda L, a: L.cumsum(a, 0), lambda L, a: L.cumprod(a, 1), lambda L, a: L.all(a),
    lambda L, a: L.any(a, 0), lambda L, a: L.count_nonzero(a), lambda L, a: L.median(a),
    lambda L, a: L.argmax(a, 1), lambda L, a: L.cummax(a, 0), lambda L, a: L.mean(a),
    lambda L, a: L.max(a), lambda L, a: L.amax(a), lambda L, a: L.max(a, 0),
    lambda L, a: L.amin(a, 0), lambda L, a: L.argmax(a), lambda L, a: L.argmin(a, 0),
    lambda L, a: L.median(a, 0), lambda L, a: L.mode(a, 0),
]


@pytest.mark.parametrize("k", range(len(EMPTY_CASES)))
def test_empty(k):
    fn = EMPTY_CASES[k]
    x = np.zeros((0, 3))
    try:
        fn(torch, torch.tensor(x))
    except Exception:
        raises_like(fn, x)
    else:
        run(fn, x, grad=False)


@pytest.mark.parametrize("fn", [
    lambda L, a: L.sum(a, 3), lambda L, a: L.sum(a, (0, -4)), lambda L, a: L.amax(a, (0, 0)),
    lambda L, a: L.max(a, 3), lambda L, a: L.argmax(a, -4), lambda L, a: L.cumsum(a, 3),
    lambda L, a: L.var(a, 5), lambda L, a: L.median(a, 3), lambda L, a: L.logsumexp(a, 3),
    lambda L, a: L.mean(a, (1, 1)), lambda L, a: L.norm(a, 2, 3), lambda L, a: L.all(a, 3),
    lambda L, a: L.cumsum(a, None),
])
def test_dim_errors(fn):
    raises_like(fn, X)


def test_dim_error_message():
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range "
                       r"of \[-2, 1\], but got 2\)"):
        ardor.zeros(2, 3).sum(2)


def test_logical_reductions():
    x = rng.integers(0, 2, (2, 3, 4)).astype(np.float64)
    x[0, 0, 0] = np.nan  # NaN is truthy
    for fn in (lambda L, a: L.all(a), lambda L, a: L.any(a, 1), lambda L, a: a.all(2, True),
               lambda L, a: L.any(a, (0, 2)), lambda L, a: L.count_nonzero(a, (0, 1)),
               lambda L, a: L.count_nonzero(a, -1)):
        run(fn, x, grad=False)


def test_grad_fn_names():
    a = ardor.tensor(X, requires_grad=True)
    t = torch.tensor(X, requires_grad=True)
    for fn in (lambda L, v: v.sum(0), lambda L, v: v.mean(), lambda L, v: v.max(),
               lambda L, v: v.max(1).values, lambda L, v: v.amax(0), lambda L, v: v.var(0),
               lambda L, v: v.std(), lambda L, v: v.logsumexp(0), lambda L, v: v.prod(0),
               lambda L, v: v.cumsum(0), lambda L, v: v.norm(), lambda L, v: v.median(),
               lambda L, v: L.nansum(v), lambda L, v: v.cummax(0).values):
        assert type(fn(ardor, a).grad_fn).__name__.rstrip("01") == \
            type(fn(torch, t).grad_fn).__name__.rstrip("01")


def test_double_backward_through_var_and_logsumexp():
    for name in ("var", "logsumexp", "amax", "norm"):
        a = ardor.tensor(X, requires_grad=True)
        t = torch.tensor(X, requires_grad=True)
        outs = []
        for L, v in ((ardor, a), (torch, t)):
            y = getattr(L, name)(v, 1) if name != "norm" else v.norm(3, 1)
            (g,) = L.autograd.grad((y * y).sum(), v, create_graph=True)
            (gg,) = L.autograd.grad((g * g).sum(), v)
            outs.append(gg)
        check(outs[0], outs[1], rtol=1e-5, atol=1e-6)


_MINE = [op for op in OPS.values() if op.forward.__module__ == R.__name__]


@pytest.mark.parametrize("op", [o for o in _MINE if o.differentiable], ids=lambda o: o.name)
def test_sample_gradcheck(op):
    assert op.sample is not None and op.onnx
    for args, attrs in op.sample(np.random.default_rng(3)):
        ts = tuple(ardor.tensor(a, requires_grad=True) if isinstance(a, np.ndarray) else a
                   for a in args)

        def f(*xs):
            r = dispatch(op, xs, attrs)
            return tuple(o for o in r if o.dtype.is_floating_point) if op.nout > 1 else r
        assert ardor.autograd.gradcheck(f, ts, eps=1e-6, atol=1e-5)


def test_every_op_has_onnx():
    for op in _MINE:
        assert op.onnx, op.name


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "amax", "norm"])
def test_half_precision_accumulates_in_float32(name):
    x = (rng.standard_normal(2000) + 3).astype(np.float16)
    a, t = getattr(ardor.tensor(x), name)(), getattr(torch.tensor(x), name)()
    check(a, t, rtol=2e-3, atol=1e-3)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_logcumsumexp(dim):
    run(lambda L, a: L.logcumsumexp(a, dim), X)
    x = X * 300  # extreme values: still finite, no overflow in the gradient
    run(lambda L, a: a.logcumsumexp(dim), x, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("q,interp", [(q, "linear") for q in (0.3, 1.0, 0.0)] + [
    ([0.1, 0.5, 0.9], i) for i in ("linear", "lower", "higher", "midpoint", "nearest")])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (1, False), (-1, True)])
def test_quantile(q, dim, keepdim, interp):
    def fn(L, a):
        qq = L.tensor(q, dtype=a.dtype) if isinstance(q, list) else q
        return L.quantile(a, qq, dim, keepdim, interpolation=interp)
    run(fn, X)


def test_nanquantile_and_nanmedian():
    x = X.copy()
    x[0, 0, :2] = np.nan
    x[1, 2, :] = np.nan
    for fn in (lambda L, a: L.nanquantile(a, 0.4, 2), lambda L, a: L.quantile(a, 0.4, 2),
               lambda L, a: L.nanquantile(a, 0.7), lambda L, a: L.nanmedian(a[:, :2], 2),
               lambda L, a: L.nanmedian(a[0]), lambda L, a: L.nanmedian(a, 2).values):
        run(fn, x, grad=False)  # (the index of an all-NaN slice is unspecified in torch)
    run(lambda L, a: L.nanmedian(a, 1, True), X)
    run(lambda L, a: L.nanmedian(a), X)


@pytest.mark.parametrize("fn", [
    lambda L, a: L.quantile(a, 1.5), lambda L, a: L.quantile(a.int(), 0.5),
    lambda L, a: L.quantile(a, 0.5, interpolation="foo"),
    lambda L, a: L.quantile(a, L.tensor([0.5], dtype=L.float64)),
    lambda L, a: L.quantile(a, 0.5, 3),
])
def test_quantile_errors(fn):
    raises_like(fn, X.astype(np.float32))


def test_dist_cov_corrcoef():
    run(lambda L, a, b: L.dist(a, b), X, X[0])
    run(lambda L, a, b: L.dist(a, b, 1), X, X[1])
    run(lambda L, a: L.cov(a[0]), X)
    run(lambda L, a: L.cov(a[0], correction=0), X)
    run(lambda L, a: L.cov(a[0, 0]), X)
    run(lambda L, a: L.corrcoef(a[1]), X)


def test_inplace_cumulative():
    run(lambda L, a: (a * 1).cumsum_(1), X)
    run(lambda L, a: (a * 1).cumprod_(-1), X)
    run(lambda L, a: a.clone().cumsum_(0), rng.integers(0, 4, (3, 4)).astype(np.int32),
        grad=False)


@pytest.mark.parametrize("fn", [
    lambda L, a: a.prod(1), lambda L, a: a.prod(), lambda L, a: a.cumprod(1),
    lambda L, a: a.sum(0), lambda L, a: a.mean(), lambda L, a: a.var(1), lambda L, a: a.std(),
    lambda L, a: a.norm(), lambda L, a: L.linalg.vector_norm(a, 1, 1),
    lambda L, a: L.linalg.vector_norm(a, 3, 1), lambda L, a: L.linalg.vector_norm(a, 0.5),
    lambda L, a: L.linalg.vector_norm(a, float("inf"), 0), lambda L, a: a.cumsum(0),
])
def test_complex_values_and_gradients(fn):
    x = X[0] + 1j * X[1]
    a, t = ardor.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ra, rt = fn(ardor, a), fn(torch, t)
    check(ra, rt)
    ra.abs().sum().backward()
    rt.abs().sum().backward()
    check(a.grad, t.grad)


def test_bincount_histc():
    xi = rng.integers(0, 6, 20)
    run(lambda L, a: L.bincount(a), xi, grad=False)
    run(lambda L, a: L.bincount(a, minlength=10), xi, grad=False)
    for wdt in (np.float32, np.float64):
        run(lambda L, a, w: L.bincount(a, w), xi, rng.standard_normal(20).astype(wdt),
            grad=False)
    run(lambda L, a: L.bincount(a, minlength=3), np.zeros(0, dtype=np.int64), grad=False)
    for bad in (np.array([-1]), np.array([[1]]), np.array([1.0])):
        raises_like(lambda L, a: L.bincount(a), bad)
    x = rng.standard_normal(50)
    run(lambda L, a: L.histc(a, bins=7), x, grad=False)
    run(lambda L, a: L.histc(a.float(), bins=4, min=-1, max=1), x, grad=False)
    raises_like(lambda L, a: L.histc(a, bins=3), np.array([1, 2]))


@pytest.mark.parametrize("fn", [
    lambda L, y, x: L.trapezoid(y), lambda L, y, x: L.trapezoid(y, dx=0.5, dim=0),
    lambda L, y, x: L.trapezoid(y, x), lambda L, y, x: L.trapz(y, x[:, 0], dim=0),
    lambda L, y, x: L.trapz(y, x[0], dim=0),
    lambda L, y, x: L.cumulative_trapezoid(y), lambda L, y, x: L.cumulative_trapezoid(y, x),
    lambda L, y, x: L.diff(y), lambda L, y, x: L.diff(y, 2, 0),
    lambda L, y, x: L.diff(y, 1, -1, prepend=x[:, :1], append=x),
    lambda L, y, x: L.frobenius_norm(y, (0, 1)), lambda L, y, x: L.nuclear_norm(y),
])
def test_integration_and_diff(fn):
    y, x = rng.standard_normal((3, 4)), np.cumsum(rng.uniform(0.1, 1, (3, 4)), 1)
    try:
        fn(torch, torch.tensor(y), torch.tensor(x))
    except RuntimeError:
        raises_like(fn, y, x)
    else:
        run(fn, y, x)


def test_diff_int_bool():
    run(lambda L, a: L.diff(a), rng.integers(0, 5, (2, 5)), grad=False)
    run(lambda L, a: L.diff(a > 2), rng.integers(0, 5, (2, 5)), grad=False)


def test_sum_mean_overload_node_names():
    a = ardor.tensor(X, requires_grad=True)
    t = torch.tensor(X, requires_grad=True)
    for fn in (lambda L, v: v.sum(), lambda L, v: v.sum(0), lambda L, v: L.sum(v, dim=None),
               lambda L, v: v.mean(), lambda L, v: v.mean((0, 1)), lambda L, v: L.mean(v),
               lambda L, v: v.max(), lambda L, v: v.max(0).values):
        assert type(fn(ardor, a).grad_fn).__name__ == type(fn(torch, t).grad_fn).__name__
