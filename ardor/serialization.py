"""ardor.save / ardor.load in PyTorch's zip checkpoint format, with a restricted unpickler.

Files written here are read by ``torch.load`` and files written by ``torch.save`` are read
here: the archive holds ``<name>/data.pkl`` (a protocol-2 pickle in which tensors reduce to
``torch._utils._rebuild_tensor_v2`` over persistent storage ids), one raw little-endian record
per storage under ``<name>/data/<key>`` (64-byte aligned, as torch writes them),
``byteorder``, ``version``, ``.format_version``, ``.storage_alignment`` and
``.data/serialization_id``.

``load`` is safe by default (``weights_only=True``): only the globals a checkpoint needs are
resolved, any other raises ``pickle.UnpicklingError`` naming it and nothing runs. The pickle
is also scanned before it is unpickled, so oversized length fields and truncated data give a
clear error instead of a MemoryError or a hang. ``weights_only=False`` unpickles anything:
it runs code from the file and is only for files you trust.
"""
from __future__ import annotations

import collections
import io
import os
import pickle
import pickletools
import secrets
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from . import _dtype as D
from ._device import device as _device_cls
from ._tensor import Size, Tensor, _make

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals",
           "safe_globals"]

_ALIGN = 64
_PROTOCOL_VERSION = 1001  # legacy format magic values, as torch
_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C

# dtype <-> torch's typed storage class names
_STORAGE_OF = {
    D.float32: "FloatStorage", D.float64: "DoubleStorage", D.float16: "HalfStorage",
    D.bfloat16: "BFloat16Storage", D.int64: "LongStorage", D.int32: "IntStorage",
    D.int16: "ShortStorage", D.int8: "CharStorage", D.uint8: "ByteStorage",
    D.bool_: "BoolStorage", D.complex64: "ComplexFloatStorage",
    D.complex128: "ComplexDoubleStorage",
}
_DTYPE_OF_STORAGE = {v: k for k, v in _STORAGE_OF.items()}


