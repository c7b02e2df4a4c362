"""nn layers: BatchNorm1d/2d/3d (running stats, momentum=None cumulative average)."""
from __future__ import annotations

import numpy as np

from ... import _dtype as D
from ..._tensor import Tensor, _make
from .. import functional as F
from .. import init
from ..parameter import Parameter, UninitializedParameter
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d"]


def _full(shape, fill, device=None, dtype=None) -> Tensor:
    dt = D.get_default_dtype() if dtype is None else D.as_dtype(dtype)
    t = _make(np.full(tuple(shape), fill, dt.np))
    if device is not None and str(device) != "cpu":
        t = t.to(device)
    return t


class _NormBase(Module):
    """Common base of BatchNorm and InstanceNorm: affine parameters and running stats."""

    _version = 2
    __constants__ = ["track_running_stats", "momentum", "eps", "num_features", "affine"]

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if self.affine:
            self.weight = Parameter(_full((num_features,), 1.0, device, dtype))
            if bias:
                self.bias = Parameter(_full((num_features,), 0.0, device, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", _full((num_features,), 0.0, device, dtype))
            self.register_buffer("running_var", _full((num_features,), 1.0, device, dtype))
            self.register_buffer("num_batches_tracked",
                                 _make(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        """running_mean = 0, running_var = 1, num_batches_tracked = 0."""
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        """Reset the running stats; weight = 1, bias = 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def _check_input_dim(self, input: Tensor) -> None:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ("{num_features}, eps={eps}, momentum={momentum}, affine={affine}, "
                "bias={use_bias}, track_running_stats={track_running_stats}".format(
                    **self.__dict__, use_bias=self.bias is not None))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        version = local_metadata.get("version", None) if local_metadata else None
        if (version is None or version < 2) and self.track_running_stats:
            key = prefix + "num_batches_tracked"
            if key not in state_dict:
                state_dict[key] = self.num_batches_tracked if \
                    self.num_batches_tracked is not None else _make(np.array(0, np.int64))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)


class _BatchNorm(_NormBase):
    def forward(self, input: Tensor) -> Tensor:
        """Normalize with batch statistics (training) or the running stats (eval)."""
        self._check_input_dim(input)
        eaf = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            if self.num_batches_tracked is not None:
                self.num_batches_tracked.add_(1)
                if self.momentum is None:
                    eaf = 1.0 / float(self.num_batches_tracked.item())
                else:
                    eaf = self.momentum
        bn_training = True if self.training else \
            (self.running_mean is None) and (self.running_var is None)
        use_stats = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if use_stats else None,
                            self.running_var if use_stats else None, self.weight, self.bias,
                            bn_training, eaf, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch normalization over (N, C) or (N, C, L)."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim != 2 and input.ndim != 3:
            raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch normalization over (N, C, H, W)."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim != 4:
            raise ValueError(f"expected 4D input (got {input.ndim}D input)")


class BatchNorm3d(_BatchNorm):
    """Batch normalization over (N, C, D, H, W)."""

    def _check_input_dim(self, input: Tensor) -> None:
        if input.ndim != 5:
            raise ValueError(f"expected 5D input (got {input.ndim}D input)")


class _LazyNormMixin:
    """num_features inferred from the first input (its dim 1, as torch); then the module
    becomes ``cls_to_become``."""

    cls_to_become = None

    def _lazy_init(self, affine: bool, bias: bool, dtype) -> None:
        self.num_features = 0
        if affine:
            self.weight = UninitializedParameter(dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(dtype=dtype)
        self._lazy_dtype = dtype
        self._lazy_handle = self.register_forward_pre_hook(_LazyNormMixin._infer_parameters)

    def has_uninitialized_params(self) -> bool:
        """True until the first forward."""
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values()) \
            or self.num_features == 0

    def reset_parameters(self) -> None:
        """Initialize once num_features is known (a no-op before)."""
        if self.num_features != 0 and not any(
                isinstance(p, UninitializedParameter) for p in self._parameters.values()):
            _NormBase.reset_parameters(self)

    @staticmethod
    def _infer_parameters(self, args):
        x = args[0]
        self.num_features = x.shape[1]            # torch reads dim 1 (even when unbatched)
        c = self.num_features
        dtype = self._lazy_dtype
        if self.affine:
            self.weight.materialize((c,))
            if self.bias is not None:
                self.bias.materialize((c,))
        if self.track_running_stats:
            self.running_mean = _full((c,), 0.0, None, dtype)
            self.running_var = _full((c,), 1.0, None, dtype)
        self.reset_parameters()
        self._lazy_handle.remove()
        del self.__dict__["_lazy_handle"]
        del self.__dict__["_lazy_dtype"]
        self.__class__ = self.cls_to_become


def _lazy_norm(base):
    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *,
                 bias: bool = True) -> None:
        base.__init__(self, 0, eps, momentum, False, track_running_stats, device, dtype,
                      bias=bias)
        self.affine = affine
        self._lazy_init(affine, bias, dtype)
    cls = type("Lazy" + base.__name__, (_LazyNormMixin, base), {
        "__init__": __init__, "cls_to_become": base,
        "__doc__": f"{base.__name__} whose num_features is inferred from the first input."})
    cls.__module__ = base.__module__
    return cls


LazyBatchNorm1d = _lazy_norm(BatchNorm1d)
LazyBatchNorm2d = _lazy_norm(BatchNorm2d)
LazyBatchNorm3d = _lazy_norm(BatchNorm3d)
