"""The backward engine: an iterative walk of the graph with dependency counts.

No recursion (a 100 000-op chain is fine), each node runs once when all the gradients
flowing into it have arrived, and saved tensors are released as soon as a node has run
unless ``retain_graph``. Nodes run newest-first (by creation sequence), as torch's do.

Per node, in torch's order: tensor hooks (``Tensor.register_hook``; for a leaf, its hooks
run in place of its AccumulateGrad pre-hooks), then ``retain_grad``, then capture for
``autograd.grad``, then node pre-hooks, the backward formula, node post-hooks.
"""
from __future__ import annotations

import sys
from heapq import heappop, heappush

from .._dtype import _BY_NP
from .._state import state
from .graph import _RETAINING, AccumulateGrad, sync_retained

_getrefcount = sys.getrefcount


def _collect_dependencies(roots):
    deps = {}
    seen = set(roots)
    stack = list(roots)
    pop = stack.pop
    push = stack.append
    get = deps.get
    while stack:
        for nxt, _ in pop().next_functions:
            if nxt is None:
                continue
            deps[nxt] = get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                push(nxt)
    return deps


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def _checked(hook, old, new):
    """torch's checks on what a tensor hook returned."""
    from .._tensor import Tensor
    if not isinstance(new, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(new).__name__}'")
    name = getattr(hook, "__name__", type(hook).__name__)
    if new._data.shape != old._data.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value")
    if new._data.dtype != old._data.dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value (was "
                           f"ardor.{old.dtype._torch_name}Tensor got "
                           f"ardor.{new.dtype._torch_name}Tensor)")
    return new


def _tensor_hooks(node, grads):
    """Tensor-level hooks of a node's outputs (or of an AccumulateGrad's leaf)."""
    if type(node) is AccumulateGrad:
        t = node.variable
        hooks = t._hooks
        if hooks and grads[0] is not None:
            g = grads[0]
            for hook in list(hooks.values()):
                r = hook(g)
                if r is not None:
                    g = _checked(hook, g, r)
            grads = [g]
        return grads
    if node._tensor_hooks:
        grads = list(grads)
        for nr, hook in list(node._tensor_hooks.values()):
            g = grads[nr]
            if g is not None:
                r = hook(g)
                if r is not None:
                    grads[nr] = _checked(hook, g, r)
    if node._retained:
        create = state.grad_enabled
        for i, ref in node._retained.items():
            t = ref()
            if t is not None and grads[i] is not None:
                g = grads[i]
                if t._grad is None:
                    t._grad = g if create else g.detach().clone()
                else:
                    t._grad = t._grad + g
    return grads


def _executable(root_nodes, targets, accumulate):
    """Nodes that must run to deliver gradients to ``targets`` (torch's exec_info): the
    ancestors of a target, plus the targets that are AccumulateGrad nodes when
    accumulating (``backward(inputs=...)``)."""
    parents: dict = {}
    seen = set(root_nodes)
    stack = list(root_nodes)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            p = parents.get(nxt)
            if p is None:
                parents[nxt] = [node]
            else:
                p.append(node)
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    exe = set()
    stack = [t for t in targets if t in seen]
    while stack:
        for p in parents.get(stack.pop(), ()):
            if p not in exe:
                exe.add(p)
                stack.append(p)
    if accumulate:  # backward(inputs=...): the inputs' own nodes run too, as in torch
        exe.update(targets)
    deps: dict = {}
    wanted = exe | set(targets)
    for node in exe:
        for nxt, _ in node.next_functions:
            if nxt is not None and nxt in wanted:
                deps[nxt] = deps.get(nxt, 0) + 1
    return exe, wanted, deps


