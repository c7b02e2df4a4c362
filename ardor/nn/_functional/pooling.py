"""nn.functional: pooling (max/avg/adaptive, 1d/2d/3d) and max_unpool."""
from __future__ import annotations

import numpy as np

from ..._ops import nn_ops as _K
from ..._ops.dispatch import dispatch
from ..._state import state
from ..._tensor import Tensor, _make

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices", "max_unpool1d", "max_unpool2d", "lp_pool1d",
           "lp_pool2d", "lp_pool3d", "max_pool3d_with_indices", "adaptive_max_pool3d",
           "adaptive_max_pool3d_with_indices", "max_unpool3d"]


def _tup(v, n: int, name: str = "kernel_size") -> tuple:
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            return (int(v[0]),) * n
        if len(v) != n:
            raise RuntimeError(f"{name} must either be a single int, or a tuple of {n} ints")
        return tuple(int(a) for a in v)
    return (int(v),) * n


def _batch(x: Tensor, nd: int, name: str):
    if x.ndim == nd + 1 and x.numel() > 0:
        return x.unsqueeze(0), True
    if x.ndim == nd + 2 and all(v > 0 for v in x.shape[1:]):   # empty batch allowed
        return x, False
    if nd == 2:
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    raise RuntimeError(f"{name}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with "
                       f"optional 0 dim batch size for input, but got:{list(x.shape)}")


def _check_pool(x, k, s, p, d, ceil_mode, name):
    for i in range(len(k)):
        if k[i] <= 0:
            raise RuntimeError(f"kernel_size must be greater than zero, but got "
                               f"kH: {k[0]} kW: {k[-1]}")
        if s[i] <= 0:
            raise RuntimeError("stride should be greater than zero")
        if d is not None and p[i] * 2 > d[i] * (k[i] - 1) + 1:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p[i]}, kernel_size={k[i]} and dilation={d[i]}")
        if d is None and p[i] * 2 > k[i]:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p[i]}, kernel_size={k[i]} and dilation=1")
    out, _ = _K._pool_geometry(x.shape, k, s, p, d or (1,) * len(k), ceil_mode)
    if any(o <= 0 for o in out):
        insz = "x".join(str(v) for v in x.shape[1:])
        outsz = "x".join(str(v) for v in (x.shape[1],) + out)
        raise RuntimeError(f"Given input size: ({insz}). Calculated output size: ({outsz}). "
                           f"Output size is too small")


