"""Compiled graphs, traced callables and traced modules."""
from __future__ import annotations

import warnings

import numpy as np

from .._state import state
from .._tensor import Tensor, _make
from ._codegen import generate, interpret
from ._ir import Graph
from ._saveable import Saveable
from ._trace import Tracer, TracerWarning, state_tensors


class CompiledGraph:
    """A graph optimized (simplify, fold, CSE, DCE, fusion), kernels built, memory planned,
    and its runner generated. ``cg(*arrays)`` returns arrays (the output structure)."""

    def __init__(self, graph: Graph, backend: str = "auto", optimize: bool = True,
                 plan: bool = True):
        from ._kernels import build_kernel
        from ._passes import optimize as _opt
        from ._passes import plan_memory
        from ._passes.memory import make_buffers
        graph.verify()
        self.source_graph = graph
        g = _opt(graph, fusion=backend != "none") if optimize else graph.copy()
        g.verify()
        self.graph = g
        self.kernels = {}
        for n in g.nodes:
            if n.kind == "fused":
                self.kernels[id(n)] = build_kernel(n, "numpy" if backend == "none" else backend)
        self.plan = plan_memory(g) if plan else None
        self.buffers = make_buffers(g, self.plan) if plan else {}
        self.epilogues = _epilogues(g, self.kernels, self.plan) \
            if backend not in ("none", "numpy") else {}
        self.gen = generate(g, self.kernels, self.plan, epilogues=self.epilogues)
        self.fn = self.gen.fn
        self.tensors = g.tensors

    @property
    def code(self) -> str:
        return self.gen.source

    def __call__(self, *arrays):
        with np.errstate(all="ignore"):
            return self.fn(self.tensors, self.buffers, *arrays)


def _epilogues(g: Graph, kernels: dict, plan) -> dict:
    """id(first node) -> (group, runner) for the nodes that run with their readers in one C
    call: products whose elementwise readers run as the C GEMM's epilogue (where that GEMM
    serves this machine), and column sums with theirs (``_column_sums``)."""
    from .._ops import _gemm
    from . import _column_sums, _epilogue
    from ._codegen import _inplace_mutations
    inplace = _inplace_mutations(g, plan)
    out = {}
    for grp in _epilogue.find(g, inplace) if _gemm.enabled() else ():
        M, N = grp.gemm.meta[0]
        if not _gemm._fits(M, N, grp.lead[0].meta[0][1]):
            continue
        runner = _epilogue.Runner(grp, kernels)
        if runner.fn is not None:
            out[id(grp.gemm)] = (grp, runner)
    taken = {id(m) for grp, _ in out.values() for m in grp.members}
    for grp in _column_sums.find(g, inplace, taken):
        runner = _column_sums.Runner(grp, kernels)
        if runner.fn is not None:
            out[id(grp.root)] = (grp, runner)
    return out


def _arr(x):
    if isinstance(x, Tensor):
        return x._data
    return np.asarray(x)


def _wrap(r):
    if isinstance(r, np.ndarray):
        return _make(r)
    if isinstance(r, np.generic):
        return _make(np.asarray(r))
    if isinstance(r, tuple):
        return tuple(_wrap(x) for x in r)
    if isinstance(r, list):
        return [_wrap(x) for x in r]
    if isinstance(r, dict):
        return {k: _wrap(v) for k, v in r.items()}
    return r


def _sig(inputs):
    return tuple((tuple(t.shape), t.dtype) if isinstance(t, Tensor) else ("py", type(t), t)
                 for t in inputs)


def _flatten_inputs(inputs):
    if isinstance(inputs, Tensor):
        return (inputs,)
    return tuple(inputs)


def trace_graph(fn, inputs, state_objs=(), names=None, grad: bool = False):
    """Run ``fn(*inputs)`` under a tracer; return (graph, eager result)."""
    from ..autograd.grad_mode import no_grad, enable_grad
    tracer = Tracer(state_names=state_tensors(*state_objs))
    live = _live_state(state_objs)
    versions = {k: t._version[0] for k, t in live.items()}
    seen, fresh = set(), []
    for t in inputs:  # the same tensor given twice: two inputs that alias one storage
        if isinstance(t, Tensor) and id(t) in seen:
            a = _make(t._data)
            a._version = t._version
            t = a
        seen.add(id(t))
        fresh.append(t)
    inputs = tuple(fresh)
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor):
            tracer.input(t, names[i] if names else f"x{i}" if len(inputs) > 1 else "x")
    ctx = enable_grad() if grad else no_grad()
    with ctx, tracer:
        result = fn(*inputs)
    tracer.finish(result)
    mutated = {t for t, _ in tracer.graph.mutations}
    for k, t in live.items():
        if t._version[0] != versions[k] and k not in mutated:
            warnings.warn(f"{k} was modified outside the recorded ops (e.g. BatchNorm running "
                          "statistics in training mode); the trace does not replay the "
                          "modification. Call .eval() before tracing.", TracerWarning,
                          stacklevel=3)
            break
    return tracer.graph.verify(), result


def _live_state(objs) -> dict:
    from ..nn.modules.module import Module
    out = {}
    for o in objs:
        if isinstance(o, Module):
            for n, t in list(o.named_parameters()) + list(o.named_buffers()):
                out.setdefault(n, t)
    return out


