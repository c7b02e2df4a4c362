"""assert_close: a port of torch.testing's comparison (pairs, tolerances, messages) to ardor.

Inputs are matched into pairs recursively through sequences and mappings; each pair (None,
bool, number, tensor-like) checks its attributes then its values, and the first mismatch is
raised with torch's message.
"""
from __future__ import annotations

import cmath
import collections.abc
import contextlib
from typing import Any, Callable

import numpy as np

from .. import _dtype as D
from .._tensor import Tensor

_DTYPE_PRECISIONS = {
    D.float16: (0.001, 1e-5),
    D.bfloat16: (0.016, 1e-5),
    D.float32: (1.3e-6, 1e-5),
    D.float64: (1e-7, 1e-7),
    D.complex64: (1.3e-6, 1e-5),
    D.complex128: (1e-7, 1e-7),
}


class ErrorMeta(Exception):
    """A mismatch found while comparing: the exception type and message to raise."""

    def __init__(self, type: type, msg: str, *, id: tuple = ()):
        super().__init__(msg)
        self.type = type
        self.msg = msg
        self.id = id

    def to_error(self, msg: str | Callable[[str], str] | None = None) -> Exception:
        if not isinstance(msg, str):
            generated = self.msg
            if self.id:
                generated += ("\n\nThe failure occurred for item "
                              f"{''.join(str([item]) for item in self.id)}")
            msg = msg(generated) if callable(msg) else generated
        return self.type(msg)


class UnsupportedInputs(Exception):
    """A pair type cannot handle the inputs; the next one is tried."""


def default_tolerances(*inputs) -> tuple[float, float]:
    """The loosest default (rtol, atol) of the inputs' dtypes (0, 0 for exact dtypes)."""
    dtypes = []
    for x in inputs:
        if isinstance(x, Tensor):
            dtypes.append(x.dtype)
        elif isinstance(x, D.dtype):
            dtypes.append(x)
        else:
            raise TypeError(f"Expected a ardor.Tensor or a ardor.dtype, but got {type(x)} "
                            "instead.")
    rtols, atols = zip(*[_DTYPE_PRECISIONS.get(d, (0.0, 0.0)) for d in dtypes])
    return max(rtols), max(atols)


def get_tolerances(*inputs, rtol, atol, id=()) -> tuple[float, float]:
    if (rtol is None) ^ (atol is None):
        raise ErrorMeta(ValueError, "Both 'rtol' and 'atol' must be either specified or "
                        f"omitted, but got no {'rtol' if rtol is None else 'atol'}.", id=id)
    if rtol is not None:
        return rtol, atol
    return default_tolerances(*inputs)


def _make_mismatch_msg(*, default_identifier, identifier=None, extra=None, abs_diff,
                       abs_diff_idx=None, atol, rel_diff, rel_diff_idx=None, rtol) -> str:
    equality = rtol == 0 and atol == 0

    def diff_msg(type_, diff, idx, tol):
        if idx is None:
            m = f"{type_.title()} difference: {diff}"
        else:
            m = f"Greatest {type_} difference: {diff} at index {idx}"
        if not equality:
            m += f" (up to {tol} allowed)"
        return m + "\n"

    if identifier is None:
        identifier = default_identifier
    elif callable(identifier):
        identifier = identifier(default_identifier)
    msg = f"{identifier} are not {'equal' if equality else 'close'}!\n\n"
    if extra:
        msg += f"{extra.strip()}\n"
    msg += diff_msg("absolute", abs_diff, abs_diff_idx, atol)
    msg += diff_msg("relative", rel_diff, rel_diff_idx, rtol)
    return msg.strip()


def make_scalar_mismatch_msg(actual, expected, *, rtol, atol, identifier=None) -> str:
    """torch's message for two mismatching scalars."""
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _make_mismatch_msg(default_identifier="Scalars", identifier=identifier,
                              extra=f"Expected {expected} but got {actual}.",
                              abs_diff=abs_diff, atol=atol, rel_diff=rel_diff, rtol=rtol)


def _abs(x: np.ndarray) -> np.ndarray:
    """|x| as torch computes it: complex magnitudes through hypot (numpy's complex abs can
    differ in the last bit)."""
    if x.dtype.kind == "c":
        return np.hypot(x.real, x.imag)
    return np.abs(x)


