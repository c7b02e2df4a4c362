"""Tensor methods that torch defines over its functional API and simple predicates
(``x.softmax(-1)``, ``x.log_softmax(1)``, ``x.hardshrink()``, ``x.prelu(w)``, ``x.H``,
``x.sum_to_size(...)``): each delegates to the one definition it names."""
from __future__ import annotations

from .._tensor import Tensor
from .registry import method


def _F():
    from ..nn import functional
    return functional


@method("softmax")
def softmax(self: Tensor, dim: int, dtype=None) -> Tensor:
    """``nn.functional.softmax(self, dim, dtype=dtype)``."""
    return _F().softmax(self, dim, dtype=dtype)


@method("log_softmax")
def log_softmax(self: Tensor, dim: int, dtype=None) -> Tensor:
    """``nn.functional.log_softmax(self, dim, dtype=dtype)``."""
    return _F().log_softmax(self, dim, dtype=dtype)


@method("hardshrink")
def hardshrink(self: Tensor, lambd: float = 0.5) -> Tensor:
    """``nn.functional.hardshrink(self, lambd)``."""
    return _F().hardshrink(self, lambd)


@method("prelu")
def prelu(self: Tensor, weight: Tensor) -> Tensor:
    """``nn.functional.prelu(self, weight)``."""
    return _F().prelu(self, weight)


@method("is_same_size")
def is_same_size(self: Tensor, other: Tensor) -> bool:
    """Whether ``other`` has this tensor's shape."""
    return tuple(self.shape) == tuple(other.shape)


@method("is_nonzero")
def is_nonzero(self: Tensor) -> bool:
    """The truth value of a one-element tensor (torch's errors for any other size)."""
    return bool(self)


@method("sum_to_size")
def sum_to_size(self: Tensor, *size) -> Tensor:
    """Sum broadcast dimensions away so the result has shape ``size`` (which must expand to
    this tensor's shape)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    shape = tuple(self.shape)
    lead = len(shape) - len(size)
    if lead < 0 or any(s not in (1, d) for s, d in zip(size, shape[lead:])):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    dims = tuple(range(lead)) + tuple(lead + i for i, (s, d) in enumerate(zip(size, shape[lead:]))
                                      if s == 1 and d != 1)
    out = self.sum(dims, keepdim=True) if dims else self
    return out.reshape(size)


def _zero_d(self, name):
    import warnings
    warnings.warn(f"Tensor.{name} is deprecated on 0-D tensors. Consider using x.conj().",
                  UserWarning, stacklevel=3)
    return self.conj()


def _install():
    def h(self):
        if self.ndim == 0:
            return _zero_d(self, "H")
        if self.ndim != 2:
            raise RuntimeError("tensor.H is only supported on matrices (2-D tensors). Got "
                               f"{self.ndim}-D tensor." + (" For batches of matrices, consider "
                                                           "using tensor.mH"
                                                           if self.ndim > 2 else ""))
        return self.conj().transpose(0, 1)

    def mh(self):
        if self.ndim == 0:
            return _zero_d(self, "mH")
        if self.ndim < 2:
            raise RuntimeError("tensor.mH is only supported on matrices or batches of "
                               f"matrices. Got {self.ndim}-D tensor.")
        return self.conj().transpose(-2, -1)
    Tensor.H = property(h, doc="The conjugate transpose of a matrix.")
    Tensor.mH = property(mh, doc="The conjugate transpose of the last two dimensions.")


_install()
