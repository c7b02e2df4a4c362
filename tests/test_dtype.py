"""dtype objects, type promotion for every pair of dtypes, finfo/iinfo: all against torch."""
import pickle
import warnings

import numpy as np
import pytest
import torch

import ardor
from ardor import _dtype as D

NAMES = [d.name for d in D.ALL_DTYPES]
# torch promotes float16 with a complex 0-d tensor / Python complex to complex32, a dtype
# numpy (hence ardor) has no storage for; ardor gives complex64 there.
COMPLEX32 = "torch.complex32"


def A(name):
    return getattr(ardor, name)


def T(name):
    return getattr(torch, name)


def tname(d) -> str:
    return str(d).replace("ardor.", "torch.")


def outcome(fn):
    try:
        return tname(fn())
    except Exception as e:  # noqa: BLE001 - the exception type is the outcome
        return type(e).__name__


def _zeros(lib, name, shape):
    return lib.zeros(shape, dtype=getattr(lib, name))


@pytest.mark.parametrize("a", NAMES)
def test_promote_types_every_pair(a):
    bad = []
    for b in NAMES:
        t = outcome(lambda: torch.promote_types(T(a), T(b)))
        r = outcome(lambda: ardor.promote_types(A(a), A(b)))
        if t != r:
            bad.append((b, t, r))
        if t == "RuntimeError":
            with pytest.raises(RuntimeError) as te:
                torch.promote_types(T(a), T(b))
            with pytest.raises(RuntimeError) as ae:
                ardor.promote_types(A(a), A(b))
            assert str(ae.value) == str(te.value)
    assert not bad


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("form", ["tensor_tensor", "tensor_0d", "0d_tensor", "0d_0d"])
def test_result_type_every_pair(a, form):
    sa = () if form.startswith("0d") else (2,)
    sb = () if form.endswith("0d") else (2,)
    bad = []
    for b in NAMES:
        t = outcome(lambda: torch.result_type(_zeros(torch, a, sa), _zeros(torch, b, sb)))
        r = outcome(lambda: ardor.result_type(_zeros(ardor, a, sa), _zeros(ardor, b, sb)))
        if t != r and t != COMPLEX32:
            bad.append((b, t, r))
    assert not bad


SCALARS = [True, False, 0, 1, -3, 2 ** 40, 1.5, -0.0, float("inf"), 1j, 2 + 0j]


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("zero_dim", [False, True])
def test_result_type_tensor_scalar(a, zero_dim):
    shape = () if zero_dim else (3,)
    bad = []
    for s in SCALARS:
        for order in (0, 1):
            def call(lib):
                x = _zeros(lib, a, shape)
                return lib.result_type(x, s) if order == 0 else lib.result_type(s, x)
            t = outcome(lambda: call(torch))
            r = outcome(lambda: call(ardor))
            if t != r and t != COMPLEX32:
                bad.append((s, order, t, r))
    assert not bad


def test_result_type_scalars_and_default_dtype():
    for x, y in [(1, 2.0), (True, 1), (1.0, 1j), (False, True)]:
        assert tname(ardor.result_type(ardor.tensor(x), y)) == str(torch.result_type(torch.tensor(x), y))
    torch.set_default_dtype(torch.float64)
    ardor.set_default_dtype(ardor.float64)
    try:
        for x, y in [(ardor.tensor([1]), 1.5), (ardor.tensor([1]), 1j)]:
            tx = torch.tensor([1])
            assert tname(ardor.result_type(x, y)) == str(torch.result_type(tx, y))
    finally:
        torch.set_default_dtype(torch.float32)
    with pytest.raises(TypeError):
        ardor.result_type("a", ardor.ones(1))


@pytest.mark.parametrize("a", NAMES)
def test_binary_op_result_dtype_every_pair(a):
    """The dispatcher's promotion (through ``+``) agrees with torch for every pair."""
    bad = []
    for b in NAMES:
        for sa, sb in (((2,), (2,)), ((2,), ()), ((), (2,))):
            def run(lib):
                return (_zeros(lib, a, sa) + _zeros(lib, b, sb)).dtype
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = outcome(lambda: run(torch))
                r = outcome(lambda: run(ardor))
            if t == "NotImplementedError":  # torch has no add kernel for uint16/32/64
                continue
            if t != r and t != COMPLEX32 and not t.endswith("Error"):
                bad.append((b, sa, sb, t, r))
            if t.endswith("Error") and not r.endswith("Error"):
                bad.append((b, sa, sb, t, r))
    assert not bad


@pytest.mark.parametrize("a", NAMES)
def test_can_cast_every_pair(a):
    bad = [b for b in NAMES if ardor.can_cast(A(a), A(b)) != torch.can_cast(T(a), T(b))]
    assert not bad


@pytest.mark.parametrize("name", NAMES)
def test_dtype_attributes(name):
    a, t = A(name), T(name)
    assert a.is_floating_point == t.is_floating_point
    assert a.is_complex == t.is_complex
    assert a.is_signed == t.is_signed
    assert a.itemsize == t.itemsize
    assert repr(a) == "ardor." + name and tname(a) == str(t)
    assert tname(a.to_real()) == str(t.to_real())
    if name not in ("float16",):  # torch: complex32, absent from numpy
        if a.is_floating_point or a.is_complex:
            assert tname(a.to_complex()) == str(t.to_complex())
    assert pickle.loads(pickle.dumps(a)) is a
    assert pickle.loads(pickle.dumps(a, protocol=0)) is a
    assert hash(a) == hash(pickle.loads(pickle.dumps(a)))
    assert D.as_dtype(t) is a
    assert D.as_dtype(name) is a and D.as_dtype("torch." + name) is a