def _unravel(flat: int, shape) -> tuple:
    if not shape:
        return ()
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def make_tensor_mismatch_msg(actual: np.ndarray, expected: np.ndarray, matches: np.ndarray, *,
                             rtol, atol, identifier=None) -> str:
    """torch's message for two mismatching arrays (differences computed in their dtype)."""
    n = matches.size
    total = n - int(matches.sum())
    extra = f"Mismatched elements: {total} / {n} ({total / n:.1%})"
    a, e, m = actual.reshape(-1), expected.reshape(-1), matches.reshape(-1)
    if a.dtype.kind in "biu":
        a, e = a.astype(np.int64), e.astype(np.int64)
    with np.errstate(all="ignore"):
        abs_diff = _abs(a - e)
        abs_diff[m] = 0
        ai = int(np.argmax(abs_diff)) if not np.isnan(abs_diff).any() else \
            int(np.argmax(np.isnan(abs_diff)))
        if abs_diff.dtype.kind in "iu":
            # torch's true division of integers computes in the default float dtype
            ft = D.get_default_dtype().np
            rel_diff = abs_diff.astype(ft) / np.abs(e).astype(ft)
        else:
            rel_diff = abs_diff / _abs(e)
        rel_diff[m] = 0
        ri = int(np.argmax(rel_diff)) if not np.isnan(rel_diff).any() else \
            int(np.argmax(np.isnan(rel_diff)))
    return _make_mismatch_msg(default_identifier="Tensor-likes", identifier=identifier,
                              extra=extra, abs_diff=abs_diff[ai].item(),
                              abs_diff_idx=_unravel(ai, matches.shape), atol=atol,
                              rel_diff=float(rel_diff[ri]) if rel_diff.dtype.kind != "c"
                              else rel_diff[ri].item(),
                              rel_diff_idx=_unravel(ri, matches.shape), rtol=rtol)


class Pair:
    """Two inputs to compare and the options to compare them with."""

    def __init__(self, actual, expected, *, id=(), **unknown):
        self.actual = actual
        self.expected = expected
        self.id = id

    @staticmethod
    def _inputs_not_supported():
        raise UnsupportedInputs

    @staticmethod
    def _check_inputs_isinstance(*inputs, cls):
        if not all(isinstance(x, cls) for x in inputs):
            Pair._inputs_not_supported()

    def _fail(self, type_, msg, *, id=()):
        raise ErrorMeta(type_, msg, id=self.id if not id and hasattr(self, "id") else id)

    def compare(self) -> None:
        raise NotImplementedError


class ObjectPair(Pair):
    """Fallback: compare with ``==``."""

    def compare(self) -> None:
        try:
            equal = self.actual == self.expected
        except Exception as error:
            raise ErrorMeta(ValueError, f"{self.actual} == {self.expected} failed with:\n"
                            f"{error}.", id=self.id) from error
        if not equal:
            self._fail(AssertionError, f"{self.actual} != {self.expected}")


class NonePair(Pair):
    def __init__(self, actual, expected, **other):
        if not (actual is None or expected is None):
            self._inputs_not_supported()
        super().__init__(actual, expected, **other)

    def compare(self) -> None:
        if not (self.actual is None and self.expected is None):
            self._fail(AssertionError, f"None mismatch: {self.actual} is not {self.expected}")


class BooleanPair(Pair):
    def __init__(self, actual, expected, *, id=(), **other):
        self._check_inputs_isinstance(actual, expected, cls=(bool, np.bool_))
        actual, expected = (bool(x) for x in (actual, expected))
        super().__init__(actual, expected, id=id, **other)

    def compare(self) -> None:
        if self.actual is not self.expected:
            self._fail(AssertionError,
                       f"Booleans mismatch: {self.actual} is not {self.expected}")


