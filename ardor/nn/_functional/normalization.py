"""nn.functional: batch_norm, layer_norm, group_norm, instance_norm, rms_norm,
local_response_norm."""
from __future__ import annotations

import numpy as np

from ..._ops import nn_ops as _K
from ..._ops.dispatch import dispatch
from ..._tensor import Tensor
from ...autograd.grad_mode import no_grad

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm",
           "local_response_norm"]


def _bump(t) -> None:
    # the op updated the running stats in place: tell autograd's version checks about it
    if t is not None:
        t._version[0] += 1


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization over dim 1 of (N, C, *); updates the running stats in training."""
    if input.ndim < 2:
        raise ValueError(f"Expected 2D or more input (got {input.ndim}D input)")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    if training:
        size = input.numel() // c
        if size == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {input.shape!r}".replace("ardor.Size", "torch.Size"))
    elif running_mean is None or running_var is None:
        raise RuntimeError("running_mean and running_var must be defined in evaluation mode")
    out = dispatch(_K.batch_norm, (input, weight, bias, running_mean, running_var),
                   {"training": bool(training), "momentum": float(momentum or 0.0),
                    "eps": float(eps)})[0]
    if training:
        _bump(running_mean)
        _bump(running_var)
    return out


def _normalized_check(input: Tensor, normalized_shape) -> tuple:
    ns = (int(normalized_shape),) if not isinstance(normalized_shape, (list, tuple)) \
        else tuple(int(v) for v in normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size"
                           f"{list(input.shape)}")
    return ns


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Layer normalization over the trailing ``normalized_shape`` dims (one fused op)."""
    if not isinstance(normalized_shape, (list, tuple)):
        raise TypeError(f"layer_norm(): argument 'normalized_shape' (position 2) must be tuple "
                        f"of ints, not {type(normalized_shape).__name__}")
    ns = _normalized_check(input, normalized_shape)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(ns)}")
    return dispatch(_K.layer_norm, (input, weight, bias), {"k": len(ns), "eps": float(eps)})[0]


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """RMS normalization over the trailing ``normalized_shape`` dims."""
    ns = _normalized_check(input, normalized_shape)
    if eps is None:
        eps = float(np.finfo(input.dtype.np).eps)
    return dispatch(_K.rms_norm, (input, weight), {"k": len(ns), "eps": float(eps)})[0]


def _affine(out: Tensor, weight, bias) -> Tensor:
    shape = (1, -1) + (1,) * (out.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Group normalization: normalize each group of channels per sample, then affine."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    n, c = input.shape[:2]
    g = int(num_groups)
    if c % g:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={g}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {list(t.shape)} "
                               f"and input of shape {list(input.shape)}")
    x = input.reshape(n, g, -1)
    out = dispatch(_K.layer_norm, (x, None, None), {"k": 1, "eps": float(eps)})[0]
    return _affine(out.reshape(input.shape), weight, bias)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Instance normalization: per-sample, per-channel statistics over the spatial dims."""
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or more input (got {input.ndim}D input)")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    n, c = input.shape[:2]
    k = input.ndim - 2
    sp = input.numel() // max(n * c, 1)
    if sp <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{list(input.shape)}")
    out, mean, rstd = dispatch(_K.layer_norm, (input, None, None), {"k": k, "eps": float(eps)})
    if running_mean is not None or running_var is not None:
        with no_grad():
            m = float(momentum if momentum is not None else 0.1)
            bm = mean.reshape(n, c).mean(0)
            var = (1.0 / (rstd * rstd) - eps) * (sp / (sp - 1))
            bv = var.reshape(n, c).mean(0)
            if running_mean is not None:
                running_mean.mul_(1 - m).add_(bm.to(running_mean.dtype) * m)
            if running_var is not None:
                running_var.mul_(1 - m).add_(bv.to(running_var.dtype) * m)
    return _affine(out, weight, bias)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Local response normalization across channels."""
    from .pooling import avg_pool2d, avg_pool3d
    from .vision import pad
    dim = input.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    div = input * input
    if dim == 3:
        div = div.unsqueeze(1)
        div = pad(div, (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        sizes = input.shape
        div = div.reshape(sizes[0], 1, sizes[1], sizes[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1)
        div = div.reshape(sizes)
    div = (div * alpha + k).pow(beta)
    return input / div
