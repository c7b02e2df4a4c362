"""nn.Parameter (filled in by the nn Module-system work)."""
from .._tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter."""


class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (lazy modules)."""


class Buffer:
    """Marks a tensor to be registered as a module buffer."""
