"""ardor.optim.ASGD (torch.optim.ASGD: averaged stochastic gradient descent)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from . import _foreach as F
from .optimizer import (Optimizer, _check_differentiable, _check_lr, _scalar_tensor, _to_scalar,
                        _zeros_like)

__all__ = ["ASGD", "asgd"]


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky): SGD plus a running average ``ax`` of the iterates."""

    def __init__(self, params, lr: float | Tensor = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    _group_setdefaults = {"foreach": None, "maximize": False, "differentiable": False,
                          "capturable": False}

    def step(self, closure=None):
        """Perform one ASGD step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._with_grad(group)
            if not params:
                continue
            S = self._states(params, lambda p: {
                "step": _scalar_tensor(0.0), "eta": _scalar_tensor(float(_to_scalar(group["lr"]))),
                "mu": _scalar_tensor(1.0), "ax": _zeros_like(p)})
            asgd(params, [p.grad for p in params], [s["ax"] for s in S], [s["mu"] for s in S],
                 [s["eta"] for s in S], [s["step"] for s in S], lambd=group["lambd"],
                 lr=group["lr"], t0=group["t0"], alpha=group["alpha"],
                 weight_decay=group["weight_decay"], maximize=group["maximize"])
        return loss


def asgd(params, grads, axs, mus, etas, state_steps, *, lambd: float, lr: float, t0: float,
         alpha: float, weight_decay: float, maximize: bool = False, **_ignored) -> None:
    """Functional ASGD over lists of tensors."""
    lr = _to_scalar(lr)
    transform = maximize or weight_decay != 0

    def kernel(a, sc, s):
        p, g, ax = a
        eta, mu = sc
        t = s[0]
        if transform:
            g = F.eff_grad(p, g, s[1], maximize, weight_decay)
        p *= 1 - lambd * eta
        np.multiply(g, -eta, out=t)
        p += t
        if mu is None:
            np.copyto(ax, p)
        else:
            np.subtract(p, ax, out=t)
            t *= mu
            ax += t

    per = []
    for i, p in enumerate(params):
        step_t = state_steps[i]
        step_t._data += 1
        step_t._version[0] += 1
        eta = float(etas[i]._data)
        mu_arr = mus[i]._data
        mu = None if float(mu_arr) == 1 else mu_arr  # mu stays a float32 scalar, as torch's
        p._version[0] += 1
        axs[i]._version[0] += 1
        per.append(((p._data, grads[i]._data, axs[i]._data), (eta, mu)))
    F.run(kernel, per, 2 if transform else 1)
    for i in range(len(params)):
        step = float(state_steps[i]._data)
        etas[i]._data[...] = lr / ((1 + lambd * lr * step) ** alpha)
        mus[i]._data[...] = 1 / max(1, step - t0)
        etas[i]._version[0] += 1
        mus[i]._version[0] += 1
