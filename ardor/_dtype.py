"""ardor dtypes: torch's dtype objects over numpy dtypes, and torch's type promotion."""
from __future__ import annotations

import numpy as np

try:  # bfloat16 needs ml_dtypes; without it the dtype object exists but cannot hold data
    import ml_dtypes as _ml_dtypes
    _BF16_NP = np.dtype(_ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - depends on the environment
    _ml_dtypes = None
    _BF16_NP = None

_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


class dtype:
    """A tensor element type (``ardor.float32``, ``ardor.int64``, ...)."""

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_complex", "is_signed",
                 "_category", "_torch_name")

    def __init__(self, name: str, np_dtype, itemsize: int, category: int, signed: bool,
                 torch_name: str):
        self.name = name
        self.np = np_dtype
        self.itemsize = itemsize
        self._category = category
        self.is_floating_point = category == _FLOAT
        self.is_complex = category == _COMPLEX
        self.is_signed = signed
        self._torch_name = torch_name

    def __repr__(self) -> str:
        return "ardor." + self.name

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    def to_real(self) -> "dtype":
        """The real dtype of a complex dtype (itself for real dtypes)."""
        return {complex64: float32, complex128: float64}.get(self, self)

    def to_complex(self) -> "dtype":
        """The complex dtype whose real part is this dtype."""
        return {float64: complex128, complex128: complex128}.get(self, complex64)

    @property
    def is_bool(self) -> bool:
        return self._category == _BOOL


float16 = dtype("float16", np.dtype(np.float16), 2, _FLOAT, True, "Half")
float32 = dtype("float32", np.dtype(np.float32), 4, _FLOAT, True, "Float")
float64 = dtype("float64", np.dtype(np.float64), 8, _FLOAT, True, "Double")
bfloat16 = dtype("bfloat16", _BF16_NP, 2, _FLOAT, True, "BFloat16")
int8 = dtype("int8", np.dtype(np.int8), 1, _INT, True, "Char")
int16 = dtype("int16", np.dtype(np.int16), 2, _INT, True, "Short")
int32 = dtype("int32", np.dtype(np.int32), 4, _INT, True, "Int")
int64 = dtype("int64", np.dtype(np.int64), 8, _INT, True, "Long")
uint8 = dtype("uint8", np.dtype(np.uint8), 1, _INT, False, "Byte")
uint16 = dtype("uint16", np.dtype(np.uint16), 2, _INT, False, "UInt16")
uint32 = dtype("uint32", np.dtype(np.uint32), 4, _INT, False, "UInt32")
uint64 = dtype("uint64", np.dtype(np.uint64), 8, _INT, False, "UInt64")
bool_ = dtype("bool", np.dtype(np.bool_), 1, _BOOL, False, "Bool")
complex64 = dtype("complex64", np.dtype(np.complex64), 8, _COMPLEX, True, "ComplexFloat")
complex128 = dtype("complex128", np.dtype(np.complex128), 16, _COMPLEX, True, "ComplexDouble")

ALL_DTYPES = (float16, float32, float64, bfloat16, int8, int16, int32, int64, uint8, uint16,
              uint32, uint64, bool_, complex64, complex128)
_BY_NAME = {d.name: d for d in ALL_DTYPES}
_BY_NP = {d.np: d for d in ALL_DTYPES if d.np is not None}

# torch's aliases
ALIASES = {
    "float": float32, "double": float64, "half": float16, "long": int64, "int": int32,
    "short": int16, "cfloat": complex64, "cdouble": complex128, "bool": bool_,
}


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The ardor dtype for a numpy dtype; TypeError for ones torch has no dtype for."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        try:
            return _BY_NP[np.dtype(np_dtype)]
        except (KeyError, TypeError):
            raise TypeError(
                f"can't convert np.ndarray of type numpy.{np.dtype(np_dtype).type.__name__}. "
                "The only supported types "
                "are: float64, float32, float16, complex64, complex128, int64, int32, int16, "
                "int8, uint64, uint32, uint16, uint8, and bool.") from None


def as_dtype(d) -> dtype:
    """Accept an ardor dtype, a torch dtype, a numpy dtype or a Python type."""
    if isinstance(d, dtype):
        return d
    if d is float:  # torch maps the Python types to fixed dtypes, not the default one
        return float64
    if d is int:
        return int64
    if d is bool:
        return bool_
    if d is complex:
        return complex128
    name = getattr(d, "__module__", None)
    if name == "torch" or type(d).__name__ == "dtype" and str(d).startswith("torch."):
        return _BY_NAME[str(d)[len("torch."):]]
    if isinstance(d, str):
        key = d[len("torch."):] if d.startswith("torch.") else d
        if key in _BY_NAME:
            return _BY_NAME[key]
        if key in ALIASES:
            return ALIASES[key]
    return from_numpy_dtype(d)


