"""Tensor printing in torch's format (a port of torch/_tensor_str.py's rules onto numpy).

The layout rules are torch's: one common width per tensor, integer-valued floats printed as
``1.``, scientific notation when the magnitudes span more than 1e3 or leave [1e-4, 1e8],
wrapping at ``linewidth``, summarization with ``...`` above ``threshold`` elements, and the
``dtype=`` / ``grad_fn=`` / ``requires_grad=True`` suffixes.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Any

import numpy as np

from . import _dtype as D


@dataclasses.dataclass
class _PrinterOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrinterOptions()


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set options for printing tensors (as torch.set_printoptions).

    ``profile`` is one of 'default', 'short', 'full'; the other arguments override it.
    ``sci_mode`` True/False forces or forbids scientific notation; None chooses per tensor."""
    if profile is not None:
        if profile == "default":
            PRINT_OPTS.precision, PRINT_OPTS.threshold = 4, 1000
            PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 3, 80
        elif profile == "short":
            PRINT_OPTS.precision, PRINT_OPTS.threshold = 2, 1000
            PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 2, 80
        elif profile == "full":
            PRINT_OPTS.precision, PRINT_OPTS.threshold = 4, math.inf
            PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth = 3, 80
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict[str, Any]:
    """The current print options as a dict that ``set_printoptions(**d)`` accepts."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    """Context manager: print options changed inside the block, restored after."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


def _as_float64(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float64)


class _Formatter:
    """One common format for all elements of a (real) array."""

    def __init__(self, arr: np.ndarray, floating: bool):
        self.floating_dtype = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        p = PRINT_OPTS.precision
        if not floating:
            vals = arr.reshape(-1).tolist()
            if vals:
                self.max_width = max(1, max(len(f"{v}") for v in vals))
            return
        flat = _as_float64(arr.reshape(-1))
        nz = flat[np.isfinite(flat) & (flat != 0)]
        if nz.size == 0:
            return
        absv = np.abs(nz)
        mn, mx = float(absv.min()), float(absv.max())
        self.int_mode = bool(np.all(nz == np.ceil(nz)))
        self.sci_mode = (mx / mn > 1000.0 or mx > 1.0e8 or mn < 1.0e-4) \
            if PRINT_OPTS.sci_mode is None else PRINT_OPTS.sci_mode
        vals = nz.tolist()
        if self.sci_mode:
            self.max_width = max(self.max_width, max(len(f"{v:.{p}e}") for v in vals))
        elif self.int_mode:
            self.max_width = max(self.max_width, max(len(f"{v:.0f}") for v in vals) + 1)
        else:
            self.max_width = max(self.max_width, max(len(f"{v:.{p}f}") for v in vals))

    def width(self) -> int:
        return self.max_width

    def format(self, value) -> str:
        if self.floating_dtype:
            p = PRINT_OPTS.precision
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{p}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{p}f}"
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _complex_str(v, f1: _Formatter, f2: _Formatter) -> str:
    real_str = f1.format(v.real)
    imag_str = (f2.format(v.imag) + "j").lstrip()
    if imag_str[0] == "+" or imag_str[0] == "-":
        return real_str + imag_str
    return real_str + "+" + imag_str


def _to_py(a: np.ndarray):
    """Python values of an array (floats for the reduced float types numpy can't list)."""
    if a.dtype == D.bfloat16.np or a.dtype == np.float16:
        return a.astype(np.float64).tolist()
    return a.tolist()


