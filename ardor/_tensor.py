"""ardor.Tensor: a backend array plus autograd state.

Operations are not defined here: the op modules under ``ardor/_ops`` publish them (as
functions and Tensor methods) from the op table, and ``ardor/__init__`` attaches them.
This file holds what is intrinsic to a tensor: metadata, conversion to Python/numpy,
autograd bookkeeping, and printing.
"""
from __future__ import annotations

import numpy as np

from . import _dtype as D
from ._device import CPU, as_device
from ._state import state

_new = object.__new__
_BY_NP = D._BY_NP


class Tensor:
    """A multi-dimensional array with autograd, mirroring ``torch.Tensor``."""

    __slots__ = ("_data", "_version", "_requires_grad", "grad_fn", "__dict__", "__weakref__")

    # Rarely-set state lives in the instance dict with these class-level defaults, so that
    # creating a tensor on the hot path sets only the four slots above.
    _grad = None
    _output_nr = 0
    _base = None
    _view_ops = ()
    _grad_acc = None
    _hooks = None
    _post_acc_hooks = None
    _retains_grad = False
    _is_param = False

    def __new__(cls, *args, **kwargs):
        # Tensor(...) called directly behaves as torch's legacy constructor.
        from ._ops.creation import legacy_new
        return legacy_new(cls, *args, **kwargs)

    # ------------------------------------------------------------------ metadata
    @property
    def shape(self) -> "Size":
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        """The shape (a ``Size``), or one dimension's length."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    @property
    def dtype(self) -> D.dtype:
        return _BY_NP[self._data.dtype]

    @property
    def device(self):
        if type(self._data) is np.ndarray:
            return CPU
        from ._backend import device_of
        return device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def is_cpu(self) -> bool:
        return self.device.type == "cpu"

    @property
    def is_meta(self) -> bool:
        return False

    @property
    def is_sparse(self) -> bool:
        return False

    @property
    def is_quantized(self) -> bool:
        return False

    @property
    def layout(self):
        from . import strided
        return strided

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        """Number of dimensions."""
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        """Number of elements."""
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return self._data.nbytes

    def stride(self, dim: int | None = None):
        """Strides in elements (torch's convention), or one dimension's stride."""
        it = self._data.itemsize
        st = tuple(s // it for s in self._data.strides)
        if dim is None:
            return st
        return st[_wrap_dim(dim, self._data.ndim)]

    def is_contiguous(self, memory_format=None) -> bool:
        """True when the elements are laid out densely in row-major order."""
        return bool(self._data.flags.c_contiguous)

    def storage_offset(self) -> int:
        """Offset of the first element from the start of the underlying storage."""
        root = self._data
        while isinstance(root.base, np.ndarray):
            root = root.base
        return (self._data.__array_interface__["data"][0]
                - root.__array_interface__["data"][0]) // self._data.itemsize

    def data_ptr(self) -> int:
        """Address of the first element."""
        return self._data.__array_interface__["data"][0]

    def untyped_storage(self):
        root = self._data
        while isinstance(root.base, np.ndarray):
            root = root.base
        return _Storage(root)

    def is_floating_point(self) -> bool:
        """True for float16/32/64 and bfloat16."""
        return self.dtype.is_floating_point

    def is_complex(self) -> bool:
        """True for complex dtypes."""
        return self.dtype.is_complex

    def is_signed(self) -> bool:
        return self.dtype.is_signed

    def get_device(self) -> int:
        d = self.device
        return -1 if d.type == "cpu" else (d.index or 0)

    # ------------------------------------------------------------------ autograd state
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set requires_grad in place (leaves only, floating/complex dtypes only)."""
        if self.grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to "
                    "use a computed variable in a subgraph that doesn't require differentiation "
                    "use var_no_grad = var.detach().")
            return self
        if requires_grad:
            k = self._data.dtype.kind
            if not (k in "fc" or self._data.dtype == D.bfloat16.np):
                raise RuntimeError("only Tensors of floating point dtype can require "
                                   "gradients")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad(self):
        """The accumulated gradient (None until a backward reaches this leaf)."""
        g = self._grad
        if g is None and self.grad_fn is not None and not self._retains_grad:
            import warnings
            warnings.warn(_NONLEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return g

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError("assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype "
                    f"'{_caffe_name(value.dtype)}' to a tensor with grad_dtype "
                    f"'{self.dtype._torch_name}'. The gradient must match the tensor's "
                    "grad_dtype (defaults to the tensor's dtype). You can set the tensor's "
                    "grad_dtype attribute with a specific dtype, or None to allow any dtype. Set "
                    "grad_dtype with caution. Diverging the dtypes of a tensor and its gradient "
                    "may break downstream systems that assume they match.")
            if value._data.shape != self._data.shape:
                raise RuntimeError(f"attempting to assign a gradient of size "
                                   f"'{list(value._data.shape)}' to a tensor of size "
                                   f"'{list(self._data.shape)}'. Please ensure that the "
                                   "gradient and the tensor are the same size")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def _version_counter(self) -> int:
        return self._version[0]

    @property
    def data(self) -> "Tensor":
        """A tensor sharing this one's storage, outside autograd (own version counter)."""
        t = _make(self._data)
        return t

    @data.setter
    def data(self, other: "Tensor") -> None:
        self._data = other._data

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        from .autograd.graph import retain_on_node
        retain_on_node(self)
        self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new
        gradient. Returns a handle with ``.remove()``."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .utils.hooks import RemovableHandle
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            h = RemovableHandle(self._hooks)
            self._hooks[h.id] = hook
            return h
        return self.grad_fn._register_tensor_hook(self._output_nr, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after ``.grad`` of this leaf has been accumulated."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        from .utils.hooks import RemovableHandle
        if self._post_acc_hooks is None:
            self._post_acc_hooks = {}
        h = RemovableHandle(self._post_acc_hooks)
        self._post_acc_hooks[h.id] = hook
        return h

    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate the gradient of this tensor into the leaves' ``.grad``."""
        from .autograd import backward
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph,
                 inputs=inputs)

    def detach(self) -> "Tensor":
        """A tensor sharing data (and version counter) with this one, outside the graph."""
        t = _make(self._data)
        t._version = self._version  # shares storage and version counter, but is no view
        if state.tracer is not None:
            state.tracer.record_alias(self, t)
        return t

    def detach_(self) -> "Tensor":
        """Detach this tensor from the graph in place."""
        if self._base is not None:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead. If you are using "
                "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set "
                "as True, gradients are views of DDP buckets, and hence detach_() cannot be "
                "called on these gradients. To fix this error, please refer to the "
                "Optimizer.zero_grad() function in torch/optim/optimizer.py as the solution.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ------------------------------------------------------------------ Python protocol
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The data as a numpy array sharing memory (torch's errors when grad is required)."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        if type(self._data) is not np.ndarray:
            if not force:
                raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use "
                                "Tensor.cpu() to copy the tensor to host memory first.")
            return self._data.get()
        return self._data

    def __array__(self, dtype=None, copy=None):
        a = self._data if type(self._data) is np.ndarray else self._data.get()
        if dtype is not None:
            a = a.astype(dtype, copy=False)
        return a

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        if state.tracer is not None:
            state.tracer.warn_data_dependent("item")
        v = self._data.reshape(()).item() if type(self._data) is np.ndarray \
            else self._data.reshape(()).get().item()
        if self._data.dtype == D.bfloat16.np:
            v = float(v)
        return v

    def tolist(self):
        """The data as (nested) Python lists of numbers."""
        if state.tracer is not None:
            state.tracer.warn_data_dependent("tolist")
        a = self.__array__()
        if a.dtype == D.bfloat16.np:
            a = a.astype(np.float32)
        return a.tolist()

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous"
                               if self._data.size > 1 else
                               "Boolean value of Tensor with no values is ambiguous")
        if state.tracer is not None:
            state.tracer.warn_data_dependent("bool")
        return bool(self._data.reshape(()))

    def __int__(self) -> int:
        return int(self.item())

    def __float__(self) -> float:
        return float(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __index__(self) -> int:
        if self._data.size != 1 or self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self.item())

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        # torch: a 0-d tensor formats as its Python number; others only with an empty spec
        if self._data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.  If you were "
                               "attempting to deepcopy a module, this may be because of a "
                               "torch.nn.utils.weight_norm usage, see "
                               "https://github.com/pytorch/pytorch/pull/103001")
        t = type(self).__new__(type(self)) if type(self) is not Tensor else _new(Tensor)
        Tensor._init_from(t, self._data.copy(), self._requires_grad)
        if self._grad is not None:
            t.grad = self._grad.__deepcopy__(memo)
        for k, v in self.__dict__.items():
            if k not in ("_grad_acc", "grad", "_grad", "_base", "_view_ops", "_hooks"):
                import copy
                t.__dict__[k] = copy.deepcopy(v, memo)
        memo[id(self)] = t
        return t

    def __reduce_ex__(self, proto):
        return (_rebuild, (self.__array__(), self._requires_grad, type(self)))

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _init_from(t, arr, requires_grad=False):
        t._data = arr
        t._version = [0]
        t._requires_grad = requires_grad
        t.grad_fn = None
        return t

    _make = staticmethod(lambda arr: _make(arr))

    # torch's legacy type aliases (x.type() strings)
    def type(self, dtype=None, non_blocking: bool = False, **kwargs):
        """With no argument, the type string ('ardor.FloatTensor'); else a cast."""
        if dtype is None:
            return f"ardor.{self.dtype._torch_name}Tensor"
        if isinstance(dtype, str):
            name = dtype.rsplit(".", 1)[-1]
            for d in D.ALL_DTYPES:
                if d._torch_name + "Tensor" == name:
                    return self.to(d)
            raise ValueError(f"invalid type: '{dtype}'")
        return self.to(dtype)

    __array_priority__ = 1000  # numpy defers to Tensor's reflected operators


_NONLEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
    "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
    "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. "
    "If you access the non-leaf Tensor by mistake, make sure you access the leaf Tensor "
    "instead. See github.com/pytorch/pytorch/pull/30531 for more information.")


def _caffe_name(dt) -> str:
    """torch's TypeMeta spelling of a dtype ('float', 'double', 'c10::Half', ...)."""
    n = dt._torch_name
    special = {"Half": "c10::Half", "BFloat16": "c10::BFloat16", "Long": "long int",
               "Int": "int", "Short": "short int", "Char": "signed char",
               "Byte": "unsigned char", "Bool": "bool", "ComplexFloat": "c10::complex<float>",
               "ComplexDouble": "c10::complex<double>"}
    return special.get(n, n.lower())


def _make(arr) -> Tensor:
    """A new leaf Tensor over a backend array (the hot-path constructor)."""
    t = _new(Tensor)
    t._data = arr
    t._version = [0]
    t._requires_grad = False
    t.grad_fn = None
    return t


def _rebuild(arr, requires_grad, cls):
    t = _make(np.array(arr))
    t._requires_grad = requires_grad
    if cls is not Tensor:
        t = cls._from_tensor(t) if hasattr(cls, "_from_tensor") else t
    return t


def _wrap_dim(dim: int, ndim: int) -> int:
    """Normalize a possibly negative dim, with torch's IndexError when out of range."""
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim + n if dim < 0 else dim


