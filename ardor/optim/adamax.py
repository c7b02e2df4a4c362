"""ardor.optim.Adamax (torch.optim.Adamax: Adam with the infinity norm)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from . import _foreach as F
from .adam import _check_betas
from .optimizer import (Optimizer, _check_differentiable, _check_lr, _scalar_tensor, _to_scalar,
                        _zeros_like)

__all__ = ["Adamax", "adamax"]


class Adamax(Optimizer):
    """Adamax: Adam's variant based on the infinity norm of past gradients."""

    def __init__(self, params, lr: float | Tensor = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    _group_setdefaults = {"foreach": None, "maximize": False, "differentiable": False,
                          "capturable": False}

    def step(self, closure=None):
        """Perform one Adamax step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._with_grad(group)
            if not params:
                continue
            S = self._states(params, lambda p: {
                "step": _scalar_tensor(0.0), "exp_avg": _zeros_like(p), "exp_inf": _zeros_like(p)})
            beta1, beta2 = group["betas"]
            adamax(params, [p.grad for p in params], [s["exp_avg"] for s in S],
                   [s["exp_inf"] for s in S], [s["step"] for s in S], eps=group["eps"],
                   beta1=beta1, beta2=beta2, lr=group["lr"],
                   weight_decay=group["weight_decay"], maximize=group["maximize"])
        return loss


def adamax(params, grads, exp_avgs, exp_infs, state_steps, *, eps: float, beta1: float,
           beta2: float, lr: float, weight_decay: float, maximize: bool, **_ignored) -> None:
    """Functional Adamax over lists of tensors."""
    lr = _to_scalar(lr)
    transform = maximize or weight_decay != 0
    w1 = 1 - beta1

    def kernel(a, sc, s):
        p, g, m, u = a
        t = s[0]
        if transform:
            g = F.eff_grad(p, g, s[1], maximize, weight_decay)
        F.lerp_(m, g, w1, t)
        u *= beta2
        np.abs(g, out=t)
        t += eps
        np.maximum(u, t, out=u)
        F.addcdiv_(p, m, u, -sc[0], t)

    per = []
    for i, p in enumerate(params):
        step_t = state_steps[i]
        step_t._data += 1
        step_t._version[0] += 1
        clr = lr / (1 - beta1 ** float(step_t._data))
        for t in (p, exp_avgs[i], exp_infs[i]):
            t._version[0] += 1
        per.append(((p._data, grads[i]._data, exp_avgs[i]._data, exp_infs[i]._data), (clr,)))
    F.run(kernel, per, 2 if transform else 1)
