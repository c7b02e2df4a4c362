"""Straight-line tensor code of scripted graphs, compiled for the inputs it meets.

A scripted graph is untyped: its ``pycall`` nodes call the public functions, whose inputs
may be tensors of any shape or Python values. Where a region holds a run of calls that
only compute tensors from their arguments (operators, ardor functions, tensor methods),
the generated runner (``_script_run``) calls that run's :class:`Segment` first: as
torch's profiling executor does, a segment that has met the same input signature (shapes
and dtypes of its tensors, values of its Python numbers) twice traces the calls on those
inputs through the dispatch door and compiles the trace as any traced graph
(:class:`CompiledGraph`: elementwise fusion into C kernels, GEMM epilogues, memory
planning). Later calls with that signature run the compiled graph; any other input, a
trace that would not generalize (a ``TracerWarning``: data turned into Python values), a
result that is not a tensor, or more than ``MAX_VARIANTS`` signatures, and the runner
runs the calls one by one as before (the segment answers None).
"""
from __future__ import annotations

import operator
import warnings

import numpy as np

from .._tensor import Tensor, _make
from ._ir import Graph, Node
from ._script_ops import _BIN, _CMP, pure_call

# Python operators a segment may hold (identity and membership tests, ``not`` and
# containers stay Python)
_TENSOR_OPERATORS = (set(_BIN.values()) | {_CMP[k] for k in _CMP if _CMP[k] not in (
    operator.is_, operator.is_not) and _CMP[k].__name__ not in ("_in", "_not_in")}
    | {operator.neg, operator.pos, operator.invert, operator.getitem})
_NUMBERS = (int, float, bool)


def tensor_call(node: Node) -> bool:
    """Can ``node`` join a segment: a pure call of an operator, an ardor function or a
    tensor method (which, on tensors, computes a tensor)?"""
    if node.kind != "pycall":
        return False
    fn = node.attrs["fn"]
    a, kw = node.args
    if not pure_call(fn, kw):
        return False
    if getattr(fn, "_method", None):
        return True
    try:
        if fn in _TENSOR_OPERATORS:
            return True
    except TypeError:
        return False
    mod = getattr(fn, "__module__", None) or ""
    return mod.startswith("ardor.") and not mod.startswith("ardor.jit")


class Segment:
    """One run of tensor calls: ``seg(*values)`` gives its outputs (Tensors) from a graph
    compiled for these inputs' signature, or None where the runner runs the calls itself."""

    MAX_VARIANTS = 4
    WARMUP = 2     # calls with one signature before it is compiled
    MAX_SEEN = 64  # signatures counted at once (a number that changes on every call
    #                would otherwise grow the counts without end)

    def __init__(self, graph: Graph):
        self.graph = graph      # placeholders: the run's inputs; output: a tuple
        self.variants: dict = {}   # signature -> CompiledGraph, or False (not compilable)
        self.seen: dict = {}

    def __call__(self, *values):
        key = []
        for v in values:
            if isinstance(v, Tensor):   # (parameters too)
                a = v._data
                if type(a) is not np.ndarray:
                    return None
                key.append((a.shape, a.dtype.char, a.strides))
            elif type(v) in _NUMBERS:
                key.append((type(v), v))
            else:
                return None
        key = tuple(key)
        v = self.variants.get(key)
        if v is None:
            if len(self.variants) >= self.MAX_VARIANTS:
                return None
            if len(self.seen) >= self.MAX_SEEN:   # signatures met once each: start over
                self.seen.clear()
            n = self.seen[key] = self.seen.get(key, 0) + 1
            if n < self.WARMUP:
                return None
            v, result = self._specialize(values)
            self.variants[key] = v
            return result
        if v is False:
            return None
        cg, alias = v
        arrays = [x._data for x in values if isinstance(x, Tensor)]
        res = []
        for o, j in zip(cg(*arrays), alias):
            if j is not None:   # eager gave the input itself
                res.append(values[j])
                continue
            if any(o is a for a in arrays) or any(o is r._data for r in res):
                o = o.copy()    # an identity the passes removed, or two merged values
            res.append(_make(o))
        return tuple(res)

    def _specialize(self, values):
        """Trace the run on ``values`` and compile it: ((CompiledGraph, which outputs are
        inputs) or False, this call's outputs or None)."""
        from ._runtime import CompiledGraph, trace_graph
        from ._script_run import ScriptRunner
        from ._trace import TracerWarning
        pos = [i for i, v in enumerate(values) if isinstance(v, Tensor)]
        plain = ScriptRunner(self.graph, "segment", fuse=False)

        def run(*tensors):
            vals = list(values)
            for i, t in zip(pos, tensors):
                vals[i] = t
            return plain(*vals)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", TracerWarning)
                g, result = trace_graph(run, [values[i] for i in pos])
        except Exception:  # noqa: BLE001 - the runner runs the calls and raises their error
            return False, None
        if not all(isinstance(r, Tensor) for r in result):
            return False, None
        alias = tuple(next((i for i, v in enumerate(values) if v is r), None) for r in result)
        try:
            v = CompiledGraph(g), alias
        except Exception:  # noqa: BLE001 - compiled or not, the values are right
            v = False
        return v, tuple(result)
