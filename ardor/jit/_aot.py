"""A compiled forward with a compiled backward: ``model = ardor.compile(model)`` in training.

When a compiled function's outputs require grad and no backward runs inside it (a model's
forward, differentiated by the caller), the trace goes on past the forward: the autograd
engine runs ``autograd.grad(outputs, parameters and inputs, grad_outputs)`` under the tracer
with the output gradients as graph inputs, so the backward formulas of the op table become
nodes of the same (joint) graph. The joint graph is then split:

* the forward graph computes the outputs, the state writes (BatchNorm's running stats), and
  every forward value the backward reads (the "saved" values);
* the backward graph takes the output gradients and the saved values and returns the
  gradients of the parameters and inputs.

Each later call runs the compiled forward inside a custom autograd ``Function`` whose
backward runs the compiled backward graph: autograd then accumulates the parameters'
``.grad`` as it would for eager code.
"""
from __future__ import annotations

import numpy as np

from .._tensor import Tensor, _make
from ..autograd.function import Function
from ._ir import Graph, map_nodes


def split(joint: Graph, n_in: int) -> tuple:
    """(forward graph, backward graph) of a joint graph whose first
    ``n_in`` placeholders are the forward inputs, the rest the output gradients, and whose
    output is ``(result, gradients)``."""
    phs = joint.placeholders
    gouts = {id(p) for p in phs[n_in:]}
    back = set(gouts)
    for n in joint.nodes:
        if n.kind != "placeholder" and any(id(a) in back for a in n.inputs):
            back.add(id(n))
    result, grads = joint.output_node.args[0]
    # forward values the backward reads (parameters are re-read there: get_attr)
    saved: dict = {}    # id -> node, in first-use order
    readers = [a for n in joint.nodes if id(n) in back and n.kind != "output"
               for a in n.inputs] + _nodes(grads)  # (a gradient may not need the outputs')
    for a in readers:
        if id(a) not in back and a.kind != "get_attr":
            saved.setdefault(id(a), a)
    saved = list(saved.values())

    fwd = Graph()
    fm: dict = {}
    for n in joint.nodes:
        if id(n) in back or n.kind == "output":
            continue
        if n.kind == "placeholder":
            fm[id(n)] = fwd.placeholder(n.target, *(n.meta or (None, None)))
        elif n.kind == "get_attr":
            fm[id(n)] = fwd.get_attr(n.target, joint.tensors[n.target])
        else:
            fm[id(n)] = fwd.node_copy(n, lambda a: fm[id(a)])
    fwd.consts = {t for t in joint.consts if t in fwd.tensors}
    fwd.mutations = [(t, fm[id(v)]) for t, v in joint.mutations]
    fwd.output((map_nodes(result, lambda a: fm[id(a)]), tuple(fm[id(s)] for s in saved)))

    bwd = Graph()
    bm: dict = {}
    for p in phs[n_in:]:
        bm[id(p)] = bwd.placeholder(p.target, *(p.meta or (None, None)))
    for i, s in enumerate(saved):
        bm[id(s)] = bwd.placeholder(f"saved{i}", *(s.meta or (None, None)))
    for n in joint.nodes:
        if n.kind == "get_attr":
            bm[id(n)] = bwd.get_attr(n.target, joint.tensors[n.target])
        elif id(n) in back and n.kind not in ("placeholder", "output"):
            bm[id(n)] = bwd.node_copy(n, lambda a: bm[id(a)])
    bwd.consts = {t for t in joint.consts if t in bwd.tensors}
    bwd.output(tuple(None if g is None else bm[id(g)] for g in grads))
    from ._passes import dce
    return fwd.verify(), dce(bwd).verify()


def _nodes(v):
    out = []
    map_nodes(v, out.append)
    return out


class Compiled:
    """The compiled forward and backward of one signature. ``wrt``: the parameters whose
    gradients the backward returns (then those of the arguments at ``arg_grad``)."""

    def __init__(self, fwd, bwd, wrt: list, arg_grad: list, out_spec, diff: list, backend):
        from ._runtime import CompiledGraph
        self.fwd = CompiledGraph(fwd, backend)
        self.bwd = CompiledGraph(bwd, backend)
        self.wrt, self.arg_grad = wrt, arg_grad
        self.out_spec = out_spec    # the result's structure, tensors as slots
        self.diff = diff            # which tensor slots are differentiable outputs

    def __call__(self, args):
        targs = [a for a in args if isinstance(a, Tensor)]
        outs = CompiledForward.apply(self, [a._data for a in targs], *self.wrt, *targs)
        return _rebuild(self.out_spec, outs if isinstance(outs, tuple) else (outs,))


def _slots(spec, value, out):
    """The arrays of ``value`` (the compiled graph's result) at the tensor slots of
    ``spec``, in order."""
    if spec == "T":
        out.append(np.asarray(value))
    elif spec[0] in ("tuple", "list"):
        for s, v in zip(spec[1], value):
            _slots(s, v, out)
    elif spec[0] == "dict":
        for k, s in spec[1]:
            _slots(s, value[k], out)
    return out


def _rebuild(spec, outs):
    it = iter(outs)

    def go(s):
        if s == "T":
            return next(it)
        if s[0] == "tuple":
            return tuple(go(x) for x in s[1])
        if s[0] == "list":
            return [go(x) for x in s[1]]
        if s[0] == "dict":
            return {k: go(v) for k, v in s[1]}
        return s[1]
    return go(spec)


def spec_of(v):
    """The result's structure with its tensors replaced by slots ("T")."""
    if isinstance(v, Tensor):
        return "T"
    if isinstance(v, tuple):
        return ("tuple", tuple(spec_of(x) for x in v))
    if isinstance(v, list):
        return ("list", tuple(spec_of(x) for x in v))
    if isinstance(v, dict):
        return ("dict", tuple((k, spec_of(x)) for k, x in v.items()))
    return ("const", v)


class CompiledForward(Function):
    """One compiled forward; its backward runs the compiled backward graph."""

    @staticmethod
    def forward(ctx, comp, arrays, *tensors):
        res, saved = comp.fwd(*arrays)
        outs = [_make(a) for a in _slots(comp.out_spec, res, [])]
        ctx.comp = comp
        # saved as tensors: autograd frees them after a backward without retain_graph
        ctx.save_for_backward(*[_make(np.asarray(a)) for a in saved])
        ctx.n_tensors = len(tensors)
        nondiff = [o for i, o in enumerate(outs) if not comp.diff[i]]
        if nondiff:
            ctx.mark_non_differentiable(*nondiff)
        return tuple(outs) if len(outs) != 1 else outs[0]

    @staticmethod
    def backward(ctx, *gouts):
        comp = ctx.comp
        g = [gouts[i]._data for i, d in enumerate(comp.diff) if d]
        grads = comp.bwd(*g, *[t._data for t in ctx.saved_tensors])
        grads = [None if x is None else _make(np.asarray(x)) for x in grads]
        nw = len(comp.wrt)
        per_arg = [None] * (ctx.n_tensors - nw)
        for j, i in enumerate(comp.arg_grad):
            per_arg[i] = grads[nw + j]
        return (None, None, *grads[:nw], *per_arg)
