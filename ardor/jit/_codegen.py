"""Runners for graphs.

``generate(graph)`` writes Python source that runs a typed graph directly over the backend
arrays (no Tensor objects, no autograd bookkeeping): one forward call per op-table node with
the promotion casts ``dispatch`` would apply made explicit, fused kernels called with
preallocated output buffers from the memory plan, and ``del`` of every intermediate right
after its last use. ``interpret(graph, *tensors)`` runs a graph through ``dispatch`` instead
(so autograd records it): the eager fallback, used for placeholders, script control flow
and whenever gradients are needed.
"""
from __future__ import annotations

import numpy as np

from ._ir import Graph, Node, map_nodes, promotion_plan


class Generated:
    """Generated runner: ``source`` text and ``fn(tensors, *arrays)``."""

    def __init__(self, source, fn, glob):
        self.source = source
        self.fn = fn
        self.globals = glob


def _fmt_const(v, consts):
    """Render a constant arg as Python source (or a global for anything non-literal)."""
    if v is None or isinstance(v, (bool, int, str)):
        return repr(v)
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return f"float({str(v)!r})"
        return repr(v)
    if isinstance(v, tuple):
        inner = ", ".join(_fmt_const(x, consts) for x in v)
        return f"({inner}{',' if len(v) == 1 else ''})"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt_const(x, consts) for x in v) + "]"
    name = f"_c{len(consts)}"
    consts[name] = v
    return name


def _render(a, consts):
    if isinstance(a, Node):
        return a.name
    if isinstance(a, tuple):
        inner = ", ".join(_render(x, consts) for x in a)
        return f"({inner}{',' if len(a) == 1 else ''})"
    if isinstance(a, list):
        return "[" + ", ".join(_render(x, consts) for x in a) + "]"
    if isinstance(a, dict):
        return "{" + ", ".join(f"{k!r}: {_render(v, consts)}" for k, v in a.items()) + "}"
    return _fmt_const(a, consts)


def last_uses(graph: Graph) -> dict:
    """id(node) -> index of the last node reading it (len(nodes) for graph outputs)."""
    last = {}
    for i, n in enumerate(graph.nodes):
        for a in n.inputs:
            last[id(a)] = len(graph.nodes) if n.kind == "output" else i
    for _, v in graph.mutations:
        last[id(v)] = len(graph.nodes)
    return last


