"""safetensors files for state_dicts: no pickle, just a JSON header and raw little-endian data.

Format (as the safetensors package writes it): 8-byte little-endian header length N, N bytes
of JSON ``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
"__metadata__": {str: str}}`` padded with spaces to a multiple of 8, then the data buffer.
"""
from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor, _make

__all__ = ["save_file", "load_file", "save", "load"]

_CODE = {D.float64: "F64", D.float32: "F32", D.float16: "F16", D.bfloat16: "BF16",
         D.int64: "I64", D.int32: "I32", D.int16: "I16", D.int8: "I8", D.uint8: "U8",
         D.uint16: "U16", D.uint32: "U32", D.uint64: "U64", D.bool_: "BOOL",
         D.complex64: "C64"}
_DTYPE = {v: k for k, v in _CODE.items()}
_MAX_HEADER = 100 * 1024 * 1024


def save(tensors: dict, metadata: dict | None = None) -> bytes:
    """Serialize a dict of name -> Tensor to safetensors bytes."""
    header: dict = {}
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ValueError("safetensors metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    # largest alignment first, as the safetensors package orders them
    items = sorted(tensors.items(), key=lambda kv: (-kv[1].element_size(), kv[0]))
    seen: dict[int, str] = {}
    for name, t in items:
        if not isinstance(t, Tensor):
            raise TypeError(f"safetensors: value for {name!r} is {type(t).__name__}, "
                            "not a Tensor")
        if t.dtype not in _CODE:
            raise TypeError(f"safetensors: dtype {t.dtype} of {name!r} is not supported")
        arr = np.asarray(t.detach().numpy())
        if not arr.flags.c_contiguous:  # (not ascontiguousarray: it makes 0-d arrays 1-d)
            arr = arr.copy(order="C")
        key = arr.__array_interface__["data"][0]
        if arr.size and key in seen and t.data_ptr() == key:
            raise RuntimeError(f"Some tensors share memory, this will lead to duplicate memory "
                               f"on disk and potential differences when loading them again: "
                               f"[{seen[key]!r}, {name!r}]. Use save_model or clone them.")
        seen[key] = name
        raw = arr.tobytes() if arr.size else b""   # C order
        header[name] = {"dtype": _CODE[t.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * ((-len(hb)) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"".join(chunks)


def load(data: bytes) -> dict:
    """Parse safetensors bytes into a dict of name -> Tensor (validating every field)."""
    if len(data) < 8:
        raise ValueError("safetensors: file is too short to hold a header")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise ValueError(f"safetensors: header length {n} is invalid for a file of "
                         f"{len(data)} bytes")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"safetensors: header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise ValueError("safetensors: header is not a JSON object")
    buf = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dt = _DTYPE[info["dtype"]]
            shape = [int(s) for s in info["shape"]]
            begin, end = (int(x) for x in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"safetensors: malformed entry for {name!r}") from None
        count = int(np.prod(shape)) if shape else 1
        if any(s < 0 for s in shape) or not 0 <= begin <= end <= len(buf) or \
                end - begin != count * dt.itemsize:
            raise ValueError(f"safetensors: entry {name!r} ({info['dtype']} {shape}) does not "
                             f"match its data offsets [{begin}, {end}]")
        arr = np.frombuffer(bytearray(buf[begin:end]), dtype=D.np_dtype(dt)).reshape(shape)
        out[name] = _make(arr)
    return out


def save_file(tensors: dict, filename, metadata: dict | None = None) -> None:
    """Write a safetensors file atomically (temporary file, fsync, rename)."""
    data = save(tensors, metadata)
    path = Path(filename)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                               dir=path.parent if str(path.parent) else ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def load_file(filename, device="cpu") -> dict:
    """Read a safetensors file into a dict of name -> Tensor."""
    with open(filename, "rb") as fh:
        return load(fh.read())


def load_metadata(filename) -> dict | None:
    """The ``__metadata__`` dict of a safetensors file (None when absent)."""
    with open(filename, "rb") as fh:
        head = fh.read(8)
        (n,) = struct.unpack("<Q", head)
        if n > _MAX_HEADER:
            raise ValueError(f"safetensors: header length {n} is invalid")
        return json.loads(fh.read(n)).get("__metadata__")
