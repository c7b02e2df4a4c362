"""Autograd graph nodes: one Node per recorded op, AccumulateGrad for leaves.

A node holds edges to the nodes that produced its inputs (``next_functions``), the tensors
its backward formula needs (checked against version counters when unpacked), and the op's
attributes. The op table's backward formula receives the node as ``ctx``.
"""
from __future__ import annotations

import itertools
import weakref

_seq = itertools.count()

_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed when "
    "you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward.")


class Node:
    """Base of all autograd graph nodes (``grad_fn`` objects)."""

    # Only what every recorded node sets lives in slots; rarely-set state (hooks, saved
    # outputs, anomaly traces) falls back to these class defaults, so that creating a node
    # on the dispatch hot path costs one attribute store.
    __slots__ = ("next_functions", "_saved", "_versions", "attrs", "in_meta", "_seq",
                 "__weakref__", "__dict__")

    op = None          # the OpDef this node class belongs to
    nout = 1
    fit_inputs = False  # reduce/cast gradients to the inputs' shapes/dtypes (broadcasting ops)
    _saved_out = None
    _freed = False
    _pre_hooks = None
    _hooks = None
    _retained = None
    _tensor_hooks = None
    _any_hooks = False  # set when any hook dict above (or _retained) is filled
    _packed = False     # saved tensors went through saved_tensors_hooks' pack hook
    _trace = None
    _metadata = None
    out_meta = None

    def __init__(self):
        self._seq = next(_seq)
        self._saved = None
        self._versions = None
        self.attrs = None
        self.in_meta = None
        self.next_functions = ()

    @property
    def metadata(self) -> dict:
        """A dict for user data attached to this node (torch's ``grad_fn.metadata``)."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    # -- what the backward formula reads -------------------------------------------------
    @property
    def saved(self) -> tuple:
        """The saved input tensors (then saved outputs), checked for in-place modification."""
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        saved = self._saved or ()
        if self._packed:  # saved under saved_tensors_hooks: the unpack hook gives them back
            saved = tuple(t.unpack() if type(t) is _Packed else t for t in saved)
        elif self._versions is not None:
            for t, v in zip(saved, self._versions):
                if v is not None and t._version[0] != v:
                    _raise_modified(self, t, v)
        if self._saved_out is not None:
            saved = saved + self._unpack_outputs()
        return saved

    @property
    def out(self):
        """The saved output (single-output ops with save_out)."""
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        return self._unpack_outputs()[0]

    def _unpack_outputs(self) -> tuple:
        from .._tensor import Tensor
        outs = []
        for i, entry in enumerate(self._saved_out):
            if type(entry) is _Packed:
                t = entry.unpack()
                t = Tensor._make(t._data)
                t._requires_grad = True
                t.grad_fn = self
                t._output_nr = i
                outs.append(t)
                continue
            arr, vc, v = entry
            if vc[0] != v:
                t = Tensor._make(arr)
                _raise_modified(self, t, v, output_nr=i, current=vc[0])
            t = Tensor._make(arr)
            t._version = vc
            t._requires_grad = True
            t.grad_fn = self
            t._output_nr = i
            outs.append(t)
        return tuple(outs)

    @property
    def in_shape(self) -> tuple:
        """Shape of the first input."""
        return self.in_meta[0][0]

    @property
    def needs_input_grad(self) -> tuple:
        return tuple(fn is not None for fn, _ in self.next_functions)

    def name(self) -> str:
        return type(self).__name__

    # -- running -------------------------------------------------------------------------
    def apply(self, grads: list) -> tuple:
        """Input gradients from output gradients (a list, one per output)."""
        op = self.op
        if self.nout == 1:
            res = op.backward(self, grads[0])
        else:
            res = op.backward(self, *self._materialize(grads))
        if type(res) is not tuple:
            res = (res,)
        return res

    def _materialize(self, grads):
        from .._tensor import Tensor
        import numpy as np
        out = []
        for g, meta in zip(grads, self.out_meta):
            if g is None:
                shape, dt = meta
                g = Tensor._make(np.zeros(shape, dt.np))
            out.append(g)
        return out

    def release(self):
        """Free saved tensors (after a backward without retain_graph)."""
        if self._saved is not None or self._saved_out is not None:
            self._freed = True
            self._saved = None
            if self._saved_out is not None:
                self._saved_out = None

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) -> None or new grad_inputs; runs after this node."""
        from ..utils.hooks import RemovableHandle
        if self._hooks is None:
            self._hooks = {}
        self._any_hooks = True
        h = RemovableHandle(self._hooks)
        self._hooks[h.id] = fn
        return h

    def _register_tensor_hook(self, output_nr: int, fn):
        """A ``Tensor.register_hook`` hook of output ``output_nr`` (runs before capture)."""
        from ..utils.hooks import RemovableHandle
        if self._tensor_hooks is None:
            self._tensor_hooks = {}
        self._any_hooks = True
        h = RemovableHandle(self._tensor_hooks)
        self._tensor_hooks[h.id] = (output_nr, fn)
        return h

    def register_prehook(self, fn):
        """fn(grad_outputs) -> None or new grad_outputs; runs before this node."""
        from ..utils.hooks import RemovableHandle
        if self._pre_hooks is None:
            self._pre_hooks = {}
        self._any_hooks = True
        h = RemovableHandle(self._pre_hooks)
        self._pre_hooks[h.id] = fn
        return h

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object at {hex(id(self))}>"

    def __call__(self, *grads):
        return self.apply(list(grads))


