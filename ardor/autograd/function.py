"""Custom differentiable operations: ``ardor.autograd.Function`` (torch.autograd.Function).

A subclass declares ``forward`` and ``backward`` staticmethods; ``MyFn.apply(*args)`` runs
the forward with grad mode off and records ONE graph node of class ``MyFnBackward`` (a
subclass of :class:`BackwardCFunction`, which is both the graph node and the ``ctx`` the
user's methods receive, as in torch).
"""
from __future__ import annotations

import functools
import warnings
from typing import Any

from .._state import state
from .graph import Node, _FREED_MSG, _raise_modified

__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "once_differentiable",
           "InplaceFunction", "NestedIOFunction"]


class FunctionCtx:
    """What ``forward``/``setup_context`` use to hand information to ``backward``."""

    def save_for_backward(self, *tensors) -> None:
        """Save tensors (or None) for backward; read back (version-checked) as
        ``ctx.saved_tensors``."""
        self.to_save = tensors

    def save_for_forward(self, *tensors) -> None:
        """Accepted for API compatibility (forward-mode AD)."""
        self.saved_for_forward = tensors

    def mark_dirty(self, *args) -> None:
        """Declare the input tensors the forward modified in place (and returned)."""
        self.dirty_tensors = args

    def mark_shared_storage(self, *pairs) -> None:
        """Deprecated no-op kept for compatibility."""
        warnings.warn("mark_shared_storage is deprecated. Tensors with shared storages are "
                      "automatically tracked.", DeprecationWarning)

    def mark_non_differentiable(self, *args) -> None:
        """Declare outputs that are not differentiable (they will not require grad)."""
        self.non_differentiable = args

    def set_materialize_grads(self, value: bool) -> None:
        """With False, ``backward`` receives None (not zeros) for outputs without a grad."""
        self.materialize_grads = bool(value)


