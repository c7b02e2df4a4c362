"""ardor.testing.assert_close against torch.testing.assert_close: same pass/fail, same
exception type, same message text (ardor. for torch. in names)."""
import numpy as np
import pytest
import torch

import ardor
import ardor.testing

_rng = np.random.default_rng(0)
X = _rng.standard_normal((3, 4)).astype(np.float32)


class T:
    """A tensor spec: the same data becomes an ardor or a torch tensor."""

    def __init__(self, data, dtype=None):
        self.data = np.asarray(data) if dtype is None else np.asarray(data, dtype)


def conv(lib, x):
    if isinstance(x, T):
        return lib.from_numpy(x.data.copy())
    if isinstance(x, list):
        return [conv(lib, v) for v in x]
    if isinstance(x, tuple):
        return tuple(conv(lib, v) for v in x)
    if isinstance(x, dict):
        return {k: conv(lib, v) for k, v in x.items()}
    return x


CASES = [
    (T(X), T(X), {}),
    (T(X), T(X + 1e-6), {}),
    (T(X), T(X + np.float32(0.1) * (np.arange(12).reshape(3, 4) == 5)), {}),
    (T(X), T(X * 1.01), {}),
    (T(X), T(X * 1.01), dict(rtol=0.02, atol=0)),
    (T(X), T(X * 1.01), dict(rtol=0.02)),
    (T(X), T(X * 1.01), dict(atol=0.02)),
    (T(X.astype(np.float64)), T(X.astype(np.float64) + 1e-6), {}),
    (T(X.astype(np.float64)), T(X), {}),
    (T(X.astype(np.float64)), T(X), dict(check_dtype=False)),
    (T(X.astype(np.float16)), T((X * 1.0005).astype(np.float16)), {}),
    (T(X.astype(np.float16)), T((X * 1.01).astype(np.float16)), {}),
    (T([1, 2, 3]), T([1, 2, 4]), {}),
    (T([1, 2, 3]), T([1, 2, 3]), {}),
    (T([1, 2, 3]), T([1, 2, 4]), dict(rtol=0.5, atol=0)),
    (T([True, False]), T([True, True]), {}),
    (T([1, 2], np.int32), T([1, 2], np.int64), {}),
    (T([1, 2], np.int32), T([1, 3], np.int64), dict(check_dtype=False)),
    (T([1.0, np.nan]), T([1.0, np.nan]), {}),
    (T([1.0, np.nan]), T([1.0, np.nan]), dict(equal_nan=True)),
    (T([1.0, np.inf]), T([1.0, np.inf]), {}),
    (T([1.0, np.inf]), T([1.0, -np.inf]), {}),
    (T([1.0, 2.0]), T([1.0, 0.0]), {}),
    (T([0.0, 1.0]), T([np.nan, 1.0]), {}),
    (T(X), T(X[:2]), {}),
    (T(X), T(X.reshape(4, 3)), {}),
    (T(np.float32(2.0)), T(np.float32(2.5)), {}),
    (T(np.int64(2)), T(np.int64(3)), {}),
    (T([1 + 1j, 2j], np.complex64), T([1 + 1j, 2.1j], np.complex64), {}),
    (T(np.zeros((0, 3), np.float32)), T(np.zeros((0, 3), np.float32)), {}),
    (T([[1.0, 2.0], [3.0, 4.0]]), T([[1.0, 2.0], [3.0, 4.5]]), {}),
    (1.0, 1.0 + 1e-9, {}),
    (1.0, 1.1, {}),
    (1, 2, {}),
    (1, 1.0, {}),
    (1, 1.0, dict(check_dtype=True)),
    (0.0, 1e-3, {}),
    (1 + 1j, 1 + 1.1j, {}),
    (float("nan"), float("nan"), {}),
    (float("nan"), float("nan"), dict(equal_nan=True)),
    (True, False, {}),
    (True, True, {}),
    (None, None, {}),
    (None, 1, {}),
    ([T(X), 1.0], [T(X), 1.0], {}),
    ([T(X), 1.0], [T(X), 2.0], {}),
    ([T(X), [1.0, T([1, 2])]], [T(X), [1.0, T([1, 3])]], {}),
    ((1.0, 2.0), [1.0, 2.0], {}),
    ([1.0, 2.0], [1.0], {}),
    ({"a": T(X), "b": 1}, {"a": T(X), "b": 1}, {}),
    ({"a": T(X), "b": 1}, {"a": T(X * 2), "b": 1}, {}),
    ({"a": 1}, {"b": 1}, {}),
    (T(X), T(X * 1.5), dict(msg="custom")),
    (T(X), T(X * 1.5), dict(msg=lambda m: "HEAD\n" + m + "\nFOOT")),
    ([T(X)], [T(X * 2)], dict(msg=lambda m: m.upper())),
    ("a", "a", {}),
    ("a", "b", {}),
    (T(X), X, {}),
    (X, X * 2, {}),
    (X, X, {}),
]


