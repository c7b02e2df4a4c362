"""Tracing: record the ops one run executes, through the same dispatch door as eager ops.

The :class:`Tracer` is installed as ``ardor._state.state.tracer``; ``dispatch`` hands it every
op (``record``), in-place writes (``record_inplace``), aliases made by ``detach``
(``record_alias``) and conversions of tensor data to Python values
(``warn_data_dependent``). Tensors the tracer has not seen produced by an op are graph
inputs (placeholders, bound up front), *state* (parameters, buffers, optimizer state: read
live at every run, and written back when the traced code mutates them in place) or
constants (a snapshot taken when first seen).
"""
from __future__ import annotations

import warnings

import numpy as np

from .._state import state
from .._tensor import Tensor, _make
from ._ir import Graph, Node


class TracerWarning(Warning):
    """The trace may not generalize to other inputs (as ``torch.jit.TracerWarning``)."""


_WHAT = {
    "item": "Converting a tensor to a Python number (.item()/float()/int())",
    "tolist": "Converting a tensor to a Python list (.tolist())",
    "bool": "Converting a tensor to a Python boolean",
    "shape": "An op whose output shape depends on the input values",
    "random": "Drawing random numbers on the host (randint, randperm, normal(), "
              "multinomial, exponential_, a generator other than the default, ...)",
}

# ops whose output shape depends on the data, not only on the input shapes
DATA_DEPENDENT_SHAPE = {"nonzero", "masked_select", "unique", "unique_consecutive",
                        "repeat_interleave"}