class BackwardCFunction(Node, FunctionCtx):
    """The graph node (and ``ctx``) of one ``Function.apply`` call."""

    _forward_cls: Any = None
    _is_function_node = True
    fit_inputs = True  # sum broadcast grads back to each input's shape, cast to its dtype
    materialize_grads = True
    to_save = None
    dirty_tensors = None
    non_differentiable = None

    def __init__(self):
        Node.__init__(self)
        self.needs_input_grad = ()
        self._tensor_pos = ()      # positions of tensor arguments among apply's args
        self._nargs = 0
        self._saved_vars = None

    # `needs_input_grad` is a plain attribute here (Node defines it as a property).
    needs_input_grad = None

    def __repr__(self) -> str:
        # torch shows Python nodes with their module: <torch.autograd.function.XBackward ...>
        return f"<ardor.autograd.function.{type(self).__name__} object at {hex(id(self))}>"

    # -- saved tensors -------------------------------------------------------------------
    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``, checked for in-place modification."""
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        if self._saved_vars is None:
            if self.to_save is not None:  # read inside forward/setup_context
                return tuple(self.to_save)
            return ()
        from .._tensor import Tensor, _make
        out = []
        for kind, a, b, c in self._saved_vars:
            if kind == 0:
                out.append(None)
            elif kind == 3:                 # went through saved_tensors_hooks
                out.append(a.unpack())
            elif kind == 1:                 # an input / unrelated tensor
                t, v = a, b
                if t._version[0] != v:
                    _raise_modified(self, t, v)
                out.append(t)
            else:                           # one of our own outputs: rebuilt without a cycle
                arr, vc, v, nr = a, b, c[0], c[1]
                t = _make(arr)
                t._version = vc
                if vc[0] != v:
                    _raise_modified(self, t, v, output_nr=nr, current=vc[0], node_name=None)
                t._requires_grad = True
                t.grad_fn = self
                t._output_nr = nr
                out.append(t)
        return tuple(out)

    saved_variables = saved_tensors

    def release(self):
        if self._saved_vars is not None:
            self._freed = True
        self._saved_vars = None
        self.to_save = None

    # -- running backward ----------------------------------------------------------------
    def apply(self, grads: list) -> tuple:
        cls = self._forward_cls
        if self.materialize_grads:
            grads = self._materialize(grads)
        res = cls.backward(self, *grads)
        if type(res) is not tuple:
            res = (res,)
        n = self._nargs
        if len(res) != n:
            if len(res) > n and all(r is None for r in res[n:]):
                res = res[:n]
            else:
                raise RuntimeError(f"function {type(self).__name__} returned an incorrect "
                                   f"number of gradients (expected {n}, got {len(res)})")
        from .._tensor import Tensor
        out = []
        for j, i in enumerate(self._tensor_pos):
            g = res[i]
            if g is not None and not isinstance(g, Tensor):
                raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
            if g is not None and self.next_functions[j][0] is not None:
                shape = self.in_meta[j][0]
                if tuple(g.shape) != tuple(shape):
                    if not _expandable(shape, tuple(g.shape)):
                        raise RuntimeError(
                            f"Function {type(self).__name__} returned an invalid gradient at "
                            f"index {j} - got {list(g.shape)} but expected shape compatible "
                            f"with {list(shape)}")
            out.append(g)
        return tuple(out)

    def _materialize(self, grads):
        from .._tensor import _make
        import numpy as np
        out = list(grads)
        for i, g in enumerate(out):
            meta = self.out_meta[i]
            if g is None and meta is not None:
                shape, dt = meta
                out[i] = _make(np.zeros(shape, dt.np))
        return out


def _expandable(shape, gshape) -> bool:
    """Whether ``shape`` can be broadcast to ``gshape`` (the grad can be summed back)."""
    if len(shape) > len(gshape):
        return False
    for s, g in zip(reversed(shape), reversed(gshape)):
        if s != g and s != 1:
            return False
    return True


class FunctionMeta(type):
    """Gives every Function subclass its node class ``<Name>Backward``."""

    def __init__(cls, name, bases, attrs):
        backward_cls = type(name + "Backward", (BackwardCFunction,),
                            {"_forward_cls": cls, "__module__": cls.__module__})
        cls._backward_cls = backward_cls
        super().__init__(name, bases, attrs)


class Function(metaclass=FunctionMeta):
    """Base class for custom differentiable operations (see torch.autograd.Function)."""

    generate_vmap_rule = False

    def __init__(self, *args, **kwargs):
        warnings.warn(f"{self.__class__} should not be instantiated. Methods on autograd "
                      "functions are all static, so you should invoke them on the class itself. "
                      "Instantiating an autograd function will raise an error in a future "
                      "version of PyTorch.", DeprecationWarning, stacklevel=2)

    def __call__(self, *args, **kwargs):
        raise RuntimeError(
            "Legacy autograd function with non-static forward method is deprecated. Please use "
            "new-style autograd function with static forward method. (Example: "
            "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @staticmethod
    def forward(*args: Any, **kwargs: Any) -> Any:
        """Compute the outputs (``forward(ctx, *inputs)``, or ``forward(*inputs)`` with
        ``setup_context``)."""
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: Any) -> Any:
        """Optional: save what backward needs, given the inputs and the output."""
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        """Gradients of the inputs from the gradients of the outputs."""
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward "
                                  "mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx: Any, *grad_inputs: Any) -> Any:
        """Forward-mode derivative (not supported by ardor's engine)."""
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")

    @staticmethod
    def vmap(info, in_dims, *args):
        raise NotImplementedError("vmap is not supported by ardor's autograd.Function")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` and record one ``<Name>Backward`` node for the tensor inputs."""
        return _apply(cls, args, kwargs)


def _apply(cls, args, kwargs):
    from .._tensor import Tensor
    ctx = cls._backward_cls()
    tensor_pos = []
    needs = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            tensor_pos.append(i)
            needs.append(a._requires_grad)
        else:
            needs.append(False)
    ctx.needs_input_grad = tuple(needs)
    ctx._tensor_pos = tuple(tensor_pos)
    ctx._nargs = len(args)
    custom_setup = cls.setup_context.__func__ is not Function.setup_context.__func__ \
        if hasattr(cls.setup_context, "__func__") else \
        cls.setup_context is not Function.setup_context
    prev = state.grad_enabled
    state.grad_enabled = False
    try:
        if custom_setup:
            output = cls.forward(*args, **kwargs)
            cls.setup_context(ctx, args, output)
        else:
            output = cls.forward(ctx, *args, **kwargs)
    finally:
        state.grad_enabled = prev
    is_tuple = isinstance(output, tuple)
    outs = output if is_tuple else (output,)
    tensors_in = [args[i] for i in tensor_pos]
    executable = prev and any(t._requires_grad for t in tensors_in)
    outs = _wrap_outputs(ctx, cls, args, tensors_in, outs, executable)
    if executable:
        _save_variables(ctx, outs)
        if state.anomaly:
            from .anomaly_mode import capture_trace
            ctx._trace = capture_trace()
    else:
        ctx.to_save = None
    return outs if is_tuple else outs[0]


def _wrap_outputs(ctx, cls, args, tensors_in, outs, executable):
    from .._ops.dispatch import _edge
    from .._tensor import Tensor
    from .. import _dtype as D
    dirty = {id(t) for t in (ctx.dirty_tensors or ())}
    non_diff = {id(t) for t in (ctx.non_differentiable or ())}
    in_ids = {id(t) for t in tensors_in}
    if executable:
        ctx.next_functions = tuple(_edge(t) for t in tensors_in)
        ctx.in_meta = tuple((t._data.shape, t.dtype) for t in tensors_in)
    new_outs = []
    out_meta = []
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            new_outs.append(o)
            out_meta.append(None)
            continue
        out_meta.append((o._data.shape, o.dtype))
        if id(o) in dirty:
            if executable and o._requires_grad and o.grad_fn is None and o._base is None:
                raise RuntimeError("a leaf Variable that requires grad has been used in an "
                                   "in-place operation.")
            o._version[0] += 1
        elif id(o) in in_ids:
            # An input returned unchanged becomes a view of it, with this node's history.
            from .._ops.core import alias
            from .._ops.dispatch import dispatch
            prev = state.grad_enabled
            state.grad_enabled = False
            try:
                o = dispatch(alias, (o,))
            finally:
                state.grad_enabled = prev
        k = o._data.dtype.kind
        differentiable = (k in "fc" or o._data.dtype == D.bfloat16.np) and id(o) not in non_diff
        if executable and differentiable:
            o._requires_grad = True
            o.grad_fn = ctx
            o._output_nr = i
            if o._base is not None:  # in-place on it later is refused, as in torch
                o._custom_fn_view = (cls.__name__, i)
        elif executable or id(o) not in dirty:
            if o.grad_fn is None and id(o) not in in_ids and not (id(o) in dirty):
                o._requires_grad = False
        new_outs.append(o)
    ctx.out_meta = tuple(out_meta)
    ctx.nout = len(outs)
    return tuple(new_outs)


def _save_variables(ctx, outs):
    from .._tensor import Tensor
    to_save = ctx.to_save
    if to_save is None:
        ctx._saved_vars = None
        return
    out_ids = {id(o): i for i, o in enumerate(outs) if isinstance(o, Tensor)}
    saved = []
    from .graph import _HOOK_STACK, _pack_tensor
    for t in to_save:
        if t is None:
            saved.append((0, None, None, None))
        elif _HOOK_STACK and isinstance(t, Tensor):
            saved.append((3, _pack_tensor(t), None, None))
        elif not isinstance(t, Tensor):
            raise TypeError("save_for_backward can only save variables, but argument "
                            f"{len(saved)} is of type {type(t).__name__}")
        elif id(t) in out_ids and t.grad_fn is ctx:
            # Saving our own output by reference would make a node <-> tensor cycle.
            saved.append((2, t._data, t._version, (t._version[0], out_ids[id(t)])))
        else:
            saved.append((1, t, t._version[0], None))
    ctx._saved_vars = saved
    ctx.to_save = None


class _DelayedError(Node):
    """Stands in the graph of a once_differentiable backward; fails if differentiated."""

    __slots__ = ("msg",)

    def apply(self, grads):
        raise RuntimeError(self.msg)

    def name(self) -> str:
        return "Error"


_DelayedError.__name__ = "Error"


def once_differentiable(fn):
    """Run a Function's backward with grad mode off; differentiating its result again
    raises torch's "trying to differentiate twice" error."""
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        from .._tensor import Tensor
        prev = state.grad_enabled
        state.grad_enabled = False
        try:
            outputs = fn(ctx, *args)
        finally:
            state.grad_enabled = prev
        if not prev:
            return outputs
        requires_grad = any(isinstance(a, Tensor) and a._requires_grad for a in args)
        if not requires_grad:
            return outputs
        from .._ops.dispatch import _edge
        is_tuple = isinstance(outputs, tuple)
        outs = outputs if is_tuple else (outputs,)
        err = _DelayedError()
        err.msg = "trying to differentiate twice a function that was marked with " \
                  "@once_differentiable"
        err.next_functions = tuple(_edge(a) for a in args if isinstance(a, Tensor))
        new = []
        for o in outs:
            if isinstance(o, Tensor):
                o = o.detach()
                o._requires_grad = True
                o.grad_fn = err
            new.append(o)
        return tuple(new) if is_tuple else new[0]
    return wrapper


class InplaceFunction(Function):
    """A Function with an ``inplace`` flag (legacy torch helper)."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace


class NestedIOFunction(Function):
    """Legacy torch class; not supported."""
