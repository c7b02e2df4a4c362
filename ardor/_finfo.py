"""ardor.finfo / ardor.iinfo: machine limits of floating-point and integer dtypes (torch's)."""
from __future__ import annotations

import numpy as np

from . import _dtype as D


def _lookup(type_, who: str, other: str, ok) -> D.dtype:
    if type_ is None:
        d = D.get_default_dtype()
    else:
        try:
            d = D.as_dtype(type_)
        except (TypeError, KeyError):
            raise TypeError(f"{who}(): argument 'type' must be ardor.dtype, not "
                            f"{type(type_).__name__}") from None
    if not ok(d):
        if who == "iinfo" and d is D.bool_:
            raise TypeError(f"{d} is not supported by ardor.iinfo")
        kind = "an integer" if who == "iinfo" else "a floating point"
        raise TypeError(f"ardor.{who}() requires {kind} input type. Use ardor.{other} to "
                        f"handle 'ardor.{who}'")
    return d


class finfo:
    """Machine limits of a floating-point dtype (complex dtypes give their real part's).

    Attributes: ``bits``, ``eps``, ``max``, ``min``, ``tiny`` (= ``smallest_normal``),
    ``resolution`` and ``dtype`` (the dtype's name as a string), all as torch.finfo."""

    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")

    def __init__(self, type=None):
        d = _lookup(type, "finfo", "iinfo", lambda d: d.is_floating_point or d.is_complex)
        d = d.to_real()
        npdt = D.np_dtype(d)
        info = D._ml_dtypes.finfo(npdt) if d is D.bfloat16 else np.finfo(npdt)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)  # torch's: a power of ten
        self.dtype = d.name

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")

    def __eq__(self, other) -> bool:
        return isinstance(other, finfo) and self.dtype == other.dtype

    __hash__ = None  # unhashable, as torch.finfo


class iinfo:
    """Machine limits of an integer dtype: ``bits``, ``max``, ``min`` and ``dtype`` (a name)."""

    __slots__ = ("bits", "max", "min", "dtype")

    def __init__(self, type):
        d = _lookup(type, "iinfo", "finfo", lambda d: d._category == D._INT)
        info = np.iinfo(d.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = d.name

    def __repr__(self) -> str:
        return f"iinfo(min={float(self.min):g}, max={float(self.max):g}, dtype={self.dtype})"

    def __eq__(self, other) -> bool:
        return isinstance(other, iinfo) and self.dtype == other.dtype

    __hash__ = None