class Tracer:
    """Builds a :class:`Graph` from the ops a run executes."""

    def __init__(self, graph: Graph | None = None, state_names: dict | None = None):
        self.graph = graph if graph is not None else Graph()
        self.env: dict = {}            # id(tensor) -> node
        self.by_array: dict = {}       # id(ndarray) -> node (arrays adopted without an op)
        self.keep: list = []           # keep traced tensors alive (their ids stay unique)
        self.state_names = state_names or {}   # id(tensor) -> qualified name
        self.attr_nodes: dict = {}     # target -> (tensor, get_attr node)
        self.n_const = 0
        self.const_versions: dict = {}  # constant's name -> its tensor's version when taken
        self.const_names: dict = {}     # id(tensor) -> its constant's name
        self.temps: dict = {}           # id -> tensor made by a factory during the trace
        self.op_mutated: set = set()    # ids of tensors ops updated in place (op.mutates)
        self.warned: set = set()
        self.prev = None

    # -- binding -------------------------------------------------------------------------
    def bind(self, t: Tensor, node: Node) -> None:
        self.env[id(t)] = node
        self.by_array[id(t._data)] = node
        self.keep.append(t)

    def input(self, t: Tensor, name: str) -> Node:
        """Bind ``t`` to a new placeholder named ``name``."""
        n = self.graph.placeholder(name, tuple(t.shape), t.dtype)
        self.bind(t, n)
        return n

    def node_for(self, t: Tensor) -> Node:
        n = self.env.get(id(t))
        if n is not None:
            return n
        n = self.by_array.get(id(t._data))
        if n is not None and n.meta is not None and n.meta[0] == tuple(t.shape) \
                and n.meta[1] is t.dtype:
            self.bind(t, n)  # a tensor adopting an op's output array (AccumulateGrad)
            return n
        name = self.state_names.get(id(t))
        if name is not None:
            live = t
        else:
            self.n_const += 1
            name = f"_tensor_constant{self.n_const - 1}"
            live = _make(np.array(t._data, copy=True))  # snapshot: later writes stay out
            self.const_versions[name] = t._version[0]
            self.const_names[id(t)] = name
        n = self.graph.get_attr(name, live)
        if live is not t:
            self.graph.consts.add(name)
        self.attr_nodes[name] = (t, n)
        self.bind(t, n)
        return n

    def made(self, t: Tensor) -> None:
        """``t`` was made by a factory (empty, zeros, tensor, ...) while tracing: writes into
        it by recorded in-place ops need no replay outside the graph."""
        self.temps[id(t)] = t

    def stale_constants(self) -> list:
        """Names of the constants whose tensors were written after being taken (by code the
        tracer does not see, such as an optimizer it was not told about): the graph's
        snapshot of them is wrong."""
        return [nm for nm, v in self.const_versions.items()
                if self.attr_nodes[nm][0]._version[0] != v]

    def arg(self, a):
        if isinstance(a, Tensor):
            return self.node_for(a)
        if isinstance(a, (tuple, list)):
            return type(a)(self.arg(x) for x in a)
        return a

    # -- hooks called by dispatch ----------------------------------------------------------
    def record(self, op, args, attrs, outs) -> None:
        nargs = tuple(self.arg(a) for a in args)
        if op.mutates is not None:
            self.op_mutated.update(id(args[i]) for i in op.mutates(attrs)
                                   if isinstance(args[i], Tensor))
        meta = tuple((tuple(o.shape), o.dtype) for o in outs)
        if op.nout == 1:
            node = self.graph.call(op, nargs, attrs, meta=meta[0])
            self.bind(outs[0], node)
        else:
            node = self.graph.call(op, nargs, attrs, meta=meta)
            for i, o in enumerate(outs):
                self.bind(o, self.graph.getitem(node, i))
        if op.name in DATA_DEPENDENT_SHAPE or op.name == "index" and _has_bool(args[1:]):
            self.warn_data_dependent("shape")  # e.g. x[mask]: the size is the mask's count

    def record_inplace(self, t: Tensor, result: Tensor) -> None:
        """``t`` was overwritten with ``result`` (cast/broadcast to t's dtype and shape)."""
        from .._ops.registry import OPS
        rn = self.node_for(result)
        if result.dtype is not t.dtype:
            rn = self.graph.call(OPS["to_copy"], (rn,), _to_copy_attrs(t.dtype),
                                 meta=(tuple(result.shape), t.dtype))
        if tuple(result.shape) != tuple(t.shape):
            rn = self.graph.call(OPS["expand"], (rn,), {"shape": tuple(t.shape)},
                                 meta=(tuple(t.shape), t.dtype))
        if id(t) not in self.env:
            self.node_for(t)  # first sight: the pre-write value is state or a constant
        if t._base is not None:
            self._warn("An in-place op on a view was traced: only the view's value is "
                       "tracked, not its base's", "view")
        self.bind(t, rn)
        name = self.const_names.get(id(t))
        if name is not None and id(t) in self.temps:
            # a recorded write into a temporary: not stale (a write into a tensor from
            # outside stays stale, as the graph will not write it back)
            self.const_versions[name] = t._version[0]

    def record_alias(self, src: Tensor, dst: Tensor) -> None:
        self.bind(dst, self.node_for(src))

    def warn_data_dependent(self, kind: str) -> None:
        what = _WHAT.get(kind, kind)
        self._warn(f"{what} might cause the trace to be incorrect. We can't record the data "
                   "flow of Python values, so this value will be treated as a constant in "
                   "the future. This means that the trace might not generalize to other "
                   "inputs!", kind)

    def _warn(self, msg, key):
        warnings.warn(msg, TracerWarning, stacklevel=4)

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self):
        self.prev = state.tracer
        state.tracer = self
        return self

    def __exit__(self, *exc):
        state.tracer = self.prev

    def finish(self, result) -> tuple:
        """Add the output node (and state mutations); return the output structure spec."""
        g = self.graph
        out = _map_out(result, self)
        for target, (t, n0) in self.attr_nodes.items():
            cur = self.env.get(id(t))
            if cur is not None and cur is not n0:
                if target.startswith("_tensor_constant"):
                    # a temporary of the traced code needs no replay: its later values
                    # are nodes
                    if id(t) not in self.temps:
                        self._warn(f"A tensor constant ({target}) was modified in place: "
                                   "the modification is not replayed", "const")
                    continue
                g.mutations.append((target, cur))
        g.output(out)
        return out


def _has_bool(a) -> bool:
    if isinstance(a, Tensor):
        return a._data.dtype == np.bool_
    if isinstance(a, (tuple, list)):
        return any(_has_bool(x) for x in a)
    return False


def _to_copy_attrs(dt):
    return {"dtype": dt}


def _map_out(r, tracer):
    if isinstance(r, Tensor):
        return tracer.node_for(r)
    if isinstance(r, tuple):
        return tuple(_map_out(x, tracer) for x in r)
    if isinstance(r, list):
        return [_map_out(x, tracer) for x in r]
    if isinstance(r, dict):
        return {k: _map_out(v, tracer) for k, v in r.items()}
    return r


