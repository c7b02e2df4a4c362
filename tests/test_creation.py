"""Tensor creation against torch: dtype inference, values, shapes, memory sharing, errors."""
import warnings

import numpy as np
import pytest
import torch

import ardor

from oracle import check


def outcome(fn, lib):
    """('ok', tensor) or ('err', exception type, message) of ``fn(lib)``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ("ok", fn(lib))
        except Exception as e:  # noqa: BLE001 - the type is what we compare
            return ("err", type(e), str(e))


def same(fn, rtol=1e-6, atol=1e-7, message=False):
    """fn(ardor) and fn(torch) agree: same values/dtype/shape, or the same exception type."""
    t = outcome(fn, torch)
    a = outcome(fn, ardor)
    assert a[0] == t[0], (a, t)
    if t[0] == "err":
        assert a[1] is t[1], (a, t)
        # the text too, except where torch's comes from its argument parser (signatures)
        if message or not any(k in t[2] for k in ("invalid combination", "missing", "takes")):
            assert a[2].replace("ardor", "torch") == t[2], (a[2], t[2])
        return
    ra, rt = a[1], t[1]
    if isinstance(rt, torch.Tensor):
        assert ra.requires_grad == rt.requires_grad
        check(ra, rt, rtol=rtol, atol=atol)
    else:
        assert ra == rt


# ------------------------------------------------------------------ tensor()
TENSOR_CASES = {
    "float_list": lambda L: L.tensor([1.5, 2.0]),
    "int_list": lambda L: L.tensor([1, 2, 3]),
    "mixed_int_float": lambda L: L.tensor([1, 2.0]),
    "bool_int": lambda L: L.tensor([True, 1]),
    "bool_float": lambda L: L.tensor([True, 1.5]),
    "bools": lambda L: L.tensor([True, False]),
    "complex": lambda L: L.tensor([1 + 2j, 1]),
    "nested": lambda L: L.tensor([[1, 2], [3, 4]]),
    "nested3": lambda L: L.tensor([[[1.0], [2.0]], [[3.0], [4.0]]]),
    "tuple": lambda L: L.tensor((1, 2)),
    "range": lambda L: L.tensor(range(4)),
    "scalar_float": lambda L: L.tensor(3.5),
    "scalar_int": lambda L: L.tensor(3),
    "scalar_bool": lambda L: L.tensor(True),
    "scalar_complex": lambda L: L.tensor(1j),
    "np_f64_scalar": lambda L: L.tensor(np.float64(1.5)),
    "np_int32_scalar": lambda L: L.tensor(np.int32(4)),
    "np_bool_scalar": lambda L: L.tensor(np.bool_(True)),
    "list_np_f64": lambda L: L.tensor([np.float64(1.0), 2.0]),
    "list_np_f32_int": lambda L: L.tensor([np.float32(1.0), 2]),
    "list_np_i32_int": lambda L: L.tensor([np.int32(1), 2]),
    "list_np_i32_only": lambda L: L.tensor([np.int32(1), np.int32(2)]),
    "list_np_f16": lambda L: L.tensor([np.float16(1)]),
    "list_0d_f64": lambda L: L.tensor([L.tensor(1.0, dtype=L.float64), L.tensor(2.0, dtype=L.float64)]),
    "list_0d_i32_float": lambda L: L.tensor([L.tensor(1, dtype=L.int32), 2.5]),
    "list_1elem_tensors": lambda L: L.tensor([L.tensor([1.0]), L.tensor([2.0])]),
    "list_2elem_tensors": lambda L: L.tensor([L.tensor([1.0, 2.0]), L.tensor([2.0, 3.0])]),
    "list_nparrays": lambda L: L.tensor([np.array([1.0, 2.0]), np.array([3.0, 4.0])]),
    "empty": lambda L: L.tensor([]),
    "empty_nested": lambda L: L.tensor([[], []]),
    "nan_inf": lambda L: L.tensor([float("nan"), float("inf"), 1]),
    "np_f32": lambda L: L.tensor(np.arange(6, dtype=np.float32).reshape(2, 3)),
    "np_i16": lambda L: L.tensor(np.arange(3, dtype=np.int16)),
    "np_u16": lambda L: L.tensor(np.array([1], dtype=np.uint16)),
    "np_bool": lambda L: L.tensor(np.array([True, False])),
    "np_noncontig": lambda L: L.tensor(np.arange(12.0).reshape(3, 4).T),
    "np_negstride": lambda L: L.tensor(np.arange(5)[::-1]),
    "from_tensor": lambda L: L.tensor(L.ones(2)),
    "dtype_int_from_float": lambda L: L.tensor([1.7, -1.7], dtype=L.int64),
    "dtype_bool": lambda L: L.tensor([0, 2], dtype=L.bool),
    "dtype_complex": lambda L: L.tensor([1, 2], dtype=L.complex64),
    "dtype_f16": lambda L: L.tensor([1.1, 2.2], dtype=L.float16),
    "dtype_f64": lambda L: L.tensor([0.1], dtype=L.float64),
    "dtype_py_float": lambda L: L.tensor([1, 2], dtype=float),
    "dtype_py_int": lambda L: L.tensor([1.5], dtype=int),
    "u8_wrap": lambda L: L.tensor([-1, -128], dtype=L.uint8),
    "requires_grad": lambda L: L.tensor([1.0, 2.0], requires_grad=True),
    "big_neg": lambda L: L.tensor([-2 ** 63]),
    # errors
    "ragged": lambda L: L.tensor([[1, 2], [1, 2, 3]]),
    "ragged_deep": lambda L: L.tensor([[[1], [2]], [[1], [2, 3]]]),
    "ragged_f64": lambda L: L.tensor([[1, 2], [3]], dtype=L.float64),
    "seq_then_scalar": lambda L: L.tensor([[1, 2], 3]),
    "scalar_then_seq": lambda L: L.tensor([1, [2, 3]]),
    "scalar_then_seq_f": lambda L: L.tensor([1, [2, 3]], dtype=L.float64),
    "str": lambda L: L.tensor("abc"),
    "list_str": lambda L: L.tensor(["a"]),
    "none": lambda L: L.tensor(None),
    "list_none": lambda L: L.tensor([None]),
    "dict": lambda L: L.tensor({1: 2}),
    "set": lambda L: L.tensor({1, 2}),
    "too_big": lambda L: L.tensor(2 ** 63),
    "too_big_list": lambda L: L.tensor([2 ** 64]),
    "int8_overflow": lambda L: L.tensor([-129], dtype=L.int8),
    "u8_overflow": lambda L: L.tensor([300], dtype=L.uint8),
    "complex_to_int": lambda L: L.tensor([1j], dtype=L.int64),
    "complex_to_float": lambda L: L.tensor([1j], dtype=L.float32),
    "np_object": lambda L: L.tensor(np.array([1, "a"], dtype=object)),
    "np_str": lambda L: L.tensor(np.array(["a"])),
    "np_bigendian": lambda L: L.tensor(np.zeros(2, dtype=">f4")),
    "requires_grad_int": lambda L: L.tensor([1, 2], requires_grad=True),
}


@pytest.mark.parametrize("name", sorted(TENSOR_CASES))
def test_tensor_inference_matches_torch(name):
    same(TENSOR_CASES[name], message=name in ("ragged", "ragged_deep", "ragged_f64",
                                              "seq_then_scalar", "too_big", "list_str"))


def test_tensor_copies_and_warns_like_torch():
    src = ardor.ones(3, requires_grad=True)
    with pytest.warns(UserWarning, match="To copy construct from a tensor"):
        t = ardor.tensor(src)
    assert not t.requires_grad and t.is_leaf
    arr = np.zeros(3)
    t = ardor.tensor(arr)
    arr[0] = 5
    assert t[0].item() == 0 if hasattr(ardor.Tensor, "__getitem__") else t.tolist()[0] == 0
    with pytest.warns(UserWarning, match="list of numpy.ndarrays"):
        ardor.tensor([np.zeros(2), np.ones(2)])


def test_tensor_float32_rounding_matches_torch():
    vals = [0.1, 1 / 3, 1e-40, 3.4e38, 1e39, -2.5e-45]
    check(ardor.tensor(vals), torch.tensor(vals), rtol=0, atol=0)
    check(ardor.tensor(vals, dtype=ardor.float16), torch.tensor(vals, dtype=torch.float16),
          rtol=0, atol=0)


# ------------------------------------------------------------------ numpy interop
def test_from_numpy_shares_memory_both_ways():
    arr = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = ardor.from_numpy(arr)
    assert t.dtype == ardor.float32 and t.shape == (2, 3)
    arr[0, 0] = 100
    assert t.numpy()[0, 0] == 100
    t.numpy()[1, 2] = -1
    assert arr[1, 2] == -1
    assert ardor.from_numpy(arr.T).shape == (3, 2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.complex64,
                                   np.complex128, np.int64, np.int32, np.int16, np.int8,
                                   np.uint8, np.uint16, np.uint32, np.uint64, np.bool_])
def test_from_numpy_dtypes(dtype):
    arr = np.zeros(3, dtype=dtype)
    a, t = ardor.from_numpy(arr), torch.from_numpy(arr)
    assert str(a.dtype)[6:] == str(t.dtype)[6:]


@pytest.mark.parametrize("call", [
    lambda L: L.from_numpy(np.array(["a"])),
    lambda L: L.from_numpy(np.array([1, None], dtype=object)),
    lambda L: L.from_numpy([1, 2]),
    lambda L: L.from_numpy(np.float64(1.0)),
    lambda L: L.from_numpy(np.arange(3)[::-1]),
    lambda L: L.from_numpy(np.zeros(2, dtype=">f4")),
    lambda L: L.from_numpy(np.zeros(2, dtype=np.float128)) if hasattr(np, "float128") else L.from_numpy(np.array(["x"])),
])
def test_from_numpy_errors(call):
    same(call, message=True)


def test_from_numpy_non_writable_warns():
    arr = np.zeros(3)
    arr.flags.writeable = False
    with pytest.warns(UserWarning, match="not writable"):
        ardor.from_numpy(arr)
    with pytest.warns(UserWarning, match="not writable"):
        torch.from_numpy(arr)


def test_as_tensor_sharing_rules():
    arr = np.arange(4.0)
    t = ardor.as_tensor(arr)
    arr[0] = 9
    assert t.numpy()[0] == 9 and t.dtype == ardor.float64
    t32 = ardor.as_tensor(arr, dtype=ardor.float32)  # a different dtype copies
    arr[1] = 7
    assert t32.numpy()[1] == 1 and t32.dtype == ardor.float32
    x = ardor.ones(2)
    assert ardor.as_tensor(x) is x
    assert ardor.as_tensor(x, dtype=ardor.float64).dtype == ardor.float64
    same(lambda L: L.as_tensor([1, 2], dtype=L.float16))
    same(lambda L: L.as_tensor([[1, 2.5]]))
    same(lambda L: L.as_tensor(3))


def test_asarray():
    arr = np.arange(3.0)
    a = ardor.asarray(arr)
    arr[0] = 5
    assert a.numpy()[0] == 5
    c = ardor.asarray(arr, copy=True)
    arr[1] = 6
    assert c.numpy()[1] == 1
    x = ardor.ones(2)
    assert ardor.asarray(x) is x
    same(lambda L: L.asarray(np.arange(3), copy=False, dtype=L.float32), message=True)
    same(lambda L: L.asarray([1, 2.5]))
    same(lambda L: L.asarray(3.5))
    same(lambda L: L.asarray(np.float64(3.5)))
    same(lambda L: L.asarray(np.arange(3), dtype=L.float32))
    same(lambda L: L.asarray([1.0], requires_grad=True))
    assert ardor.asarray(x, dtype=ardor.float64).dtype == ardor.float64


ASARRAY_CASES = {
    "list_copy_false": lambda L: L.asarray([1, 2], copy=False),
    "tensor_copy_false_dtype": lambda L: L.asarray(L.ones(2), dtype=L.float64, copy=False),
    "np_copy_false_same": lambda L: L.asarray(np.ones(2), copy=False),
    "tensor_rg": lambda L: L.asarray(L.ones(2), requires_grad=True),
    "np_rg": lambda L: L.asarray(np.ones(2), requires_grad=True),
    "int_rg": lambda L: L.asarray([1, 2], requires_grad=True),
    "scalar_bool": lambda L: L.asarray(True),
    "np_scalar_i16": lambda L: L.asarray(np.int16(3)),
    "nested": lambda L: L.asarray([[1, 2], [3, 4.5]]),
    "ragged": lambda L: L.asarray([[1, 2], [3]]),
    "str": lambda L: L.asarray("a"),
    "none": lambda L: L.asarray(None),
    "np_obj": lambda L: L.asarray(np.array([None])),
    "tensor_list": lambda L: L.asarray([L.tensor(1.0), L.tensor(2.0)]),
    "as_tensor_list_dtype": lambda L: L.as_tensor([1.5, 2.5], dtype=L.int32),
    "as_tensor_ragged": lambda L: L.as_tensor([[1], [1, 2]]),
    "as_tensor_none": lambda L: L.as_tensor(None),
    "as_tensor_np_u16": lambda L: L.as_tensor(np.ones(2, np.uint16)),
    "as_tensor_np_bad": lambda L: L.as_tensor(np.array(["a"])),
    "as_tensor_scalar": lambda L: L.as_tensor(2.5, dtype=L.float64),
}


@pytest.mark.parametrize("name", sorted(ASARRAY_CASES))
def test_asarray_as_tensor_match_torch(name):
    same(ASARRAY_CASES[name])


# ------------------------------------------------------------------ factories
FACTORY_CASES = {
    "zeros_args": lambda L: L.zeros(2, 3),
    "zeros_tuple": lambda L: L.zeros((2, 3)),
    "zeros_list": lambda L: L.zeros([2, 3]),
    "zeros_size_kw": lambda L: L.zeros(size=(2, 3)),
    "zeros_Size": lambda L: L.zeros(L.Size([2, 3])),
    "zeros_0d": lambda L: L.zeros(()),
    "zeros_empty_dim": lambda L: L.zeros(0, 4),
    "zeros_np_int": lambda L: L.zeros(np.int64(2)),
    "zeros_tensor_dim": lambda L: L.zeros(L.tensor(2), 3),
    "zeros_dtype": lambda L: L.zeros(2, dtype=L.int32),
    "zeros_rg": lambda L: L.zeros(2, requires_grad=True),
    "ones": lambda L: L.ones(3, 1, dtype=L.float64),
    "ones_bool": lambda L: L.ones(2, dtype=L.bool),
    "ones_complex": lambda L: L.ones(2, dtype=L.complex64),
    "empty_shape": lambda L: L.empty(2, 3).shape,
    "empty_dtype": lambda L: str(L.empty(2, dtype=L.int16).dtype)[6:],
    "full_int": lambda L: L.full((2, 2), 3),
    "full_float": lambda L: L.full((2,), 1.5),
    "full_bool": lambda L: L.full((2,), True),
    "full_complex": lambda L: L.full((2,), 1j),
    "full_np_float": lambda L: L.full((2,), np.float64(1.5)),
    "full_tensor_int": lambda L: L.full((2,), L.tensor(1)),
    "full_tensor_f64": lambda L: L.full((2,), L.tensor(1.0, dtype=L.float64)),
    "full_dtype": lambda L: L.full((2,), 1.7, dtype=L.int64),
    "full_list_size": lambda L: L.full([2, 1], 7),
    "full_int_size": lambda L: L.full(3, 1.0),
    "full_rg": lambda L: L.full((2,), 1.0, requires_grad=True),
    "full_inf": lambda L: L.full((2,), float("-inf")),
    "zeros_like": lambda L: L.zeros_like(L.ones(2, 3, dtype=L.int32)),
    "ones_like_dtype": lambda L: L.ones_like(L.ones(2), dtype=L.float64),
    "full_like": lambda L: L.full_like(L.ones(2, dtype=L.int32), 2.7),
    "full_like_bool": lambda L: L.full_like(L.ones(2, dtype=L.bool), 2.7),
    "full_like_float": lambda L: L.full_like(L.ones(2, 2), 0.25),
    "full_like_rg": lambda L: L.full_like(L.ones(2), 0.25, requires_grad=True),
    "empty_like": lambda L: (L.empty_like(L.ones(2, 3, dtype=L.int32)).shape,
                             str(L.empty_like(L.ones(2, 3, dtype=L.int32)).dtype)[6:]),
    "new_zeros": lambda L: L.ones(2, dtype=L.float64).new_zeros(3, 2),
    "new_ones": lambda L: L.ones(2, dtype=L.int32).new_ones((2,)),
    "new_full": lambda L: L.ones(2, dtype=L.float64).new_full((2,), 3),
    "new_tensor": lambda L: L.ones(2, dtype=L.float64).new_tensor([1, 2]),
    "new_empty": lambda L: str(L.ones(2, dtype=L.int8).new_empty(3).dtype)[6:],
    # errors
    "zeros_neg": lambda L: L.zeros(2, -1),
    "ones_neg": lambda L: L.ones(-1),
    "full_neg": lambda L: L.full([-1], 3),
    "zeros_float": lambda L: L.zeros(2.0),
    "zeros_float_in_tuple": lambda L: L.zeros([2.5]),
    "zeros_none": lambda L: L.zeros(None),
    "zeros_str": lambda L: L.zeros("a"),
    "zeros_no_size": lambda L: L.zeros(),
    "zeros_tensor_size": lambda L: L.zeros(L.tensor([2, 3])),
    "ones_rg_int": lambda L: L.ones(2, dtype=L.int64, requires_grad=True),
    "full_like_not_tensor": lambda L: L.full_like([1, 2], 3),
}


@pytest.mark.parametrize("name", sorted(FACTORY_CASES))
def test_factories_match_torch(name):
    same(FACTORY_CASES[name], message=name in ("ones_neg", "full_neg", "zeros_float",
                                               "zeros_none", "ones_rg_int"))


@pytest.mark.parametrize("device", ["cuda", "cuda:0", ardor.device("cuda")])
def test_cuda_refused_clearly(device):
    for f in (lambda: ardor.zeros(2, device=device), lambda: ardor.tensor([1.0], device=device),
              lambda: ardor.arange(3, device=device), lambda: ardor.rand(2, device=device),
              lambda: ardor.full((2,), 1.0, device=device)):
        with pytest.raises(RuntimeError, match="cuda"):
            f()
    assert ardor.zeros(2, device="cpu").device == ardor.device("cpu")


def test_out_argument():
    out = ardor.empty(3)
    r = ardor.zeros(3, out=out)
    assert r is out and out.tolist() == [0.0, 0.0, 0.0]
    v = out._version_counter
    ardor.arange(3, out=out)
    assert out.tolist() == [0.0, 1.0, 2.0] and out._version_counter == v + 1


# ------------------------------------------------------------------ ranges
RANGE_CASES = {
    "arange_int": lambda L: L.arange(5),
    "arange_start_end": lambda L: L.arange(2, 9),
    "arange_step": lambda L: L.arange(1, 10, 3),
    "arange_neg_step": lambda L: L.arange(10, 1, -3),
    "arange_float": lambda L: L.arange(0, 1, 0.25),
    "arange_mixed": lambda L: L.arange(0, 5.0),
    "arange_float_neg": lambda L: L.arange(5, 0, -1.5),
    "arange_fp_len": lambda L: L.arange(1, 2.3, 0.1),
    "arange_fp_len2": lambda L: L.arange(0, 1, 0.1),
    "arange_fp_len3": lambda L: L.arange(-1, 1.2, 0.2),
    "arange_empty": lambda L: L.arange(5, 5),
    "arange_tensor": lambda L: L.arange(L.tensor(3)),
    "arange_tensor_f": lambda L: L.arange(L.tensor(3.0)),
    "arange_np": lambda L: L.arange(np.float64(3.0)),
    "arange_dtype": lambda L: L.arange(0, 1, 0.3, dtype=L.float64),
    "arange_int_dtype_f": lambda L: L.arange(5, dtype=L.float32),
    "arange_f_to_int": lambda L: L.arange(0.5, 5.5, dtype=L.int64),
    "arange_int32": lambda L: L.arange(-3, 3, dtype=L.int32),
    "arange_big": lambda L: L.arange(0, 10 ** 6, 7),
    "arange_rg": lambda L: L.arange(3.0, requires_grad=True),
    "arange_f16": lambda L: L.arange(0, 3, 0.5, dtype=L.float16),
    "arange_wrong_sign": lambda L: L.arange(0, 5, -1),
    "arange_wrong_sign_f": lambda L: L.arange(5.0, 0, 0.5),
    "arange_zero_step": lambda L: L.arange(0, 5, 0),
    "arange_inf": lambda L: L.arange(0, float("inf")),
    "arange_nan": lambda L: L.arange(0, float("nan")),
    "range": lambda L: L.range(0, 3),
    "range_step": lambda L: L.range(1, 2, 0.25),
    "range_neg": lambda L: L.range(3, 0, -1),
    "range_dtype": lambda L: L.range(0, 4, 2, dtype=L.int64),
    "range_bad": lambda L: L.range(0, 3, -1),
    "linspace": lambda L: L.linspace(0, 10, 5),
    "linspace_float": lambda L: L.linspace(-1.5, 2.25, 7),
    "linspace_many": lambda L: L.linspace(-3.7, 11.3, 1001),
    "linspace_f64": lambda L: L.linspace(0, 1, 11, dtype=L.float64),
    "linspace_int_dtype": lambda L: L.linspace(0, 10, 4, dtype=L.int64),
    "linspace_int_dtype_neg": lambda L: L.linspace(-7, 10, 6, dtype=L.int32),
    "linspace_1": lambda L: L.linspace(3, 10, 1),
    "linspace_0": lambda L: L.linspace(3, 10, 0),
    "linspace_desc": lambda L: L.linspace(5, -5, 9),
    "linspace_tensor": lambda L: L.linspace(L.tensor(0.0), L.tensor(1.0), 3),
    "linspace_complex": lambda L: L.linspace(0, 1j, 3),
    "linspace_rg": lambda L: L.linspace(0, 1, 3, requires_grad=True),
    "linspace_neg_steps": lambda L: L.linspace(3, 10, -1),
    "linspace_no_steps": lambda L: L.linspace(3, 10),
    "logspace": lambda L: L.logspace(0, 2, 3),
    "logspace_base": lambda L: L.logspace(0, 2, 3, base=2),
    "logspace_frac": lambda L: L.logspace(-1, 1.5, 6),
    "logspace_int": lambda L: L.logspace(0, 2, 3, dtype=L.int64),
    "logspace_f64": lambda L: L.logspace(-2, 2, 9, dtype=L.float64),
    "logspace_neg_steps": lambda L: L.logspace(0, 1, -2),
    "eye": lambda L: L.eye(3),
    "eye_rect": lambda L: L.eye(2, 3),
    "eye_tall": lambda L: L.eye(4, 2, dtype=L.int64),
    "eye_bool": lambda L: L.eye(2, dtype=L.bool),
    "eye0": lambda L: L.eye(0),
    "eye_rg": lambda L: L.eye(2, requires_grad=True),
    "eye_neg": lambda L: L.eye(-1),
    "eye_neg_m": lambda L: L.eye(2, -1),
    "tril_indices": lambda L: L.tril_indices(3, 4, 1),
    "tril_indices_neg": lambda L: L.tril_indices(4, 3, -1),
    "tril_indices_sq": lambda L: L.tril_indices(3, 3),
    "triu_indices": lambda L: L.triu_indices(3, 3, -1),
    "triu_indices_off": lambda L: L.triu_indices(3, 5, 2),
    "triu_indices_int32": lambda L: L.triu_indices(3, 3, dtype=L.int32),
    "tril_indices_empty": lambda L: L.tril_indices(0, 3),
    "tril_indices_bad": lambda L: L.tril_indices(-1, 3),
    "empty_strided": lambda L: (L.empty_strided((2, 3), (1, 2)).stride(),
                                L.empty_strided((2, 3), (1, 2)).shape),
}


@pytest.mark.parametrize("name", sorted(RANGE_CASES))
def test_ranges_match_torch(name):
    # linspace/logspace: torch's kernel computes in the output dtype, so values match closely
    same(RANGE_CASES[name], rtol=2e-7, atol=1e-7,
         message=name in ("arange_wrong_sign", "arange_zero_step", "arange_inf",
                          "linspace_neg_steps", "eye_neg"))


def test_range_warns_deprecated():
    with pytest.warns(UserWarning, match="deprecated"):
        ardor.range(0, 2)


def test_arange_float32_exact_like_torch():
    for args in [(0, 1, 0.1), (-5.5, 7.25, 0.37), (1e6, 1e6 + 10, 0.5)]:
        check(ardor.arange(*args), torch.arange(*args), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_logspace_exact_like_torch(dtype):
    for args in [(0, 1, 11), (-2.5, 3.7, 1001), (0.3, -2.2, 333)]:
        for base in (10.0, 2.0, 3.3):
            a = ardor.logspace(*args, base=base, dtype=getattr(ardor, dtype))
            t = torch.logspace(*args, base=base, dtype=getattr(torch, dtype))
            check(a, t, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_arange_linspace_exact_like_torch_other_floats(dtype):
    for args in [(0, 1, 0.1), (-5.5, 7.25, 0.37), (0, 100, 0.7)]:
        check(ardor.arange(*args, dtype=getattr(ardor, dtype)),
              torch.arange(*args, dtype=getattr(torch, dtype)), rtol=0, atol=0)
    for args in [(0, 1, 11), (-3.7, 11.3, 101), (5, -5, 9)]:
        check(ardor.linspace(*args, dtype=getattr(ardor, dtype)),
              torch.linspace(*args, dtype=getattr(torch, dtype)), rtol=0, atol=0)


def test_linspace_float32_exact_like_torch():
    for args in [(0, 1, 11), (-3.7, 11.3, 1001), (1e-3, 7.0, 13), (5, -5, 9)]:
        check(ardor.linspace(*args), torch.linspace(*args), rtol=0, atol=0)


# ------------------------------------------------------------------ default dtype
DEFAULT_DTYPE_PATHS = {
    "tensor_float": lambda L: L.tensor([1.5]),
    "tensor_mixed": lambda L: L.tensor([1, 2.5]),
    "tensor_empty": lambda L: L.tensor([]),
    "tensor_complex": lambda L: L.tensor([1j]),
    "zeros": lambda L: L.zeros(2),
    "ones": lambda L: L.ones(2),
    "empty": lambda L: L.empty(2).dtype,
    "full": lambda L: L.full((2,), 1.5),
    "full_complex": lambda L: L.full((2,), 1j),
    "arange": lambda L: L.arange(0, 1, 0.5),
    "range": lambda L: L.range(0, 1),
    "linspace": lambda L: L.linspace(0, 1, 3),
    "logspace": lambda L: L.logspace(0, 1, 3),
    "eye": lambda L: L.eye(2),
    "rand": lambda L: L.rand(2).dtype,
    "randn": lambda L: L.randn(2).dtype,
    "normal": lambda L: L.normal(0.0, 1.0, (2,)).dtype,
    "Tensor": lambda L: L.Tensor([1, 2]),
    "Tensor_empty": lambda L: L.Tensor(),
    "Tensor_sizes": lambda L: L.Tensor(2, 3).shape,
    "Tensor_tuple_data": lambda L: L.Tensor((2, 3)),
    "Tensor_Size": lambda L: L.Tensor(L.Size([2, 3])).shape,
    "Tensor_float": lambda L: L.Tensor(2.5),
    "Tensor_np_int": lambda L: L.Tensor(np.arange(3)),
    "as_tensor": lambda L: L.as_tensor([1.5]),
    "asarray": lambda L: L.asarray([1.5]),
    "empty_strided": lambda L: L.empty_strided((2,), (1,)).dtype,
    "result_type": lambda L: L.result_type(L.tensor([1]), 1.5),
}


@pytest.mark.parametrize("name", sorted(DEFAULT_DTYPE_PATHS))
def test_set_default_dtype_reaches_every_path(name):
    torch.set_default_dtype(torch.float64)
    ardor.set_default_dtype(ardor.float64)
    try:
        fn = DEFAULT_DTYPE_PATHS[name]
        t, a = outcome(fn, torch), outcome(fn, ardor)
        assert a[0] == t[0], (a, t)
        if t[0] == "err":
            assert a[1] is t[1] and a[2] == t[2]
        elif isinstance(t[1], torch.Tensor):
            check(a[1], t[1])
        else:
            assert str(a[1])[6:] == str(t[1])[6:]
    finally:
        torch.set_default_dtype(torch.float32)


def test_default_dtype_api():
    assert ardor.get_default_dtype() == ardor.float32
    with pytest.raises(TypeError):
        ardor.set_default_dtype(ardor.int32)
    ardor.set_default_dtype(ardor.float64)
    assert ardor.get_default_dtype() == ardor.float64


# ------------------------------------------------------------------ bfloat16
def test_bfloat16_creation_round_trip():
    vals = [1.0, -2.5, 3.140625, 1e-3, 65504.0]
    a = ardor.tensor(vals, dtype=ardor.bfloat16)
    t = torch.tensor(vals, dtype=torch.bfloat16)
    assert a.dtype == ardor.bfloat16
    check(a.float(), t.float(), rtol=0, atol=0)
    assert a.float().dtype == ardor.float32
    check(ardor.ones(2, dtype=ardor.bfloat16).float(), torch.ones(2, dtype=torch.bfloat16).float())
    check(ardor.zeros(2).to(ardor.bfloat16).float(), torch.zeros(2).bfloat16().float())
    check(ardor.tensor(vals).bfloat16().float(), torch.tensor(vals).bfloat16().float(),
          rtol=0, atol=0)
    assert a.tolist() == t.tolist()
    assert repr(a).replace("ardor.", "torch.") == repr(t)
    assert ardor.arange(4, dtype=ardor.bfloat16).tolist() == torch.arange(4, dtype=torch.bfloat16).tolist()


# ------------------------------------------------------------------ complex / polar
@pytest.mark.parametrize("fn", ["complex", "polar"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_complex_polar_values_and_grads(fn, dtype):
    rng = np.random.default_rng(3)
    a_np = rng.standard_normal((2, 3)).astype(dtype)
    b_np = rng.standard_normal((3,)).astype(dtype)
    w1 = rng.standard_normal((2, 3))
    w2 = rng.standard_normal((2, 3))
    res = []
    for lib in (torch, ardor):
        a = lib.tensor(a_np, requires_grad=True)
        b = lib.tensor(b_np, requires_grad=True)
        z = getattr(lib, fn)(a, b)
        loss = (lib.real(z) * lib.tensor(w1.astype(dtype)) + lib.imag(z) * lib.tensor(w2.astype(dtype))).sum()
        loss.backward()
        res.append((z, a.grad, b.grad, type(z.grad_fn).__name__))
    (zt, gat, gbt, nt), (za, gaa, gba, na) = res
    check(za, zt)
    check(gaa, gat, rtol=1e-5, atol=1e-5)
    check(gba, gbt, rtol=1e-5, atol=1e-5)
    assert na == nt


@pytest.mark.parametrize("call", [
    lambda L: L.complex(L.tensor([1]), L.tensor([2])),
    lambda L: L.complex(L.tensor([1.0]), L.tensor([2.0], dtype=L.float64)),
    lambda L: L.complex(L.ones(2), L.ones(3)),
    lambda L: L.polar(L.ones(2), L.ones(3)),
    lambda L: L.complex(L.tensor([1.0, float("inf")]), L.tensor([float("inf"), 0.0])),
])
def test_complex_polar_errors_and_specials(call):
    same(call)


# ------------------------------------------------------------------ Size
SIZE_CASES = [
    lambda L: L.Size([2, 3, 4])[1:], lambda L: L.Size([2, 3]) + (5,),
    lambda L: (1,) + L.Size([2, 3]), lambda L: L.Size([2, 3]) * 2, lambda L: 2 * L.Size([2]),
    lambda L: L.Size([2, 3, 4]).numel(), lambda L: L.Size([2, 3]) == (2, 3),
    lambda L: L.Size([2, 3]) == [2, 3], lambda L: L.Size(), lambda L: L.Size([2.5]),
    lambda L: L.Size([L.tensor(3)]), lambda L: L.Size([True]), lambda L: L.Size(x for x in [1, 2]),
    lambda L: L.Size([2, 3])[::-1], lambda L: L.Size([2, 3])[0], lambda L: L.zeros(2, 3).shape,
    lambda L: L.zeros(2, 3).size(), lambda L: L.zeros(2, 3).size(-1),
]


@pytest.mark.parametrize("i", range(len(SIZE_CASES)))
def test_size_behaviour_matches_torch(i):
    t = outcome(SIZE_CASES[i], torch)
    a = outcome(SIZE_CASES[i], ardor)
    if t[0] == "err":
        assert a[0] == "err" and a[1] is t[1] and a[2].replace("ardor", "torch") == t[2]
    else:
        assert a[0] == "ok" and repr(a[1]).replace("ardor", "torch") == repr(t[1])
        assert type(a[1]).__name__ == type(t[1]).__name__


def test_size_pickles():
    import pickle
    s = ardor.Size([2, 3])
    r = pickle.loads(pickle.dumps(s))
    assert r == s and type(r) is ardor.Size


# ------------------------------------------------------------------ tensor() fuzz
def _fuzz_leaf(rng):
    k = int(rng.integers(0, 10))
    return [lambda: bool(rng.integers(0, 2)), lambda: int(rng.integers(-5, 5)),
            lambda: float(rng.standard_normal()), lambda: complex(rng.standard_normal(), 1.0),
            lambda: np.float32(rng.standard_normal()), lambda: np.int16(3),
            lambda: np.bool_(True), lambda: ("T", ["float64", "int32", "bool", "float32"][
                int(rng.integers(0, 4))]), lambda: np.float64(2.5),
            lambda: int(rng.integers(0, 3))][k]()


def _fuzz_data(rng, depth, n):
    if depth == 0:
        return _fuzz_leaf(rng)
    return [_fuzz_data(rng, depth - 1, n) for _ in range(n)]


def _fuzz_conv(x, lib):
    if isinstance(x, list):
        return [_fuzz_conv(v, lib) for v in x]
    if isinstance(x, tuple):
        return lib.tensor(1, dtype=getattr(lib, x[1]))
    return x


def test_tensor_fuzzed_nested_data_matches_torch():
    """Nested mixes of Python/numpy scalars and 0-d tensors, some ragged, with and without
    a target dtype: same dtype, shape and values as torch, or the same exception type."""
    rng = np.random.default_rng(7)
    for _ in range(400):
        d = _fuzz_data(rng, int(rng.integers(0, 4)), int(rng.integers(1, 4)))
        if rng.random() < 0.1 and isinstance(d, list) and len(d) > 1:
            d[0] = [d[0], d[0]] if not isinstance(d[0], list) else d[0][:1]
        dt = None if rng.random() < 0.7 else \
            ["float64", "int32", "bool", "float16", "complex64", "uint8"][int(rng.integers(0, 6))]

        def run(lib):
            kw = {} if dt is None else {"dtype": getattr(lib, dt)}
            return lib.tensor(_fuzz_conv(d, lib), **kw)
        same(run)


def test_ranges_fuzzed_match_torch():
    """arange/linspace/logspace/range with random int/float arguments and dtypes: the same
    values bit for bit (torch's kernels' arithmetic), or the same exception type."""
    rng = np.random.default_rng(11)

    def num():
        k = int(rng.integers(0, 4))
        return [lambda: int(rng.integers(-20, 20)),
                lambda: float(np.round(rng.standard_normal() * 10, 2)),
                lambda: float(rng.standard_normal() * 5), lambda: int(rng.integers(1, 4))][k]()

    for _ in range(600):
        fn = ["arange", "linspace", "logspace", "range"][int(rng.integers(0, 4))]
        args = [num() for _ in range(int(rng.integers(1, 4)))]
        if fn in ("linspace", "logspace"):
            args = [num(), num(), int(rng.integers(-1, 40))]
        dt = [None, "float32", "float64", "int64", "int32", "float16", "bfloat16", "uint8",
              "int16"][int(rng.integers(0, 9))]
        if fn == "range" and dt is not None and "int" in dt:
            continue  # torch.range with an integer dtype and a fractional step crashes torch

        def run(lib):
            kw = {} if dt is None else {"dtype": getattr(lib, dt)}
            return getattr(lib, fn)(*args, **kw)
        same(run, rtol=0, atol=0)


FILLS = [0, 1, -1, 300, -300, 2 ** 40, 1.5, -2.5, 1e39, float("inf"), float("nan"), True, False,
         1j, 1 + 0j, np.float32(2.5), np.int16(7), np.bool_(True), np.float64(-0.5), "T1",
         "T2.5", "Tb"]
FILL_DTYPES = [None, "float32", "float64", "int64", "int32", "int8", "uint8", "bool", "float16",
               "bfloat16", "complex64"]


@pytest.mark.parametrize("dt", FILL_DTYPES)
def test_full_fill_values_match_torch(dt):
    """Every fill value kind into every dtype: torch's inference, checked conversion
    (overflow errors, unsigned wrap of small negatives), bool/complex rules."""
    for fv in FILLS:
        for fn in ("full", "full_like"):
            def run(lib):
                f = fv
                if isinstance(f, str):
                    f = {"T1": lib.tensor(1), "T2.5": lib.tensor(2.5), "Tb": lib.tensor(True)}[f]
                kw = {} if dt is None else {"dtype": getattr(lib, dt)}
                if fn == "full":
                    return lib.full((2,), f, **kw)
                return lib.full_like(lib.zeros(2, dtype=lib.int32), f, **kw)
            same(run, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_arange_above_grain_size_exact_like_torch(dtype):
    """Past 32768 elements torch splits arange over its threads; with the same thread
    count the values agree bit for bit."""
    from ardor._ops.creation import _intraop_threads
    if torch.get_num_threads() != _intraop_threads():
        pytest.skip("torch runs with a different intra-op thread count here")
    for args in [(-3.3, 1000.7, 0.0137), (0, 100000, 0.7), (5, -3000, -0.031)]:
        a = ardor.arange(*args, dtype=getattr(ardor, dtype))
        t = torch.arange(*args, dtype=getattr(torch, dtype))
        check(a, t, rtol=0, atol=0)