def test_dtype_aliases_and_python_types():
    pairs = [("float", "float32"), ("double", "float64"), ("half", "float16"), ("long", "int64"),
             ("int", "int32"), ("short", "int16"), ("cfloat", "complex64"),
             ("cdouble", "complex128"), ("bool", "bool")]
    for alias, name in pairs:
        assert getattr(ardor, alias) is A(name)
        assert str(getattr(torch, alias)) == "torch." + name
    for py, name in ((float, "float64"), (int, "int64"), (bool, "bool"), (complex, "complex128")):
        assert ardor.zeros(1, dtype=py).dtype is A(name)
        assert str(torch.zeros(1, dtype=py).dtype) == "torch." + name
    assert ardor.float32 != ardor.float64 and ardor.float32 == ardor.float
    assert isinstance(ardor.float32, ardor.dtype)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64", "complex64",
                                  "complex128"])
def test_finfo_matches_torch(name):
    a, t = ardor.finfo(A(name)), torch.finfo(T(name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(a, attr) == getattr(t, attr), attr
        assert type(getattr(a, attr)) is type(getattr(t, attr)), attr
    assert repr(a) == repr(t)
    assert str(a) == str(t)


def test_finfo_default_and_errors():
    assert repr(ardor.finfo()) == repr(torch.finfo())
    ardor.set_default_dtype(ardor.float64)
    torch.set_default_dtype(torch.float64)
    try:
        assert repr(ardor.finfo()) == repr(torch.finfo())
    finally:
        torch.set_default_dtype(torch.float32)
    for bad in ("int32", "bool", "uint8"):
        with pytest.raises(TypeError) as te:
            torch.finfo(T(bad))
        with pytest.raises(TypeError) as ae:
            ardor.finfo(A(bad))
        assert str(ae.value).replace("ardor", "torch") == str(te.value)


@pytest.mark.parametrize("name", ["int8", "int16", "int32", "int64", "uint8", "uint16",
                                  "uint32", "uint64"])
def test_iinfo_matches_torch(name):
    a, t = ardor.iinfo(A(name)), torch.iinfo(T(name))
    for attr in ("bits", "max", "min", "dtype"):
        assert getattr(a, attr) == getattr(t, attr), attr
        assert type(getattr(a, attr)) is type(getattr(t, attr)), attr
    assert repr(a) == repr(t)


@pytest.mark.parametrize("name", ["float32", "bool", "complex64"])
def test_iinfo_errors(name):
    with pytest.raises(TypeError) as te:
        torch.iinfo(T(name))
    with pytest.raises(TypeError) as ae:
        ardor.iinfo(A(name))
    assert str(ae.value).replace("ardor", "torch") == str(te.value)


def test_is_tensor_is_floating_point_numel():
    for lib in (ardor, torch):
        x = lib.ones(2, 3)
        assert lib.is_tensor(x) and not lib.is_tensor([1.0]) and not lib.is_tensor(np.ones(2))
        assert lib.numel(x) == 6 and lib.numel(lib.tensor(1.0)) == 1
        assert lib.numel(lib.zeros(0, 4)) == 0
    for name in NAMES:
        a, t = ardor.zeros(1, dtype=A(name)), torch.zeros(1, dtype=T(name))
        assert ardor.is_floating_point(a) == torch.is_floating_point(t), name
        assert ardor.is_complex(a) == torch.is_complex(t), name
        assert a.is_floating_point() == t.is_floating_point()
        assert a.is_signed() == t.is_signed()
        assert a.element_size() == t.element_size()


@pytest.mark.parametrize("dt", ["float16", "bfloat16", "float64"])
def test_set_default_dtype_floating_variants(dt):
    torch.set_default_dtype(T(dt))
    ardor.set_default_dtype(A(dt))
    try:
        assert tname(ardor.get_default_dtype()) == str(torch.get_default_dtype())
        assert tname(ardor.tensor([1.5]).dtype) == str(torch.tensor([1.5]).dtype)
        t_c = outcome(lambda: torch.tensor([1j]).dtype)
        if t_c not in (COMPLEX32, "RuntimeError"):  # torch has no complex bfloat16
            assert tname(ardor.tensor([1j]).dtype) == t_c
        assert tname(ardor.zeros(1).dtype) == str(torch.zeros(1).dtype)
    finally:
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("bad", ["int32", "int64", "bool", "complex64"])
def test_set_default_dtype_rejects_non_float(bad):
    with pytest.raises(TypeError):
        torch.set_default_dtype(T(bad))
    with pytest.raises(TypeError):
        ardor.set_default_dtype(A(bad))
    assert ardor.get_default_dtype() is ardor.float32


def test_bfloat16_round_trip_and_promotion():
    x = np.array([1.0, 2.5, -3.0, 1e-3, 1e30], np.float32)
    a, t = ardor.tensor(x).bfloat16(), torch.tensor(x).bfloat16()
    assert a.dtype is ardor.bfloat16
    np.testing.assert_array_equal(a.float().numpy(), t.float().numpy())
    assert a.float().dtype is ardor.float32 and a.double().dtype is ardor.float64
    assert repr(a).replace("ardor.", "torch.") == repr(t)
    assert tname((a + ardor.ones(5, dtype=ardor.float16)).dtype) == \
        str((t + torch.ones(5, dtype=torch.float16)).dtype)
    assert tname((a + ardor.ones(5)).dtype) == str((t + torch.ones(5)).dtype)
    for s in (1.5, 2, True):
        assert tname((a * s).dtype) == str((t * s).dtype)
        assert (a * s).float().tolist() == (t * s).float().tolist()
    assert a.tolist() == t.tolist()
