"""ardor.optim.RMSprop (torch.optim.RMSprop's arguments, defaults, state and update rule)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from . import _foreach as F
from .optimizer import (Optimizer, _check_differentiable, _check_lr, _scalar_tensor, _to_scalar,
                        _zeros_like)

__all__ = ["RMSprop", "rmsprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton), optionally centered and with momentum."""

    def __init__(self, params, lr: float | Tensor = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    _group_setdefaults = {"momentum": 0, "centered": False, "foreach": None, "maximize": False,
                          "differentiable": False, "capturable": False}

    def step(self, closure=None):
        """Perform one RMSprop step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._with_grad(group)
            if not params:
                continue
            momentum, centered = group["momentum"], group["centered"]
            S = self._states(params, lambda p: {
                "step": _scalar_tensor(0.0), "square_avg": _zeros_like(p),
                **({"momentum_buffer": _zeros_like(p)} if momentum > 0 else {}),
                **({"grad_avg": _zeros_like(p)} if centered else {})})
            rmsprop(params, [p.grad for p in params], [s["square_avg"] for s in S],
                    [s["grad_avg"] for s in S] if centered else [],
                    [s["momentum_buffer"] for s in S] if momentum > 0 else [],
                    [s["step"] for s in S], lr=group["lr"], alpha=group["alpha"],
                    eps=group["eps"], weight_decay=group["weight_decay"], momentum=momentum,
                    centered=centered, maximize=group["maximize"])
        return loss


def rmsprop(params, grads, square_avgs, grad_avgs, momentum_buffer_list, state_steps, *,
            lr: float, alpha: float, eps: float, weight_decay: float, momentum: float,
            centered: bool, maximize: bool = False, **_ignored) -> None:
    """Functional RMSprop over lists of tensors."""
    lr = _to_scalar(lr)
    transform = maximize or weight_decay != 0
    w = 1 - alpha

    def kernel(a, sc, s):
        p, g, sq = a[0], a[1], a[2]
        t, d = s[0], s[1]
        k = 3
        if transform:
            g = F.eff_grad(p, g, s[2], maximize, weight_decay)
        sq *= alpha
        F.addcmul_(sq, g, g, w, t)
        if centered:
            ga = a[k]
            k += 1
            F.lerp_(ga, g, w, t)
            np.negative(ga, out=d)      # square_avg.addcmul(grad_avg, grad_avg, value=-1)
            d *= ga
            d += sq
            np.sqrt(d, out=d)
        else:
            np.sqrt(sq, out=d)
        d += eps
        if momentum > 0:
            buf = a[k]
            buf *= momentum
            np.divide(g, d, out=t)
            buf += t
            np.multiply(buf, -lr, out=t)
            p += t
        else:
            F.addcdiv_(p, g, d, -lr, t)

    per = []
    for i, p in enumerate(params):
        step_t = state_steps[i]
        step_t._data += 1
        step_t._version[0] += 1
        arrays = (p._data, grads[i]._data, square_avgs[i]._data)
        touched = [p, square_avgs[i]]
        if centered:
            arrays += (grad_avgs[i]._data,)
            touched.append(grad_avgs[i])
        if momentum > 0:
            arrays += (momentum_buffer_list[i]._data,)
            touched.append(momentum_buffer_list[i])
        for t in touched:
            t._version[0] += 1
        per.append((arrays, ()))
    F.run(kernel, per, 3 if transform else 2)
