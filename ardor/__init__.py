"""ardor: a deep-learning framework whose public API is PyTorch's.

``import ardor as torch`` and a PyTorch program runs on numpy (CPU).
"""
from __future__ import annotations

from . import _allocator  # noqa: F401  (glibc keeps freed tensor memory; see the module)
from . import _dtype
from ._dtype import (bfloat16, bool_ as bool, complex64, complex128, dtype, float16, float32,
                     float64, get_default_dtype, int8, int16, int32, int64, promote_types,
                     set_default_dtype, uint8, uint16, uint32, uint64)
from ._device import device
from ._tensor import Size, Tensor

half, float, double = float16, float32, float64
short, int, long = int16, int32, int64
cfloat, cdouble = complex64, complex128


class layout:
    """A tensor memory layout (ardor has only ``strided``)."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return "ardor." + self.name


strided = layout("strided")


class memory_format:
    """A memory format tag (accepted for compatibility; ardor tensors are row-major)."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return "ardor." + self.name


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")

# The op modules fill the op table and the registries of public names.
from ._ops import registry as _registry  # noqa: E402
from ._ops import core as _core, creation as _creation, elementwise as _elementwise  # noqa
from ._ops import reduction as _reduction, shape as _shape, linalg as _linalg  # noqa
from ._ops import _extra_modules  # noqa: E402,F401
from . import _threads  # noqa: E402,F401  (set_num_threads/get_num_threads)

from . import autograd  # noqa: E402
from .autograd.anomaly_mode import is_anomaly_check_nan_enabled, is_anomaly_enabled  # noqa
from .autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,  # noqa: E402
                                 is_inference_mode_enabled, no_grad, set_grad_enabled)


def _publish():
    g = globals()
    for name, fn in _registry.FUNCTIONS.items():
        if not isinstance(g.get(name), (dtype, type)):  # dtype aliases and classes win
            g[name] = fn
    for name, fn in _registry.METHODS.items():
        if name not in Tensor.__dict__:  # methods defined on the class itself win
            setattr(Tensor, name, fn)


_publish()


from .serialization import load, save  # noqa: E402


def is_tensor(obj) -> bool:
    """True for ardor tensors (and nn.Parameters)."""
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:
    """True for floating-point tensors."""
    return input.is_floating_point()


def is_complex(input: Tensor) -> bool:
    """True for complex tensors."""
    return input.is_complex()


def numel(input: Tensor) -> int:
    """Number of elements of a tensor."""
    return input.numel()


_SUBMODULES = ("nn", "optim", "utils", "linalg", "testing", "cuda", "jit", "onnx",
               "distributed", "random", "vision", "special", "fft", "serialization", "backends")


def __getattr__(name):
    # Subpackages load on first use so that `import ardor` stays quick.
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module("." + name, __name__)
    if name == "compile":  # torch.compile's place: ardor.jit.compile
        from .jit import compile
        return compile
    raise AttributeError(f"module 'ardor' has no attribute '{name}'")


__version__ = "0.1.0"
