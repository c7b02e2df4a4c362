"""nn.Parameter, nn.Buffer and UninitializedParameter (torch.nn.parameter's API)."""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor, _make


def _empty_default():
    from .. import _dtype as D
    return _make(np.empty((0,), D.get_default_dtype().np))


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter when assigned as an attribute.

    ``Parameter(data=None, requires_grad=True)`` shares ``data``'s storage (and version
    counter); operations on a Parameter return plain Tensors."""

    _is_param = True

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            data = _empty_default()
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter(): argument 'data' must be Tensor, not "
                            f"{type(data).__name__}")
        t = object.__new__(cls)
        t._data = data._data
        t._version = data._version
        t._requires_grad = False
        t.grad_fn = None
        if requires_grad:
            t.requires_grad_(True)
        return t

    @classmethod
    def _from_tensor(cls, t: Tensor) -> "Parameter":
        return cls(t, t._requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(_make(self._data.copy()), self._requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (type(self), self.__array__(), self._requires_grad))


def _rebuild_parameter(cls, arr, requires_grad):
    return cls(_make(np.array(arr)), requires_grad)


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (used by lazy modules).

    ``materialize(shape, device=None, dtype=None)`` turns it into a regular Parameter."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        from .. import _dtype as D
        dt = D.get_default_dtype() if dtype is None else D.as_dtype(dtype)
        t = Parameter.__new__(cls, _make(np.empty((0,), dt.np)), requires_grad)
        return t

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Allocate storage of ``shape`` (uninitialized) and become a plain Parameter."""
        if isinstance(shape, int):
            shape = (shape,)
        dt = self._data.dtype if dtype is None else dtype.np
        self._data = np.empty(tuple(shape), dt)
        self.__class__ = self.cls_to_become

    def __repr__(self) -> str:
        return "<UninitializedParameter>"

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. "
                           "This error usually happens in `load_state_dict` when trying to load "
                           "an uninitialized parameter into an initialized one. Call "
                           "`forward` to initialize the parameters before accessing their "
                           "attributes.")

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        r = type(self)(self._requires_grad, None, None)
        memo[id(self)] = r
        return r

    def __reduce_ex__(self, proto):
        return (type(self), (self._requires_grad,))


def is_lazy(param) -> bool:
    """True for uninitialized (lazy) parameters and buffers."""
    return isinstance(param, UninitializedParameter)


class _BufferMeta(type):
    # isinstance(t, Buffer) is true for tensors made by Buffer(...), which are plain Tensors
    # flagged with ``_is_buffer`` (as torch does).
    def __instancecheck__(cls, instance) -> bool:
        if cls is Buffer:
            return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)
        return super().__instancecheck__(instance)


class Buffer(Tensor, metaclass=_BufferMeta):
    """Marks a tensor to be registered as a module buffer when assigned as an attribute.

    ``Buffer(data=None, *, persistent=True)``."""

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True):
        if data is None:
            data = _empty_default()
        t = data.detach()
        if data._requires_grad:
            t.requires_grad_(True)
        t.persistent = persistent
        t._is_buffer = True
        return t
