"""ardor.save / ardor.load: round trips, torch interoperability both ways, corrupt files."""
import collections
import io
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

import ardor

DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
          "uint8", "bool", "complex64", "complex128", "uint16", "uint32", "uint64"]


def _np_values(dtype_name, shape=(3, 4), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 10
    if dtype_name == "bool":
        return x > 0
    if dtype_name.startswith("complex"):
        return (x + 1j * rng.standard_normal(shape)).astype(dtype_name)
    if dtype_name.startswith("uint"):
        return np.abs(x).astype(dtype_name)
    if dtype_name == "bfloat16":
        return x.astype(np.float32)
    return x.astype(dtype_name)


def _ardor(dtype_name):
    a = ardor.tensor(_np_values(dtype_name))
    return a.to(getattr(ardor, dtype_name)) if dtype_name == "bfloat16" else a


def _torch(dtype_name):
    t = torch.tensor(_np_values(dtype_name))
    return t.to(getattr(torch, dtype_name)) if dtype_name == "bfloat16" else t


def _same(a, t):
    assert str(a.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    assert tuple(a.shape) == tuple(t.shape)
    av = a.float() if a.dtype == ardor.bfloat16 else a
    tv = t.float() if t.dtype == torch.bfloat16 else t
    np.testing.assert_array_equal(av.numpy(), tv.numpy())


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_every_dtype_both_ways(tmp_path, dtype_name):
    ardor.save({"t": _ardor(dtype_name)}, tmp_path / "a.pt")
    _same(_ardor(dtype_name), torch.load(tmp_path / "a.pt")["t"])
    torch.save({"t": _torch(dtype_name)}, tmp_path / "t.pt")
    _same(ardor.load(tmp_path / "t.pt")["t"], _torch(dtype_name))
    back = ardor.load(tmp_path / "a.pt")["t"]
    _same(back, _torch(dtype_name))


def test_containers_round_trip(tmp_path):
    obj = {"list": [1, 2.5, "s", None, True, (3, ardor.ones(2))],
           "od": collections.OrderedDict([("b", ardor.zeros(1)), ("a", 7)]),
           "nested": {"x": {"y": [ardor.tensor([0, 1, 2])]}}, "dtype": ardor.float64,
           "size": ardor.Size([2, 3]), "bytes": b"\x00\x01", "set": {1, 2}}
    ardor.save(obj, tmp_path / "c.pt")
    back = ardor.load(tmp_path / "c.pt")
    assert back["list"][:5] == [1, 2.5, "s", None, True]
    assert isinstance(back["od"], collections.OrderedDict) and list(back["od"]) == ["b", "a"]
    assert back["nested"]["x"]["y"][0].tolist() == [0, 1, 2]
    assert back["dtype"] is ardor.float64 and back["size"] == ardor.Size([2, 3])
    assert back["bytes"] == b"\x00\x01" and back["set"] == {1, 2}
    t = torch.load(tmp_path / "c.pt")
    assert t["dtype"] is torch.float64 and t["size"] == torch.Size([2, 3])
    assert t["list"][5][1].tolist() == [1.0, 1.0]


def test_views_share_storage_after_load(tmp_path):
    base = ardor.tensor(np.arange(12.0).reshape(3, 4))
    view = base.view(12)
    ardor.save({"base": base, "view": view}, tmp_path / "v.pt")
    t = torch.load(tmp_path / "v.pt")
    assert t["base"].untyped_storage().data_ptr() == t["view"].untyped_storage().data_ptr()
    back = ardor.load(tmp_path / "v.pt")
    back["view"]._data[0] = 100.0  # writes through shared memory
    assert back["base"].tolist()[0][0] == 100.0
    tb = torch.arange(12.0).reshape(3, 4)
    torch.save({"base": tb, "col": tb.t()[1], "slice": tb[1:]}, tmp_path / "tv.pt")
    back = ardor.load(tmp_path / "tv.pt")
    assert back["col"].tolist() == tb.t()[1].tolist()
    assert back["slice"].tolist() == tb[1:].tolist()
    back["base"]._data[1, 1] = -1.0
    assert back["col"].tolist()[1] == -1.0 and back["slice"].tolist()[0][1] == -1.0


def test_state_dicts_and_parameters_from_torch(tmp_path):
    lin = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(lin.parameters())
    lin(torch.ones(1, 3)).sum().backward()
    opt.step()
    torch.save({"model": lin.state_dict(), "opt": opt.state_dict(),
                "param": torch.nn.Parameter(torch.ones(2))}, tmp_path / "sd.pt")
    back = ardor.load(tmp_path / "sd.pt")
    assert list(back["model"]) == ["weight", "bias"]
    np.testing.assert_array_equal(back["model"]["weight"].numpy(), lin.weight.detach().numpy())
    assert back["model"]._metadata == lin.state_dict()._metadata
    st = back["opt"]["state"][0]
    np.testing.assert_array_equal(st["exp_avg"].numpy(), opt.state_dict()["state"][0]["exp_avg"])
    assert back["opt"]["param_groups"][0]["params"] == [0, 1]
    assert back["param"].requires_grad and type(back["param"]).__name__ == "Parameter"


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_file_objects_and_protocols(protocol):
    buf = io.BytesIO()
    ardor.save({"x": ardor.ones(3)}, buf, pickle_protocol=protocol)
    buf.seek(0)
    assert ardor.load(buf)["x"].tolist() == [1.0, 1.0, 1.0]
    if protocol <= 3:  # torch's weights_only unpickler has no FRAME opcode (protocol 4+)
        buf.seek(0)
        assert torch.load(buf)["x"].tolist() == [1.0, 1.0, 1.0]


def test_legacy_format_is_read(tmp_path):
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    torch.save({"t": t, "v": t[1], "n": 3}, tmp_path / "old.pt",
               _use_new_zipfile_serialization=False)
    back = ardor.load(tmp_path / "old.pt")
    assert back["t"].tolist() == t.tolist() and back["v"].tolist() == t[1].tolist()
    assert back["n"] == 3


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04garbage", b"\x80\x02garbage",
                                     b"not a checkpoint at all"])
