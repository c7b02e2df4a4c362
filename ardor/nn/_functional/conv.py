"""nn.functional: convolutions (conv1d/2d/3d, conv_transpose1d/2d/3d) and unfold/fold."""
from __future__ import annotations

from ..._ops import nn_ops as _K
from ..._ops.dispatch import dispatch
from ..._tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "unfold", "fold"]


def _ntuple(v, n: int, name: str = "") -> tuple:
    if isinstance(v, (list, tuple)):
        if len(v) == 1 and n > 1:
            return tuple(int(v[0]) for _ in range(n))
        if len(v) != n:
            raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                               f"values to match the convolution dimensions, but got "
                               f"{name}={list(v)}")
        return tuple(int(x) for x in v)
    return (int(v),) * n


def _sizes(t) -> str:
    return "[" + ", ".join(str(s) for s in t) + "]"


def _type_name(t: Tensor) -> str:
    return f"torch.{t.dtype._torch_name}Tensor"


def _check_dtypes(x: Tensor, w: Tensor, b) -> None:
    if x.dtype is not w.dtype:
        raise RuntimeError(f"Input type ({_type_name(x)}) and weight type ({_type_name(w)}) "
                           f"should be the same or input should be a MKLDNN tensor and weight "
                           f"is a dense tensor")
    if b is not None and b.dtype is not w.dtype:
        raise RuntimeError(f"Input type ({_type_name(x)}) and bias type ({_type_name(b)}) "
                           f"should be the same")


def _batchify(x: Tensor, nd: int, name: str):
    if x.ndim == nd + 1:
        return x.unsqueeze(0), True
    if x.ndim != nd + 2:
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{name}, but got input of size: {_sizes(x.shape)}")
    return x, False


