"""Runs of C calls in one: consecutive GEMM-epilogue and column-sum groups of a compiled graph.

A compiled training step's backward is a run of C calls (``_epilogue`` and ``_column_sums``
groups, with transposed views between them): each call's Python side (checking its arrays,
allocating its outputs, filling a pointer array, the ctypes call) costs 2-6 us, which on a
4-layer MLP was a twentieth of the step. A ``Chain`` runs such a run as one C call
(``sg_chain``): the first call runs the groups one by one as usual and records, for each C
call, its numbers and where each of its arrays comes from (an array given to the chain or
a new one); later calls whose arrays have the recorded layouts (one C check,
``_layout.same_layouts``) allocate the new arrays, fill one pointer array and make one
call. The arithmetic is the groups' own, in the same order. New arrays whose values nothing
reads after the run share memory by shape, as the memory plan's buffers do.

``chain(arrays)`` takes the values the run reads from outside it (``Chain.ext``) and then
the state arrays its members may write in place (``Chain.targets``), in one tuple; it
returns the values of ``Chain.returns``, or None when it cannot run (more layouts seen than
it records): the caller then makes the calls one by one.
"""
from __future__ import annotations

import ctypes

import numpy as np

from .._ops import _gemm
from .._ops._addr import fill
from .._ops._layout import layout_key, same_layouts
from .._ops.shape import _transpose_forward
from ._codegen import _inplace
from ._ir import Graph, Node, promotion_plan

_RECORDS = 8   # layouts recorded (each a run through the groups one by one) before giving up


class _Plan:
    """One recorded layout: its key, the program for ``sg_chain``, the new arrays' shapes,
    and where each returned value lies (a slot, and the transpose of a view)."""

    def __init__(self, key, prog, shapes, results, n_slots):
        self.key = key
        self.prog = prog
        self.prog_addr = prog.ctypes.data
        self.shapes = shapes
        self.results = results
        self.nones = any(s == -1 for s, _ in results)
        self.ptrs_type = ctypes.c_void_p * max(n_slots, 1)