def _vector_str(a, indent, summarize, f1, f2=None) -> str:
    element_length = f1.width() + 2
    if f2 is not None:
        element_length += f2.width() + 1
    per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))

    def fmt(vals):
        if f2 is not None:
            return [_complex_str(v, f1, f2) for v in vals]
        return [f1.format(v) for v in vals]

    e = PRINT_OPTS.edgeitems
    if summarize and not e:
        data = ["..."]
    elif summarize and a.shape[0] > 2 * e:
        data = fmt(_to_py(a[:e])) + [" ..."] + fmt(_to_py(a[-e:]))
    else:
        data = fmt(_to_py(a))
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _str_with_formatter(a, indent, summarize, f1, f2=None) -> str:
    dim = a.ndim
    if dim == 0:
        v = _to_py(a)
        return _complex_str(v, f1, f2) if f2 is not None else f1.format(v)
    if dim == 1:
        return _vector_str(a, indent, summarize, f1, f2)
    e = PRINT_OPTS.edgeitems
    n = a.shape[0]
    if summarize and n > 2 * e:
        slices = ([_str_with_formatter(a[i], indent + 1, summarize, f1, f2) for i in range(e)]
                  + ["..."]
                  + [_str_with_formatter(a[i], indent + 1, summarize, f1, f2)
                     for i in range(n - e, n)])
    else:
        slices = [_str_with_formatter(a[i], indent + 1, summarize, f1, f2) for i in range(n)]
    return "[" + ("," + "\n" * (dim - 1) + " " * (indent + 1)).join(slices) + "]"


def _summarized(a: np.ndarray) -> np.ndarray:
    """torch's get_summarized_data: the edge items along every dimension."""
    e = PRINT_OPTS.edgeitems
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        # torch slices a[:e] and a[-e:]; with e == 0 the latter is the whole vector
        return np.concatenate((a[:e], a[-e:])) if a.shape[0] > 2 * e else a
    if not e:
        return a[(slice(0, 0),) * a.ndim]
    idx = []
    for n in a.shape[:-1]:
        idx.append(np.r_[0:e, n - e:n] if n > 2 * e else np.arange(n))
    sub = a[np.ix_(*idx, np.arange(a.shape[-1]))]
    n = a.shape[-1]
    return sub[..., np.r_[0:e, n - e:n]] if n > 2 * e else sub


def _tensor_str(a: np.ndarray, indent: int) -> str:
    if a.size == 0:
        return "[]"
    summarize = a.size > PRINT_OPTS.threshold
    src = _summarized(a) if summarize else a
    if a.dtype.kind == "c":
        f1 = _Formatter(src.real, True)
        f2 = _Formatter(src.imag, True)
        return _str_with_formatter(a, indent, summarize, f1, f2)
    floating = a.dtype.kind == "f" or a.dtype == D.bfloat16.np
    return _str_with_formatter(a, indent, summarize, _Formatter(src, floating))


def _add_suffixes(tensor_str: str, suffixes, indent: int, force_newline: bool) -> str:
    out = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        n = len(suffix)
        if force_newline or last_line_len + n + 2 > PRINT_OPTS.linewidth:
            out.append(",\n" + " " * indent + suffix)
            last_line_len = indent + n
            force_newline = False
        else:
            out.append(", " + suffix)
            last_line_len += n + 2
    out.append(")")
    return "".join(out)


def _is_plain(t) -> bool:
    from ._tensor import Tensor
    cls = type(t)
    return cls is Tensor or (cls.__name__ == "Parameter" and cls.__module__.startswith("ardor."))


def tensor_repr(t) -> str:
    """repr(t) / str(t) exactly as torch prints, with ``ardor.`` dtype names."""
    prefix = "tensor(" if _is_plain(t) else f"{type(t).__name__}("
    indent = len(prefix)
    suffixes = []
    dev = t.device
    if dev.type != "cpu":
        suffixes.append(f"device='{dev}'")
    a = t._data
    if type(a) is not np.ndarray:
        a = a.get()
    dt = t.dtype
    default = D.get_default_dtype()
    default_complex = D.complex128 if default is D.float64 else D.complex64
    has_default_dtype = dt in (default, default_complex, D.int64, D.bool_)
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append("size=" + str(tuple(a.shape)))
        if dt is not default:
            suffixes.append(f"dtype={dt}")
        tensor_str = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append("size=" + str(tuple(a.shape)))
        if not has_default_dtype:
            suffixes.append(f"dtype={dt}")
        tensor_str = _tensor_str(a, indent)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + tensor_str, suffixes, indent, force_newline=False)
