"""nn.functional: loss functions (reduction 'none' | 'mean' | 'sum' as torch)."""
from __future__ import annotations

import math
import warnings

from ... import _dtype as D
from ..._ops import nn_ops as _K
from ..._ops.dispatch import dispatch
from ..._tensor import Tensor

__all__ = ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss", "cross_entropy",
           "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
           "poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss",
           "margin_ranking_loss", "hinge_embedding_loss", "triplet_margin_loss",
           "triplet_margin_with_distance_loss", "soft_margin_loss",
           "multilabel_soft_margin_loss", "multi_margin_loss", "multilabel_margin_loss",
           "ctc_loss"]


def _legacy(size_average, reduce, reduction: str) -> str:
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else ("sum" if reduce else "none")
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}'"
                  f" instead.", stacklevel=3)
    return ret


def _check_reduction(reduction: str) -> str:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _size(t) -> str:
    return f"torch.Size({list(t.shape)})"


def _broadcast_pair(input: Tensor, target: Tensor):
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({_size(target)}) that is different to the input "
                      f"size ({_size(input)}). This will likely lead to incorrect results due "
                      f"to broadcasting. Please ensure they have the same size.", stacklevel=3)
        a, b = list(input.shape), list(target.shape)
        n = max(len(a), len(b))
        a, b = [1] * (n - len(a)) + a, [1] * (n - len(b)) + b
        for i in range(n - 1, -1, -1):
            if a[i] != b[i] and a[i] != 1 and b[i] != 1:
                raise RuntimeError(f"The size of tensor a ({a[i]}) must match the size of tensor "
                                   f"b ({b[i]}) at non-singleton dimension {i}")


def _pointwise(op, input, target, reduction, weight=None, weighted_mean_by_sum=True,
               **attrs) -> Tensor:
    _broadcast_pair(input, target)
    loss = dispatch(op, (input, target), attrs)
    if weight is None:
        return _reduce(loss, _check_reduction(reduction))
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / weight.sum() if weighted_mean_by_sum else loss.mean()
    raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', "
                     f"'sum'.")


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error."""
    return _pointwise(_K.l1_loss_elem, input, target, _legacy(size_average, reduce, reduction),
                      weight)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error."""
    return _pointwise(_K.mse_loss_elem, input, target, _legacy(size_average, reduce, reduction),
                      weight)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1: quadratic below ``beta``, linear above."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return _pointwise(_K.smooth_l1_loss_elem, input, target,
                      _legacy(size_average, reduce, reduction), beta=float(beta))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Huber loss: quadratic below ``delta``, delta-scaled linear above."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    return _pointwise(_K.huber_loss_elem, input, target, reduction, weight,
                      weighted_mean_by_sum=False, delta=float(delta))


# ---------------------------------------------------------------- class-index losses
def _class_checks(input: Tensor, target: Tensor, weight, name: str):
    if input.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    c = input.shape[0] if input.ndim == 1 else input.shape[1]
    if input.ndim == 1:
        if target.ndim != 0:
            raise RuntimeError(f"0D or 1D target tensor expected, multi-target not supported")
    else:
        if target.ndim == 0 or input.shape[0] != target.shape[0]:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                             f"batch_size ({target.shape[0] if target.ndim else 0}).")
        if target.ndim != input.ndim - 1 or tuple(target.shape[1:]) != tuple(input.shape[2:]):
            if input.ndim == 2:
                raise RuntimeError("0D or 1D target tensor expected, multi-target not "
                                   "supported")
            raise RuntimeError(f"Expected target size {[input.shape[0]] + list(input.shape[2:])}"
                               f", got {list(target.shape)}")
    if weight is not None and (weight.ndim != 1 or weight.numel() != c):
        raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no "
                           f"classes but got weight tensor of shape: {list(weight.shape)}")
    if target.dtype.is_floating_point or target.dtype.is_complex or target.dtype is D.bool_:
        raise RuntimeError(f"expected scalar type Long but found "
                           f"{target.dtype._torch_name.replace('Tensor', '')}")
    return c


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy of logits (N, C, *) against class indices (N, *) — one fused stable
    log-softmax + gather op — or class probabilities (N, C, *)."""
    reduction = _check_reduction(_legacy(size_average, reduce, reduction))
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing}")
    if target.dtype.is_floating_point and tuple(target.shape) == tuple(input.shape):
        return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
    if target.dtype.is_floating_point:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{target.dtype._torch_name.replace('Tensor', '')}")
    _class_checks(input, target, weight, "cross_entropy")
    return dispatch(_K.cross_entropy_idx, (input, target, weight),
                    {"reduction": reduction, "ignore_index": int(ignore_index),
                     "label_smoothing": float(label_smoothing)})[0]


def _cross_entropy_probs(input, target, weight, reduction, label_smoothing):
    from .activation import log_softmax
    cdim = 0 if input.ndim == 1 else 1
    c = input.shape[cdim]
    if weight is not None and (weight.ndim != 1 or weight.numel() != c):
        raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no "
                           f"classes but got weight tensor of shape: {list(weight.shape)}")
    logp = log_softmax(input, cdim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / c
    prod = logp * target
    if weight is not None:
        shape = [1] * input.ndim
        shape[cdim] = c
        prod = prod * weight.reshape(shape)
    loss = -prod.sum(cdim)
    if reduction == "mean":
        n = input.numel() // c if input.numel() else 0
        return loss.sum() / n if n else loss.sum() / 0.0
    return _reduce(loss, reduction)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log likelihood of log-probabilities (N, C, *) at class indices (N, *)."""
    reduction = _check_reduction(_legacy(size_average, reduce, reduction))
    _class_checks(input, target, weight, "nll_loss")
    return dispatch(_K.nll_loss_nd, (input, target, weight),
                    {"reduction": reduction, "ignore_index": int(ignore_index)})


