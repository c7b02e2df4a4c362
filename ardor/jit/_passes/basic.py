"""DCE, CSE, constant folding and algebraic simplification."""
from __future__ import annotations

import numpy as np

from .._ir import Graph, Node, regions, remap_inputs


def _impure(op) -> bool:
    """Ops whose result changes from call to call, or that update inputs in place (never
    merged or folded)."""
    mod = getattr(op.forward, "__module__", "") or ""
    return mod.endswith("random_ops") or "dropout" in op.name or op.name in (
        "bernoulli", "multinomial", "poisson") or op.mutates is not None


def _effects(n: Node) -> bool:
    """Does running ``n`` do more than compute its value (update state in place, call
    something not known to be pure, or hold such a node in its regions)?"""
    if n.kind == "call":
        return n.op.mutates is not None and bool(n.op.mutates(n.attrs))
    if n.kind == "pycall":
        from .._script_ops import pure_call
        return not pure_call(n.attrs["fn"], n.args[1])
    return any(_effects(r) for g in regions(n) for r in g.nodes)


def dce(graph: Graph) -> Graph:
    """Remove nodes whose values nobody reads (outputs, state mutations and nodes with
    effects, such as ops that update their inputs in place, are roots); inside if/loop
    regions too."""
    g = graph.copy()
    _dce_into(g)
    return g


def _dce_into(g: Graph) -> None:
    live = {id(v) for _, v in g.mutations}
    for n in reversed(g.nodes):
        if n.kind in ("output", "placeholder") or id(n) in live or _effects(n):
            live.add(id(n))
            for r in regions(n):   # first, so the node reads only what they still read
                _dce_into(r)
            for i in n.inputs:
                live.add(id(i))
    g.eliminate([n for n in g.nodes if id(n) not in live])


def _key(a):
    if isinstance(a, Node):
        return ("%", id(a))
    if isinstance(a, (tuple, list)):
        return (type(a).__name__,) + tuple(_key(x) for x in a)
    if isinstance(a, dict):
        return ("dict",) + tuple(sorted((k, _key(v)) for k, v in a.items()))
    if isinstance(a, float) and a != a:
        return ("nan",)
    if isinstance(a, np.ndarray):
        return ("arr", id(a))
    try:
        hash(a)
    except TypeError:
        return ("obj", id(a))
    return (type(a).__name__, a)


def cse(graph: Graph) -> Graph:
    """Merge nodes computing the same op (or pure Python call) on the same inputs with the
    same attrs; inside if/loop regions too, where a value of an enclosing scope computed
    before the region serves it."""
    g = graph.copy()
    _cse_into(g, {}, {}, not _writes_tensors(g))
    return g


def _writes_tensors(g: Graph) -> bool:
    """Does a pycall of ``g`` (or of its regions) write a tensor in place? Then two equal
    calls may not give equal values (one result updated, the other not): none is merged."""
    from .._script_ops import writes_tensors
    return any(n.kind == "pycall" and writes_tensors(n.attrs["fn"], n.args[1])
               or any(_writes_tensors(r) for r in regions(n)) for n in g.nodes)


def _cse_into(g: Graph, seen: dict, repl: dict, pycalls: bool) -> None:
    seen = dict(seen)   # a region's values do not serve its enclosing scope
    keep = []
    for n in g.nodes:
        if repl:
            remap_inputs(n, repl)
        for r in regions(n):
            _cse_into(r, seen, repl, pycalls)
        k = None
        if n.kind == "call" and not _impure(n.op):
            k = ("call", n.op.name, _key(n.args), _key(n.attrs))
        elif n.kind == "pycall" and pycalls and not _effects(n):
            k = ("pycall", id(n.attrs["fn"]), _key(n.args))
        elif n.kind == "getitem":
            k = ("getitem", id(n.args[0]), n.index)
        elif n.kind == "get_attr":
            k = ("get_attr", n.target)
        if k is not None:
            try:
                prev = seen.get(k)
            except TypeError:
                prev = None
            if prev is not None:
                repl[id(n)] = prev
                continue
            seen[k] = n
        keep.append(n)
    dead = [n for n in g.nodes if id(n) in repl]
    g.mutations = [(t, repl.get(id(v), v)) for t, v in g.mutations]
    g.nodes = keep
    for n in dead:
        g._names.discard(n.name)


