"""ardor.optim.Adadelta (torch.optim.Adadelta's arguments, defaults, state and update rule)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from . import _foreach as F
from .optimizer import (Optimizer, _check_differentiable, _check_lr, _scalar_tensor, _to_scalar,
                        _zeros_like)

__all__ = ["Adadelta", "adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler): step sizes from running averages of squared gradients and updates."""

    def __init__(self, params, lr: float | Tensor = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    _group_setdefaults = {"foreach": None, "maximize": False, "differentiable": False,
                          "capturable": False}

    def step(self, closure=None):
        """Perform one Adadelta step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._with_grad(group)
            if not params:
                continue
            S = self._states(params, lambda p: {
                "step": _scalar_tensor(0.0), "square_avg": _zeros_like(p),
                "acc_delta": _zeros_like(p)})
            adadelta(params, [p.grad for p in params], [s["square_avg"] for s in S],
                     [s["acc_delta"] for s in S], [s["step"] for s in S], lr=group["lr"],
                     rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"],
                     maximize=group["maximize"])
        return loss


def adadelta(params, grads, square_avgs, acc_deltas, state_steps, *, lr: float, rho: float,
             eps: float, weight_decay: float, maximize: bool = False, **_ignored) -> None:
    """Functional Adadelta over lists of tensors."""
    lr = _to_scalar(lr)
    transform = maximize or weight_decay != 0
    w = 1 - rho

    def kernel(a, sc, s):
        p, g, sq, acc = a
        t, d = s[0], s[1]
        if transform:
            g = F.eff_grad(p, g, s[2], maximize, weight_decay)
        sq *= rho
        F.addcmul_(sq, g, g, w, t)
        np.add(sq, eps, out=t)       # std
        np.sqrt(t, out=t)
        np.add(acc, eps, out=d)      # delta
        np.sqrt(d, out=d)
        d /= t
        d *= g
        acc *= rho
        F.addcmul_(acc, d, d, w, t)
        d *= -lr
        p += d

    per = []
    for i, p in enumerate(params):
        step_t = state_steps[i]
        step_t._data += 1
        step_t._version[0] += 1
        for t in (p, square_avgs[i], acc_deltas[i]):
            t._version[0] += 1
        per.append(((p._data, grads[i]._data, square_avgs[i]._data, acc_deltas[i]._data), ()))
    F.run(kernel, per, 3 if transform else 2)
