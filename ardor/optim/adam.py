"""ardor.optim.Adam (torch.optim.Adam's arguments, defaults, state and update rule)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from . import _foreach as F
from .optimizer import (Optimizer, _check_differentiable, _check_lr, _scalar_tensor, _to_scalar,
                        _zeros_like)
from .. import _dtype as D

__all__ = ["Adam", "adam"]


def _check_betas(betas) -> None:
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")


class Adam(Optimizer):
    """Adam (Kingma & Ba), optionally AMSGrad, L2 or decoupled (AdamW) weight decay."""

    def __init__(self, params, lr: float | Tensor = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        if isinstance(lr, Tensor):
            if foreach and not capturable:
                raise ValueError("lr as a Tensor is not supported for capturable=False and "
                                 "foreach=True")
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
            raise ValueError("betas must be either both floats or both Tensors")
        for i, b in enumerate(betas):
            if isinstance(b, Tensor):
                if not capturable and foreach:
                    raise ValueError(f"betas[{i}] as a Tensor is not supported for "
                                     "capturable=False and foreach=True")
                if b.numel() != 1:
                    raise ValueError(f"Tensor betas[{i}] must be 1-element")
        _check_differentiable(differentiable)
        betas = tuple(b.squeeze() if isinstance(b, Tensor) and b.dim() != 0 else b
                      for b in betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    _group_setdefaults = {"amsgrad": False, "maximize": False, "foreach": None,
                          "capturable": False, "differentiable": False,
                          "decoupled_weight_decay": False, "fused": None}

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p, [])
                if len(st) != 0 and not isinstance(st["step"], Tensor):
                    st["step"] = _scalar_tensor(float(st["step"]))

    def step(self, closure=None):
        """Perform one Adam step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = self._with_grad(group)
            if not params:
                continue
            amsgrad = group["amsgrad"]
            step_dtype = D.float32 if (group["capturable"] or group["fused"]) else None
            S = self._states(params, lambda p: {
                "step": _scalar_tensor(0.0, step_dtype), "exp_avg": _zeros_like(p),
                "exp_avg_sq": _zeros_like(p),
                **({"max_exp_avg_sq": _zeros_like(p)} if amsgrad else {})})
            adam(params, [p.grad for p in params], [s["exp_avg"] for s in S],
                 [s["exp_avg_sq"] for s in S],
                 [s["max_exp_avg_sq"] for s in S] if amsgrad else [], [s["step"] for s in S],
                 amsgrad=amsgrad, beta1=group["betas"][0], beta2=group["betas"][1],
                 lr=group["lr"], weight_decay=group["weight_decay"], eps=group["eps"],
                 maximize=group["maximize"],
                 decoupled_weight_decay=group["decoupled_weight_decay"])
        return loss


def adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *,
         amsgrad: bool, beta1: float, beta2: float, lr: float, weight_decay: float, eps: float,
         maximize: bool, decoupled_weight_decay: bool = False, **_ignored) -> None:
    """Functional Adam over lists of tensors (torch.optim.adam.adam's single-tensor math)."""
    lr = _to_scalar(lr)
    beta1 = _to_scalar(beta1)
    beta2 = _to_scalar(beta2)
    decay = weight_decay != 0 and decoupled_weight_decay
    l2 = weight_decay if (weight_decay != 0 and not decoupled_weight_decay) else 0
    transform = maximize or l2 != 0
    w1 = 1 - beta1
    w2 = 1 - beta2
    keep = 1 - lr * weight_decay

    def kernel(a, sc, s):
        p, g, m, v = a[0], a[1], a[2], a[3]
        step_size, bc2s = sc
        t, d = s[0], s[1]
        if decay:
            p *= keep
        if transform:
            g = F.eff_grad(p, g, s[2], maximize, l2)
        F.lerp_(m, g, w1, t)
        v *= beta2
        F.addcmul_(v, g, g, w2, t)
        if amsgrad:
            np.maximum(a[4], v, out=a[4])
            np.sqrt(a[4], out=d)
        else:
            np.sqrt(v, out=d)
        d /= bc2s
        d += eps
        F.addcdiv_(p, m, d, -step_size, t)

    per = []
    for i, p in enumerate(params):
        step_t = state_steps[i]
        step_t._data += 1
        step_t._version[0] += 1
        step = float(step_t._data)
        bc1 = 1 - beta1 ** step
        bc2 = 1 - beta2 ** step
        arrays = (p._data, grads[i]._data, exp_avgs[i]._data, exp_avg_sqs[i]._data)
        p._version[0] += 1
        exp_avgs[i]._version[0] += 1
        exp_avg_sqs[i]._version[0] += 1
        if amsgrad:
            arrays += (max_exp_avg_sqs[i]._data,)
            max_exp_avg_sqs[i]._version[0] += 1
        per.append((arrays, (lr / bc1, bc2 ** 0.5)))
    F.run(kernel, per, 3 if transform else 2)