def fold_constants(graph: Graph) -> Graph:
    """Evaluate nodes whose inputs are all constants (``graph.consts``, e.g. after
    :func:`ardor.jit.freeze`) once, replacing them by new constants."""
    from .._codegen import interpret
    from ...autograd.grad_mode import no_grad
    g = graph.copy()
    const = {id(n) for n in g.nodes if n.kind == "get_attr" and n.target in g.consts}
    if not const:
        return g
    repl = {}
    new_nodes = []
    k = 0
    for n in g.nodes:
        if repl:
            remap_inputs(n, repl)
        ins = n.inputs
        if n.kind in ("call", "getitem", "fused") and ins and \
                all(id(i) in const for i in ins) and \
                not (n.kind == "call" and _impure(n.op)) and not n.multi:
            sub = Graph()
            m = {}
            for i in ins:
                if id(i) not in m:
                    m[id(i)] = sub.node_copy(i, None)
            c = sub.node_copy(n, lambda a: m[id(a)])
            sub.output(c)
            with no_grad():
                val = interpret(sub)
            while f"_folded{k}" in g.tensors:
                k += 1
            name = f"_folded{k}"
            k += 1
            nn = Node(g, "get_attr", g._name(name), target=name,
                      meta=(tuple(val.shape), val.dtype))
            g.tensors[name] = val
            g.consts.add(name)
            const.add(id(nn))
            repl[id(n)] = nn
            new_nodes.append(nn)
            continue
        new_nodes.append(n)
    g.nodes = new_nodes
    g.mutations = [(t, repl.get(id(v), v)) for t, v in g.mutations]
    return dce(g)


def _is_scalar(a, v) -> bool:
    return not isinstance(a, (Node, bool)) and isinstance(a, (int, float)) and a == v


def _fresh(n: Node) -> bool:
    """Does ``n`` produce a new contiguous array (never a view of another value)?"""
    from .memory import FRESH
    return n.kind == "fused" or n.kind == "call" and not n.op.view and n.op.name in FRESH \
        and not n.multi


_PERMS = ("permute", "transpose", "t")
_RESHAPES = ("view", "reshape_copy")