class NumberPair(Pair):
    _TYPE_TO_DTYPE = {int: D.int64, float: D.float64, complex: D.complex128}

    def __init__(self, actual, expected, *, id=(), rtol=None, atol=None, equal_nan=False,
                 check_dtype=False, **other):
        self._check_inputs_isinstance(actual, expected, cls=(int, float, complex, np.number))
        actual, expected = (x.item() if isinstance(x, np.number) else x
                            for x in (actual, expected))
        for x in (actual, expected):
            if type(x) not in self._TYPE_TO_DTYPE:
                raise ErrorMeta(TypeError, f"Unknown number type {type(x)}.", id=id)
        super().__init__(actual, expected, id=id, **other)
        self.rtol, self.atol = get_tolerances(
            *[self._TYPE_TO_DTYPE[type(x)] for x in (actual, expected)], rtol=rtol, atol=atol,
            id=id)
        self.equal_nan = equal_nan
        self.check_dtype = check_dtype

    def compare(self) -> None:
        if self.check_dtype and type(self.actual) is not type(self.expected):
            self._fail(AssertionError, f"The (d)types do not match: {type(self.actual)} != "
                       f"{type(self.expected)}.")
        if self.actual == self.expected:
            return
        if self.equal_nan and cmath.isnan(self.actual) and cmath.isnan(self.expected):
            return
        abs_diff = abs(self.actual - self.expected)
        tolerance = self.atol + self.rtol * abs(self.expected)
        if cmath.isfinite(abs_diff) and abs_diff <= tolerance:
            return
        self._fail(AssertionError, make_scalar_mismatch_msg(self.actual, self.expected,
                                                            rtol=self.rtol, atol=self.atol))


class TensorLikePair(Pair):
    """Tensors, or two objects of related types that ``ardor.as_tensor`` converts."""

    def __init__(self, actual, expected, *, id=(), allow_subclasses=True, rtol=None,
                 atol=None, equal_nan=False, check_device=True, check_dtype=True,
                 check_layout=True, check_stride=False, **other):
        related = isinstance(actual, type(expected)) or isinstance(expected, type(actual))
        if not related or (not allow_subclasses and type(actual) is not type(expected)):
            self._inputs_not_supported()
        actual, expected = (self._to_tensor(x) for x in (actual, expected))
        super().__init__(actual, expected, id=id, **other)
        self.rtol, self.atol = get_tolerances(actual, expected, rtol=rtol, atol=atol, id=self.id)
        self.equal_nan = equal_nan
        self.check_device = check_device
        self.check_dtype = check_dtype
        self.check_layout = check_layout
        self.check_stride = check_stride

    def _to_tensor(self, x) -> Tensor:
        if isinstance(x, Tensor):
            return x
        try:
            from .._ops.creation import as_tensor
            return as_tensor(x)
        except Exception:
            self._inputs_not_supported()

    def compare(self) -> None:
        a, e = self.actual, self.expected

        def mismatch(name, av, ev):
            self._fail(AssertionError,
                       f"The values for attribute '{name}' do not match: {av} != {ev}.")

        if a.shape != e.shape:
            mismatch("shape", a.shape, e.shape)
        if self.check_stride and a.stride() != e.stride():
            mismatch("stride()", a.stride(), e.stride())
        if self.check_device and a.device != e.device:
            mismatch("device", a.device, e.device)
        if self.check_dtype and a.dtype is not e.dtype:
            mismatch("dtype", a.dtype, e.dtype)
        an, en = a.__array__(), e.__array__()
        if a.dtype is not e.dtype:
            ad, ed = a.dtype, e.dtype
            unsigned = (D.uint16, D.uint32, D.uint64)
            ad = D.int64 if ad in unsigned else ad
            ed = D.int64 if ed in unsigned else ed
            dt = D.promote_types(ad, ed)
            an, en = an.astype(D.np_dtype(dt)), en.astype(D.np_dtype(dt))
        self._compare_values(an, en)

    def _compare_values(self, a: np.ndarray, e: np.ndarray) -> None:
        rtol, atol = self.rtol, self.atol
        matches = _isclose(a, e, rtol, atol, self.equal_nan)
        if matches.all():
            return
        if a.ndim == 0:
            msg = make_scalar_mismatch_msg(a.item(), e.item(), rtol=rtol, atol=atol)
        else:
            msg = make_tensor_mismatch_msg(a, e, matches, rtol=rtol, atol=atol)
        self._fail(AssertionError, msg)