def _max_pool(nd, name, input, kernel_size, stride, padding, dilation, ceil_mode,
              return_indices):
    x, unb = _batch(input, nd, name)
    k = _tup(kernel_size, nd)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else _tup(stride, nd, "stride")
    p = _tup(padding, nd, "padding")
    d = _tup(dilation, nd, "dilation")
    _check_pool(x, k, s, p, d, ceil_mode, name)
    at = {"kernel_size": k, "stride": s, "padding": p, "dilation": d,
          "ceil_mode": bool(ceil_mode)}
    if not return_indices and state.tracer is None and not (
            state.grad_enabled and x.requires_grad):
        out = dispatch(_K.max_pool_values, (x,), at)   # no argmax to keep: values alone
        return out.squeeze(0) if unb else out
    out, idx = dispatch(_K.max_pool_nd, (x,), at)
    if unb:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """1-d max pooling over (N, C, L) or (C, L)."""
    return _max_pool(1, "max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-d max pooling over (N, C, H, W) or (C, H, W)."""
    return _max_pool(2, "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """3-d max pooling over (N, C, D, H, W) or (C, D, H, W)."""
    return _max_pool(3, "max_pool3d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """max_pool1d returning (values, indices)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """max_pool2d returning (values, indices)."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _avg_pool(nd, name, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    x, unb = _batch(input, nd, name)
    k = _tup(kernel_size, nd)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else _tup(stride, nd, "stride")
    p = _tup(padding, nd, "padding")
    _check_pool(x, k, s, p, None, ceil_mode, name)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    out = dispatch(_K.avg_pool_nd, (x,), {"kernel_size": k, "stride": s, "padding": p,
                                           "ceil_mode": bool(ceil_mode),
                                           "count_include_pad": bool(count_include_pad),
                                           "divisor_override": divisor_override})
    return out.squeeze(0) if unb else out


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-d average pooling."""
    return _avg_pool(1, "avg_pool1d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """2-d average pooling."""
    return _avg_pool(2, "avg_pool2d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override=None) -> Tensor:
    """3-d average pooling."""
    return _avg_pool(3, "avg_pool3d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _adaptive_size(x, output_size, nd, name):
    if x.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got "
                           f"{list(x.shape)}")
    os_ = output_size if isinstance(output_size, (list, tuple)) else (output_size,) * nd
    if len(os_) != nd:
        raise RuntimeError(f"{name}: internal error: output_size.size() must be {nd}")
    sp = x.shape[-nd:]
    return tuple(int(sp[i]) if os_[i] is None else int(os_[i]) for i in range(nd))


def _avg_matrix(size: int, out: int, dtype) -> Tensor:
    st, en = _K._adaptive_ranges(size, out)
    m = np.zeros((out, size), dtype=dtype.np)
    for i in range(out):   # O(out) setup on a small constant matrix, not over the data
        m[i, st[i]:en[i]] = 1.0 / (en[i] - st[i])
    return _make(m)


def _adaptive_avg(nd, name, input, output_size):
    os_ = _adaptive_size(input, output_size, nd, name)
    x, unb = (input.unsqueeze(0), True) if input.ndim == nd + 1 else (input, False)
    sp = x.shape[2:]
    if all(sp[i] % os_[i] == 0 for i in range(nd)) and all(o > 0 for o in os_):
        k = tuple(sp[i] // os_[i] for i in range(nd))
        out = dispatch(_K.avg_pool_nd, (x,), {"kernel_size": k, "stride": k,
                                               "padding": (0,) * nd, "ceil_mode": False,
                                               "count_include_pad": True,
                                               "divisor_override": None})
    else:
        # separable: one small averaging matrix per spatial axis, applied with matmul
        out = x
        for i in range(nd):
            ax = 2 + i
            m = _avg_matrix(sp[i], os_[i], x.dtype)
            out = (out.transpose(ax, -1) @ m.t()).transpose(ax, -1)
        out = out.contiguous()
    return out.squeeze(0) if unb else out


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Adaptive 1-d average pooling to ``output_size``."""
    return _adaptive_avg(1, "adaptive_avg_pool1d", input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Adaptive 2-d average pooling to ``output_size`` (entries may be None)."""
    return _adaptive_avg(2, "adaptive_avg_pool2d", input, output_size)


def adaptive_avg_pool3d(input: Tensor, output_size) -> Tensor:
    """Adaptive 3-d average pooling."""
    return _adaptive_avg(3, "adaptive_avg_pool3d", input, output_size)


def _adaptive_max(nd, name, input, output_size, return_indices):
    os_ = _adaptive_size(input, output_size, nd, name)
    x, unb = (input.unsqueeze(0), True) if input.ndim == nd + 1 else (input, False)
    out, idx = dispatch(_K.adaptive_max_pool_nd, (x,), {"output_size": os_})
    if unb:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Adaptive 1-d max pooling."""
    return _adaptive_max(1, "adaptive_max_pool1d", input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Adaptive 2-d max pooling."""
    return _adaptive_max(2, "adaptive_max_pool2d", input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    """adaptive_max_pool1d returning (values, indices)."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    """adaptive_max_pool2d returning (values, indices)."""
    return adaptive_max_pool2d(input, output_size, True)


def _max_unpool(nd, name, input, indices, kernel_size, stride, padding, output_size):
    k = _tup(kernel_size, nd)
    s = k if stride is None else _tup(stride, nd, "stride")
    p = _tup(padding, nd, "padding")
    x, unb = (input.unsqueeze(0), True) if input.ndim == nd + 1 else (input, False)
    idx = indices.unsqueeze(0) if unb else indices
    default = tuple((x.shape[2 + i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(nd))
    if output_size is None:
        osz = default
    else:
        osz = tuple(int(v) for v in output_size)[-nd:]
        for i in range(nd):
            lo, hi = default[i] - s[i], default[i] + s[i]
            if not lo < osz[i] < hi:
                raise ValueError(f"invalid output_size \"{list(output_size)}\" (dim {i} must be "
                                 f"between {lo} and {hi})")
    if idx.shape != x.shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(x.shape)}) but got indices tensor with shape: "
                           f"{list(idx.shape)}")
    total = 1
    for v in osz:
        total *= v
    if idx.numel() and (int(idx.max().item()) >= total or int(idx.min().item()) < 0):
        raise RuntimeError(f"Found an invalid max index: {int(idx.max().item())} (output "
                           f"volumes are of size {'x'.join(map(str, osz))}")
    out = dispatch(_K.index_pool_scatter, (x, idx),
                   {"shape": tuple(x.shape[:2]) + osz, "accumulate": False})
    return out.squeeze(0) if unb else out


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Partial inverse of max_pool1d (non-maxima set to zero)."""
    return _max_unpool(1, "max_unpool1d", input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Partial inverse of max_pool2d (non-maxima set to zero)."""
    return _max_unpool(2, "max_unpool2d", input, indices, kernel_size, stride, padding,
                       output_size)


def lp_pool1d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """Power-average 1-d pooling: (sum x^p)^(1/p) over windows."""
    k = _tup(kernel_size, 1)[0]
    out = avg_pool1d(input.pow(norm_type), k, stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(k).pow(1.0 / norm_type)


def lp_pool2d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """Power-average 2-d pooling."""
    kh, kw = _tup(kernel_size, 2)
    out = avg_pool2d(input.pow(norm_type), (kh, kw), stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(kh * kw).pow(1.0 / norm_type)


def lp_pool3d(input: Tensor, norm_type, kernel_size, stride=None, ceil_mode=False) -> Tensor:
    """Power-average 3-d pooling."""
    kd, kh, kw = _tup(kernel_size, 3)
    out = avg_pool3d(input.pow(norm_type), (kd, kh, kw), stride, 0, ceil_mode)
    return (out.sign() * out.abs().relu()).mul(kd * kh * kw).pow(1.0 / norm_type)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """max_pool3d returning (values, indices)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool3d(input: Tensor, output_size, return_indices: bool = False):
    """Adaptive 3-d max pooling."""
    return _adaptive_max(3, "adaptive_max_pool3d", input, output_size, return_indices)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    """adaptive_max_pool3d returning (values, indices)."""
    return adaptive_max_pool3d(input, output_size, True)


def max_unpool3d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """Partial inverse of max_pool3d (non-maxima set to zero)."""
    return _max_unpool(3, "max_unpool3d", input, indices, kernel_size, stride, padding,
                       output_size)
