"""nn.functional: linear/bilinear, dropout family, embedding(_bag), one_hot, distances."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ... import _dtype as D
from ..._ops.dispatch import dispatch, dispatch_inplace
from ..._ops import nn_basic_ops as _ops
from ..._tensor import Tensor, _make
from ...autograd.grad_mode import no_grad

__all__ = ["linear", "bilinear", "dropout", "dropout1d", "dropout2d", "dropout3d",
           "alpha_dropout", "feature_alpha_dropout", "embedding", "embedding_bag", "one_hot",
           "normalize", "cosine_similarity", "pairwise_distance", "pdist"]


# ---------------------------------------------------------------- linear
def _addmm():
    import ardor
    return ardor.__dict__.get("addmm")


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias (one addmm for 2-D inputs with a bias)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"linear(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input.ndim == 0 or weight.ndim == 0:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are "
                           f"{input.ndim}D and {weight.ndim}D")
    if weight.ndim == 2:
        k = input.shape[-1] if input.ndim else 1
        if input.ndim == 0 or k != weight.shape[1]:
            rows = int(np.prod(input.shape[:-1])) if input.ndim else 1
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and "
                               f"{weight.shape[1]}x{weight.shape[0]})")
    if input.dtype is not weight.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                           f"{input.dtype._torch_name} and {weight.dtype._torch_name}")
    if weight.ndim == 2 and input.ndim > 2:
        # fold the batch dims into one (one BLAS call on a contiguous 2-D matrix, as torch)
        lead = tuple(input.shape[:-1])
        out = linear(input.reshape(-1, input.shape[-1]), weight, bias)
        return out.reshape(lead + (weight.shape[0],))
    if input.ndim == 2 and bias is not None and bias.ndim <= 1 and weight.ndim == 2:
        addmm = _addmm()
        if addmm is not None:
            return addmm(bias, input, weight.t())
    out = input @ (weight.t() if weight.ndim == 2 else weight)
    if bias is not None:
        out = out + bias
    return out


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """y = x1^T A x2 + b with weight A of shape (out, in1, in2)."""
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and "
                           f"{input2.ndim}")
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise RuntimeError("bilinear(): input batch dimensions do not match: got "
                           f"{input1.shape} and {input2.shape}")
    o, i1, i2 = weight.shape
    if input1.shape[-1] != i1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {i1}")
    if input2.shape[-1] != i2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {i2}")
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, i1)
    x2 = input2.reshape(-1, i2)
    u = (x1 @ weight.permute(1, 0, 2).reshape(i1, o * i2)).reshape(-1, o, i2)
    y = (u * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (o,))


# ---------------------------------------------------------------- dropout
def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(input, shape, p) -> Tensor:
    """Scaled Bernoulli(1-p) keep-mask (values 0 or 1/(1-p)) of ``shape`` in input's dtype,
    from ardor's generator."""
    from ..._ops.random_ops import draw_uniform
    return dispatch(_ops.dropout_mask, (draw_uniform(input, shape),), {"p": float(p)})


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero elements with probability p and scale the rest by 1/(1-p) (when training)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    mask = _keep_mask(input, tuple(input.shape), p)
    return input.mul_(mask) if inplace else input * mask


def _feature_dropout(input, p, training, inplace, alpha=False):
    _check_p(p)
    if not training or p == 0.0:
        return input
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    if alpha:
        return _alpha(input, p, inplace, shape)
    mask = _keep_mask(input, shape, p)
    return input.mul_(mask) if inplace else input * mask


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) / (C, L) inputs."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           "input. Note that dropout1d exists to provide channel-wise dropout "
                           "on inputs with 1 spatial dimension, a channel dimension, and an "
                           "optional batch dimension (i.e. 2D or 3D inputs).")
    if input.ndim == 2:
        out = _feature_dropout(input.unsqueeze(0), p, training, inplace)
        return out.squeeze(0) if out is not input else out
    return _feature_dropout(input, p, training, inplace)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) / (C, H, W) inputs."""
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead. Note "
                      "that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch dimension "
                      "(i.e. 3D or 4D inputs).", stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout "
                      "behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) / (C, D, H, W) inputs."""
    _check_p(p)
    if input.ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is "
                      "deprecated and will result in an error in a future release.",
                      stacklevel=2)
    if input.ndim == 4:
        out = _feature_dropout(input.unsqueeze(0), p, training, inplace)
        return out.squeeze(0) if out is not input else out
    return _feature_dropout(input, p, training, inplace)


_ALPHA = 1.7580993408473766