def simplify(graph: Graph) -> Graph:
    """Algebraic identities: x*1, 1*x, x+0, 0+x, x-0, x/1, x**1 -> x; the clone of a fresh
    value read by nothing else -> the value; permute/transpose
    chains composed (identity removed); view/reshape chains collapsed (same shape removed).
    A rewrite applies only where the result keeps x's shape and dtype (no promotion or
    broadcasting hidden by the identity)."""
    g = graph.copy()
    repl: dict = {}
    users = g.users_map()
    before: dict = {}
    from ..._ops.registry import OPS
    for n in g.nodes:
        if repl:
            remap_inputs(n, repl)
        if n.kind != "call":
            continue
        name, a = n.op.name, n.args
        # clone((A @ B).T) -> B.T @ A.T: a contiguous product, no strided copy (the shape
        # of a Linear weight's gradient in a traced backward)
        if name == "clone" and isinstance(a[0], Node) and a[0].kind == "call" \
                and a[0].op.name in _PERMS and tuple(a[0].attrs["dims"]) == (1, 0) \
                and len(users[id(a[0])]) == 1:
            mm = a[0].args[0]
            if isinstance(mm, Node) and mm.kind == "call" and mm.op.name in ("mm", "matmul") \
                    and len(users[id(mm)]) == 1 and all(
                        isinstance(x, Node) and x.meta is not None and len(x.meta[0]) == 2
                        for x in mm.args[:2]):
                ta = Node(g, "call", g._name("t"), op=OPS["t"], args=(mm.args[0],),
                          attrs={"dims": (1, 0)},
                          meta=(mm.args[0].meta[0][::-1], mm.args[0].meta[1]))
                tb = Node(g, "call", g._name("t"), op=OPS["t"], args=(mm.args[1],),
                          attrs={"dims": (1, 0)},
                          meta=(mm.args[1].meta[0][::-1], mm.args[1].meta[1]))
                before[id(n)] = [tb, ta]
                n.op, n.args, n.attrs = mm.op, (tb, ta), dict(mm.attrs)
                continue
        x = None
        if name == "clone" and isinstance(a[0], Node) and _fresh(a[0]) \
                and len(users[id(a[0])]) == 1 and a[0].meta == n.meta:
            # the copy of a value nothing else reads (a gradient stored into .grad)
            x = a[0]
        elif name == "mul" and len(a) == 2:
            if _is_scalar(a[1], 1):
                x = a[0]
            elif _is_scalar(a[0], 1):
                x = a[1]
        elif name == "add" and len(a) == 2:
            if _is_scalar(a[1], 0):
                x = a[0]
            elif _is_scalar(a[0], 0):
                x = a[1]
        elif name == "sub" and len(a) == 2 and _is_scalar(a[1], 0):
            x = a[0]
        elif name == "div" and len(a) == 2 and _is_scalar(a[1], 1):
            x = a[0]
        elif name == "pow_scalar" and len(a) == 2 and _is_scalar(a[1], 1):
            x = a[0]
        elif name in _PERMS and isinstance(a[0], Node):
            src = a[0]
            dims = tuple(n.attrs["dims"])
            if src.kind == "call" and src.op.name in _PERMS:
                inner = tuple(src.attrs["dims"])
                dims = tuple(inner[d] for d in dims)
                n.args = (src.args[0],)
                from ..._ops.registry import OPS
                n.op = OPS["permute"]
                n.attrs = {"dims": dims}
            if dims == tuple(range(len(dims))):
                x = n.args[0]
        elif name in _RESHAPES and isinstance(a[0], Node):
            src = a[0]
            if src.kind == "call" and src.op.name in _RESHAPES:
                n.args = (src.args[0],)
                if src.op.name == "reshape_copy":
                    n.op = src.op
            if n.args[0].meta is not None and n.args[0].meta[0] == n.meta[0]:
                x = n.args[0]
        if x is not None and isinstance(x, Node) and x.meta == n.meta:
            repl[id(n)] = x
    if before:
        nodes = []
        for n in g.nodes:
            nodes.extend(before.get(id(n), ()))
            nodes.append(n)
        g.nodes = nodes
    g.mutations = [(t, repl.get(id(v), v)) for t, v in g.mutations]
    return dce(g)


def fold_conv_bn(graph: Graph) -> Graph:
    """Fold an eval-mode batch_norm that follows a convolution into the convolution's
    weight and bias, when all their parameters are constants (after freeze)."""
    from ..._tensor import _make
    g = graph.copy()
    users = g.users_map()
    consts = {id(n): n for n in g.nodes if n.kind == "get_attr" and n.target in g.consts}
    repl = {}
    new_nodes: dict = {}
    for bn in g.nodes:
        if bn.kind != "call" or bn.op.name != "batch_norm" or bn.attrs.get("training"):
            continue
        conv = bn.args[0]
        if not (isinstance(conv, Node) and conv.kind == "call" and conv.op.name == "conv_nd"
                and len(users[id(conv)]) == 1 and len(conv.args) == 3):
            continue
        params = list(conv.args[1:]) + list(bn.args[1:])
        if not all(p is None or id(p) in consts for p in params) or params[0] is None \
                or bn.args[3] is None or bn.args[4] is None:
            continue
        outs = users[id(bn)]
        if any(u.kind != "getitem" or (u.index != 0 and users[id(u)]) for u in outs):
            continue
        get = lambda p: None if p is None else g.tensors[p.target]._data.astype(np.float64)  # noqa
        w, b, gamma, beta, rm, rv = (get(p) for p in params)
        s = (1.0 if gamma is None else gamma) / np.sqrt(rv + bn.attrs["eps"])
        w2 = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
        b2 = ((0.0 if b is None else b) - rm) * s + (0.0 if beta is None else beta)
        dt = g.tensors[params[0].target]._data.dtype
        nodes = []
        for arr, nm in ((w2, "_folded_w"), (b2, "_folded_b")):
            k = 0
            while f"{nm}{k}" in g.tensors:
                k += 1
            t = _make(arr.astype(dt))
            g.tensors[f"{nm}{k}"] = t
            g.consts.add(f"{nm}{k}")
            nodes.append(Node(g, "get_attr", g._name(f"{nm}{k}"), target=f"{nm}{k}",
                              meta=(tuple(t.shape), t.dtype)))
        nc = Node(g, "call", g._name("conv_bn"), op=conv.op,
                  args=(conv.args[0], nodes[0], nodes[1]), attrs=dict(conv.attrs),
                  meta=outs[0].meta if outs else conv.meta)
        new_nodes[id(bn)] = nodes + [nc]
        for u in outs:
            if u.index == 0:
                repl[id(u)] = nc
    if not new_nodes:
        return g
    out = []
    for n in g.nodes:
        out.extend(new_nodes.get(id(n), ()))
        out.append(n)
    g.nodes = out
    for n in g.nodes:
        remap_inputs(n, repl)
    g.mutations = [(t, repl.get(id(v), v)) for t, v in g.mutations]
    return dce(g)


