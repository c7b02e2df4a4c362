"""A corpus of malicious pickles: none may execute, each raises pickle.UnpicklingError."""
import io
import pickle
import struct
import zipfile

import pytest

import ardor


def _s(text: str) -> bytes:  # BINUNICODE
    b = text.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _g(mod: str, name: str) -> bytes:  # GLOBAL
    return b"c" + f"{mod}\n{name}\n".encode()


def _corpus(marker: str):
    cmd = f"touch {marker}"
    pycode = f"open({marker!r}, 'w').write('x')"
    call1 = lambda mod, name, arg: b"\x80\x02" + _g(mod, name) + _s(arg) + b"\x85R."  # noqa
    return {
        "os.system": call1("os", "system", cmd),
        "posix.system": call1("posix", "system", cmd),
        "nt.system": call1("nt", "system", cmd),
        "builtins.eval": call1("builtins", "eval", pycode),
        "builtins.exec": call1("builtins", "exec", pycode),
        "__builtin__.eval": call1("__builtin__", "eval", pycode),
        "os.popen": call1("os", "popen", cmd),
        "subprocess.Popen": b"\x80\x02" + _g("subprocess", "Popen") + b"]" + _s("touch") +
        b"a" + _s(marker) + b"a\x85R.",
        "subprocess.check_output": b"\x80\x02" + _g("subprocess", "check_output") + _s(cmd) +
        b"\x85R.",
        "stack_global os.system": b"\x80\x04" + _s("os") + _s("system") + b"\x93" + _s(cmd) +
        b"\x85R.",
        "INST os.system": b"(" + _s(cmd) + b"ios\nsystem\n.",
        "OBJ os.system": b"\x80\x02(" + _g("os", "system") + _s(cmd) + b"o.",
        "functools.partial": b"\x80\x02" + _g("functools", "partial") + _g("os", "system") +
        _s(cmd) + b"\x86R)R.",
        "getattr chain": b"\x80\x02" + _g("builtins", "getattr") + _g("builtins", "__import__") +
        _s("os") + b"\x85R" + _s("system") + b"\x86R" + _s(cmd) + b"\x85R.",
        "__import__": call1("builtins", "__import__", "os"),
        "pickle.loads nested": b"\x80\x02" + _g("pickle", "loads") + b"C" +
        bytes([len(call1("os", "system", cmd))]) + call1("os", "system", cmd) + b"\x85R.",
        "torch.storage._load_from_bytes": call1("torch.storage", "_load_from_bytes", "x"),
        "torch.load": call1("torch", "load", "/dev/null"),
        "copyreg._reconstructor": b"\x80\x02" + _g("copyreg", "_reconstructor") +
        _g("os", "system") + b")" + _s(cmd) + b"\x87R.",
        "runpy._run_code": call1("runpy", "_run_code", pycode),
        "code.InteractiveInterpreter": b"\x80\x02" + _g("code", "InteractiveInterpreter") +
        b")R.",
        "numpy runstring": call1("numpy.testing._private.utils", "runstring", pycode),
        "types.FunctionType": b"\x80\x02" + _g("types", "FunctionType") + b"N)R.",
        "allowed-looking OrderedDict BUILD with os": b"\x80\x02" +
        _g("collections", "OrderedDict") + b")R}" + _s("x") + _g("os", "system") + b"sb.",
        "nn module class": b"\x80\x02" + _g("torch.nn.modules.linear", "Linear") + b"K\x02K\x02"
        b"\x86R.",
        "oversized BINBYTES8": b"\x80\x04\x8e" + struct.pack("<Q", 1 << 60) + b"abc.",
        "oversized BINUNICODE8": b"\x80\x04\x8d" + struct.pack("<Q", 1 << 62) + b"abc.",
        "oversized LONG4": b"\x80\x02\x8b" + struct.pack("<i", 0x7FFFFFF0) + b"ab.",
        "rebuild tensor with os storage": b"\x80\x02" + _g("torch._utils", "_rebuild_tensor_v2")
        + b"(" + _g("os", "system") + b"K\x00)(tR.",
    }


def _in_zip(payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")
    return buf.getvalue()


def test_corpus_is_large_enough(tmp_path):
    assert len(_corpus(str(tmp_path / "m"))) >= 20


@pytest.mark.parametrize("name", sorted(_corpus("m")))
@pytest.mark.parametrize("container", ["zip", "raw"])
def test_malicious_pickle_never_runs(tmp_path, name, container):
    marker = tmp_path / "PWNED"
    payload = _corpus(str(marker))[name]
    data = _in_zip(payload) if container == "zip" else payload
    f = tmp_path / "evil.pt"
    f.write_bytes(data)
    with pytest.raises(pickle.UnpicklingError):
        ardor.load(f)
    with pytest.raises(pickle.UnpicklingError):
        ardor.load(io.BytesIO(data))
    assert not marker.exists()