def generate(graph: Graph, kernels=None, plan=None, free=True, epilogues=None) -> Generated:
    """Python source (and compiled function) running ``graph`` over backend arrays.

    ``kernels`` maps id(fused node) -> callable(*arrays, out=None); ``plan`` maps id(node)
    -> buffer index for nodes whose output goes to a preallocated buffer; ``epilogues``
    maps id(product node) -> (group, runner) (see ``_epilogue``): the product and its
    members are computed by one runner call at the product's place.

    A graph with control flow or Python calls (a scripted one) gets the script runner
    instead: ``_script.ScriptRunner``, whose ``source`` is Python if/for/while code over
    the values the interpreter holds (Tensors and Python values), called as ``fn(_T,
    *inputs)``."""
    if any(n.kind in ("if", "loop", "pycall") for n in graph.nodes):
        from ._script_run import generate_script
        return generate_script(graph)
    from ._kernels import numpy_kernel
    epilogues = epilogues or {}
    glob = {"_np": np, "_asarray": np.asarray, "_ndarray": np.ndarray}
    consts: dict = {}
    ph = [n.name for n in graph.placeholders]
    lines = [f"def run(_T, _B, {', '.join(ph)}):" if ph else "def run(_T, _B):"]
    last = last_uses(graph) if free else {}
    keep = {id(n) for n in graph.nodes if n.kind in ("placeholder",)}
    inplace = _inplace_mutations(graph, plan)
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    in_epilogue = {id(m) for grp, _ in epilogues.values() for m in grp.members}

    def out_of(n):  # where a fused node's value goes: a planned buffer, state, or new
        if id(n) in inplace:  # the new value of a state tensor, computed in its storage
            glob["_inplace"] = _inplace
            t = inplace[id(n)]
            dn = f"_dt_{np.dtype(n.meta[1].np).name}"
            glob[dn] = np.dtype(n.meta[1].np)
            return f"_inplace(_T[{t!r}]._data, {tuple(n.meta[0])!r}, {dn})"
        if plan and id(n) in plan.assign:
            return f"_B[{n.name!r}]"
        return None

    def ref(a, i):  # a state tensor read later in the graph is fetched here
        if a.kind == "get_attr" and index[id(a)] > i:
            return f"_T[{a.target!r}]._data"
        return a.name

    def group_outs(grp):  # members run earlier than planned: their own arrays, not buffers
        return "".join(f"{out_of(m) if id(m) in inplace else None}, " for m in grp.members)

    from . import _chain
    chains, views = _chain.find(graph, epilogues, free) if epilogues else ({}, set())
    chain = None   # the run of groups being written: (Chain, its last index, lines, dels)
    gone = set()   # names of values inside runs that nothing reads after them
    for i, n in enumerate(graph.nodes):
        k = n.kind
        if k == "placeholder":
            continue
        if id(n) in chains:
            ch, end = chains[id(n)]
            cn = f"_chain{len([g for g in glob if g.startswith('_chain')])}"
            glob[cn] = ch
            chain = (ch, end, [], [])
            args = [ref(e, end) for e in ch.ext]
            groups = [it[2] for it in ch.items if it[0] == "group"]
            for gi, grp in enumerate(groups):   # the state arrays members may write into
                for q, m in enumerate(grp.members):
                    if id(m) in inplace:
                        ch.targets.append((gi, q, m))
                        args.append(f"_T[{inplace[id(m)]!r}]._data")
            chain[2].append(f"_v = {cn}(({''.join(a + ', ' for a in args)}))")
        into = chain[2] if chain is not None and (
            id(n) in views or id(n) in epilogues) else lines
        pad = "        " if into is not lines else "    "
        if id(n) in in_epilogue:
            pass  # computed with its product
        elif id(n) in epilogues:
            grp, runner = epilogues[id(n)]
            glob[f"_e_{n.name}"] = runner
            lead = ", ".join("None" if a is None else a.name for a in grp.lead)
            exts = "".join(ref(e, i) + ", " for e in grp.ext)
            names = ", ".join([n.name] + [m.name for m in grp.members])
            into.append(f"{pad}{names} = _e_{n.name}({lead}, ({exts}), ({group_outs(grp)}))")
        elif k == "get_attr":
            lines.append(f"    {n.name} = _T[{n.target!r}]._data")
            keep.add(id(n))
        elif k == "getitem":
            lines.append(f"    {n.name} = {n.args[0].name}[{n.index}]")
        elif _chain.is_transpose(n):
            # a transposed view as the array's own method: a third of a call through the
            # op table's forward with keyword attributes (a training step has a dozen)
            into.append(f"{pad}{n.name} = {n.args[0].name}.transpose({tuple(n.attrs['dims'])!r})")
        elif k == "call":
            op = n.op
            fname = f"_f_{op.name}"
            glob[fname] = op.forward
            casts, pargs = promotion_plan(n)
            if casts is None:
                pargs, casts = n.args, [None] * len(n.args)
            parts = []
            for a, c in zip(pargs, casts):
                s = _render(a, consts)
                if c is not None:
                    dn = f"_dt_{np.dtype(c).name}"
                    glob[dn] = np.dtype(c)
                    s = f"{s}.astype({dn})"
                parts.append(s)
            call = f"{fname}(_np{''.join(', ' + p for p in parts)}"
            if n.attrs:
                an = f"_a_{n.name}"
                glob[an] = n.attrs
                call += f", **{an}"
            call += ")"
            if not n.multi and n.meta is not None and n.meta[0] == ():
                call = f"_asarray({call})"
            lines.append(f"    {n.name} = {call}")
        elif k == "fused":
            kn = f"_k_{n.name}"
            kern = (kernels or {}).get(id(n)) or numpy_kernel(n)
            glob[kn] = kern
            args = ", ".join(a.name if isinstance(a, Node) else _fmt_const(a, consts)
                             for a in n.args)
            o = out_of(n)
            lines.append(f"    {n.name} = {kn}({args}{', out=' + o if o else ''})")
        elif k in ("if", "loop"):
            raise NotImplementedError("control-flow nodes run through the interpreter")
        elif k == "output":
            for t, v in graph.mutations:
                glob["_write"] = _write
                lines.append(f"    _write(_T[{t!r}], {v.name})")
            lines.append(f"    return {_render(n.args[0], consts)}")
            break
        # free what is dead after this node (the allocator then reuses the memory)
        dead = []
        if free:
            dead = [a.name for a in _uniq(n.inputs) if last.get(id(a)) == i
                    and id(a) not in keep]
            if n.kind != "output" and id(n) not in last and n.kind not in ("get_attr",):
                dead.append(n.name)
        if chain is not None:   # the run's values are all set after its call
            chain[3].extend(dead)
            if i == chain[1]:
                ch, _, body, dels = chain
                lines.append("    " + body[0])
                lines.append("    if _v is None:")
                lines += body[1:]
                ret = {id(m) for m in ch.returns}
                inner = [m.name for m in ch.names if id(m) not in ret]
                if inner:   # values set only by the calls one by one
                    lines.append(f"        del {', '.join(inner)}")
                gone.update(inner)
                lines.append("    else:")
                lines.append(f"        {''.join(m.name + ', ' for m in ch.returns)}= _v"
                             if ch.returns else "        pass")
                if any(d not in gone for d in dels):
                    lines.append(f"    del {', '.join(d for d in dels if d not in gone)}")
                chain = None
        elif any(d not in gone for d in dead):
            lines.append(f"    del {', '.join(d for d in dead if d not in gone)}")
    glob.update(consts)
    src = "\n".join(lines) + "\n"
    code = compile(src, f"<ardor.jit generated {id(graph):x}>", "exec")
    exec(code, glob)
    return Generated(src, glob["run"], glob)


