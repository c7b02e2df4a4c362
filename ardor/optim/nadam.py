"""ardor.optim.NAdam (torch.optim.NAdam: Adam with Nesterov momentum)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from . import _foreach as F
from .adam import _check_betas
from .optimizer import (Optimizer, _check_differentiable, _check_lr, _scalar_tensor, _to_scalar,
                        _zeros_like)

__all__ = ["NAdam", "nadam"]


class NAdam(Optimizer):
    """NAdam (Dozat): Adam with Nesterov momentum and a momentum-decay schedule."""

    def __init__(self, params, lr: float | Tensor = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    _group_setdefaults = {"maximize": False, "foreach": None, "capturable": False,
                          "differentiable": False, "decoupled_weight_decay": False}

    def step(self, closure=None):
        """Perform one NAdam step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._with_grad(group)
            if not params:
                continue
            S = self._states(params, lambda p: {
                "step": _scalar_tensor(0.0), "mu_product": _scalar_tensor(1.0),
                "exp_avg": _zeros_like(p), "exp_avg_sq": _zeros_like(p)})
            beta1, beta2 = group["betas"]
            nadam(params, [p.grad for p in params], [s["exp_avg"] for s in S],
                  [s["exp_avg_sq"] for s in S], [s["mu_product"] for s in S],
                  [s["step"] for s in S], beta1=beta1, beta2=beta2, lr=group["lr"],
                  weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
                  eps=group["eps"], decoupled_weight_decay=group["decoupled_weight_decay"],
                  maximize=group["maximize"])
        return loss


def nadam(params, grads, exp_avgs, exp_avg_sqs, mu_products, state_steps, *, beta1: float,
          beta2: float, lr: float, weight_decay: float, momentum_decay: float, eps: float,
          decoupled_weight_decay: bool = False, maximize: bool = False, **_ignored) -> None:
    """Functional NAdam over lists of tensors."""
    lr = _to_scalar(lr)
    decay = weight_decay != 0 and decoupled_weight_decay
    l2 = weight_decay if (weight_decay != 0 and not decoupled_weight_decay) else 0
    transform = maximize or l2 != 0
    keep = 1 - lr * weight_decay
    w1, w2 = 1 - beta1, 1 - beta2

    def kernel(a, sc, s):
        p, g, m, v = a
        bc2, c_grad, c_avg = sc
        t, d = s[0], s[1]
        if decay:
            p *= keep
        if transform:
            g = F.eff_grad(p, g, s[2], maximize, l2)
        F.lerp_(m, g, w1, t)
        v *= beta2
        F.addcmul_(v, g, g, w2, t)
        np.divide(v, bc2, out=d)
        np.sqrt(d, out=d)
        d += eps
        F.addcdiv_(p, g, d, c_grad, t)
        F.addcdiv_(p, m, d, c_avg, t)

    per = []
    for i, p in enumerate(params):
        step_t = state_steps[i]
        step_t._data += 1
        step_t._version[0] += 1
        step = float(step_t._data)
        bc2 = 1 - beta2 ** step
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mp = mu_products[i]
        mp._data *= mu  # in the state's dtype (float32), as torch's ``mu_product *= mu``
        mp._version[0] += 1
        mpv = float(mp._data)
        mu_product_next = mpv * mu_next
        for t in (p, exp_avgs[i], exp_avg_sqs[i]):
            t._version[0] += 1
        per.append(((p._data, grads[i]._data, exp_avgs[i]._data, exp_avg_sqs[i]._data),
                    (bc2, -lr * (1.0 - mu) / (1.0 - mpv),
                     (-lr * mu_next) / (1.0 - mu_product_next))))
    F.run(kernel, per, 3 if transform else 2)