def test_broken_files_raise_clear_errors(tmp_path, content):
    p = tmp_path / "bad.pt"
    p.write_bytes(content)
    with pytest.raises((RuntimeError, pickle.UnpicklingError, EOFError)):
        ardor.load(p)


def test_truncated_and_bitflipped_files(tmp_path):
    p = tmp_path / "good.pt"
    ardor.save({"w": ardor.tensor(np.arange(100.0)), "s": "text"}, p)
    data = p.read_bytes()
    rng = np.random.default_rng(0)
    failures = 0
    for cut in sorted(set(rng.integers(1, len(data), 25).tolist())):
        (tmp_path / "t.pt").write_bytes(data[:cut])
        with pytest.raises((RuntimeError, pickle.UnpicklingError, EOFError)):
            ardor.load(tmp_path / "t.pt")
    for i in range(60):
        flipped = bytearray(data)
        pos = int(rng.integers(0, len(data)))
        flipped[pos] ^= 1 << int(rng.integers(0, 8))
        (tmp_path / "f.pt").write_bytes(bytes(flipped))
        try:
            ardor.load(tmp_path / "f.pt")  # a flip inside raw tensor bytes loads fine
        except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError):
            failures += 1
    assert failures > 0


def test_save_to_path_is_atomic_under_sigkill(tmp_path):
    target = tmp_path / "ckpt.pt"
    ardor.save({"gen": 0, "w": ardor.zeros(4)}, target)
    script = (
        "import ardor, numpy as np, sys\n"
        "big = ardor.from_numpy(np.ones(8_000_000, np.float32))\n"
        "i = 1\n"
        "print('ready', flush=True)\n"
        "while True:\n"
        "    ardor.save({'gen': i, 'w': big}, sys.argv[1]); i += 1\n")
    for delay in (0.05, 0.2, 0.45):
        proc = subprocess.Popen([sys.executable, "-c", script, str(target)],
                                stdout=subprocess.PIPE)
        proc.stdout.readline()
        import time
        time.sleep(delay)
        proc.kill()
        proc.wait()
        back = ardor.load(target)  # always a complete checkpoint, old or new
        assert back["gen"] == 0 or back["w"].shape == (8_000_000,)


def test_mmap_load_in_torch_of_ardor_file(tmp_path):
    ardor.save({"w": ardor.tensor(np.arange(10.0))}, tmp_path / "m.pt")
    t = torch.load(tmp_path / "m.pt", mmap=True)  # needs torch's 64-byte record alignment
    assert t["w"].tolist() == list(np.arange(10.0))


def test_map_location_cuda_refused_clearly(tmp_path):
    ardor.save({"w": ardor.ones(1)}, tmp_path / "x.pt")
    assert ardor.load(tmp_path / "x.pt", map_location="cpu")["w"].tolist() == [1.0]
    with pytest.raises(RuntimeError, match="cuda"):
        ardor.load(tmp_path / "x.pt", map_location="cuda")


def test_weights_only_false_is_explicit(tmp_path):
    import fractions
    ardor.save({"f": fractions.Fraction(1, 3)}, tmp_path / "x.pt")
    with pytest.raises(pickle.UnpicklingError, match="fractions.Fraction"):
        ardor.load(tmp_path / "x.pt")
    assert ardor.load(tmp_path / "x.pt", weights_only=False)["f"] == fractions.Fraction(1, 3)
    with ardor.serialization.safe_globals([fractions.Fraction]):
        assert ardor.load(tmp_path / "x.pt")["f"] == fractions.Fraction(1, 3)


def test_archive_layout_matches_torch(tmp_path):
    ardor.save({"w": ardor.ones(2)}, tmp_path / "model.pt")
    torch.save({"w": torch.ones(2)}, tmp_path / "tmodel.pt")
    ours = {n.split("/", 1)[1] for n in zipfile.ZipFile(tmp_path / "model.pt").namelist()}
    theirs = {n.split("/", 1)[1] for n in zipfile.ZipFile(tmp_path / "tmodel.pt").namelist()}
    assert ours == theirs
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