def _inplace_mutations(graph: Graph, plan) -> dict:
    """id(fused node) -> state target, for mutations whose new value a fused kernel can
    write straight into the state tensor's storage: nothing reads the old value (or a view
    of it) after that kernel, and the value is not also a graph output."""
    out = {}
    if not graph.mutations:
        return out
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    outputs = {id(a) for a in graph.output_node.inputs}
    targets = [t for t, _ in graph.mutations]
    for t, v in graph.mutations:
        if v.kind != "fused" or targets.count(t) != 1 or id(v) in outputs or \
                (plan is not None and id(v) in plan.assign):
            continue
        if v.meta is None or v.meta != (tuple(graph.tensors[t].shape), graph.tensors[t].dtype):
            continue
        iv = index[id(v)]
        if any(index.get(r, -1) > iv for r in old_readers(graph, t)):
            continue
        out[id(v)] = t
    return out


def old_readers(graph: Graph, t: str) -> set:
    """id of every node reading state tensor ``t``'s value as it was before the graph ran
    (through its get_attr node or any view of it)."""
    readers = set()
    frontier = [n for n in graph.nodes if n.kind == "get_attr" and n.target == t]
    seen = set()
    while frontier:  # the state tensor's node and every view of it
        a = frontier.pop()
        if id(a) in seen:
            continue
        seen.add(id(a))
        for u in graph.nodes:
            if any(i is a for i in u.inputs):
                readers.add(id(u))
                if u.kind == "call" and (u.op.view or u.op.expr is None and
                                         u.op.name not in ("mm", "matmul", "addmm")):
                    frontier.append(u)
                elif u.kind == "getitem":
                    frontier.append(u)
    return readers


def _inplace(a, shape, dtype):
    """A state tensor's array ``a`` when a kernel can write into it (else None: a fresh
    output)."""
    if a.shape == shape and a.dtype == dtype:
        f = a.flags
        if f.c_contiguous and f.writeable:
            return a
    return None


def _uniq(nodes):
    seen, out = set(), []
    for n in nodes:
        if id(n) not in seen:
            seen.add(id(n))
            out.append(n)
    return out


def _write(t, arr):
    """Write a mutation's final value into a live tensor's storage (and bump its version)."""
    dst = t._data
    if arr is not dst:
        np.copyto(dst, arr, casting="unsafe")
    t._version[0] += 1


# ------------------------------------------------------------------------ interpreter
def interpret(graph: Graph, *inputs, on_error=None):
    """Run ``graph`` through ``dispatch`` (eager ardor, autograd recorded) on Tensors/numbers.

    ``on_error(node, exc)`` may translate an exception raised by a node."""
    from .._ops.dispatch import dispatch
    env = {}
    phs = graph.placeholders
    if len(inputs) != len(phs):
        raise TypeError(f"graph takes {len(phs)} inputs ({', '.join(p.target for p in phs)}) "
                        f"but {len(inputs)} were given")
    for p, v in zip(phs, inputs):
        env[id(p)] = v
    get = lambda a: env[id(a)]  # noqa: E731
    for n in graph.nodes:
        k = n.kind
        try:
            if k == "placeholder":
                continue
            if k == "get_attr":
                env[id(n)] = graph.tensors[n.target]
            elif k == "call":
                args = tuple(map_nodes(n.args, get))
                env[id(n)] = dispatch(n.op, args, n.attrs)
            elif k == "getitem":
                env[id(n)] = get(n.args[0])[n.index]
            elif k == "fused":
                env[id(n)] = interpret(n.attrs["body"], *map_nodes(n.args, get))
            elif k in ("if", "loop", "pycall"):
                from ._script_run import run_control
                env[id(n)] = run_control(n, env)
            elif k == "output":
                for t, v in graph.mutations:
                    dst = graph.tensors[t]
                    val = get(v)
                    if val is not dst:
                        from ..autograd.grad_mode import no_grad
                        with no_grad():
                            dst.copy_(val)
                return map_nodes(n.args[0], get)
        except Exception as e:  # noqa: BLE001 - translated, then re-raised
            if on_error is not None:
                on_error(n, e)
            raise
    raise RuntimeError("graph has no output node")