@pytest.mark.parametrize("i", range(len(CASES)))
def test_assert_close_matches_torch(i):
    actual, expected, kw = CASES[i]
    outcomes = []
    for lib, fn in ((torch, torch.testing.assert_close), (ardor, ardor.testing.assert_close)):
        try:
            fn(conv(lib, actual), conv(lib, expected), **kw)
            outcomes.append(None)
        except Exception as e:  # compare type and text
            text = str(e).replace("ardor._tensor.Tensor", "torch.Tensor")
            outcomes.append((type(e), text.replace("ardor.", "torch.")))
    assert outcomes[1] == outcomes[0]


def test_default_tolerances_match_torch():
    from torch.testing._comparison import default_tolerances as tdt
    from ardor.testing._comparison import default_tolerances as adt
    for name in ("float16", "bfloat16", "float32", "float64", "complex64", "complex128",
                 "int64", "int8", "uint8", "bool"):
        assert adt(getattr(ardor, name)) == tdt(getattr(torch, name)), name


def test_bfloat16_compare():
    a = ardor.tensor([1.0, 2.0]).to(ardor.bfloat16)
    ardor.testing.assert_close(a, a)
    with pytest.raises(AssertionError, match="Tensor-likes are not close"):
        ardor.testing.assert_close(a, ardor.tensor([1.0, 2.5]).to(ardor.bfloat16))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8", "bool", "complex64",
                                   "float16", "int8"])
@pytest.mark.parametrize("kw", [{}, dict(noncontiguous=True), dict(low=-2, high=3),
                                dict(exclude_zero=True)])
def test_make_tensor(dtype, kw):
    t = ardor.testing.make_tensor(4, 5, dtype=getattr(ardor, dtype), **kw)
    ref = torch.testing.make_tensor(4, 5, dtype=getattr(torch, dtype), device="cpu", **kw)
    assert t.shape == ref.shape and str(t.dtype)[6:] == str(ref.dtype)[6:]
    assert t.is_contiguous() == ref.is_contiguous()
    a = t.numpy()
    if dtype != "bool" and dtype != "complex64":
        lo = kw.get("low", -9 if dtype not in ("uint8",) else 0)
        hi = kw.get("high", 9 if dtype.startswith("float") else 10)
        assert a.min() >= lo and a.max() <= hi
    if kw.get("exclude_zero"):
        assert (a != 0).all()
    g = ardor.testing.make_tensor(2, dtype=ardor.float32, requires_grad=True)
    assert g.requires_grad and g.is_leaf


def test_assert_close_fuzzed_messages_match_torch():
    """Random dtypes, shapes, perturbations, nan/inf and tolerances: identical outcomes and
    identical mismatch reports (differences computed in the compared dtype, as torch)."""
    rng = np.random.default_rng(5)
    kinds = ["float32", "float64", "float16", "int64", "int32", "uint8", "bool", "complex64",
             "int8", "bfloat16"]
    for _ in range(300):
        kind = kinds[int(rng.integers(0, len(kinds)))]
        shape = tuple(int(x) for x in rng.integers(0, 5, int(rng.integers(0, 3))))
        x = rng.standard_normal(shape) * 10.0 ** int(rng.integers(-3, 4))
        y = x.copy()
        if y.size:
            idx = rng.integers(0, y.size, int(rng.integers(1, y.size + 1)))
            y.flat[idx] = y.flat[idx] * (1 + [1e-7, 1e-4, 1e-2, 1.0][int(rng.integers(0, 4))]) \
                + [0, 1e-6, 1e-3, 3][int(rng.integers(0, 4))]
            if rng.random() < 0.15:
                y.flat[idx[0]] = np.nan
            if rng.random() < 0.1:
                x.flat[idx[-1]] = np.inf

        def mk(lib, a):
            with np.errstate(all="ignore"):
                if kind == "bool":
                    return lib.tensor(a > 0)
                if kind in ("int64", "int32", "int8", "uint8"):
                    a = np.clip(np.nan_to_num(a, nan=0, posinf=100, neginf=-100), -100, 100)
                    return lib.tensor(a.astype(kind))
                if kind == "complex64":
                    return lib.tensor((a + 1j * (a[::-1] if a.ndim else a)).astype(np.complex64))
                if kind == "bfloat16":
                    return lib.tensor(a.astype(np.float32)).to(lib.bfloat16)
                return lib.tensor(a.astype(kind))
        r = rng.random()
        kw = {}
        if r < 0.2:
            kw = dict(rtol=float(rng.choice([0, 1e-3, 0.1])), atol=float(rng.choice([0, 1e-5, 1])))
        elif r < 0.3:
            kw = dict(equal_nan=True)
        outcomes = []
        for lib, fn in ((torch, torch.testing.assert_close),
                        (ardor, ardor.testing.assert_close)):
            try:
                fn(mk(lib, x), mk(lib, y), **kw)
                outcomes.append(None)
            except AssertionError as e:
                outcomes.append(str(e).replace("ardor.", "torch."))
        assert outcomes[1] == outcomes[0], (kind, shape, kw)
