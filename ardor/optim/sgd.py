"""ardor.optim.SGD (torch.optim.SGD's arguments, defaults, state and update rule)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor, _make
from . import _foreach as F
from .optimizer import Optimizer, _check_differentiable, _check_lr, _to_scalar

__all__ = ["SGD", "sgd"]


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum and weight decay."""

    def __init__(self, params, lr: float | Tensor = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float | Tensor = 0, nesterov: bool = False,
                 *, maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_differentiable(differentiable)
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    _group_setdefaults = {"nesterov": False, "maximize": False, "foreach": None,
                          "differentiable": False, "fused": False}

    def step(self, closure=None):
        """Perform one SGD step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._with_grad(group)
            if not params:
                continue
            momentum = group["momentum"]
            bufs = [self.state[p].get("momentum_buffer") for p in params] if momentum != 0 \
                else [None] * len(params)
            sgd(params, [p.grad for p in params], bufs, weight_decay=group["weight_decay"],
                momentum=momentum, lr=group["lr"], dampening=group["dampening"],
                nesterov=group["nesterov"], maximize=group["maximize"])
            if momentum != 0:
                for p, buf in zip(params, bufs):
                    self.state[p]["momentum_buffer"] = buf
        return loss


def sgd(params, d_p_list, momentum_buffer_list, *, weight_decay: float, momentum: float,
        lr: float, dampening: float, nesterov: bool, maximize: bool, **_ignored) -> None:
    """Functional SGD; missing momentum buffers in ``momentum_buffer_list`` are created in
    place (a copy of the first step's gradient, as torch)."""
    lr = _to_scalar(lr)
    weight_decay = _to_scalar(weight_decay)
    transform = maximize or weight_decay != 0
    keep = 1 - dampening

    def kernel(a, sc, s):
        p, g = a[0], a[1]
        t = s[0]
        if transform:
            g = F.eff_grad(p, g, s[1], maximize, weight_decay)
        if momentum != 0:
            buf = a[2]
            if sc[0]:  # first step: the buffer is a copy of the gradient
                np.copyto(buf, g)
            else:
                buf *= momentum
                if keep == 1:
                    buf += g
                else:
                    np.multiply(g, keep, out=t)
                    buf += t
            if nesterov:
                np.multiply(buf, momentum, out=t)
                t += g
                g = t
            else:
                g = buf
        if g is t:
            t *= -lr
        else:
            np.multiply(g, -lr, out=t)
        p += t

    per = []
    for i, p in enumerate(params):
        arrays = (p._data, d_p_list[i]._data)
        first = False
        if momentum != 0:
            buf = momentum_buffer_list[i]
            if buf is None:
                buf = _make(np.empty_like(p._data, order="C"))
                momentum_buffer_list[i] = buf
                first = True
            buf._version[0] += 1
            arrays += (buf._data,)
        p._version[0] += 1
        per.append((arrays, (first,)))
    F.run(kernel, per, 2 if transform else 1)
