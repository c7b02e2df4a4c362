"""Functional image transforms. Images are ardor tensors (..., H, W), numpy arrays (H, W) or
(H, W, C), or PIL images; each function returns the kind it was given."""
from __future__ import annotations

import numbers

import numpy as np

from ... import _dtype as D
from ..._tensor import Tensor


def _is_pil(img) -> bool:
    return type(img).__module__.startswith("PIL.")


def _to_array(img):
    """(array, kind, H axis): the pixel array of any supported image."""
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise TypeError(f"image tensor should have at least 2 dims, got {img.ndim}")
        return img.numpy() if not img.requires_grad else img.detach().numpy(), "tensor", -2
    if _is_pil(img):
        return np.asarray(img), "pil", 0
    if isinstance(img, np.ndarray):
        if img.ndim not in (2, 3):
            raise TypeError(f"image array should be HxW or HxWxC, got shape {img.shape}")
        return img, "array", 0
    raise TypeError(f"img should be a Tensor, a numpy array or a PIL Image, got {type(img)}")


def _from_array(arr, kind, like=None):
    if kind == "tensor":
        from ... import from_numpy
        return from_numpy(np.ascontiguousarray(arr))
    if kind == "pil":
        from PIL import Image
        return Image.fromarray(np.ascontiguousarray(arr), mode=like.mode if like else None)
    return arr


def _hw(arr, h_axis):
    return arr.shape[h_axis], arr.shape[h_axis + 1]


def get_image_size(img):
    """[width, height] as torchvision reports it."""
    arr, _, ha = _to_array(img)
    h, w = _hw(arr, ha)
    return [w, h]


def to_tensor(pic) -> Tensor:
    """PIL image or HxW(xC) array -> CxHxW tensor; uint8 is scaled to float in [0, 1]."""
    from ... import from_numpy
    if not (_is_pil(pic) or isinstance(pic, np.ndarray)):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    arr = np.asarray(pic)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"pic should be 2/3 dimensional. Got {arr.ndim} dimensions.")
    chw = np.ascontiguousarray(arr.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        return from_numpy(chw.astype(D.get_default_dtype().np) / np.float32(255.0)
                          .astype(D.get_default_dtype().np))
    if chw.dtype == np.bool_:
        return from_numpy(chw.astype(D.get_default_dtype().np))
    return from_numpy(chw)


def pil_to_tensor(pic) -> Tensor:
    """PIL image (or array) -> CxHxW tensor of the same dtype, unscaled."""
    from ... import from_numpy
    arr = np.asarray(pic)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))


def normalize(tensor: Tensor, mean, std, inplace: bool = False) -> Tensor:
    """(tensor - mean) / std per channel (dim -3)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if not tensor.is_floating_point():
        raise TypeError(f"Input tensor should be a float tensor. Got {tensor.dtype}.")
    if tensor.ndim < 3:
        raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tuple(tensor.shape)}")
    dt = tensor.dtype.np
    m = np.asarray(mean, dtype=dt).reshape(-1, 1, 1)
    s = np.asarray(std, dtype=dt).reshape(-1, 1, 1)
    if (s == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {tensor.dtype}, leading "
                         "to division by zero.")
    from ... import from_numpy
    if inplace:
        with _no_grad():
            tensor.sub_(from_numpy(m)).div_(from_numpy(s))
        return tensor
    return (tensor - from_numpy(m)) / from_numpy(s)


def _no_grad():
    from ...autograd.grad_mode import no_grad
    return no_grad()


def hflip(img):
    """Flip left-right."""
    arr, kind, ha = _to_array(img)
    return _from_array(np.flip(arr, axis=ha + 1 if ha >= 0 else -1), kind, img)


def vflip(img):
    """Flip upside down."""
    arr, kind, ha = _to_array(img)
    return _from_array(np.flip(arr, axis=ha), kind, img)


def crop(img, top: int, left: int, height: int, width: int):
    """The region [top:top+height, left:left+width], zero-padded where it leaves the image."""
    arr, kind, ha = _to_array(img)
    h, w = _hw(arr, ha)
    pad_t, pad_l = max(0, -top), max(0, -left)
    pad_b, pad_r = max(0, top + height - h), max(0, left + width - w)
    if pad_t or pad_l or pad_b or pad_r:
        arr = _pad_array(arr, ha, (pad_l, pad_t, pad_r, pad_b), 0, "constant")
        top, left = top + pad_t, left + pad_l
    idx = [slice(None)] * arr.ndim
    hx = ha % arr.ndim
    idx[hx] = slice(top, top + height)
    idx[hx + 1] = slice(left, left + width)
    return _from_array(arr[tuple(idx)], kind, img)


def center_crop(img, output_size):
    """Crop the center (padding with zeros when the image is smaller)."""
    th, tw = _pair(output_size)
    arr, _, ha = _to_array(img)
    h, w = _hw(arr, ha)
    return crop(img, int(round((h - th) / 2.0)), int(round((w - tw) / 2.0)), th, tw)


def _pair(size):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    return int(size[0]), int(size[1])


def _pad_array(arr, ha, padding, fill, mode):
    left, top, right, bottom = padding
    widths = [(0, 0)] * arr.ndim
    hx = ha % arr.ndim
    widths[hx] = (top, bottom)
    widths[hx + 1] = (left, right)
    np_mode = {"constant": "constant", "edge": "edge", "reflect": "reflect",
               "symmetric": "symmetric"}.get(mode)
    if np_mode is None:
        raise ValueError(f"Padding mode should be either constant, edge, reflect or symmetric, "
                         f"got {mode}")
    if np_mode == "constant":
        return np.pad(arr, widths, mode="constant", constant_values=fill)
    return np.pad(arr, widths, mode=np_mode)


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Pad by an int, (lr, tb) or (left, top, right, bottom)."""
    if isinstance(padding, numbers.Number):
        p = (int(padding),) * 4
    elif len(padding) == 2:
        p = (padding[0], padding[1], padding[0], padding[1])
    elif len(padding) == 4:
        p = tuple(padding)
    else:
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a "
                         f"{len(padding)} element tuple")
    arr, kind, ha = _to_array(img)
    return _from_array(_pad_array(arr, ha, p, fill, padding_mode), kind, img)


