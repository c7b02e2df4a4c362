"""ardor.optim.Rprop (torch.optim.Rprop: resilient backpropagation)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from . import _foreach as F
from .optimizer import (Optimizer, _check_differentiable, _check_lr, _full_like, _scalar_tensor,
                        _to_scalar, _zeros_like)

__all__ = ["Rprop", "rprop"]


class Rprop(Optimizer):
    """Rprop (Riedmiller & Braun): per-coordinate step sizes adapted by gradient sign changes."""

    def __init__(self, params, lr: float | Tensor = 1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50),
                 *, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    _group_setdefaults = {"foreach": None, "maximize": False, "differentiable": False,
                          "capturable": False}

    def step(self, closure=None):
        """Perform one Rprop step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._with_grad(group)
            if not params:
                continue
            lr = _to_scalar(group["lr"])
            S = self._states(params, lambda p: {
                "step": _scalar_tensor(0.0), "prev": _zeros_like(p),
                "step_size": _full_like(p, complex(lr, lr) if p.is_complex() else lr)})
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            rprop(params, [p.grad for p in params], [s["prev"] for s in S],
                  [s["step_size"] for s in S], [s["step"] for s in S],
                  step_size_min=step_size_min, step_size_max=step_size_max,
                  etaminus=etaminus, etaplus=etaplus, maximize=group["maximize"])
        return loss


def rprop(params, grads, prevs, step_sizes, state_steps, *, step_size_min: float,
          step_size_max: float, etaminus: float, etaplus: float, maximize: bool = False,
          **_ignored) -> None:
    """Functional Rprop over lists of tensors."""

    def kernel(a, sc, s):
        p, g, prev, ss = a
        t, fac = s[0], s[1]
        if maximize:
            g = np.negative(g, out=s[2])
        np.multiply(g, prev, out=t)
        neg = t < 0
        # sign(g*prev) mapped to etaplus / etaminus / 1, in the state's dtype
        fac[...] = 1
        fac[t > 0] = etaplus
        fac[neg] = etaminus
        ss *= fac
        np.clip(ss, step_size_min, step_size_max, out=ss)
        np.copyto(t, g)
        t[neg] = 0                   # no step (and no memory) where the sign flipped
        np.copyto(prev, t)
        np.sign(t, out=t)
        t *= ss
        p -= t

    per = []
    for i, p in enumerate(params):
        step_t = state_steps[i]
        step_t._data += 1
        step_t._version[0] += 1
        for t in (p, prevs[i], step_sizes[i]):
            t._version[0] += 1
        per.append(((p._data, grads[i]._data, prevs[i]._data, step_sizes[i]._data), ()))
    F.run(kernel, per, 3 if maximize else 2)
