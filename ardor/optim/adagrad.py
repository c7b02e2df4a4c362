"""ardor.optim.Adagrad (torch.optim.Adagrad's arguments, defaults, state and update rule)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from . import _foreach as F
from .optimizer import (Optimizer, _check_differentiable, _check_lr, _full_like,
                        _scalar_tensor, _to_scalar)
from .. import _dtype as D

__all__ = ["Adagrad", "adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.): per-coordinate learning rates from the summed squared gradients.
    Its state is created for every parameter at construction, as torch does."""

    def __init__(self, params, lr: float | Tensor = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_differentiable(differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                st["step"] = _scalar_tensor(0.0, D.float32 if group["fused"] else None)
                init = (complex(initial_accumulator_value, initial_accumulator_value)
                        if p.is_complex() else initial_accumulator_value)
                st["sum"] = _full_like(p, init)

    _group_setdefaults = {"foreach": None, "maximize": False, "differentiable": False,
                          "fused": None}

    def __setstate__(self, state):
        super().__setstate__(state)
        for s in self.state.values():
            if "step" in s and not isinstance(s["step"], Tensor):
                s["step"] = _scalar_tensor(float(s["step"]))

    def share_memory(self) -> None:
        """No-op (ardor's numpy state is not shared across processes)."""

    def step(self, closure=None):
        """Perform one Adagrad step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._with_grad(group)
            if not params:
                continue
            S = [self.state[p] for p in params]
            adagrad(params, [p.grad for p in params], [s["sum"] for s in S],
                    [s["step"] for s in S], lr=group["lr"], weight_decay=group["weight_decay"],
                    lr_decay=group["lr_decay"], eps=group["eps"], maximize=group["maximize"])
        return loss


def adagrad(params, grads, state_sums, state_steps, *, lr: float, weight_decay: float,
            lr_decay: float, eps: float, maximize: bool = False, **_ignored) -> None:
    """Functional Adagrad over lists of tensors."""
    lr = _to_scalar(lr)
    transform = maximize or weight_decay != 0

    def kernel(a, sc, s):
        p, g, ssum = a
        t, d = s[0], s[1]
        if transform:
            g = F.eff_grad(p, g, s[2], maximize, weight_decay)
        F.addcmul_(ssum, g, g, 1, t)
        np.sqrt(ssum, out=d)
        d += eps
        F.addcdiv_(p, g, d, -sc[0], t)

    per = []
    for i, p in enumerate(params):
        step_t = state_steps[i]
        step_t._data += 1
        step_t._version[0] += 1
        step = float(step_t._data)
        clr = lr / (1 + (step - 1) * lr_decay)
        p._version[0] += 1
        state_sums[i]._version[0] += 1
        per.append(((p._data, grads[i]._data, state_sums[i]._data), (clr,)))
    F.run(kernel, per, 3 if transform else 2)
