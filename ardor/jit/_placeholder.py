"""The deferred style: symbolic placeholders.

``a = placeholder(); b = placeholder(); c = (a**2 + b**2) ** 0.5`` computes nothing: each
operation on a placeholder returns a new deferred value recording the operation and its
operands (a DAG). Calling a deferred value feeds numbers to its placeholders (positionally,
in creation order, or by name): the DAG is run once through ``dispatch`` under the tracer,
which gives a typed IR graph for those input shapes/dtypes; it is compiled and cached, so
later calls with the same signature run the compiled graph. Errors raised at call time name
the placeholder(s) and the operation that failed.
"""
from __future__ import annotations

import dis
import itertools
import operator
import sys

import numpy as np

from .._tensor import Tensor

_counter = itertools.count()

_OPS = {
    "add": ("+", operator.add), "sub": ("-", operator.sub), "mul": ("*", operator.mul),
    "truediv": ("/", operator.truediv), "floordiv": ("//", operator.floordiv),
    "mod": ("%", operator.mod), "pow": ("**", operator.pow), "matmul": ("@", operator.matmul),
    "lt": ("<", operator.lt), "le": ("<=", operator.le), "gt": (">", operator.gt),
    "ge": (">=", operator.ge), "and": ("&", operator.and_), "or": ("|", operator.or_),
    "xor": ("^", operator.xor),
}


def _assigned_name(depth: int = 2):
    """The variable the caller stores our result into (``a = placeholder()`` -> 'a')."""
    try:
        f = sys._getframe(depth)
        for ins in dis.get_instructions(f.f_code):
            if ins.offset > f.f_lasti:  # f_lasti is the call (or its last inline cache)
                if ins.opname in ("STORE_NAME", "STORE_FAST", "STORE_GLOBAL", "STORE_DEREF"):
                    return ins.argval
                return None
    except Exception:  # noqa: BLE001 - a name is a nicety
        return None
    return None


