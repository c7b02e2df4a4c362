"""The backward engine: an iterative walk of the graph with dependency counts.

No recursion (a 100 000-op chain is fine), each node runs once when all the gradients
flowing into it have arrived, and saved tensors are released as soon as a node has run
unless ``retain_graph``. Nodes run newest-first (by creation sequence), as torch's do.
"""
from __future__ import annotations

import heapq

from .._state import state
from .graph import AccumulateGrad


def _collect_dependencies(roots):
    deps = {}
    seen = set(roots)
    stack = list(roots)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is None:
                continue
            deps[nxt] = deps.get(nxt, 0) + 1
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return deps


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def run_backward(roots, grad_roots, retain_graph: bool, create_graph: bool,
                 capture=None, accumulate: bool = True):
    """Propagate ``grad_roots`` from ``roots`` (a list of (node, output_nr) edges).

    capture: optional dict mapping an edge (node, nr) to a slot index; the gradient reaching
    that edge is stored in the returned list instead of flowing on (``autograd.grad``). With
    ``accumulate=False`` AccumulateGrad nodes do not run (``autograd.grad`` / ``inputs=``).
    """
    from .._tensor import Tensor  # noqa: F401  (circular at import time)

    root_nodes = [n for n, _ in roots]
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
            heapq.heappush(ready, (-node._seq, id(node), node))

    prev = state.grad_enabled
    state.grad_enabled = create_graph
    try:
        while ready:
            _, _, node = heapq.heappop(ready)
            grads = buffers.pop(node, None) or [None] * node.nout
            if capture:
                for i, g in enumerate(grads):
                    slot = capture.get((node, i))
                    if slot is not None:
                        captured[slot] = _add(captured[slot], g)
            if node._pre_hooks:
                for hook in list(node._pre_hooks.values()):
                    r = hook(tuple(grads))
                    if r is not None:
                        grads = list(r)
            if node._retained:
                for i, ref in node._retained.items():
                    t = ref()
                    if t is not None and grads[i] is not None:
                        g = grads[i] if create_graph else grads[i].detach()
                        t.grad = g if t.grad is None else t.grad + g
            is_acc = type(node) is AccumulateGrad
            if all(g is None for g in grads) or (is_acc and not accumulate):
                in_grads = ()
            else:
                if state.anomaly:
                    from .anomaly_mode import run_with_anomaly_check
                    in_grads = run_with_anomaly_check(node, grads)
                else:
                    in_grads = node.apply(grads)
                if node._hooks:
                    for hook in list(node._hooks.values()):
                        r = hook(tuple(in_grads), tuple(grads))
                        if r is not None:
                            in_grads = tuple(r)
            if not retain_graph:
                node.release()
            if in_grads and node.fit_inputs:
                in_grads = _fit_to_inputs(in_grads, node.in_meta)
            for i, (nxt, nr) in enumerate(node.next_functions):
                if nxt is None:
                    continue
                g = in_grads[i] if i < len(in_grads) else None
                if g is not None:
                    buf = buffers.get(nxt)
                    if buf is None:
                        buf = buffers[nxt] = [None] * nxt.nout
                    buf[nr] = _add(buf[nr], g)
                d = deps[nxt] - 1
                deps[nxt] = d
                if d == 0:
                    heapq.heappush(ready, (-nxt._seq, id(nxt), nxt))
    finally:
        state.grad_enabled = prev
    return captured


def _fit_to_inputs(grads, in_meta):
    """Reduce broadcast gradients to each input's shape and cast to its dtype."""
    from .._ops.core import sum_to
    out = list(grads)
    for i, meta in enumerate(in_meta):
        if meta is None or i >= len(out):
            continue
        g = out[i]
        if g is None:
            continue
        shape, dt = meta
        if g.shape != shape:
            g = sum_to(g, shape)
        if g.dtype is not dt and (dt.is_floating_point or dt.is_complex):
            if g.dtype.is_complex and not dt.is_complex:
                g = g.real
            g = g.to(dt)
        out[i] = g
    return out


def accumulate_into(t, g):
    """AccumulateGrad: run the leaf's hooks, then add ``g`` into ``t.grad``."""
    if t._hooks:
        for hook in list(t._hooks.values()):
            r = hook(g)
            if r is not None:
                g = r
    if t._post_acc_hooks:
        pass
    if t.grad is None:
        if state.grad_enabled:  # create_graph: keep the graph of the gradient
            t.grad = g
        else:
            g = g.detach()
            if g._base is not None or not g._data.flags.c_contiguous or g._data.base is not None:
                g = g.clone()
            t.grad = g
    elif state.grad_enabled:
        t.grad = t.grad + g
    else:
        t.grad._data = t.grad._data + g._data if t.grad._data.shape != g._data.shape \
            else _inplace_add(t.grad, g)
    if t._post_acc_hooks:
        for hook in list(t._post_acc_hooks.values()):
            hook(t)


def _inplace_add(acc, g):
    acc._data += g._data
    acc._version[0] += 1
    return acc._data