def pool_to_max(graph: Graph) -> Graph:
    """max_pool whose indices nobody reads, with non-overlapping windows that tile the input
    (kernel == stride, no padding/dilation): the elementwise maximum of the k*k strided
    slices (views), which the fusion pass can turn into one kernel. NaN propagates as in
    max_pool."""
    import itertools
    from ..._ops.registry import OPS
    g = graph.copy()
    users = g.users_map()
    repl, before = {}, {}
    for n in g.nodes:
        if n.kind != "call" or n.op.name != "max_pool_nd" or n.meta is None:
            continue
        at = n.attrs
        ks, st = tuple(at["kernel_size"]), tuple(at["stride"])
        x = n.args[0]
        if ks != st or any(at["padding"]) or any(d != 1 for d in at["dilation"]) \
                or not isinstance(x, Node) or x.meta is None:
            continue
        shape = x.meta[0]
        nd = len(ks)
        sp = shape[len(shape) - nd:]
        if any(s % k for s, k in zip(sp, ks)) or any(s == 0 for s in shape):
            continue
        outs = users[id(n)]
        if any(u.kind != "getitem" or (u.index == 1 and users[id(u)]) for u in outs):
            continue
        # an activation read only by this pool (relu before max_pool) moves after the
        # slicing, one application per slice: slice(f(x)) == f(slice(x)) for elementwise
        # f, and the fused kernel then reads x directly, with no pass writing f(x)
        act = None
        if x.kind == "call" and x.op.expr is not None and len(x.args) == 1 \
                and isinstance(x.args[0], Node) and x.args[0].meta is not None \
                and not x.args[0].multi and x.args[0].meta[0] == shape \
                and [id(u) for u in users[id(x)]] == [id(n)]:
            act, x = x, x.args[0]
        new, terms = [], []
        for offs in itertools.product(*[range(k) for k in ks]):
            v = x
            vshape = list(shape)
            for j, (o, k) in enumerate(zip(offs, ks)):
                d = len(shape) - nd + j
                vshape[d] = shape[d] // k
                v = Node(g, "call", g._name("pool_slice"), op=OPS["slice"], args=(v,),
                         attrs={"dim": d, "start": o, "stop": shape[d], "step": k},
                         meta=(tuple(vshape), x.meta[1]))
                new.append(v)
            if act is not None:
                v = Node(g, "call", g._name(act.name), op=act.op, args=(v,),
                         attrs=dict(act.attrs), meta=(tuple(vshape), act.meta[1]))
                new.append(v)
            terms.append(v)
        while len(terms) > 1:  # a balanced tree of maximums
            nxt = []
            for i in range(0, len(terms) - 1, 2):
                m = Node(g, "call", g._name("pool_max"), op=OPS["maximum"],
                         args=(terms[i], terms[i + 1]), meta=terms[i].meta)
                new.append(m)
                nxt.append(m)
            if len(terms) % 2:
                nxt.append(terms[-1])
            terms = nxt
        before[id(n)] = new
        for u in outs:
            if u.index == 0:
                repl[id(u)] = terms[0]
    if not before:
        return g
    nodes = []
    for n in g.nodes:
        nodes.extend(before.get(id(n), ()))
        nodes.append(n)
    g.nodes = nodes
    for n in g.nodes:
        remap_inputs(n, repl)
    g.mutations = [(t, repl.get(id(v), v)) for t, v in g.mutations]
    return dce(g)