def resize(img, size, interpolation: str = "bilinear", max_size=None, antialias=True):
    """Resize to (h, w), or match the smaller edge to ``size`` keeping the aspect ratio."""
    arr, kind, ha = _to_array(img)
    h, w = _hw(arr, ha)
    if isinstance(size, numbers.Number) or len(size) == 1:
        s = int(size if isinstance(size, numbers.Number) else size[0])
        if h <= w:
            oh, ow = s, int(s * w / h)
        else:
            oh, ow = int(s * h / w), s
        if max_size is not None and max(oh, ow) > max_size:
            scale = max_size / max(oh, ow)
            oh, ow = int(oh * scale), int(ow * scale)
    else:
        oh, ow = int(size[0]), int(size[1])
    interp = getattr(interpolation, "value", interpolation)
    src = arr.astype(np.float64)
    hx = ha % arr.ndim
    if interp == "nearest":
        ys = np.minimum((np.arange(oh) * (h / oh)).astype(np.int64), h - 1)
        xs = np.minimum((np.arange(ow) * (w / ow)).astype(np.int64), w - 1)
        out = np.take(np.take(src, ys, axis=hx), xs, axis=hx + 1)
    elif interp == "bilinear":
        def coords(n_out, n_in):
            c = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
            c = np.clip(c, 0, n_in - 1)
            lo = np.floor(c).astype(np.int64)
            hi = np.minimum(lo + 1, n_in - 1)
            return lo, hi, c - lo
        y0, y1, wy = coords(oh, h)
        x0, x1, wx = coords(ow, w)
        shape_y = [1] * arr.ndim
        shape_y[hx] = oh
        shape_x = [1] * arr.ndim
        shape_x[hx + 1] = ow
        wy = wy.reshape(shape_y)
        wx = wx.reshape(shape_x)
        rows = np.take(src, y0, axis=hx) * (1 - wy) + np.take(src, y1, axis=hx) * wy
        out = np.take(rows, x0, axis=hx + 1) * (1 - wx) + np.take(rows, x1, axis=hx + 1) * wx
    else:
        raise ValueError(f"interpolation {interp!r} is not supported (nearest, bilinear)")
    if arr.dtype.kind in "iub":
        out = np.clip(np.round(out), np.iinfo(arr.dtype).min if arr.dtype.kind != "b" else 0,
                      np.iinfo(arr.dtype).max if arr.dtype.kind != "b" else 1)
    return _from_array(out.astype(arr.dtype), kind, img)


def convert_image_dtype(image: Tensor, dtype=D.float32) -> Tensor:
    """Convert between integer and float images, rescaling values (uint8 255 <-> 1.0)."""
    from ... import from_numpy
    dtype = D.as_dtype(dtype)
    arr = image.detach().numpy()
    src = image.dtype
    if src is dtype:
        return image
    if src.is_floating_point:
        if dtype.is_floating_point:
            return image.to(dtype)
        imax = np.iinfo(dtype.np).max
        return from_numpy((arr * (imax + 1.0 - 0.001)).astype(dtype.np))
    smax = np.iinfo(src.np).max
    if dtype.is_floating_point:
        return from_numpy((arr.astype(dtype.np) / np.asarray(smax, dtype.np)))
    dmax = np.iinfo(dtype.np).max
    if smax > dmax:
        factor = (smax + 1) // (dmax + 1)
        return from_numpy((arr // factor).astype(dtype.np))
    factor = (dmax + 1) // (smax + 1)
    return from_numpy(arr.astype(dtype.np) * factor)