# ---------------------------------------------------------------- binary losses
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Binary cross entropy of probabilities (log clamped at -100 as torch)."""
    reduction = _check_reduction(_legacy(size_average, reduce, reduction))
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({_size(target)}) that is different to the "
                         f"input size ({_size(input)}) is deprecated. Please ensure they have "
                         f"the same size.")
    loss = dispatch(_K.bce_elem, (input, target))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Numerically stable sigmoid + binary cross entropy (pos_weight weighs positives)."""
    reduction = _check_reduction(_legacy(size_average, reduce, reduction))
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({_size(target)}) must be the same as input size "
                         f"({_size(input)})")
    loss = dispatch(_K.bce_logits_elem, (input, target, pos_weight))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence with input given as log-probabilities (reduction 'batchmean' too)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    loss = dispatch(_K.kl_div_elem, (input, target), {"log_target": bool(log_target)})
    if reduction == "batchmean":
        s = loss.sum()
        return s / input.shape[0] if input.ndim else s
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log likelihood."""
    reduction = _check_reduction(_legacy(size_average, reduce, reduction))
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        st = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + st.masked_fill(target <= 1, 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Gaussian negative log likelihood with predicted variance ``var``."""
    from ...autograd.grad_mode import no_grad
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        from ..._ops.creation import ones_like
        var = ones_like(input) * float(var)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.ndim == var.ndim and sum(
                y for x, y in zip(input.shape, var.shape) if x != y) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with no_grad():
        var.clamp_(min=eps)
    d = input - target
    loss = 0.5 * (var.log() + d * d / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- margin losses
def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """1 - cos(x1, x2) for target 1, max(0, cos - margin) for target -1."""
    reduction = _check_reduction(_legacy(size_average, reduce, reduction))
    if input1.ndim != input2.ndim or input1.shape != input2.shape:
        raise RuntimeError(f"cosine_embedding_loss: Input1 and Input2 must have the same shape, "
                           f"but got input1 of shape {list(input1.shape)} and input2 of shape "
                           f"{list(input2.shape)}")
    if input1.ndim not in (1, 2):
        raise RuntimeError(f"cosine_embedding_loss: Expected 1D or 2D tensors, but got "
                           f"{input1.ndim}D input1 and {input2.ndim}D input2")
    if target.ndim != input1.ndim - 1:
        raise RuntimeError(f"cosine_embedding_loss: Expected target to have "
                           f"{input1.ndim - 1}D tensor but got {target.ndim}D target")
    d = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(d)
    m1 = (input1 * input1).sum(d) + eps
    m2 = (input2 * input2).sum(d) + eps
    cos = prod / (m1 * m2).sqrt()
    zeros = cos * 0
    pos = 1 - cos
    neg = (cos - margin).clamp_min(0)
    out = _where(target == 1, pos, zeros) + _where(target == -1, neg, zeros)
    return _reduce(out, reduction)


def _where(cond, a, b):
    from ... import where
    return where(cond, a, b)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -target * (x1 - x2) + margin)."""
    reduction = _check_reduction(_legacy(size_average, reduce, reduction))
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {_size(input1)}, input2: {_size(input2)}, "
                           f"target: {_size(target)} ")
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """x for target 1, max(0, margin - x) for target -1."""
    reduction = _check_reduction(_legacy(size_average, reduce, reduction))
    zeros = input * 0
    out = _where(target != 1, (margin - input).clamp_min(0), zeros) + \
        _where(target != -1, input, zeros)
    return _reduce(out, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with the p-norm pairwise distance."""
    from .basic import pairwise_distance
    reduction = _check_reduction(_legacy(size_average, reduce, reduction))
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    na, np_, nn_ = anchor.ndim, positive.ndim, negative.ndim
    if not (na == np_ == nn_):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {na}D, positive {np_}D, "
                           f"and negative {nn_}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        from ... import minimum
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """Triplet margin loss with a custom distance function (default pairwise_distance)."""
    from .basic import pairwise_distance
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        from ... import minimum
        d_neg = minimum(d_neg, dist(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y x))."""
    reduction = _check_reduction(_legacy(size_average, reduce, reduction))
    return _reduce((-target * input).exp().log1p(), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """Multi-label one-versus-all loss on logits."""
    from .activation import logsigmoid
    reduction = _legacy(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    cdim = input.ndim - 1
    loss = loss.sum(cdim) / input.shape[cdim]
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    return _reduce(loss, reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: sum_{i != y} max(0, margin - x[y] + x[i])^p / C."""
    from .basic import one_hot
    reduction = _check_reduction(_legacy(size_average, reduce, reduction))
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x = input.unsqueeze(0) if input.ndim == 1 else input
    t = target.reshape(-1)
    if x.ndim != 2 or t.shape[0] != x.shape[0]:
        raise RuntimeError(f"inconsistent target size, expected {x.shape[0]} but got "
                           f"{list(target.shape)}")
    c = x.shape[1]
    xy = x.gather(1, t.unsqueeze(1))
    z = (margin - xy + x).clamp_min(0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight[t].unsqueeze(1)
    mask = one_hot(t, c).to(x.dtype)
    loss = (z * (1 - mask)).sum(1) / c
    if input.ndim == 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss; ``target`` holds class indices padded with -1 at the end."""
    from ... import zeros_like
    reduction = _check_reduction(_legacy(size_average, reduce, reduction))
    x = input.unsqueeze(0) if input.ndim <= 1 else input
    t = target.unsqueeze(0) if target.ndim <= 1 else target
    if x.ndim != 2 or tuple(t.shape) != tuple(x.shape):
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    c = x.shape[1]
    valid = (t != -1).long().cumprod(1)                     # targets before the first -1
    tc = (t * valid).clamp(min=0)
    is_target = zeros_like(x).scatter_add(1, tc, valid.to(x.dtype)) if c else zeros_like(x)
    is_target = is_target.clamp(max=1)
    xy = x.gather(1, tc)                                    # (N, C) scores of the targets
    m = (1 - xy.unsqueeze(2) + x.unsqueeze(1)).clamp_min(0)
    m = m * valid.to(x.dtype).unsqueeze(2) * (1 - is_target).unsqueeze(1)
    loss = m.sum((1, 2)) / c
    if input.ndim <= 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification loss of (T, N, C) log-probabilities."""
    from ... import tensor as _tensor
    _check_reduction(reduction)
    lp = log_probs.unsqueeze(1) if log_probs.ndim == 2 else log_probs
    il = input_lengths if isinstance(input_lengths, Tensor) else _tensor(list(input_lengths))
    tl = target_lengths if isinstance(target_lengths, Tensor) else _tensor(list(target_lengths))
    il = il.reshape(-1)
    tl = tl.reshape(-1)
    tg = targets.unsqueeze(0) if (log_probs.ndim == 2 and targets.ndim == 1 and
                                  targets.shape[0] == int(tl[0].item())) else targets
    t_len, n, c = lp.shape
    if not 0 <= blank < c:
        raise RuntimeError("blank must be in label range")
    if il.shape[0] != n:
        raise RuntimeError(f"input_lengths must be of size batch_size")
    if tl.shape[0] != n:
        raise RuntimeError(f"target_lengths must be of size batch_size")
    loss = dispatch(_K.ctc_loss_op, (lp, tg, il, tl),
                    {"blank": int(blank), "zero_infinity": bool(zero_infinity)})
    if reduction == "mean":
        return (loss / tl.clamp(min=1).to(loss.dtype)).mean()
    if reduction == "sum":
        return loss.sum()
    return loss.squeeze(0) if log_probs.ndim == 2 else loss