def np_dtype(d: dtype):
    """The numpy dtype backing an ardor dtype (bfloat16 requires ml_dtypes)."""
    if d.np is None:
        raise RuntimeError("bfloat16 needs the ml_dtypes package: pip install 'ardor[bfloat16]'")
    return d.np


# ---------------------------------------------------------------- default dtype
_default = [float32]


def get_default_dtype() -> dtype:
    """The dtype of new floating-point tensors (float32 unless changed)."""
    return _default[0]


def set_default_dtype(d) -> None:
    """Set the default floating-point dtype (float32 or float64, as torch allows)."""
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default[0] = d


# ---------------------------------------------------------------- promotion
_promote_cache: dict = {}


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both a and b convert to safely."""
    if a is b:
        return a
    key = (a, b)
    r = _promote_cache.get(key)
    if r is None:
        r = _promote_uncached(a, b)
        _promote_cache[key] = r
    return r


def _promote_uncached(a: dtype, b: dtype) -> dtype:
    # Port of c10's promoteTypes: uint16/32/64 ("barebones unsigned") promote only with
    # floating types; an integer with a float or complex type gives that type unchanged;
    # float16 with bfloat16 gives float32; complex with float widens the real part.
    if a in _BAREBONES_UNSIGNED or b in _BAREBONES_UNSIGNED:
        if a.is_floating_point:
            return a
        if b.is_floating_point:
            return b
        raise RuntimeError(f"Promotion for uint16, uint32, uint64 types is not supported, "
                           f"attempted to promote {a._torch_name} and {b._torch_name}")
    if a is bool_:
        return b
    if b is bool_:
        return a
    ca, cb = a._category, b._category
    if ca == _INT and cb == _INT:
        return _BY_NP[np.promote_types(a.np, b.np)]
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if lo._category == _INT:
            return hi
        # complex with a float: a complex dtype whose real part holds both
        return promote_types(hi.to_real(), lo).to_complex()
    if {a, b} == {float16, bfloat16}:
        return float32
    return a if a.itemsize >= b.itemsize else b


_BAREBONES_UNSIGNED = frozenset((uint16, uint32, uint64))


def _combine_categories(higher, lower):
    # Port of torch's c10 combine_categories (None = Undefined).
    if higher is None:
        return lower
    if higher._category == _COMPLEX:
        return higher
    if lower is not None and lower._category == _COMPLEX:
        if higher._category == _FLOAT:
            return higher.to_complex()
        return lower
    if higher._category == _FLOAT:
        return higher
    if lower is None:
        return higher
    if higher is bool_ or lower._category == _FLOAT:
        return promote_types(higher, lower)
    return higher


def scalar_dtype(x) -> dtype:
    """The dtype torch gives a Python scalar taking part in promotion (a wrapped number)."""
    if isinstance(x, bool):
        return bool_
    if isinstance(x, int):
        return int64
    if isinstance(x, float):
        return _default[0]
    if isinstance(x, complex):
        return _default[0].to_complex()
    if isinstance(x, np.generic):
        return _BY_NP[x.dtype]
    raise TypeError(f"unsupported scalar type {type(x).__name__}")


def result_type_parts(dim_dtypes, zero_dim_dtypes, scalar_dtypes) -> dtype:
    """torch's result_type given operands split into dimensioned tensors, 0-d tensors, scalars."""
    dim = zero = wrapped = None
    for d in dim_dtypes:
        dim = d if dim is None else promote_types(dim, d)
    for d in zero_dim_dtypes:
        zero = d if zero is None else promote_types(zero, d)
    for d in scalar_dtypes:
        wrapped = d if wrapped is None else promote_types(wrapped, d)
    return _combine_categories(dim, _combine_categories(zero, wrapped))


def is_integral(d: dtype, include_bool: bool = False) -> bool:
    return d._category == _INT or (include_bool and d._category == _BOOL)


def can_cast(from_: dtype, to: dtype) -> bool:
    """torch.can_cast: casting allowed by category (no float->int, no complex->real...)."""
    return from_._category <= to._category or (from_ is bool_)