class Chain:
    """A run of groups (and transposes of their values) called as one C program."""

    def __init__(self, items: list, ext: list, escapes):
        # items: ("group", head node, group, runner, is-column-sum) or ("view", node);
        # escapes: ids of the values read after the run (None: all of them)
        self.items = items
        self.ext = ext
        self.names = []
        dies = {}   # id(value) -> the item after which nothing in the run reads it
        for t, it in enumerate(items):
            reads = [it[1].args[0]] if it[0] == "view" else list(it[2].lead) + list(it[2].ext)
            dies.update((id(a), t) for a in reads if a is not None)
            made = [it[1]] if it[0] == "view" else [it[1]] + list(it[2].members)
            dies.update((id(a), t) for a in made)
            self.names += made
        self.returns = [n for n in self.names if escapes is None or id(n) in escapes]
        kept = {id(n) for n in self.returns} | {id(e) for e in ext}
        self.dead_after = [[] for _ in items]   # per item: values to let go of (recording)
        for i, t in dies.items():
            if i not in kept:
                self.dead_after[t].append(i)
        # (group's index among the groups, member's index, member node): the members a
        # state array is given for (the codegen's in-place candidates), in that order
        self.targets = []
        self.plan = None
        self.records = 0
        self.calls = 0   # fast-path runs (tests read it)

    def __call__(self, arrays: tuple):
        plan = self.plan
        if plan is not None and _gemm._STATE.get("use") and same_layouts(arrays, plan.key):
            full = arrays + tuple([np.empty(s, np.float32) for s in plan.shapes])
            ptrs = plan.ptrs_type()   # per call: another thread may be in this chain too
            fill(full, ptrs)
            _gemm.run_chain(plan.prog_addr, ptrs)
            self.calls += 1
            if plan.nones:   # slot -1: a value that is None (a column sum nothing reads)
                full += (None,)
            return [full[s] if d is None else full[s].transpose(d) for s, d in plan.results]
        if self.records >= _RECORDS:
            return None
        self.records += 1
        return self._record(arrays)

    def _record(self, arrays: tuple):
        """Run the groups one by one, recording the program; returns the values."""
        n_ext = len(self.ext)
        outs = [[None] * len(it[2].members) for it in self.items if it[0] == "group"]
        out_slot = {}   # (group index, member index) -> slot
        for k, (gi, q, m) in enumerate(self.targets):
            # the member writes into the state array where the calls one by one would
            outs[gi][q] = _inplace(arrays[n_ext + k], tuple(m.meta[0]), m.meta[1].np)
            if outs[gi][q] is not None:
                out_slot[(gi, q)] = n_ext + k
        first_new = len(arrays)
        env = {id(n): (a, k, None) for k, (n, a) in enumerate(zip(self.ext, arrays))}
        shapes, prog, made_slots, ok = [], [], {}, True

        def new(shape):
            shapes.append(tuple(shape))
            return first_new + len(shapes) - 1

        gi = -1   # the group's index among the groups (its entry of ``outs``)
        for t, it in enumerate(self.items):
            if it[0] == "view":
                n = it[1]
                base, s, _ = env[id(n.args[0])]
                dims = tuple(n.attrs["dims"])
                made = [(n, base.transpose(dims), s, dims)]
            else:
                gi += 1
                made, ok = self._record_group(it, env, tuple(outs[gi]), gi, out_slot, new,
                                              prog, ok)
            for n, a, s, d in made:
                s = s if a is not None else None
                env[id(n)] = (a, s, d)
                made_slots[id(n)] = (s, d)
            for i in self.dead_after[t]:   # as the separate calls' ``del`` would
                env[i] = (None,) + env[i][1:]
        values = [env[id(n)][0] for n in self.returns]
        if ok and all(s is not None for s in _all_in(prog)):
            kept = {made_slots[id(n)][0] for n in self.returns} - {None}
            phys, shapes = _share(prog, shapes, first_new, kept)
            flat = [len(prog)]
            for kind, fn, nums, slots in prog:
                flat += [kind, fn, *nums, len(slots), *[phys.get(s, s) for s in slots]]
            results = [(phys.get(s, s) if s is not None else -1, d)
                       for s, d in (made_slots[id(n)] for n in self.returns)]
            self.plan = _Plan(layout_key(arrays), np.asarray(flat, np.int64), shapes,
                              results, first_new + len(shapes))
        return values

    def _record_group(self, it, env, g_outs, gi, out_slot, new, prog, ok):
        """Run one group: its one C call, recorded in ``prog`` (while ``ok``), or its own
        way. Returns ([(node, array, slot, None)], whether the call was recorded)."""
        _, head, grp, runner, colsum = it
        got = [env[id(a)][0] if a is not None else None for a in grp.lead]
        exts = tuple(env[id(e)][0] for e in grp.ext)
        nodes = [head] + list(grp.members)
        p = None
        if ok:
            p = runner.prepare(got[0], exts, g_outs) if colsum else \
                runner.prepare(got[0], got[1], exts, g_outs)
        if p is None:   # no program for this layout
            res = runner(got[0], exts, g_outs) if colsum else runner(*got, exts, g_outs)
            return [(n, a, None, None) for n, a in zip(nodes, res)], False
        ins = [env[id(a)][1] for a in grp.lead[:1 if colsum else 2]] + \
            [env[id(e)][1] for e in grp.ext]   # a view's pointer is its base's
        if colsum:
            slots = {}
            for s, i in runner.needed:
                slots[i] = out_slot[(gi, i - 1)] if i and g_outs[i - 1] is not None \
                    else new(s)
            prog.append((2, runner.address, [1 if runner.threads else 0],
                         ins + [slots[i] for _, i in runner.needed]))
            res_slots = [slots.get(i) for i in range(len(nodes))]
        else:
            cfg, srcs = p[0], p[3]
            g_slot = new(runner.shape)
            res_slots = [g_slot]
            for q, src in enumerate(srcs):
                res_slots.append(out_slot[(gi, q)] if src == "out" else
                                 g_slot if src == "g" else new(runner.shape))
            prog.append((1, runner.fn, list(cfg), ins[:2] + [g_slot] + ins[2:] +
                         res_slots[1:]))
        res = runner.launch(p)
        return [(n, a, s, None) for n, a, s in zip(nodes, res, res_slots)], True


