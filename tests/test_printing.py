"""repr/str of tensors: exactly torch's text (with ``ardor.`` for ``torch.`` in dtype names)."""
import numpy as np
import pytest
import torch

import ardor

_rng = np.random.default_rng(0)


def _cases():
    r = _rng
    c = {
        "0d_float": np.array(3.0, np.float32),
        "0d_frac": np.array(-2.5, np.float32),
        "0d_int": np.array(7),
        "0d_bool": np.array(True),
        "0d_f64": np.array(1.5),
        "0d_small": np.array(1e-7, np.float32),
        "ints_neg": np.array([-3, 10, 200, -4000]),
        "floats": r.standard_normal(7).astype(np.float32),
        "int_valued_floats": np.array([1.0, -2.0, 30.0], np.float32),
        "sci_small": np.array([1e-5, 1e5], np.float32),
        "sci_big": np.array([1e9, 1.0], np.float32),
        "sci_tiny": np.array([1e-5, 2e-5], np.float32),
        "range_1e3": np.array([1.0, 999.0], np.float32),
        "range_over_1e3": np.array([0.5, 1000.0], np.float32),
        "nan_inf": np.array([np.nan, np.inf, -np.inf, 1.5], np.float32),
        "only_nan": np.array([np.nan, np.inf], np.float32),
        "zeros": np.zeros(4, np.float32),
        "neg_zero": np.array([-0.0, 0.0, 1.0], np.float32),
        "neg_zero_frac": np.array([-0.0, 0.25], np.float32),
        "bools": np.array([True, False, True]),
        "bool_2d": np.array([[True, False], [False, False]]),
        "2d": r.standard_normal((3, 4)).astype(np.float32),
        "2d_int": r.integers(-100, 100, (4, 5)),
        "3d": r.standard_normal((2, 3, 4)).astype(np.float32),
        "4d": r.standard_normal((2, 2, 2, 3)).astype(np.float32),
        "wrap_1d": r.standard_normal(30).astype(np.float32),
        "wrap_2d": r.standard_normal((3, 20)).astype(np.float32) * 100,
        "wrap_int": np.arange(50) * 1000,
        "summarized_1d": np.arange(2000, dtype=np.float32) / 7,
        "summarized_2d": np.arange(3000).reshape(60, 50),
        "summarized_3d": r.standard_normal((11, 12, 13)).astype(np.float32),
        "summarized_narrow": np.arange(1200).reshape(1200, 1),
        "f64": r.standard_normal((2, 3)),
        "f16": r.standard_normal(5).astype(np.float16),
        "i32": np.arange(6, dtype=np.int32).reshape(2, 3),
        "u8": np.array([0, 255, 7], np.uint8),
        "i8": np.array([-128, 5], np.int8),
        "i16": np.array([1], np.int16),
        "complex64": (r.standard_normal(4) + 1j * r.standard_normal(4)).astype(np.complex64),
        "complex128": np.array([1 + 2j, -0.5j, 3.0]),
        "complex_2d": (r.standard_normal((2, 2)) + 1j * r.standard_normal((2, 2))).astype(np.complex64),
        "big_mixed": np.array([1e-3, 1e4, 12345.678], np.float32),
        "large_ints_f": np.array([123456789.0, 1.0], np.float32),
        "empty_1d": np.zeros(0, np.float32),
        "empty_2d": np.zeros((0, 3), np.float32),
        "empty_2d_b": np.zeros((2, 0), np.float32),
        "empty_int": np.zeros(0, np.int64),
        "empty_int_2d": np.zeros((3, 0, 2), np.int64),
        "empty_f64": np.zeros((0,), np.float64),
        "empty_bool": np.zeros((0,), bool),
        "long_row_suffix": r.standard_normal(7),
        "one_per_line": np.array([1e-20, 1e20, 3.0, 5.0, 1e-10, 7.7, 12345.0, 1.0, 2.0, 3.0]),
    }
    return c


CASES = _cases()


def _pair(arr):
    return ardor.tensor(arr), torch.tensor(arr)


def _same(a, t):
    assert repr(a).replace("ardor.", "torch.") == repr(t)
    assert str(a).replace("ardor.", "torch.") == str(t)


@pytest.mark.parametrize("name", sorted(CASES))
def test_repr_matches_torch(name):
    _same(*_pair(CASES[name]))


@pytest.mark.parametrize("name", ["floats", "2d", "0d_float", "wrap_1d", "f64", "empty_2d",
                                  "complex64"])
def test_repr_requires_grad_and_grad_fn(name):
    a, t = _pair(CASES[name])
    a.requires_grad_(True)
    t.requires_grad_(True)
    _same(a, t)
    _same(a * 2, t * 2)
    _same(a + a, t + t)


def test_bfloat16_repr():
    x = np.array([1.5, -2.25, 3.0, 1e-3], np.float32)
    _same(ardor.tensor(x).to(ardor.bfloat16), torch.tensor(x).to(torch.bfloat16))