class Size(tuple):
    """torch.Size: a tuple of dimension lengths."""

    __slots__ = ()

    def __new__(cls, sizes=()):
        if type(sizes) is tuple:  # the hot path: numpy shapes are tuples of ints
            for x in sizes:
                if type(x) is not int:
                    break
            else:
                return tuple.__new__(cls, sizes)
        out = []
        for i, x in enumerate(sizes):
            if not isinstance(x, float) and hasattr(x, "__index__"):
                try:
                    out.append(x.__index__())
                    continue
                except TypeError:
                    pass
            raise TypeError(f"ardor.Size() takes an iterable of 'int' (item {i} is "
                            f"'{type(x).__name__}')")
        return tuple.__new__(cls, out)

    def __repr__(self) -> str:
        return f"ardor.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def __mul__(self, n):
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__

    def __reduce__(self):
        return (Size, (tuple(self),))


class _Storage:
    """A minimal untyped storage view (identity, size and data pointer)."""

    def __init__(self, arr):
        self._arr = arr

    def data_ptr(self) -> int:
        return self._arr.__array_interface__["data"][0]

    def nbytes(self) -> int:
        return self._arr.nbytes

    def size(self) -> int:
        return self._arr.nbytes

    def __len__(self) -> int:
        return self._arr.nbytes