def run_backward(roots, grad_roots, retain_graph: bool, create_graph: bool,
                 capture=None, accumulate: bool = True, targets=None):
    """Propagate ``grad_roots`` from ``roots`` (a list of (node, output_nr) edges).

    capture: optional dict mapping an edge (node, nr) to a slot index; the gradient reaching
    that edge is stored in the returned list (``autograd.grad``). targets: nodes to deliver
    gradients to (``backward(inputs=...)``). With either, only the nodes on paths to them run.
    ``accumulate=False``: AccumulateGrad nodes do not run.
    """
    if _RETAINING:
        sync_retained()
    root_nodes = [n for n, _ in roots]
    exe = wanted = None
    if capture or targets:
        tset = set(targets or ())
        if capture:
            tset.update(n for n, _ in capture)
        exe, wanted, deps = _executable(root_nodes, tset, accumulate)
    else:
        deps = _collect_dependencies(root_nodes)
    buffers: dict = {}
    for (node, nr), g in zip(roots, grad_roots):
        buf = buffers.get(node)
        if buf is None:
            buf = buffers[node] = [None] * node.nout
        buf[nr] = _add(buf[nr], g)
    captured = [None] * (len(capture) if capture else 0)
    ready = []
    for node in dict.fromkeys(root_nodes):
        if deps.get(node, 0) == 0:
            heappush(ready, (-node._seq, id(node), node))

    anomaly = state.anomaly
    prev = state.grad_enabled
    state.grad_enabled = create_graph
    try:
        while ready:
            node = heappop(ready)[2]
            grads = buffers.pop(node, None) or [None] * node.nout
            is_acc = type(node) is AccumulateGrad
            hooked = node._any_hooks  # one flag for the rarely-set hook dicts
            if hooked or is_acc:
                grads = _tensor_hooks(node, grads)
            if capture:
                for i, g in enumerate(grads):
                    slot = capture.get((node, i))
                    if slot is not None:
                        captured[slot] = _add(captured[slot], g)
            if exe is not None and node not in exe:
                continue  # only captured: node pre-hooks do not run (torch's exec_info)
            if hooked and node._pre_hooks:
                for hook in list(node._pre_hooks.values()):
                    r = hook(tuple(grads))
                    if r is not None:
                        grads = list(r)
                    del r
            if is_acc:
                if accumulate and grads[0] is not None:
                    g = grads[0]
                    if hooked and node._hooks:
                        accumulate_into(node.variable, g)
                        for hook in list(node._hooks.values()):
                            hook((), tuple(grads))
                    else:
                        del grads
                        accumulate_into(node.variable, g, 3)
                    del g
                continue
            in_grads = ()
            buf = old = None
            for g in grads:
                if g is not None:
                    if anomaly:
                        from .anomaly_mode import run_with_anomaly_check
                        in_grads = run_with_anomaly_check(node, grads)
                    else:
                        in_grads = node.apply(grads)
                    if hooked and node._hooks:
                        for hook in list(node._hooks.values()):
                            r = hook(tuple(in_grads), tuple(grads))
                            if r is not None:
                                in_grads = tuple(r)
                            del r
                    break
            del grads
            if not retain_graph:
                node.release()
            if in_grads and node.fit_inputs:
                in_grads = _fit_to_inputs(in_grads, node.in_meta)
            n_in = len(in_grads)
            for i, (nxt, nr) in enumerate(node.next_functions):
                if nxt is None or wanted is not None and nxt not in wanted:
                    continue
                if i < n_in:
                    g = in_grads[i]
                    if g is not None:
                        buf = buffers.get(nxt)
                        if buf is None:
                            buf = buffers[nxt] = [None] * nxt.nout
                        old = buf[nr]
                        buf[nr] = g if old is None else old + g
                d = deps[nxt] - 1
                deps[nxt] = d
                if d == 0:
                    heappush(ready, (-nxt._seq, id(nxt), nxt))
            # drop loop references, so the refcount test in accumulate_into sees only ours
            in_grads = g = buf = old = None
    finally:
        state.grad_enabled = prev
    return captured


_sum_to = None


def _fit_to_inputs(grads, in_meta):
    """Reduce broadcast gradients to each input's shape and cast to its dtype."""
    global _sum_to
    out = None
    n = len(grads)
    for i, meta in enumerate(in_meta):
        if meta is None or i >= n:
            continue
        g = grads[i]
        if g is None:
            continue
        shape, dt = meta
        arr = g._data
        if arr.shape == shape and _BY_NP[arr.dtype] is dt:
            continue  # the common case: nothing to do
        if arr.shape != shape:
            if _sum_to is None:
                from .._ops.core import sum_to as _st
                _sum_to = _st
            g = _sum_to(g, shape)
        if g.dtype is not dt and (dt.is_floating_point or dt.is_complex):
            if g.dtype.is_complex and not dt.is_complex:
                g = g.real
            g = g.to(dt)
        if out is None:
            out = list(grads)
        out[i] = g
    return grads if out is None else out


# References to a gradient tensor that the engine itself holds when it calls
# accumulate_into from run_backward: its local, this function's parameter and
# sys.getrefcount's argument (for the array: g's slot, the local ``arr`` and the argument). Anything above means someone else (a user variable, another
# pending buffer, a sibling leaf, a retained .grad) holds it, so it must be copied.
_ENGINE_REFS = 3


def accumulate_into(t, g, engine_refs: int = 0):
    """AccumulateGrad: add ``g`` into ``t.grad`` (leaf tensor hooks have already run), then
    run the leaf's post-accumulate hooks.

    The first gradient is stolen (no copy) when nothing else can see it — torch's refcount
    rule — so that two leaves' ``.grad`` never share memory and a user's tensor is never
    adopted; otherwise it is cloned.
    """
    if state.grad_enabled:  # create_graph: differentiable accumulation
        t._grad = g.clone() if t._grad is None else t._grad + g
    elif t._grad is None:
        arr = g._data
        if (engine_refs and g.grad_fn is None
                and _getrefcount(g) <= engine_refs
                and _getrefcount(arr) <= 3
                and type(arr).__name__ == "ndarray"
                and (g._base is None and arr.base is None
                     # or a contiguous view spanning a whole storage that only it can reach
                     # (a transpose's gradient): the root tensor is held by g._base alone,
                     # its array by the root and the view alone
                     or g._base is not None and arr.base is not None
                     and arr.base is g._base._data and arr.base.base is None
                     and arr.base.size == arr.size
                     and _getrefcount(g._base) <= 2 and _getrefcount(arr.base) <= 3)
                and arr.flags.c_contiguous and arr.flags.writeable
                and arr.dtype == t._data.dtype and arr.shape == t._data.shape):
            from .._tensor import _make
            t._grad = _make(arr)
        else:
            t._grad = g.detach().clone()
    else:
        acc = t._grad
        if acc._data.shape == g._data.shape and acc._data.flags.writeable:
            # in place, as torch does (a tensor held from an earlier .grad sees the sum)
            if state.tracer is not None:  # through dispatch: a trace records the sum
                from .._ops.dispatch import dispatch_inplace
                from .._ops.registry import OPS
                dispatch_inplace(OPS["add"], acc, (g,), {})
            else:
                acc._data += g._data
                acc._version[0] += 1
        else:
            t._grad = acc + g
    if t._post_acc_hooks:
        for hook in list(t._post_acc_hooks.values()):
            hook(t)