def _isclose(a, e, rtol, atol, equal_nan) -> np.ndarray:
    """torch.isclose on numpy arrays of one dtype, with torch's arithmetic: bool operands
    become the default float dtype, integer errors are computed in the integer dtype and
    compared with a tolerance in the default float dtype."""
    close = a == e
    with np.errstate(all="ignore"):
        if equal_nan and a.dtype.kind in "fcV":
            close |= np.isnan(a) & np.isnan(e)
        if rtol == 0 and atol == 0:
            return close
        if a.dtype.kind == "b":
            ft = D.get_default_dtype().np
            a, e = a.astype(ft), e.astype(ft)
        if a.dtype.kind in "iu":
            ft = D.get_default_dtype().np
            allowed = atol + _abs(ft.type(rtol) * e.astype(ft))
        else:
            allowed = atol + _abs(rtol * e)
        actual = _abs(a - e)
        close |= np.isfinite(actual) & (actual <= allowed)
    return close


_PAIR_TYPES = (NonePair, BooleanPair, NumberPair, TensorLikePair)


def originate_pairs(actual, expected, *, pair_types=_PAIR_TYPES,
                    sequence_types=(collections.abc.Sequence,),
                    mapping_types=(collections.abc.Mapping,), id=(), **options) -> list:
    if (isinstance(actual, sequence_types) and not isinstance(actual, str)
            and isinstance(expected, sequence_types) and not isinstance(expected, str)):
        if len(actual) != len(expected):
            raise ErrorMeta(AssertionError, "The length of the sequences mismatch: "
                            f"{len(actual)} != {len(expected)}", id=id)
        pairs = []
        for i in range(len(actual)):
            pairs.extend(originate_pairs(actual[i], expected[i], pair_types=pair_types,
                                         sequence_types=sequence_types,
                                         mapping_types=mapping_types, id=(*id, i), **options))
        return pairs
    if isinstance(actual, mapping_types) and isinstance(expected, mapping_types):
        ak, ek = set(actual.keys()), set(expected.keys())
        if ak != ek:
            raise ErrorMeta(AssertionError,
                            "The keys of the mappings do not match:\n"
                            f"Missing keys in the actual mapping: {sorted(ek - ak)}\n"
                            f"Additional keys in the actual mapping: {sorted(ak - ek)}", id=id)
        keys = ak
        with contextlib.suppress(Exception):
            keys = sorted(keys)
        pairs = []
        for k in keys:
            pairs.extend(originate_pairs(actual[k], expected[k], pair_types=pair_types,
                                         sequence_types=sequence_types,
                                         mapping_types=mapping_types, id=(*id, k), **options))
        return pairs
    for pair_type in pair_types:
        try:
            return [pair_type(actual, expected, id=id, **options)]
        except UnsupportedInputs:
            continue
    raise ErrorMeta(TypeError, "No comparison pair was able to handle inputs of type "
                    f"{type(actual)} and {type(expected)}.", id=id)


def assert_close(actual: Any, expected: Any, *, allow_subclasses: bool = True,
                 rtol: float | None = None, atol: float | None = None,
                 equal_nan: bool = False, check_device: bool = True, check_dtype: bool = True,
                 check_layout: bool = True, check_stride: bool = False,
                 msg: str | Callable[[str], str] | None = None) -> None:
    """Assert ``actual`` and ``expected`` are close (torch.testing.assert_close).

    Tensors (and numpy arrays, compared as tensors), Python numbers, bools and None, nested in
    sequences and mappings. Closeness is ``|actual - expected| <= atol + rtol * |expected|``
    with per-dtype defaults (float32: rtol 1.3e-6, atol 1e-5; float64: 1e-7, 1e-7; float16:
    1e-3, 1e-5; bfloat16: 1.6e-2, 1e-5; integers and bool: exact). Raises AssertionError with
    torch's mismatch report, ``msg`` replacing it (a string) or editing it (a callable)."""
    __tracebackhide__ = True
    try:
        pairs = originate_pairs(actual, expected, allow_subclasses=allow_subclasses, rtol=rtol,
                                atol=atol, equal_nan=equal_nan, check_device=check_device,
                                check_dtype=check_dtype, check_layout=check_layout,
                                check_stride=check_stride)
    except ErrorMeta as meta:  # torch reports origination errors without ``msg``
        raise meta.to_error() from None
    for pair in pairs:
        try:
            pair.compare()
        except ErrorMeta as meta:
            raise meta.to_error(msg) from None
