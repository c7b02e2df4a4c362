"""nn.functional: pad, interpolate/upsample, pixel_shuffle/unshuffle."""
from __future__ import annotations

import math

import numpy as np

from ..._ops import nn_ops as _K
from ..._ops.dispatch import dispatch
from ..._tensor import Tensor, _make

__all__ = ["pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
           "pixel_shuffle", "pixel_unshuffle", "affine_grid", "grid_sample",
           "channel_shuffle", "native_channel_shuffle"]

_NONCONST_MSG = ("Padding size {n} is not supported for {d}D input tensor.\n"
                 "Supported combinations for non-constant padding:\n"
                 "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
                 "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
                 "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad)//2 dims: pad = (left_last, right_last, left_prev, ...)."""
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    k = len(pad) // 2
    nd = input.ndim
    if k > nd:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{nd}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    pairs = [(0, 0)] * (nd - k) + [(pad[2 * (k - 1 - i)], pad[2 * (k - 1 - i) + 1])
                                   for i in range(k)]
    if mode != "constant":
        if value:
            raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
        if nd not in (k + 1, k + 2) or k > 3:
            raise NotImplementedError(_NONCONST_MSG.format(n=len(pad), d=nd))
        for i in range(nd - k, nd):
            lo, hi = pairs[i]
            size = input.shape[i]
            if mode == "reflect" and (lo >= size or hi >= size):
                raise RuntimeError(f"Argument #4: Padding size should be less than the "
                                   f"corresponding input dimension, but got: padding ({lo}, "
                                   f"{hi}) at dimension {i} of input {list(input.shape)}")
            if mode == "circular" and (lo > size or hi > size):
                raise RuntimeError("Padding value causes wrapping around more than once.")
            if mode == "replicate" and size == 0 and (lo or hi):
                raise RuntimeError(f"Expected input to have non-zero size for padding dim {i}")
        attrs = {"pads": tuple(pairs), "mode": mode}
    else:
        for i in range(nd):
            lo, hi = pairs[i]
            if input.shape[i] + lo + hi < 0:
                raise RuntimeError(f"The input size {input.shape[i]}, plus negative padding "
                                   f"{lo} and {hi} resulted in a negative output size, which is "
                                   f"invalid. Check dimension {i} of your input.")
        attrs = {"pads": tuple(pairs), "mode": "constant",
                 "value": 0.0 if value is None else value}
    if not any(lo or hi for lo, hi in pairs):
        return input.clone() if mode == "constant" else input.clone()
    return dispatch(_K.pad_nd, (input,), attrs)


# ---------------------------------------------------------------- interpolation
_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _cubic(t, a=-0.75):
    t = np.abs(t)
    return np.where(t <= 1, ((a + 2) * t - (a + 3)) * t * t + 1,
                    np.where(t < 2, ((a * t - 5 * a) * t + 8 * a) * t - 4 * a, 0.0))


def _interp_matrix(size: int, out: int, mode: str, align_corners: bool, scale) -> np.ndarray:
    """(out, size) matrix mapping one axis of the input to the output (torch's formulas)."""
    dst = np.arange(out, dtype=np.float64)
    m = np.zeros((out, size))
    rows = np.arange(out)
    if mode in ("nearest", "nearest-exact"):
        sc = (1.0 / scale) if scale else size / out
        off = 0.5 if mode == "nearest-exact" else 0.0
        # torch computes this index in float32 (floorf(i * scale))
        src32 = (dst.astype(np.float32) + np.float32(off)) * np.float32(sc)
        src = np.minimum(np.floor(src32).astype(np.int64), size - 1)
        m[rows, src] = 1.0
        return m
    if align_corners:
        sc = (size - 1) / (out - 1) if out > 1 else 0.0
    else:
        sc = (1.0 / scale) if scale else size / out
    if mode == "bicubic":
        src = sc * dst if align_corners else sc * (dst + 0.5) - 0.5
        f = np.floor(src)
        t = src - f
        for j, w in zip((-1, 0, 1, 2), (_cubic(t + 1), _cubic(t), _cubic(1 - t),
                                         _cubic(2 - t))):
            idx = np.clip(f.astype(np.int64) + j, 0, size - 1)
            np.add.at(m, (rows, idx), w)
        return m
    src = sc * dst if align_corners else np.maximum(sc * (dst + 0.5) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    l1 = src - i0
    np.add.at(m, (rows, i0), 1.0 - l1)
    np.add.at(m, (rows, i1), l1)
    return m


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize (N, C, *spatial) by nearest / nearest-exact / (bi/tri)linear / bicubic / area."""
    nd = input.ndim - 2
    if mode in ("nearest", "area", "nearest-exact") and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if align_corners is None:
        align_corners = False
    if nd < 1:
        raise ValueError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                         f"{input.ndim}D) for the modes: nearest | linear | bilinear | bicubic "
                         f"| trilinear | area | nearest-exact (got {mode})")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        osz = list(size) if isinstance(size, (list, tuple)) else [size] * nd
        if len(osz) != nd:
            raise ValueError(f"Input and output must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(input.shape[2:])} and output size of {osz}. Please provide "
                             f"input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                             f"(o1, o2, ...,oK) format.")
        osz = [int(v) for v in osz]
        scales = [None] * nd
    elif scale_factor is not None:
        scales = list(scale_factor) if isinstance(scale_factor, (list, tuple)) \
            else [scale_factor] * nd
        if len(scales) != nd:
            raise ValueError(f"Input and scale_factor must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(input.shape[2:])} and scale_factor of shape {scales}. "
                             f"Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                             f"scale_factor in (s1, s2, ...,sK) format.")
        scales = [float(s) for s in scales]
        osz = [int(math.floor(input.shape[2 + i] * scales[i])) for i in range(nd)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor or mode == "area":
        scales = [None] * nd
    if mode == "area":
        from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[nd - 1](
            input, tuple(osz))
    if mode in _DIMS:
        if _DIMS[mode] != nd:
            raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                      f"{_DIMS[mode] + 2}D input")
    elif mode not in ("nearest", "nearest-exact"):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {input.ndim}D) for the modes: nearest | linear | "
                                  f"bilinear | bicubic | trilinear | area | nearest-exact (got "
                                  f"{mode})")
    if antialias:
        raise NotImplementedError("antialias=True is not supported")
    if any(o <= 0 for o in osz):
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({', '.join(map(str, input.shape[2:]))}) and output "
                           f"({', '.join(map(str, osz))})")
    # separable resampling: one small constant matrix per spatial axis, applied with matmul
    out = input
    npdt = input.dtype.np
    for i in range(nd):
        ax = 2 + i
        insz = input.shape[ax]
        if insz == osz[i] and (scales[i] is None or scales[i] == 1.0):
            continue
        m = _make(_interp_matrix(insz, osz[i], "nearest" if mode == "nearest" else mode,
                                 align_corners, scales[i]).T.astype(npdt))
        if ax == out.ndim - 1:
            out = out @ m
        else:
            out = (out.transpose(ax, -1) @ m).transpose(ax, -1)
    return out.contiguous() if out is not input else input.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='nearest')."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(..., mode='bilinear', align_corners=True)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r)."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    nl = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    perm = tuple(range(nl)) + tuple(nl + i for i in (0, 3, 1, 4, 2))
    return x.permute(*perm).reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W)."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by "
                           f"downscale_factor, but input.size(-2)={h} is not divisible by {r}")
    nl = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    perm = tuple(range(nl)) + tuple(nl + i for i in (0, 2, 4, 1, 3))
    return x.permute(*perm).reshape(*lead, c * r * r, h // r, w // r)


# ---------------------------------------------------------------- spatial transformers
_ALIGN_WARN = ("Default grid_sample and affine_grid behavior has changed to align_corners=False "
               "since 1.3.0. Please specify align_corners=True if the old behavior is desired. "
               "See the documentation of grid_sample for details.")


def _base_coords(n: int, align_corners: bool) -> np.ndarray:
    if n <= 1:
        return np.zeros(max(n, 1))
    r = np.linspace(-1.0, 1.0, n)
    return r if align_corners else r * (n - 1) / n


def affine_grid(theta: Tensor, size, align_corners: bool | None = None) -> Tensor:
    """Sampling grid (N, H, W, 2) (or (N, D, H, W, 3)) of the affine maps ``theta``."""
    import warnings
    if align_corners is None:
        warnings.warn(_ALIGN_WARN)
        align_corners = False
    if not theta.is_floating_point():
        raise ValueError(f"Expected theta to have floating point type, but got "
                         f"{theta.dtype}".replace("ardor.", "torch."))
    size = [int(v) for v in size]
    if len(size) == 4:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                             f"{size}. Got {list(theta.shape)}.".replace("[", "torch.Size([")
                             .replace("].", "]).").replace(f"size torch.Size({size})",
                                                           f"size {size}"))
        n, _, h, w = size
        xs, ys = _base_coords(w, align_corners), _base_coords(h, align_corners)
        base = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.ones((1, 1))), -1)
        base = base.reshape(1, h * w, 3)
        out_shape = (n, h, w, 2)
    elif len(size) == 5:
        if theta.ndim != 3 or tuple(theta.shape[-2:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size "
                             f"{size}. Got {list(theta.shape)}.")
        n, _, d, h, w = size
        xs, ys, zs = (_base_coords(w, align_corners), _base_coords(h, align_corners),
                      _base_coords(d, align_corners))
        base = np.stack(np.broadcast_arrays(xs[None, None, :], ys[None, :, None],
                                            zs[:, None, None], np.ones((1, 1, 1))), -1)
        base = base.reshape(1, d * h * w, 4)
        out_shape = (n, d, h, w, 3)
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    b = _make(base.astype(theta.dtype.np))
    return (b @ theta.transpose(1, 2)).reshape(out_shape)


def grid_sample(input: Tensor, grid: Tensor, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> Tensor:
    """Sample ``input`` (N, C, H, W) at ``grid`` (N, Ho, Wo, 2) locations in [-1, 1]."""
    import warnings
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARN)
        align_corners = False
    if mode == "bicubic" or padding_mode == "reflection" or input.ndim != 4:
        raise NotImplementedError("grid_sample: only 4-D input with bilinear/nearest mode and "
                                  "zeros/border padding is supported")
    if grid.ndim != 4 or grid.shape[0] != input.shape[0] or grid.shape[-1] != 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size 2 in last dimension "
                           f"and the same batch size as input, but got input with sizes "
                           f"{list(input.shape)} and grid with sizes {list(grid.shape)}")
    if input.dtype is not grid.dtype:
        raise RuntimeError(f"grid_sampler(): expected input and grid to have same dtype, but "
                           f"input has {input.dtype} and grid has {grid.dtype}"
                           .replace("ardor.", "torch."))
    return dispatch(_K.grid_sample_2d, (input, grid),
                    {"mode": mode, "padding_mode": padding_mode,
                     "align_corners": bool(align_corners)})


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """(N, g*c, *) -> channels regrouped as (N, c*g, *) (ShuffleNet's channel shuffle)."""
    g = int(groups)
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if g <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{g}")
    n, c = input.shape[:2]
    if c % g:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {g} groups.")
    rest = tuple(input.shape[2:])
    x = input.reshape((n, g, c // g) + rest).transpose(1, 2)
    return x.reshape((n, c) + rest)


native_channel_shuffle = channel_shuffle
