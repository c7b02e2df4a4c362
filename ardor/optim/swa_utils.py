"""ardor.optim.swa_utils: stochastic weight averaging and EMA (torch.optim.swa_utils's API).

``AveragedModel`` keeps a running (SWA) or exponential (EMA) average of a model's parameters,
``SWALR`` anneals the learning rate to a constant SWA value, and ``update_bn`` recomputes
BatchNorm statistics for the averaged weights.  Averages are updated in place on the backend
arrays (outside autograd), with torch's CPU formulas.
"""
from __future__ import annotations

import itertools
import math
import warnings
from copy import deepcopy
from typing import Any, Callable, Iterable, Literal

import numpy as np

from .._tensor import Tensor, _make
from ..autograd.grad_mode import no_grad
from ..nn.modules.module import Module
from . import _foreach as F
from .lr_scheduler import LRScheduler, _format_param
from .optimizer import Optimizer

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]


def _lerp_inplace(dst: Tensor, src: Tensor, w: float) -> None:
    tmp = np.empty_like(dst._data)
    F.lerp_(dst._data, src._data.astype(dst._data.dtype, copy=False), w, tmp)
    dst._version[0] += 1


def get_ema_multi_avg_fn(decay: float = 0.999):
    """An in-place EMA update over lists of tensors: ``ema = lerp(ema, param, 1 - decay)``."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in "
                         "[0,1] range.")

    def ema_update(ema_param_list, current_param_list, _) -> None:
        if ema_param_list[0].is_floating_point() or ema_param_list[0].is_complex():
            for e, c in zip(ema_param_list, current_param_list):
                _lerp_inplace(e, c, 1 - decay)
        else:
            for e, c in zip(ema_param_list, current_param_list):
                e._data[...] = e._data * decay + c._data * (1 - decay)
                e._version[0] += 1
    return ema_update


def get_swa_multi_avg_fn():
    """An in-place running-mean update over lists of tensors."""

    def swa_update(averaged_param_list, current_param_list, num_averaged) -> None:
        n = float(num_averaged)
        if averaged_param_list[0].is_floating_point() or averaged_param_list[0].is_complex():
            for a, c in zip(averaged_param_list, current_param_list):
                _lerp_inplace(a, c, 1 / (n + 1))
        else:
            for a, c in zip(averaged_param_list, current_param_list):
                a._data[...] = a._data + (c._data - a._data) / (n + 1)
                a._version[0] += 1
    return swa_update


def get_ema_avg_fn(decay: float = 0.999):
    """An EMA averaging function ``(ema, param, n) -> decay*ema + (1 - decay)*param``."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in "
                         "[0,1] range.")

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged):
        with no_grad():
            return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """The running-mean averaging function ``(avg, param, n) -> avg + (param - avg)/(n + 1)``."""

    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged):
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


def _copy_into(dst: Tensor, src) -> None:
    arr = src._data if isinstance(src, Tensor) else np.asarray(src)
    dst._data[...] = arr.astype(dst._data.dtype, copy=False)
    dst._version[0] += 1


class AveragedModel(Module):
    """A copy of ``model`` whose parameters (and optionally buffers) are averaged over the
    models passed to ``update_parameters``: SWA's running mean by default, or ``avg_fn`` /
    ``multi_avg_fn`` (e.g. ``get_ema_multi_avg_fn(0.999)`` for an EMA)."""

    def __init__(self, model: Module, device=None, avg_fn: Callable | None = None,
                 multi_avg_fn: Callable | None = None, use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", _make(np.array(0, np.int64)))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        """Run the averaged model."""
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current parameters into the average."""
        self_param = (itertools.chain(self.module.parameters(), self.module.buffers())
                      if self.use_buffers else self.parameters())
        model_param = (itertools.chain(model.parameters(), model.buffers())
                       if self.use_buffers else model.parameters())
        self_detached, model_detached = [], []
        n = int(self.n_averaged._data)
        for p_averaged, p_model in zip(self_param, model_param):
            self_detached.append(p_averaged)
            model_detached.append(p_model)
            if n == 0:
                _copy_into(p_averaged, p_model)
        if n > 0:
            if self.multi_avg_fn is not None:
                self.multi_avg_fn([p.detach() for p in self_detached],
                                  [p.detach() for p in model_detached], self.n_averaged)
            elif self.avg_fn is None:
                # torch's CPU path: avg + (param - avg) / (n + 1), in the parameter's dtype
                for pa, pm in zip(self_detached, model_detached):
                    a = pa._data
                    if a.dtype.kind in "fc":
                        t = pm._data.astype(a.dtype, copy=True)
                        t -= a
                        t /= a.dtype.type(n + 1)
                        a += t
                    else:
                        a[...] = a + (pm._data - a) / (n + 1)
                    pa._version[0] += 1
            else:
                for pa, pm in zip(self_detached, model_detached):
                    _copy_into(pa, self.avg_fn(pa.detach(), pm.detach(), self.n_averaged))
        if not self.use_buffers:
            # keep the buffers (e.g. BatchNorm running stats) in sync with the model's
            for b_swa, b_model in zip(self.module.buffers(), model.buffers()):
                _copy_into(b_swa, b_model)
        self.n_averaged._data += 1
        self.n_averaged._version[0] += 1


def update_bn(loader: Iterable[Any], model: Module, device=None) -> None:
    """Recompute the BatchNorm running statistics of ``model`` with one pass over ``loader``
    (cumulative averages: momentum set to None for the pass)."""
    try:
        from ..nn.modules.batchnorm import _BatchNorm
    except ImportError:  # no BatchNorm modules exist, so there is nothing to update
        return
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for input in loader:
            if isinstance(input, (list, tuple)):
                input = input[0]
            if device is not None:
                input = input.to(device)
            model(input)
    for bn_module in momenta:
        bn_module.momentum = momenta[bn_module]
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's lr to ``swa_lr`` over ``anneal_epochs`` (cos or linear), then
    holds it: the schedule used during stochastic weight averaging."""

    def __init__(self, optimizer: Optimizer, swa_lr: float, anneal_epochs: int = 10,
                 anneal_strategy: Literal["cos", "linear"] = "cos", last_epoch: int = -1) -> None:
        swa_lrs = _format_param("swa_lr", optimizer, swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        """The annealed learning rates of the current epoch."""
        if not self._get_lr_called_within_step:
            warnings.warn("To get the last learning rate computed by the scheduler, please use "
                          "`get_last_lr()`.", UserWarning, stacklevel=2)
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(self.optimizer.param_groups, prev_lrs)]

    def _set_anneal_func(self, anneal_strategy) -> None:
        self._anneal_strategy = anneal_strategy
        self.anneal_func = (self._cosine_anneal if anneal_strategy == "cos"
                            else self._linear_anneal)

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state (without the optimizer and the anneal function)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state returned by ``state_dict()``."""
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
