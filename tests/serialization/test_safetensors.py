"""ardor.utils.safetensors against the safetensors package's own reader and writer."""
import numpy as np
import pytest

import ardor
from ardor.utils import safetensors as ast

st_numpy = pytest.importorskip("safetensors.numpy", reason="the safetensors package is the "
                               "interoperability oracle (in the test extra)")

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_files_read_by_the_safetensors_package(tmp_path, dtype):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 5)) * 5).astype(dtype)
    ast.save_file({"w": ardor.from_numpy(arr), "e": ardor.zeros(0, 2)}, tmp_path / "a.st",
                  metadata={"format": "pt"})
    back = st_numpy.load_file(str(tmp_path / "a.st"))
    np.testing.assert_array_equal(back["w"], arr)
    assert back["e"].shape == (0, 2)


def test_zero_dim_and_transposed_tensors_keep_their_shape(tmp_path):
    # a BatchNorm's num_batches_tracked is 0-d; a transposed view is saved in C order
    t = {"n": ardor.tensor(7), "s": ardor.tensor(2.5), "t": ardor.arange(6.0).reshape(2, 3).t()}
    ast.save_file(t, tmp_path / "z.st")
    back, theirs = ast.load_file(tmp_path / "z.st"), st_numpy.load_file(str(tmp_path / "z.st"))
    for k, v in t.items():
        assert tuple(back[k].shape) == tuple(v.shape) == theirs[k].shape
        np.testing.assert_array_equal(back[k].numpy(), v.numpy())
        np.testing.assert_array_equal(theirs[k], v.numpy())


@pytest.mark.parametrize("dtype", DTYPES)
def test_files_written_by_the_safetensors_package(tmp_path, dtype):
    arr = np.arange(12).reshape(3, 4).astype(dtype)
    st_numpy.save_file({"x": arr, "y": arr[:1].copy()}, str(tmp_path / "b.st"))
    got = ast.load_file(tmp_path / "b.st")
    np.testing.assert_array_equal(got["x"].numpy(), arr)
    assert str(got["y"].dtype) == f"ardor.{dtype}"


def test_state_dict_round_trip_and_metadata(tmp_path):
    model = ardor.nn.Linear(3, 2)
    ast.save_file(model.state_dict(), tmp_path / "m.st", metadata={"k": "v"})
    fresh = ardor.nn.Linear(3, 2)
    fresh.load_state_dict(ast.load_file(tmp_path / "m.st"))
    np.testing.assert_array_equal(fresh.weight.detach().numpy(), model.weight.detach().numpy())
    assert ast.load_metadata(tmp_path / "m.st") == {"k": "v"}


@pytest.mark.parametrize("data", [b"", b"\x05\x00\x00\x00\x00\x00\x00\x00{}", b"\xff" * 16,
                                  b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"{\"a\": {}}      "])
def test_corrupt_files_raise_value_error(data):
    with pytest.raises(ValueError):
        ast.load(data)


def test_shared_memory_is_refused():
    t = ardor.zeros(4)
    with pytest.raises(RuntimeError, match="share memory"):
        ast.save({"a": t, "b": t})