def _conv(nd: int, name: str, input, weight, bias, stride, padding, dilation, groups):
    x, unbatched = _batchify(input, nd, name)
    _check_dtypes(x, weight, bias)
    if weight.ndim != nd + 2:
        raise RuntimeError(f"weight should have at least three dimensions")
    groups = int(groups)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    cout = weight.shape[0]
    if cout % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size {_sizes(weight.shape)} "
                           f"instead")
    if x.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {_sizes(weight.shape)}, "
                           f"expected input{_sizes(x.shape)} to have "
                           f"{weight.shape[1] * groups} channels, but got {x.shape[1]} channels "
                           f"instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != cout):
        raise RuntimeError(f"Given weight of size {_sizes(weight.shape)}, expected bias to be "
                           f"1-dimensional with {cout} elements, but got bias of size "
                           f"{_sizes(bias.shape)} instead")
    s = _ntuple(stride, nd, "stride")
    d = _ntuple(dilation, nd, "dilation")
    k = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(v != 1 for v in s):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = []
            for i in range(nd):
                tot = d[i] * (k[i] - 1)
                pads.append((tot // 2, tot - tot // 2))
            pads = tuple(pads)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        p = _ntuple(padding, nd, "padding")
        if any(v < 0 for v in p):
            raise RuntimeError("negative padding is not supported")
        pads = tuple((v, v) for v in p)
    if any(v <= 0 for v in s):
        raise RuntimeError("non-positive stride is not supported")
    padded = tuple(x.shape[2 + i] + pads[i][0] + pads[i][1] for i in range(nd))
    eff = tuple(d[i] * (k[i] - 1) + 1 for i in range(nd))
    if any(padded[i] < eff[i] for i in range(nd)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, eff))}). Kernel size can't be greater than "
                           f"actual input size")
    out = dispatch(_K.conv_nd, (x, weight, bias),
                   {"stride": s, "padding": pads, "dilation": d, "groups": groups})
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-d convolution over (N, C, L) or (C, L) input (torch.nn.functional.conv1d)."""
    return _conv(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-d convolution over (N, C, H, W) or (C, H, W) input (torch.nn.functional.conv2d)."""
    return _conv(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-d convolution over (N, C, D, H, W) or (C, D, H, W) input."""
    return _conv(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(nd: int, name: str, input, weight, bias, stride, padding, output_padding,
                    groups, dilation, output_size=None):
    x, unbatched = _batchify(input, nd, name)
    _check_dtypes(x, weight, bias)
    groups = int(groups)
    if x.shape[1] != weight.shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {_sizes(weight.shape)}, "
                           f"expected input{_sizes(x.shape)} to have {weight.shape[0]} "
                           f"channels, but got {x.shape[1]} channels instead")
    cout = weight.shape[1] * groups
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != cout):
        raise RuntimeError(f"Given transposed=1, weight of size {_sizes(weight.shape)}, "
                           f"expected bias to be 1-dimensional with {cout} elements, but got "
                           f"bias of size {_sizes(bias.shape)} instead")
    s = _ntuple(stride, nd, "stride")
    p = _ntuple(padding, nd, "padding")
    d = _ntuple(dilation, nd, "dilation")
    op = _ntuple(output_padding, nd, "output_padding")
    k = tuple(weight.shape[2:])
    for i in range(nd):
        if op[i] >= s[i] and op[i] >= d[i]:
            dims = ("height", "width") if nd == 2 else (("width",) if nd == 1 else
                                                         ("depth", "height", "width"))
            raise RuntimeError(
                "output padding must be smaller than either stride or dilation, but got " +
                " ".join(f"output_padding_{n}: {v}" for n, v in zip(dims, op)) + " " +
                " ".join(f"stride_{n}: {v}" for n, v in zip(dims, s)) + " " +
                " ".join(f"dilation_{n}: {v}" for n, v in zip(dims, d)))
    out_sp = tuple((x.shape[2 + i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + 1 + op[i]
                   for i in range(nd))
    if any(v <= 0 for v in out_sp):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, x.shape[2:]))})"
                           f". Calculated output size per channel: "
                           f"({' x '.join(map(str, out_sp))}). Output size is too small")
    y = dispatch(_K.conv_transpose_nd, (x, weight, bias),
                 {"stride": s, "padding": tuple((v, v) for v in p), "dilation": d,
                  "groups": groups, "output_size": out_sp})
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-d transposed convolution (weight (Cin, Cout/groups, K))."""
    return _conv_transpose(1, "conv_transpose1d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-d transposed convolution (weight (Cin, Cout/groups, kH, kW))."""
    return _conv_transpose(2, "conv_transpose2d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """3-d transposed convolution."""
    return _conv_transpose(3, "conv_transpose3d", input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding local blocks: (N, C, H, W) -> (N, C*kH*kW, L) (im2col)."""
    x, unbatched = input, False
    if x.ndim == 3:
        x, unbatched = x.unsqueeze(0), True
    elif x.ndim != 4:
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported "
                                  f"(got {input.ndim}D)")
    k = _ntuple(kernel_size, 2)
    p = _ntuple(padding, 2)
    out = dispatch(_K.im2col, (x,), {"kernel_size": k, "stride": _ntuple(stride, 2),
                                      "padding": tuple((v, v) for v in p),
                                      "dilation": _ntuple(dilation, 2)})
    return out.squeeze(0) if unbatched else out


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Combine sliding local blocks (N, C*kH*kW, L) into (N, C, *output_size) (col2im)."""
    x, unbatched = input, False
    if x.ndim == 2:
        x, unbatched = x.unsqueeze(0), True
    elif x.ndim != 3:
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input "
                                  f"Tensors are supported (got {input.ndim}D)")
    k = _ntuple(kernel_size, 2)
    os_ = _ntuple(output_size, 2)
    s, d, p = _ntuple(stride, 2), _ntuple(dilation, 2), _ntuple(padding, 2)
    if x.shape[1] % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size, but got input.size(1)={x.shape[1]} and "
                           f"kernel_size=({k[0]}, {k[1]})")
    blocks = 1
    for i in range(2):
        blocks *= (os_[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1
    if x.shape[2] != blocks:
        raise RuntimeError(f"Given output_size=({os_[0]}, {os_[1]}), kernel_size=({k[0]}, "
                           f"{k[1]}), dilation=({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), "
                           f"stride=({s[0]}, {s[1]}), expected size of input's dimension 2 to "
                           f"match the calculated number of sliding blocks {blocks}, but got "
                           f"input.size(2)={x.shape[2]}.")
    out = dispatch(_K.col2im, (x,), {"kernel_size": k, "stride": s,
                                      "padding": tuple((v, v) for v in p), "dilation": d,
                                      "output_size": os_})
    return out.squeeze(0) if unbatched else out