# ============================================================================ saving
class _Global:
    """A reference written as a GLOBAL opcode (``module name``) without importing it."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module, self.name = module, name

    def __call__(self, *args):  # pickle's save_reduce insists on a callable
        raise TypeError(f"{self.module}.{self.name} is a pickle reference, not a function")


_G_REBUILD_V2 = _Global("torch._utils", "_rebuild_tensor_v2")
_G_REBUILD_V3 = _Global("torch._utils", "_rebuild_tensor_v3")
_G_REBUILD_PARAM = _Global("torch._utils", "_rebuild_parameter")
_G_ORDERED_DICT = _Global("collections", "OrderedDict")
_G_UNTYPED = _Global("torch.storage", "UntypedStorage")
_G_SIZE = _Global("torch", "Size")
_G_DEVICE = _Global("torch", "device")
_G_STORAGE = {d: _Global("torch", n) for d, n in _STORAGE_OF.items()}
_G_DTYPE = {d: _Global("torch", d.name) for d in D.ALL_DTYPES}


class _StorageRef:
    """One storage being written: the flat byte buffer and its element dtype."""

    __slots__ = ("key", "buf", "dtype", "typed")

    def __init__(self, key: str, buf: np.ndarray, dtype: D.dtype, typed: bool):
        self.key, self.buf, self.dtype, self.typed = key, buf, dtype, typed


def _root_array(arr: np.ndarray) -> np.ndarray:
    root = arr
    while isinstance(root.base, np.ndarray):
        root = root.base
    return root


class _Pickler(pickle._Pickler):
    """Protocol-2 pickler writing tensors the way torch.save does."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages: dict[int, _StorageRef] = {}
        self.records: list[_StorageRef] = []

    def _save_global_ref(self, obj: _Global):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("utf-8"))
        self.memoize(obj)

    dispatch[_Global] = _save_global_ref

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            if obj.typed:
                return ("storage", _G_STORAGE[obj.dtype], obj.key, "cpu", obj.buf.size)
            return ("storage", _G_UNTYPED, obj.key, "cpu", obj.buf.nbytes)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj)
        if isinstance(obj, Size):
            return (_G_SIZE, (tuple(obj),))
        if isinstance(obj, _device_cls):
            return (_G_DEVICE, (str(obj),))
        return NotImplemented

    def _storage_for(self, arr: np.ndarray, dt: D.dtype):
        """(storage ref, element offset, element strides) sharing storage among views."""
        typed = dt in _STORAGE_OF
        root = _root_array(arr)
        item = arr.itemsize
        ok = (root.dtype == arr.dtype and root.flags.c_contiguous
              and all(s >= 0 and s % item == 0 for s in arr.strides))
        if ok:
            off_bytes = arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]
            ok = off_bytes >= 0 and off_bytes % item == 0
        if not ok:  # an exotic view: store it as its own contiguous storage
            root = np.ascontiguousarray(arr)
            off_bytes = 0
            strides = tuple(s // item for s in root.strides)
        else:
            strides = tuple(s // item for s in arr.strides)
        ref = self.storages.get(id(root))
        if ref is None:
            flat = root.reshape(-1)
            ref = _StorageRef(str(len(self.records)), flat, dt, typed)
            self.storages[id(root)] = ref
            self.records.append(ref)
        return ref, off_bytes // item, strides

    def _reduce_tensor(self, t: Tensor):
        arr = t._data
        if type(arr) is not np.ndarray:
            arr = arr.get()
        dt = D._BY_NP[arr.dtype]
        ref, offset, strides = self._storage_for(arr, dt)
        hooks = collections.OrderedDict()
        if ref.typed:
            args = (ref, offset, tuple(arr.shape), strides, bool(t._requires_grad), hooks)
            tensor_reduce = (_G_REBUILD_V2, args)
        else:
            args = (ref, offset, tuple(arr.shape), strides, bool(t._requires_grad), hooks,
                    _G_DTYPE[dt])
            tensor_reduce = (_G_REBUILD_V3, args)
        if getattr(t, "_is_param", False):
            data = _make(t._data)
            data._version = t._version
            return (_G_REBUILD_PARAM, (data, bool(t._requires_grad), collections.OrderedDict()))
        return tensor_reduce


def _dtype_reducer(self, obj):
    self._save_global_ref(_G_DTYPE[obj])


_Pickler.dispatch[D.dtype] = _dtype_reducer  # torch pickles dtypes as GLOBAL torch.<name>


def _zipinfo(name: str, offset: int, align: bool) -> zipfile.ZipInfo:
    zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_STORED
    zi.create_system = 0
    if align:
        # Pad the local header's extra field (id 'FB', as torch) so the data is aligned.
        header = 30 + len(name.encode("utf-8"))
        pad = (-(offset + header + 4)) % _ALIGN
        zi.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    return zi


def _write_archive(fobj: BinaryIO, obj: Any, protocol: int, record_name: str) -> None:
    buf = io.BytesIO()
    pickler = _Pickler(buf, protocol)
    pickler.dump(obj)
    with zipfile.ZipFile(fobj, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        def put(name: str, data, align: bool = False):
            offset = fobj.tell() if fobj.seekable() else 0
            zf.writestr(_zipinfo(f"{record_name}/{name}", offset, align), data)

        put("data.pkl", buf.getvalue())
        put(".format_version", b"1")
        put(".storage_alignment", b"64")
        put("byteorder", b"little")
        for ref in pickler.records:
            data = ref.buf
            if data.dtype.byteorder == ">":
                data = data.astype(data.dtype.newbyteorder("<"))
            put(f"data/{ref.key}", memoryview(np.ascontiguousarray(data).view(np.uint8)), True)
        put("version", b"3\n")
        put(".data/serialization_id", str(secrets.randbits(128)).encode())


def save(obj: Any, f, pickle_module=None, pickle_protocol: int = 2,
         _use_new_zipfile_serialization: bool = True, _disable_byteorder_record: bool = False
         ) -> None:
    """Save ``obj`` to ``f`` (a path, pathlib.Path or writable binary file) in torch's format.

    Saving to a path is atomic: the data goes to a temporary file in the same folder, is
    fsync'ed, and then renamed over the target, so an interrupted save never leaves a
    half-written checkpoint where a good one was."""
    if pickle_protocol not in (2, 3, 4, 5):
        raise ValueError(f"pickle_protocol must be 2..5, got {pickle_protocol}")
    if not _use_new_zipfile_serialization:
        raise NotImplementedError("ardor.save writes only the zip format (torch's default)")
    if isinstance(f, (str, os.PathLike)):
        path = Path(f)
        folder = path.parent if str(path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                _write_archive(fh, obj, pickle_protocol, path.stem or "archive")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
            try:
                dfd = os.open(folder, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            except OSError:  # some filesystems cannot fsync a directory
                pass
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return
    if not hasattr(f, "write"):
        raise AttributeError(f"ardor.save: expected a path or a writable file object, got "
                             f"{type(f).__name__}")
    _write_archive(f, obj, pickle_protocol, "archive")


# ============================================================================ loading
_safe_globals: dict[tuple[str, str], Any] = {}


def add_safe_globals(safe_globals: list) -> None:
    """Allow these classes/functions (or ``(obj, "module.name")`` pairs) in weights_only load."""
    for g in safe_globals:
        if isinstance(g, tuple):
            obj, full = g
            mod, _, name = full.rpartition(".")
        else:
            obj, mod, name = g, g.__module__, g.__qualname__
        _safe_globals[(mod, name)] = obj


def get_safe_globals() -> list:
    """The user-allowed globals."""
    return list(_safe_globals.values())


def clear_safe_globals() -> None:
    """Forget the user-allowed globals."""
    _safe_globals.clear()


class safe_globals:
    """Context manager allowing extra globals for the duration of a block."""

    def __init__(self, safe_globals: list):
        self.globals = safe_globals

    def __enter__(self):
        self.saved = dict(_safe_globals)
        add_safe_globals(self.globals)

    def __exit__(self, *exc):
        _safe_globals.clear()
        _safe_globals.update(self.saved)


class _StorageType:
    """What ``torch.FloatStorage`` etc. resolve to while loading: a dtype marker."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype


_UNTYPED = _StorageType(None)


def _check_ints(name, seq):
    if not isinstance(seq, (tuple, list)) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in seq):
        raise pickle.UnpicklingError(f"ardor.load: malformed tensor record ({name})")


def _as_strided(storage: np.ndarray, offset: int, size, stride, dtype: D.dtype | None):
    if not isinstance(storage, np.ndarray):
        raise pickle.UnpicklingError("ardor.load: tensor record without a storage")
    _check_ints("size", size)
    _check_ints("stride", stride)
    if not isinstance(offset, int) or offset < 0 or len(size) != len(stride):
        raise pickle.UnpicklingError("ardor.load: malformed tensor record (offset/stride)")
    if dtype is not None and storage.dtype != dtype.np:  # untyped bytes viewed as dtype
        if storage.nbytes % dtype.itemsize:
            raise pickle.UnpicklingError("ardor.load: storage size does not fit its dtype")
        storage = storage.view(D.np_dtype(dtype))
    if any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise pickle.UnpicklingError("ardor.load: negative size or stride in tensor record")
    numel = 1
    for s in size:
        numel *= s
    if numel:
        last = offset + sum((n - 1) * st for n, st in zip(size, stride))
        if last >= storage.size:
            raise RuntimeError(
                f"ardor.load: tensor of size {list(size)} with stride {list(stride)} and offset "
                f"{offset} does not fit its storage of {storage.size} elements (corrupt file)")
    item = storage.itemsize
    base = storage[offset:] if numel else storage[:0]
    arr = np.lib.stride_tricks.as_strided(base, shape=tuple(size),
                                          strides=tuple(s * item for s in stride))
    return arr


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    t = _make(_as_strided(storage, storage_offset, size, stride, None))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    if not isinstance(dtype, D.dtype):
        raise pickle.UnpicklingError("ardor.load: malformed tensor record (dtype)")
    t = _make(_as_strided(storage, storage_offset, size, stride, dtype))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks=None, *state):
    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError("ardor.load: malformed parameter record")
    from .nn.parameter import Parameter
    return Parameter(data, requires_grad)


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in (_rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter):
        raise pickle.UnpicklingError("ardor.load: unsupported tensor subclass record")
    return func(*args)


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise pickle.UnpicklingError("ardor.load: unexpected _codecs.encode call")
    return obj.encode(encoding, errors)


def _device(*args):
    return _device_cls(*args)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch.storage", "UntypedStorage"): _UNTYPED,
    ("torch", "Size"): Size,
    ("torch", "device"): _device,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("__builtin__", "set"): set,  # protocol 2 writes Python 2 names (fix_imports)
    ("__builtin__", "frozenset"): frozenset,
    ("__builtin__", "complex"): complex,
    ("_codecs", "encode"): _codecs_encode,
}
_ALLOWED.update({("torch", n): _StorageType(d) for n, d in _DTYPE_OF_STORAGE.items()})
_ALLOWED.update({("torch", d.name): d for d in D.ALL_DTYPES})
_ALLOWED.update({("torch", alias): d for alias, d in D.ALIASES.items()})


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in the allow-list (plus add_safe_globals)."""

    def __init__(self, file, storage_loader, weights_only: bool):
        super().__init__(file)
        self._load_storage = storage_loader
        self._weights_only = weights_only

    def find_class(self, module: str, name: str):
        key = (module, name)
        if key in _ALLOWED:
            return _ALLOWED[key]
        if key in _safe_globals:
            return _safe_globals[key]
        if not self._weights_only:
            if module.startswith("torch"):
                raise pickle.UnpicklingError(f"ardor.load: cannot map torch global "
                                             f"{module}.{name} to an ardor object")
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"Weights only load failed: unsupported global GLOBAL {module}.{name} was found in "
            "the checkpoint. ardor.load(weights_only=True) refuses it and nothing from the file "
            "was run. If you trust the file, allow the global with "
            f"ardor.serialization.add_safe_globals([{name}]) or load with weights_only=False "
            "(which can run arbitrary code).")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"ardor.load: unknown persistent id {pid!r:.80}")
        stype, key, location, numel = pid[1], pid[2], pid[3], pid[4]
        if not isinstance(stype, _StorageType) or not isinstance(key, str) or \
                not isinstance(numel, int):
            raise pickle.UnpicklingError("ardor.load: malformed storage record")
        return self._load_storage(stype.dtype, key, numel, location)


def _prescan(data: bytes) -> None:
    """Walk the pickle's opcodes first: bad lengths and truncation fail here, cheaply."""
    try:
        for _ in pickletools.genops(io.BytesIO(data)):
            pass
    except Exception as e:  # ValueError from genops on malformed data
        raise pickle.UnpicklingError(f"ardor.load: the pickle in the checkpoint is corrupt "
                                     f"or truncated ({e})") from None


def _map_location(location: str, map_location) -> None:
    target = location
    if isinstance(map_location, dict):
        target = map_location.get(location, location)
    elif map_location is not None and not callable(map_location):
        target = str(map_location)
    if str(target).startswith("cuda"):
        from ._backend import array_module_for
        array_module_for(_device_cls(str(target)))


def _load_zip(zf: zipfile.ZipFile, map_location, weights_only: bool):
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
    if not pkl:
        raise RuntimeError("PytorchStreamReader failed locating file data.pkl: file not found")
    prefix = pkl[0][: -len("data.pkl")]
    order = zf.read(prefix + "byteorder").decode() if prefix + "byteorder" in names else "little"
    if order not in ("little", "big"):
        raise RuntimeError(f"ardor.load: unknown byteorder record {order!r}")
    loaded: dict[str, np.ndarray] = {}

    def load_storage(dtype, key, numel, location):
        _map_location(location, map_location)
        arr = loaded.get(key)
        if arr is None:
            name = f"{prefix}data/{key}"
            if name not in names:
                raise RuntimeError(f"ardor.load: storage record {key!r} is missing from the "
                                   "archive (corrupt file)")
            raw = zf.read(name)
            npdt = np.dtype(np.uint8) if dtype is None else D.np_dtype(dtype)
            if order == "big" and npdt.itemsize > 1:
                npdt = npdt.newbyteorder(">")
            if len(raw) % npdt.itemsize:
                raise RuntimeError(f"ardor.load: storage {key!r} has {len(raw)} bytes, not a "
                                   f"multiple of {npdt.itemsize} (corrupt file)")
            arr = np.frombuffer(bytearray(raw), dtype=npdt)
            if order == "big" and npdt.itemsize > 1:
                arr = arr.astype(npdt.newbyteorder("<"))
            loaded[key] = arr
        if arr.size != numel:  # elements for typed storages, bytes (uint8) for untyped ones
            raise RuntimeError(f"ardor.load: storage {key!r} holds {arr.size} elements but the "
                               f"record says {numel} (corrupt file)")
        return arr

    data = zf.read(pkl[0])
    _prescan(data)
    return _RestrictedUnpickler(io.BytesIO(data), load_storage, weights_only).load()


def _load_legacy(f: BinaryIO, map_location, weights_only: bool):
    """torch's pre-1.6 format: magic, protocol, sys info, the object pickle, storage keys,
    then each storage as an int64 element count followed by its raw bytes."""
    def small_pickle():
        # these records hold only numbers, strings and small dicts
        start = f.tell()
        rest = f.read()
        f.seek(start)
        _prescan_prefix(rest)
        return _RestrictedUnpickler(f, None, True).load()

    magic = small_pickle()
    if magic != _MAGIC_NUMBER:
        raise RuntimeError("Invalid magic number; corrupt file?")
    protocol = small_pickle()
    if protocol != _PROTOCOL_VERSION:
        raise RuntimeError(f"Invalid protocol version: {protocol}")
    small_pickle()  # sys info
    pending: dict[str, tuple] = {}
    arrays: dict[str, np.ndarray] = {}
    def load_storage(dtype, key, numel, location):
        _map_location(location, map_location)
        if dtype is None:
            raise pickle.UnpicklingError("ardor.load: untyped storage in a legacy file")
        pending[key] = (dtype, numel)
        holder = arrays.get(key)
        if holder is None:
            holder = arrays[key] = np.empty(numel, D.np_dtype(dtype))
        return holder

    start = f.tell()
    rest = f.read()
    f.seek(start)
    _prescan_prefix(rest)
    up = _RestrictedUnpickler(f, load_storage, weights_only)
    # legacy persistent ids carry a 6th element (view metadata); accept and ignore it
    result = up.load()
    keys = small_pickle()
    if not isinstance(keys, list):
        raise RuntimeError("ardor.load: corrupt legacy checkpoint (storage key list)")
    for key in keys:
        if key not in pending:
            raise RuntimeError(f"ardor.load: legacy storage {key!r} was never referenced")
        dtype, numel = pending[key]
        head = f.read(8)
        if len(head) != 8:
            raise RuntimeError("ardor.load: legacy checkpoint is truncated")
        n = struct.unpack("<q", head)[0]
        if n != numel:
            raise RuntimeError(f"ardor.load: legacy storage {key!r} size mismatch")
        raw = f.read(n * dtype.itemsize)
        if len(raw) != n * dtype.itemsize:
            raise RuntimeError("ardor.load: legacy checkpoint is truncated")
        arrays[key][...] = np.frombuffer(raw, D.np_dtype(dtype))
    return result


def _prescan_prefix(data: bytes) -> None:
    """Like _prescan, for a stream of several pickles: check the first one."""
    try:
        for op, _, _ in pickletools.genops(io.BytesIO(data)):
            if op.name == "STOP":
                break
    except Exception as e:
        raise pickle.UnpicklingError(f"ardor.load: the pickle in the checkpoint is corrupt "
                                     f"or truncated ({e})") from None


def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = None,
         mmap: bool | None = None, **pickle_load_args) -> Any:
    """Load an object saved by ``ardor.save`` or ``torch.save``.

    ``weights_only`` (default True) only allows the types a checkpoint needs: tensors,
    containers, numbers, strings, dtypes, devices and what ``add_safe_globals`` added; any
    other global raises ``pickle.UnpicklingError`` and nothing from the file runs.
    ``weights_only=False`` can run arbitrary code: use it only on files you trust."""
    if weights_only is None:
        weights_only = True
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return _load_file(fh, map_location, weights_only)
    if not hasattr(f, "read"):
        raise AttributeError(f"ardor.load: expected a path or a readable file object, got "
                             f"{type(f).__name__}")
    if not hasattr(f, "seek"):
        f = io.BytesIO(f.read())
    return _load_file(f, map_location, weights_only)


def _load_file(fh: BinaryIO, map_location, weights_only: bool):
    start = fh.tell()
    head = fh.read(4)
    fh.seek(start)
    if len(head) == 0:
        raise EOFError("ardor.load: the file is empty (0 bytes)")
    if head[:2] == b"PK":
        try:
            zf = zipfile.ZipFile(fh)
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise RuntimeError(f"PytorchStreamReader failed reading zip archive: {e}") from None
        with zf:
            try:
                return _load_zip(zf, map_location, weights_only)
            except (zipfile.BadZipFile, zlib_error(), EOFError, KeyError, struct.error) as e:
                raise RuntimeError(f"PytorchStreamReader failed reading the archive: "
                                   f"{type(e).__name__}: {e}") from None
    if head[:1] == b"\x80":
        try:
            return _load_legacy(fh, map_location, weights_only)
        except (EOFError, struct.error) as e:
            raise RuntimeError(f"ardor.load: legacy checkpoint is truncated or corrupt: "
                               f"{e}") from None
    raise pickle.UnpicklingError(
        "ardor.load: not a checkpoint (neither a zip archive nor a pickle stream)")


def zlib_error():
    import zlib
    return zlib.error