@pytest.mark.parametrize("opts", [
    dict(precision=2), dict(precision=8), dict(threshold=5), dict(edgeitems=1, threshold=10),
    dict(linewidth=40), dict(sci_mode=True), dict(sci_mode=False), dict(profile="short"),
    dict(profile="full"), dict(edgeitems=0, threshold=5), dict(linewidth=200, precision=6),
])
@pytest.mark.parametrize("name", ["floats", "2d", "summarized_2d", "summarized_1d", "wrap_1d",
                                  "sci_small", "complex64", "2d_int", "3d", "0d_frac"])
def test_printoptions(opts, name):
    old = torch._tensor_str.get_printoptions()
    try:
        torch.set_printoptions(**opts)
        ardor.set_printoptions(**opts)
        _same(*_pair(CASES[name]))
    finally:
        torch.set_printoptions(**old)
        ardor.set_printoptions(profile="default")


def test_printoptions_context_and_getter():
    before = ardor.get_printoptions()
    assert before == torch._tensor_str.get_printoptions()
    with ardor.printoptions(precision=1):
        with torch._tensor_str.printoptions(precision=1):
            _same(*_pair(CASES["floats"]))
    assert ardor.get_printoptions() == before


@pytest.mark.parametrize("name", ["floats", "2d", "ints_neg", "empty_1d", "complex128", "f64"])
def test_default_dtype_float64_repr(name):
    torch.set_default_dtype(torch.float64)
    ardor.set_default_dtype(ardor.float64)
    try:
        arr = CASES[name]
        _same(ardor.tensor(arr), torch.tensor(arr))
        _same(ardor.tensor(arr.astype(np.float32) if arr.dtype.kind == "f" else arr),
              torch.tensor(arr.astype(np.float32) if arr.dtype.kind == "f" else arr))
    finally:
        torch.set_default_dtype(torch.float32)


def test_format_of_0d():
    a, t = ardor.tensor(2.5), torch.tensor(2.5)
    assert f"{a:.3f}" == f"{t:.3f}"
    assert f"{a}" == f"{t}"
    assert format(ardor.tensor([1.0])) == format(torch.tensor([1.0]))


def test_size_repr():
    assert repr(ardor.zeros(2, 3).shape) == "ardor.Size([2, 3])"
    assert repr(ardor.zeros(2, 3).shape).replace("ardor", "torch") == repr(torch.zeros(2, 3).shape)


def test_parameter_and_subclass_repr():
    a = ardor.nn.Parameter(ardor.tensor(CASES["2d"]))
    t = torch.nn.Parameter(torch.tensor(CASES["2d"]))
    _same(a, t)
    _same(a * 2, t * 2)


def _fuzz_case(rng):
    nd = int(rng.integers(0, 5))
    shape = tuple(int(x) for x in rng.integers(0, 6 if nd > 2 else 40, nd))
    if rng.random() < 0.05:
        shape = (int(rng.integers(900, 1500)),)
    kind = str(rng.choice(["f32", "f64", "f16", "bf16", "i64", "i32", "u8", "bool", "c64"]))
    mag = 10.0 ** int(rng.integers(-8, 12))
    x = rng.standard_normal(shape) * mag
    if rng.random() < 0.3:
        x = np.round(x)
    if rng.random() < 0.1 and x.size:
        x.flat[rng.integers(0, x.size)] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0])
    if kind in ("i64", "i32", "u8", "bool"):
        x = np.nan_to_num(x, posinf=0, neginf=0)
    with np.errstate(over="ignore"):
        arr = {"bool": lambda: x > 0,
               "u8": lambda: (np.abs(x).astype(np.int64) % 256).astype(np.uint8),
               "i32": lambda: np.clip(x, -2 ** 31, 2 ** 31 - 1).astype(np.int32),
               "i64": lambda: np.clip(x, -2 ** 62, 2 ** 62).astype(np.int64),
               "f32": lambda: x.astype(np.float32), "f64": lambda: x,
               "f16": lambda: x.astype(np.float16), "bf16": lambda: x.astype(np.float32),
               "c64": lambda: (x + 1j * rng.standard_normal(shape) * mag).astype(np.complex64),
               }[kind]()
    opts = {}
    if rng.random() < 0.3:
        opts = dict(precision=int(rng.integers(0, 9)), linewidth=int(rng.integers(20, 150)),
                    edgeitems=int(rng.integers(1, 5)), threshold=int(rng.integers(5, 2000)))
        if rng.random() < 0.3:
            opts["sci_mode"] = bool(rng.random() < 0.5)
    return arr, kind == "bf16", opts


def test_fuzzed_reprs_match_torch():
    """Random shapes, dtypes, magnitudes, specials and print options (fixed seed)."""
    rng = np.random.default_rng(123)
    for _ in range(250):
        arr, bf16, opts = _fuzz_case(rng)
        a, t = ardor.tensor(arr), torch.tensor(arr)
        if bf16:
            a, t = a.bfloat16(), t.bfloat16()
        torch.set_printoptions(**opts)
        ardor.set_printoptions(**opts)
        try:
            assert repr(a).replace("ardor.", "torch.") == repr(t), (arr.dtype, arr.shape, opts)
        finally:
            torch.set_printoptions(profile="default")
            ardor.set_printoptions(profile="default")