def is_transpose(n: Node) -> bool:
    """Whether ``n`` is a transposed view of another node's array (no cast)."""
    return n.kind == "call" and n.op.forward is _transpose_forward \
        and isinstance(n.args[0], Node) and promotion_plan(n)[0] is None


def find(graph: Graph, epilogues: dict, free: bool = True) -> tuple:
    """The runs of two or more groups (``epilogues``: id(first node) -> (group, runner))
    with nothing but state reads, transposes and the groups' members between them
    (``free``: whether values nothing reads after a run may be let go of):
    ({id(a run's first node): (Chain, index of its last node)}, ids of the transposes of
    the runs' own values, which the chains compute)."""
    from ._column_sums import Group as ColumnSum
    members = {id(m) for grp, _ in epilogues.values() for m in grp.members}
    starts, views = {}, set()
    run = None   # (items, ids of the values computed in the run, external nodes, first)
    end = -1

    def close():
        items, _, ext, first = run
        if sum(it[0] == "group" for it in items) >= 2:
            escapes = None if not free else \
                {i for i in run[1] if any(r not in run[1] and k > end
                                          for k, r in readers.get(i, ()))}
            starts[id(first)] = (Chain(items, ext, escapes), end)
            views.update(id(it[1]) for it in items if it[0] == "view")

    def reads(nodes):
        for a in nodes:
            if a is not None and id(a) not in run[1] and all(a is not e for e in run[2]):
                run[2].append(a)
    readers = {}   # id(value) -> [(index, id) of each node reading it]
    for i, n in enumerate(graph.nodes):
        for a in n.inputs:
            readers.setdefault(id(a), []).append((i, id(n)))
    for _, v in graph.mutations:
        readers.setdefault(id(v), []).append((len(graph.nodes), None))
    for i, n in enumerate(graph.nodes):
        if id(n) in epilogues:
            grp, runner = epilogues[id(n)]
            if run is None:
                run = ([], set(), [], n)
            reads(list(grp.lead) + list(grp.ext))
            run[0].append(("group", n, grp, runner, isinstance(grp, ColumnSum)))
            run[1].update(id(x) for x in [n] + list(grp.members))
            end = i
        elif run is not None and is_transpose(n) and id(n.args[0]) in run[1]:
            run[0].append(("view", n))
            run[1].add(id(n))
            end = i
        elif n.kind in ("placeholder", "get_attr") or id(n) in members or is_transpose(n):
            continue
        elif run is not None:
            close()
            run = None
    if run is not None:
        close()
    return starts, views


def _share(prog, shapes, first_new: int, kept: set) -> tuple:
    """({slot of a new array: the slot it shares}, the shared slots' shapes): a new array
    takes the slot of one of its shape that no later step reads and ``kept`` does not
    hold (never one its own step reads)."""
    last = {}
    for t, (_, _, _, slots) in enumerate(prog):
        for s in slots:
            last[s] = t
    phys, out_shapes, free, seen = {}, [], {}, set()
    for t, (_, _, _, slots) in enumerate(prog):
        for s in slots:
            if s >= first_new and s not in seen:   # written first here
                seen.add(s)
                shape = shapes[s - first_new]
                pool = free.get(shape)
                if pool:
                    phys[s] = pool.pop()
                else:
                    phys[s] = first_new + len(out_shapes)
                    out_shapes.append(shape)
        for s in set(slots):
            if s >= first_new and last[s] == t and s not in kept:
                free.setdefault(shapes[s - first_new], []).append(phys[s])
    return phys, out_shapes


def _all_in(prog):
    for _, _, _, slots in prog:
        yield from slots