_MAX_ITEMS = 64   # containers with more items than this are not searched (datasets, ...)


def reachable(objs, depth: int = 3):
    """(object, qualified-name prefix) for each object a function can reach: through its
    closure cells and the globals it names, a bound method's instance, the attributes of
    plain objects (a trainer's ``self.model``), and small lists, tuples and dicts, at most
    ``depth`` steps away. Modules, optimizers, tensors and Python modules are leaves."""
    import types
    from ..nn.modules.module import Module
    seen: set = set()
    out = []

    def visit(o, prefix, d):
        if id(o) in seen or d > depth or isinstance(o, (types.ModuleType, type, np.ndarray)):
            return
        seen.add(id(o))
        out.append((o, prefix))
        if isinstance(o, (Module, Tensor)) or _is_optimizer(o):
            return
        if callable(o) and hasattr(o, "__code__") and not hasattr(o, "__self__"):
            code = o.__code__
            for cell, nm in zip(o.__closure__ or (), code.co_freevars):
                try:
                    visit(cell.cell_contents, nm + ".", d + 1)
                except ValueError:  # an empty cell
                    pass
            g = getattr(o, "__globals__", {})
            for nm in code.co_names:
                if nm in g:
                    visit(g[nm], nm + ".", d + 1)
        elif hasattr(o, "__func__") and hasattr(o, "__self__"):
            visit(o.__func__, prefix, d)
            visit(o.__self__, prefix, d + 1)
        elif isinstance(o, (list, tuple)) and len(o) <= _MAX_ITEMS:
            for i, v in enumerate(o):
                visit(v, f"{prefix}{i}.", d + 1)
        elif isinstance(o, dict) and len(o) <= _MAX_ITEMS:
            for k, v in o.items():
                visit(v, f"{prefix}{k}.", d + 1)
        elif not callable(o) and isinstance(getattr(o, "__dict__", None), dict) \
                and len(o.__dict__) <= _MAX_ITEMS:
            for k, v in o.__dict__.items():
                visit(v, f"{prefix}{k}.", d + 1)

    for o in objs:
        visit(o, "", 0)
    return out


def state_tensors(*objs) -> dict:
    """id(tensor) -> qualified name for the parameters (and their existing ``.grad``) and
    buffers of modules and the state of optimizers reachable from ``objs`` (see
    :func:`reachable`)."""
    from ..nn.modules.module import Module
    names: dict = {}
    for o, prefix in reachable(objs):
        if isinstance(o, Module):
            for n, p in o.named_parameters():
                names.setdefault(id(p), prefix + n)
                if p._grad is not None:   # state too: zero_grad(set_to_none=False) keeps it
                    names.setdefault(id(p._grad), prefix + n + ".grad")
            for n, b in o.named_buffers():
                names.setdefault(id(b), prefix + n)
        elif _is_optimizer(o):
            for gi, grp in enumerate(o.param_groups):
                for pi, p in enumerate(grp["params"]):
                    names.setdefault(id(p), f"{prefix}param_groups.{gi}.{pi}")
                    if p._grad is not None:
                        names.setdefault(id(p._grad), f"{prefix}param_groups.{gi}.{pi}.grad")
                    for k, v in o.state.get(p, {}).items():
                        if isinstance(v, Tensor):
                            names.setdefault(id(v), f"{prefix}state.{gi}.{pi}.{k}")
        elif isinstance(o, Tensor):
            names.setdefault(id(o), prefix.rstrip("."))
    return names


def tensors_in(v, out=None) -> list:
    """The tensors of a (nested tuple/list/dict) value, in order."""
    out = [] if out is None else out
    if isinstance(v, Tensor):
        out.append(v)
    elif isinstance(v, (tuple, list)):
        for x in v:
            tensors_in(x, out)
    elif isinstance(v, dict):
        for x in v.values():
            tensors_in(x, out)
    return out


def _is_optimizer(o) -> bool:
    try:
        from ..optim.optimizer import Optimizer
    except ImportError:  # pragma: no cover
        return False
    return isinstance(o, Optimizer)