def _alpha(input, p, inplace, shape):
    if p == 1.0:
        return input.mul_(0.0) if inplace else input * 0.0
    keep = _keep_mask(input, shape, p) * (1.0 - p)   # 0 / 1
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    b = (keep - 1.0) * (_ALPHA * a) + _ALPHA * a * p
    noise = keep * a
    if inplace:
        return input.mul_(noise).add_(b)
    return input * noise + b


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout that keeps the self-normalizing mean/variance (for SELU networks)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    return _alpha(input, p, inplace, tuple(input.shape))


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels."""
    return _feature_dropout(input, p, training, inplace, alpha=True)


# ---------------------------------------------------------------- embeddings
def _norm_padding_idx(padding_idx, n):
    if padding_idx is None:
        return -1
    if padding_idx > 0:
        if padding_idx >= n:
            raise AssertionError("Padding_idx must be within num_embeddings")
    elif padding_idx < 0:
        if padding_idx < -n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx = n + padding_idx
    return padding_idx


def _renorm_(weight, input, max_norm, norm_type):
    with no_grad():
        dispatch_inplace(_ops.embedding_renorm, weight, (input,),
                         {"max_norm": float(max_norm), "norm_type": float(norm_type)})


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` selected by integer ``input`` (any shape)."""
    if sparse:
        raise NotImplementedError("ardor: sparse embedding gradients are not supported")
    padding_idx = _norm_padding_idx(padding_idx, weight.shape[0])
    if max_norm is not None:
        _renorm_(weight, input, max_norm, norm_type)
    return dispatch(_ops.embedding, (weight, input),
                    {"padding_idx": padding_idx, "scale_grad_by_freq": bool(scale_grad_by_freq)})


_MODES = {"sum": 0, "mean": 1, "max": 2}


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sum / mean / max of embedding rows per bag, without materializing the rows."""
    if sparse:
        raise NotImplementedError("ardor: sparse embedding gradients are not supported")
    if per_sample_weights is not None and tuple(input.shape) != \
            tuple(per_sample_weights.shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) "
                         f"is not None, then it must have the same shape as the input "
                         f"({input.shape})")
    if weight.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.ndim}")
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {offsets.type()}")
        b, n = input.shape
        offsets = _make(np.arange(b, dtype=np.int64) * n)
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    if mode not in _MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if max_norm is not None:
        _renorm_(weight, input, max_norm, norm_type)
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. "
                                  "per_sample_weights is only supported for mode='sum' "
                                  f"(got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    padding_idx = _norm_padding_idx(padding_idx, weight.shape[0])
    return dispatch(_ops.embedding_bag, (weight, input, offsets, per_sample_weights),
                    {"mode": _MODES[mode], "include_last_offset": bool(include_last_offset),
                     "padding_idx": padding_idx})


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim."""
    return dispatch(_ops.one_hot, (tensor,), {"num_classes": int(num_classes)})


# ---------------------------------------------------------------- distances
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """input / max(||input||_p over dim, eps)."""
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    return input / denom


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1/||x1|| * x2/||x2||) along dim (norms clamped below by eps)."""
    from ... import broadcast_tensors
    if not x1.dtype.is_floating_point:
        x1 = x1.to(D.get_default_dtype())
    if not x2.dtype.is_floating_point:
        x2 = x2.to(D.get_default_dtype())
    x1, x2 = broadcast_tensors(x1, x2)
    n1 = x1.norm(2, dim, keepdim=True)
    n2 = x2.norm(2, dim, keepdim=True)
    # torch clamps the norms in place under no_grad: the value is clamped, the gradient
    # flows as through the unclamped norm
    n1 = n1 + (n1.clamp_min(eps) - n1).detach()
    n2 = n2 + (n2.clamp_min(eps) - n2).detach()
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last dim."""
    out_dim = max(x1.ndim, x2.ndim)
    inner = out_dim - 1 if out_dim > 0 else 0
    return (x1 - x2 + eps).norm(p, inner, keepdim=keepdim)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """Distances between all row pairs i < j of a (N, M) input, flattened."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    n = input.shape[0]
    i, j = np.triu_indices(n, 1)
    ai = dispatch(_ops.embedding, (input, _make(i.astype(np.int64))),
                  {"padding_idx": -1, "scale_grad_by_freq": False})
    aj = dispatch(_ops.embedding, (input, _make(j.astype(np.int64))),
                  {"padding_idx": -1, "scale_grad_by_freq": False})
    return (ai - aj).norm(p, 1)