class Placeholder:
    """A deferred value: a graph input (``placeholder()``) or an operation on others."""

    __array_priority__ = 1000  # numpy scalars on the left defer to our reflected operators

    def __init__(self, kind, name=None, fn=None, args=(), kwargs=None, label=None,
                 shape=None, dtype=None):
        self._kind = kind
        self._id = next(_counter)
        self._name = name
        self._fn = fn
        self._args = tuple(args)
        self._kwargs = dict(kwargs or {})
        self._label = label
        self._shape = tuple(shape) if shape is not None else None
        self._dtype = dtype
        self._cache: dict = {}
        self._last = None

    # -- building ---------------------------------------------------------------------------
    def _apply(self, label, fn, *args, **kwargs) -> "Placeholder":
        return Placeholder("apply", fn=fn, args=args, kwargs=kwargs, label=label)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        def method(*args, **kwargs):
            return self._apply(name, lambda t, *a, **k: getattr(t, name)(*a, **k), self,
                               *args, **kwargs)
        return method

    def __neg__(self):
        return self._apply("neg", operator.neg, self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self._apply("abs", operator.abs, self)

    def __invert__(self):
        return self._apply("invert", operator.invert, self)

    def __getitem__(self, idx):
        return self._apply("getitem", operator.getitem, self, idx)

    def __bool__(self):
        raise TypeError(f"placeholder {self._describe()} has no value until the graph is "
                        "called; Python control flow on it cannot be deferred")

    def __eq__(self, other):  # noqa: D105 - deferred comparison, like a tensor's
        return self._apply("eq", operator.eq, self, other)

    def __ne__(self, other):
        return self._apply("ne", operator.ne, self, other)

    __hash__ = object.__hash__

    # -- inputs and evaluation ----------------------------------------------------------------
    @property
    def inputs(self) -> list:
        """The placeholders this value depends on, in creation order."""
        found, seen, stack = {}, set(), [self]
        while stack:
            p = stack.pop()
            if id(p) in seen:
                continue
            seen.add(id(p))
            if p._kind == "input":
                found[p._id] = p
            for a in list(p._args) + list(p._kwargs.values()):
                if isinstance(a, Placeholder):
                    stack.append(a)
        return [found[k] for k in sorted(found)]

    @property
    def name(self) -> str:
        return self._name or f"p{self._id}"

    def _describe(self) -> str:
        return f"'{self.name}'" if self._kind == "input" else f"({self._expr()})"

    def _expr(self) -> str:
        if self._kind == "input":
            return self.name
        parts = [a._expr() if isinstance(a, Placeholder) else repr(a) for a in self._args]
        parts += [f"{k}={v._expr() if isinstance(v, Placeholder) else repr(v)}"
                  for k, v in self._kwargs.items()]
        sym = next((s for n, (s, f) in _OPS.items() if n == self._label), None)
        if sym and len(parts) == 2:
            return f"({parts[0]} {sym} {parts[1]})"
        if self._label == "neg":
            return f"(-{parts[0]})"
        if self._label and self._label.startswith("r") and self._label[1:] in _OPS:
            return f"({parts[1]} {_OPS[self._label[1:]][0]} {parts[0]})"
        return f"{self._label}({', '.join(parts)})"

    def __repr__(self) -> str:
        ins = ", ".join(p.name for p in self.inputs)
        return f"<deferred ({ins}) -> {self._expr()}>"

    def _bind(self, values, named) -> list:
        ins = self.inputs
        if len(values) > len(ins):
            raise TypeError(f"deferred graph takes {len(ins)} inputs "
                            f"({', '.join(p.name for p in ins)}) but {len(values)} were given")
        vals = {}
        for p, v in zip(ins, values):
            vals[p._id] = v
        for k, v in named.items():
            match = [p for p in ins if p.name == k]
            if not match:
                raise TypeError(f"deferred graph has no placeholder named {k!r}")
            vals[match[0]._id] = v
        missing = [p.name for p in ins if p._id not in vals]
        if missing:
            raise TypeError(f"no value given for placeholder(s) {', '.join(missing)}")
        out = []
        for p in ins:
            v = vals[p._id]
            if not isinstance(v, Tensor):
                from .._ops.creation import tensor
                try:
                    v = tensor(v)
                except Exception as e:  # noqa: BLE001
                    raise TypeError(f"placeholder '{p.name}': cannot make a tensor from "
                                    f"{type(v).__name__} ({e})") from None
            if p._shape is not None and tuple(v.shape) != p._shape:
                raise RuntimeError(f"placeholder '{p.name}' expects shape {list(p._shape)} "
                                   f"but got {list(v.shape)}")
            if p._dtype is not None and v.dtype is not p._dtype:
                raise RuntimeError(f"placeholder '{p.name}' expects dtype {p._dtype} but got "
                                   f"{v.dtype}")
            out.append(v)
        return out

    def _evaluate(self, tensors, ins):
        env = {p._id: t for p, t in zip(ins, tensors)}

        def ev(p):
            if not isinstance(p, Placeholder):
                return p
            if p._id in env:
                return env[p._id]
            args = [ev(a) for a in p._args]
            kwargs = {k: ev(v) for k, v in p._kwargs.items()}
            try:
                r = p._fn(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 - re-raised with the graph location
                names = ", ".join(f"'{q.name}'" for q in p.inputs)
                vals = "; ".join(f"{q.name}: shape {list(env[q._id].shape)} "
                                 f"{env[q._id].dtype}" for q in p.inputs)
                msg = (f"{e} [in operation '{p._label}' computing {p._expr()} from "
                       f"placeholder(s) {names} ({vals})]")
                try:
                    err = type(e)(msg)
                except Exception:  # noqa: BLE001
                    err = RuntimeError(msg)
                raise err from e
            env[p._id] = r
            return r
        return ev(self)

    def graph_for(self, *values, **named):
        """The typed IR graph for these input values (traced, cached by signature)."""
        return self._specialize(self._bind(values, named))[0].graph

    def _specialize(self, tensors):
        from ._runtime import trace_graph
        key = tuple((tuple(t.shape), t.dtype) for t in tensors)
        hit = self._cache.get(key)
        if hit is None:
            ins = self.inputs
            graph, result = trace_graph(lambda *ts: self._evaluate(ts, ins), tensors,
                                        names=[p.name for p in ins])
            hit = self._cache[key] = (_Lazy(graph), result)
            return hit[0], result
        return hit[0], None

    @property
    def graph(self):
        """The IR graph of the most recent call (None before the first call)."""
        return self._last.graph if self._last is not None else None

    def __call__(self, *values, **named):
        """Feed numbers (or tensors) to the placeholders and compute the value."""
        scalars = all(not isinstance(v, Tensor) and np.ndim(v) == 0
                      for v in list(values) + list(named.values()))
        tensors = self._bind(values, named)
        if self._kind == "input":
            r = tensors[0]
        else:
            lazy, first = self._specialize(tensors)
            self._last = lazy
            if first is not None:
                r = first  # the tracing run computed it
            else:
                from ._runtime import _wrap
                r = _wrap(lazy.compiled(*[t._data for t in tensors]))
        if scalars and isinstance(r, Tensor) and r.ndim == 0:
            return r.item()
        return r


class _Lazy:
    def __init__(self, graph):
        self.graph = graph
        self._c = None

    @property
    def compiled(self):
        if self._c is None:
            from ._runtime import CompiledGraph
            self._c = CompiledGraph(self.graph)
        return self._c


def _binop(name):
    sym, fn = _OPS[name]

    def fwd(self, other):
        return self._apply(name, fn, self, other)

    def rev(self, other):
        return self._apply("r" + name, lambda a, b: fn(b, a), self, other)
    return fwd, rev


for _n in _OPS:
    _f, _r = _binop(_n)
    setattr(Placeholder, f"__{_n}__", _f)
    if _n not in ("lt", "le", "gt", "ge"):
        setattr(Placeholder, f"__r{_n}__", _r)
setattr(Placeholder, "__and__", _binop("and")[0])
setattr(Placeholder, "__or__", _binop("or")[0])


def placeholder(name: str | None = None, shape=None, dtype=None) -> Placeholder:
    """A symbolic graph input; operations on it build a deferred graph.

    ``name`` defaults to the variable it is assigned to; optional ``shape``/``dtype`` are
    checked when the graph is called."""
    if name is None:
        name = _assigned_name()
    return Placeholder("input", name=name, shape=shape, dtype=dtype)
