"""Memory planning: intermediates reuse buffers whose lifetime ended.

Every intermediate's lifetime runs from the node that makes it to its last reader; a value
that a view-like reader may alias lives as long as that alias. The runner frees each
intermediate right after its last use (``del``), and fused kernels write into preallocated
buffers assigned by a linear scan (a dead buffer of enough bytes is reused). The report
gives peak intermediate bytes without reuse (everything held to the end, as a naive
runner does) and with the plan.
"""
from __future__ import annotations

import numpy as np

from ... import _dtype as D
from .._ir import Graph

# ops whose forward always returns a fresh array (never an alias of an input)
FRESH = {"mm", "matmul", "addmm", "bmm", "baddbmm", "conv_nd", "max_pool_nd", "avg_pool_nd",
         "batch_norm", "layer_norm", "softmax", "log_softmax", "sum", "mean", "cat", "stack",
         "linalg_vector_norm", "amax", "amin", "var", "std", "gelu", "softplus", "mish",
         "log_sigmoid", "cross_entropy_idx", "nll_loss_nd", "embedding", "pad_nd", "clone",
         "adaptive_max_pool_nd", "rms_norm", "index_select", "gather", "where"}


def _nbytes(meta) -> int:
    if meta is None or not meta:
        return 0
    if not isinstance(meta[1], D.dtype):
        return sum(_nbytes(m) for m in meta)
    shape, dt = meta
    return int(np.prod(shape)) * dt.itemsize if shape else dt.itemsize


class MemoryPlan:
    """Result of :func:`plan_memory`."""

    def __init__(self, assign, sizes, peak_before, peak_after):
        self.assign = assign            # id(fused node) -> buffer index
        self.buffer_sizes = sizes       # bytes per buffer
        self.peak_before = peak_before  # peak intermediate bytes with no reuse
        self.peak_after = peak_after    # peak intermediate bytes with the plan

    def report(self) -> str:
        return (f"peak intermediate bytes: {self.peak_before} before, {self.peak_after} after "
                f"planning ({len(self.buffer_sizes)} reusable buffers, "
                f"{sum(self.buffer_sizes)} bytes)")

    def __repr__(self):
        return f"<MemoryPlan {self.report()}>"


def _aliases(n) -> bool:
    """May ``n``'s output alias one of its inputs?"""
    if n.kind == "fused":
        return False
    if n.kind == "call":
        return n.op.view or n.op.name not in FRESH and n.op.expr is None
    return n.kind in ("getitem", "output")


def plan_memory(graph: Graph) -> MemoryPlan:
    """Lifetimes, buffer assignment for fused outputs, and the peak-bytes report."""
    nodes = graph.nodes
    end = len(nodes)
    last = {}
    for i, n in enumerate(nodes):
        for a in n.inputs:
            last[id(a)] = end if n.kind == "output" else i
    for _, v in graph.mutations:
        last[id(v)] = end
    # extend lifetimes through aliasing readers (walk backwards so chains propagate)
    root = {}
    for n in nodes:
        if _aliases(n) and n.kind != "output":
            for a in n.inputs:
                r = root.get(id(a), id(a))
                root[id(n)] = r
                break
    life_end = dict(last)
    for n in reversed(nodes):
        r = root.get(id(n))
        if r is not None:
            life_end[r] = max(life_end.get(r, 0), life_end.get(id(n), 0))
    inter = [(i, n) for i, n in enumerate(nodes)
             if n.kind in ("call", "fused", "if", "loop") and id(n) not in root]
    peak_before = sum(_nbytes(n.meta) for _, n in inter)
    # simulate the planned run
    live, peak_after = 0, 0
    frees: dict = {}
    for i, n in inter:
        live += _nbytes(n.meta)
        peak_after = max(peak_after, live)
        e = life_end.get(id(n), i)
        frees.setdefault(max(e, i), []).append(_nbytes(n.meta))
        for j in list(frees):
            if j <= i:
                live -= sum(frees.pop(j))
    # buffers for fused nodes whose value does not escape (outputs and aliases escape)
    assign, sizes, free_bufs = {}, [], []
    release: dict = {}
    for i, n in enumerate(nodes):
        for b in release.pop(i, []):
            free_bufs.append(b)
        if n.kind != "fused":
            continue
        e = life_end.get(id(n), i)
        if e >= end:
            continue
        need = _nbytes(n.meta)
        best = None
        for b in free_bufs:
            if sizes[b] >= need and (best is None or sizes[b] < sizes[best]):
                best = b
        if best is None:
            sizes.append(need)
            best = len(sizes) - 1
        else:
            free_bufs.remove(best)
        assign[id(n)] = best
        release.setdefault(e + 1, []).append(best)
    return MemoryPlan(assign, sizes, peak_before, peak_after)


def make_buffers(graph: Graph, plan: MemoryPlan) -> list:
    """name -> preallocated array per planned node (views into the shared byte buffers)."""
    from ..._ops._gemm import empty
    # 64-byte aligned, as the C kernels' vector loads want (numpy guarantees 16)
    raw = [empty(np, (max(s, 1),), np.uint8) for s in plan.buffer_sizes]
    out = {}
    for n in graph.nodes:
        b = plan.assign.get(id(n))
        if b is not None:
            shape, dt = n.meta
            cnt = int(np.prod(shape)) if shape else 1
            out[n.name] = raw[b][:cnt * dt.itemsize].view(dt.np).reshape(shape)
    return out