def _param_names(fn):
    import inspect
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    names = [p.name for p in sig.parameters.values()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return names


def _compare(a, b, path="output"):
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        x, y = a._data, b._data
        if x.shape != y.shape or x.dtype != y.dtype:
            return f"{path}: shape/dtype {tuple(x.shape)} {x.dtype} vs {tuple(y.shape)} {y.dtype}"
        if x.dtype.kind in "fc":
            if not np.allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True):
                return f"{path}: values differ (max abs diff {np.nanmax(np.abs(x - y))})"
        elif not np.array_equal(x, y):
            return f"{path}: values differ"
        return None
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            r = _compare(x, y, f"{path}[{i}]")
            if r:
                return r
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a:
            r = _compare(a[k], b.get(k), f"{path}[{k!r}]")
            if r:
                return r
        return None
    return None if a == b else f"{path}: {a!r} vs {b!r}"


class TracedFunction(Saveable):
    """A traced callable: ``graph`` (as recorded), ``code`` (the generated runner), and a
    call that runs the compiled graph (or the eager interpreter when gradients are needed
    or the input shapes/dtypes differ from the trace)."""

    def __init__(self, fn, graph: Graph, example_inputs, backend="auto"):
        self._fn = fn
        self.graph = graph
        self._sig = _sig(example_inputs)
        self._backend = backend
        self._compiled = None
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)

    @property
    def compiled(self) -> CompiledGraph:
        if self._compiled is None:
            self._compiled = CompiledGraph(self.graph, self._backend)
        return self._compiled

    @property
    def code(self) -> str:
        """Python source of the generated runner (of the optimized graph)."""
        return self.compiled.code

    def _needs_grad(self, inputs) -> bool:
        if not state.grad_enabled:
            return False
        if any(isinstance(t, Tensor) and t._requires_grad for t in inputs):
            return True
        return any(t._requires_grad for t in self.graph.tensors.values())

    def __call__(self, *inputs):
        tensors = [t for t in inputs if isinstance(t, Tensor)]
        if self._needs_grad(tensors) or _sig(inputs) != self._sig or state.tracer is not None:
            return interpret(self.graph, *tensors)
        return _wrap(self.compiled(*[t._data for t in tensors]))


def _module_base():
    from ..nn.modules.module import Module
    return Module


class TracedModule(Saveable, _module_base()):
    """A traced ``Module``: shares parameters and buffers with the original (which it holds
    as ``original``); ``graph``, ``code``, and calls run the compiled graph."""

    def __init__(self, module, graph: Graph, example_inputs, backend="auto"):
        super().__init__()
        self.original = module
        object.__setattr__(self, "_traced", TracedFunction(module, graph, example_inputs,
                                                           backend))
        self.training = module.training

    @property
    def graph(self) -> Graph:
        return self._traced.graph

    @property
    def code(self) -> str:
        return self._traced.code

    def forward(self, *inputs):
        return self._traced(*inputs)


def trace(fn_or_module, example_inputs, check_trace: bool = True, *, backend: str = "auto",
          check_tolerance: float | None = None):
    """Record the ops one run of ``fn_or_module(*example_inputs)`` executes into a graph.

    Returns a :class:`TracedFunction` (or a :class:`TracedModule` for a Module) exposing
    ``.graph`` and ``.code``. Python control flow is frozen to the path taken; a
    :class:`TracerWarning` is issued where the result may not generalize. With
    ``check_trace`` the compiled trace is re-run on the example inputs and compared with
    the eager result."""
    inputs = _flatten_inputs(example_inputs)
    for i, a in enumerate(inputs):
        if not isinstance(a, Tensor):  # its value would be baked into the graph
            raise TypeError(f"Type '{type(a).__name__}' cannot be traced (example input {i}). "
                            "Only tensors can be traced; use ardor.jit.script for Python "
                            "values")
    Module = _module_base()
    is_mod = isinstance(fn_or_module, Module)
    fwd = fn_or_module.forward if is_mod else fn_or_module
    names = _param_names(fwd)
    if names and len(names) >= len(inputs):
        names = names[:len(inputs)]
    else:
        names = None
    graph, result = trace_graph(fn_or_module, inputs, (fn_or_module,), names)
    if is_mod:
        out = TracedModule(fn_or_module, graph, inputs, backend)
        tf = out._traced
    else:
        out = tf = TracedFunction(fn_or_module, graph, inputs, backend)
    if check_trace:
        from ..autograd.grad_mode import no_grad
        with no_grad():  # torch re-runs both the trace and the Python function
            again = tf(*inputs)
            fresh = fn_or_module(*inputs)
        diff = _compare(again, result) or _compare(again, fresh)
        if diff:
            warnings.warn(f"Output of the traced function does not match the corresponding "
                          f"output of the Python function ({diff}). The trace may be "
                          "nondeterministic or depend on data.", TracerWarning, stacklevel=2)
    return out


def grad(fn, example_inputs, argnums=0):
    """A traced function computing the gradients of ``fn(*inputs)`` (summed when not a
    scalar) with respect to the inputs at ``argnums`` (int or tuple). The backward graph
    is built from the op table's backward formulas: the autograd engine runs them through
    ``dispatch`` under the tracer, so they become ordinary IR nodes (and are optimized and
    fused like the forward ones)."""
    inputs = _flatten_inputs(example_inputs)
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)

    def grads(*xs):
        from ..autograd import grad as _grad
        leaves = []
        for i, x in enumerate(xs):
            if i in nums:
                x = x.detach().requires_grad_(True)
            leaves.append(x)
        out = fn(*leaves)
        if out.ndim:
            out = out.sum()
        gs = _grad(out, [leaves[i] for i in nums])
        return gs[0] if isinstance(argnums, int) else tuple(gs)

    graph, _ = trace_graph(grads, inputs, (fn,), grad=True)
    return TracedFunction(grads, graph, inputs)
