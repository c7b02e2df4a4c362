"""ardor.optim.RAdam (torch.optim.RAdam: Adam with a rectified adaptive learning rate)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from . import _foreach as F
from .adam import _check_betas
from .optimizer import (Optimizer, _check_differentiable, _check_lr, _scalar_tensor, _to_scalar,
                        _zeros_like)

__all__ = ["RAdam", "radam"]


class RAdam(Optimizer):
    """RAdam (Liu et al.): Adam whose adaptive term is rectified while its variance is large."""

    def __init__(self, params, lr: float | Tensor = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    _group_setdefaults = {"foreach": None, "maximize": False, "differentiable": False,
                          "decoupled_weight_decay": False, "capturable": False}

    def step(self, closure=None):
        """Perform one RAdam step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._with_grad(group)
            if not params:
                continue
            S = self._states(params, lambda p: {
                "step": _scalar_tensor(0.0), "exp_avg": _zeros_like(p),
                "exp_avg_sq": _zeros_like(p)})
            beta1, beta2 = group["betas"]
            radam(params, [p.grad for p in params], [s["exp_avg"] for s in S],
                  [s["exp_avg_sq"] for s in S], [s["step"] for s in S], beta1=beta1,
                  beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
                  eps=group["eps"], decoupled_weight_decay=group["decoupled_weight_decay"],
                  maximize=group["maximize"])
        return loss


def radam(params, grads, exp_avgs, exp_avg_sqs, state_steps, *, beta1: float, beta2: float,
          lr: float, weight_decay: float, eps: float, decoupled_weight_decay: bool = False,
          maximize: bool = False, **_ignored) -> None:
    """Functional RAdam over lists of tensors."""
    lr = _to_scalar(lr)
    decay = weight_decay != 0 and decoupled_weight_decay
    l2 = weight_decay if (weight_decay != 0 and not decoupled_weight_decay) else 0
    transform = maximize or l2 != 0
    keep = 1 - lr * weight_decay
    w1, w2 = 1 - beta1, 1 - beta2
    rho_inf = 2 / (1 - beta2) - 1

    def kernel(a, sc, s):
        p, g, m, v = a
        bc1, bc2, rect = sc
        t, d = s[0], s[1]
        if decay:
            p *= keep
        if transform:
            g = F.eff_grad(p, g, s[2], maximize, l2)
        F.lerp_(m, g, w1, t)
        v *= beta2
        F.addcmul_(v, g, g, w2, t)
        np.divide(m, bc1, out=t)   # bias-corrected exp_avg
        t *= lr
        if rect is not None:       # ((m/bc1 * lr) * (sqrt(bc2) / (sqrt(v) + eps))) * rect
            np.sqrt(v, out=d)
            d += eps
            np.divide(bc2 ** 0.5, d, out=d)
            t *= d
            t *= rect
        p -= t

    per = []
    for i, p in enumerate(params):
        step_t = state_steps[i]
        step_t._data += 1
        step_t._version[0] += 1
        step = float(step_t._data)
        bc1 = 1 - beta1 ** step
        bc2 = 1 - beta2 ** step
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bc2
        rect = None
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        for t in (p, exp_avgs[i], exp_avg_sqs[i]):
            t._version[0] += 1
        per.append(((p._data, grads[i]._data, exp_avgs[i]._data, exp_avg_sqs[i]._data),
                    (bc1, bc2, rect)))
    F.run(kernel, per, 3 if transform else 2)