def _short_name(node) -> str:
    """torch 2.13 names a node in this message without its ``Backward<N>`` suffix."""
    n = type(node).__name__
    if n == "CopySlices":  # a C++ node in torch, named with its namespace
        return "torch::autograd::CopySlices"
    i = n.rfind("Backward")
    return n[:i] if i > 0 and n[i + 8:].isdigit() or n.endswith("Backward") and i > 0 else n


def _raise_modified(node, t, expected, output_nr=None, current=None, node_name=None):
    shape = list(t.shape)
    tname = t.dtype._torch_name
    cur = t._version[0] if current is None else current
    where = ""
    if output_nr is not None:
        where = f", which is output {output_nr} of {_short_name(node)},"
    elif t.grad_fn is not None:
        where = f", which is output {t._output_nr} of {_short_name(t.grad_fn)},"
    raise RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: [ardor.{tname}Tensor {shape}]{where} is at version {cur}; expected version "
        f"{expected} instead. Hint: enable anomaly detection to find the operation that failed "
        "to compute its gradient, with ardor.autograd.set_detect_anomaly(True, "
        "check_nan=False).")


class AccumulateGrad(Node):
    """The node that adds a leaf tensor's gradient into ``.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        super().__init__()
        self.variable = variable

    def apply(self, grads):
        from .engine import accumulate_into
        accumulate_into(self.variable, grads[0])
        return ()


def accumulator_for(t) -> AccumulateGrad:
    """The (cached, weakly held) AccumulateGrad node of a leaf that requires grad."""
    ref = t._grad_acc
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._grad_acc = weakref.ref(acc)
    return acc


# Tensors that retain their grad, by id: (weakref, node it is registered on, output_nr).
# An in-place op gives such a tensor a new grad_fn; the engine then moves the registration
# (sync_retained) so that .grad is the gradient of the tensor's current value, as in torch.
_RETAINING: dict = {}


def retain_on_node(t) -> None:
    """Register ``t`` (non-leaf) to receive its gradient in ``.grad`` (retain_grad)."""
    node = t.grad_fn
    nr = t._output_nr
    if node._retained is None:
        node._retained = {}
    node._any_hooks = True
    key = id(t)
    ref = weakref.ref(t, lambda _r, key=key: _RETAINING.pop(key, None))
    node._retained[nr] = ref
    _RETAINING[key] = (ref, node, nr)


def sync_retained() -> None:
    """Move retain_grad registrations of tensors whose history was rebased in place."""
    for key, (ref, node, nr) in list(_RETAINING.items()):
        t = ref()
        if t is None:
            _RETAINING.pop(key, None)
            continue
        fn = t.grad_fn
        if fn is node and t._output_nr == nr:
            continue
        if node._retained is not None and node._retained.get(nr) is ref:
            del node._retained[nr]
        if fn is None:
            _RETAINING.pop(key, None)
            continue
        if fn._retained is None:
            fn._retained = {}
        fn._any_hooks = True
        fn._retained[t._output_nr] = ref
        _RETAINING[key] = (ref, fn, t._output_nr)


def make_node_class(op) -> type:
    """A Node subclass named as torch names it (``MulBackward0``) for one op."""
    return type(op.node_name, (Node,), {"__slots__": (), "op": op, "nout": op.nout,
                                         "fit_inputs": op.promote is not None})


# -------------------------------------------------------------- torch.autograd.graph API
class GradientEdge(tuple):
    """(node, output_nr): where a gradient enters the graph (torch.autograd.graph)."""

    __slots__ = ()

    def __new__(cls, node, output_nr: int, ownership_token=None):
        return tuple.__new__(cls, (node, output_nr, ownership_token))

    @property
    def node(self):
        return self[0]

    @property
    def output_nr(self) -> int:
        return self[1]

    @property
    def ownership_token(self):
        return self[2]

    def __repr__(self) -> str:
        return (f"GradientEdge(node={self[0]!r}, output_nr={self[1]}, "
                f"ownership_token={self[2]!r})")


def get_gradient_edge(tensor) -> GradientEdge:
    """The edge through which gradients reach ``tensor`` (usable as an input of grad())."""
    if not tensor._requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does "
                           "not require gradients")
    if tensor.grad_fn is not None:
        return GradientEdge(tensor.grad_fn, tensor._output_nr)
    return GradientEdge(accumulator_for(tensor), 0)


def increment_version(tensor) -> None:
    """Bump the version counter of ``tensor`` (or of each tensor of an iterable)."""
    from .._tensor import Tensor
    for t in (tensor,) if isinstance(tensor, Tensor) else tensor:
        t._version[0] += 1


# -------------------------------------------------------------- saved tensor hooks
class _Packed:
    """A saved tensor after a pack hook, with the unpack hook that restores it."""

    __slots__ = ("packed", "unpack_hook")

    def __init__(self, packed, unpack_hook):
        self.packed = packed
        self.unpack_hook = unpack_hook

    def unpack(self):
        from .._tensor import Tensor
        t = self.unpack_hook(self.packed)
        if not isinstance(t, Tensor):
            raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got "
                            f"result of type {type(t).__name__}")
        return t


_HOOK_STACK: list = []
_DISABLED: list = []
_SAVED_SLOT = Node.__dict__["_saved"]


def current_pack_hooks():
    """The innermost (pack, unpack) pair, or None."""
    return _HOOK_STACK[-1] if _HOOK_STACK else None


def _pack_tensor(t):
    pack, unpack = _HOOK_STACK[-1]
    return _Packed(pack(t), unpack)


def _get_saved(self):
    return _SAVED_SLOT.__get__(self, Node)


def _set_saved(self, value):
    if value and _HOOK_STACK:
        from .._tensor import Tensor
        value = tuple(_pack_tensor(t) if isinstance(t, Tensor) else t for t in value)
        self._packed = True
    _SAVED_SLOT.__set__(self, value)


def _get_saved_out(self):
    return self.__dict__.get("_saved_out")


def _set_saved_out(self, value):
    if value and _HOOK_STACK:
        from .._tensor import _make
        packed = []
        for arr, vc, _v in value:
            t = _make(arr)
            t._version = vc
            packed.append(_pack_tensor(t))
        value = tuple(packed)
    self.__dict__["_saved_out"] = value


def _install() -> None:
    # Zero cost when unused: the slot / class default are wrapped only while hooks are on.
    Node._saved = property(_get_saved, _set_saved)
    Node._saved_out = property(_get_saved_out, _set_saved_out)


def _uninstall() -> None:
    Node._saved = _SAVED_SLOT
    Node._saved_out = None


class saved_tensors_hooks:
    """Context manager: every tensor saved for backward inside it goes through
    ``pack_hook(tensor) -> object`` and comes back at backward via
    ``unpack_hook(object) -> tensor`` (torch.autograd.graph.saved_tensors_hooks)."""

    def __init__(self, pack_hook, unpack_hook) -> None:
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if _DISABLED:
            raise RuntimeError(_DISABLED[-1])
        if not _HOOK_STACK:
            _install()
        _HOOK_STACK.append((self.pack_hook, self.unpack_hook))
        return self

    def __exit__(self, *args) -> None:
        _HOOK_STACK.pop()
        if not _HOOK_STACK:
            _uninstall()


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors are kept on the CPU (ardor's CPU tensors already are; on GPU, copied)."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        def pack(t):
            return (t.device, t.cpu() if t.device.type != "cpu" else t)

        def unpack(p):
            device, t = p
            return t.to(device) if device.type != "cpu" else t
        super().__init__(pack, unpack)


class disable_saved_tensors_hooks:
    """Context manager: entering saved_tensors_hooks inside it raises ``error_message``."""

    def __init__(self, error_message: str) -> None:
        self.error_message = error_message

    def __enter__(self):
        _DISABLED.append(self.error_message)
        return self

    def __exit__(self, *args) -> None:
        _DISABLED.pop()
