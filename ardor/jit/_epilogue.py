"""GEMM epilogues: elementwise work on a matrix product done while the product is in cache.

In a compiled graph, a float32 2-d product (``mm``/``matmul``, or ``addmm`` with beta = alpha
= 1: nn.Linear) is often read next by elementwise nodes of its own shape: the Linear's
ReLU, ReLU's gradient mask in the backward, and the optimizer's update of the weight whose
gradient the product is (SGD: the momentum buffer, then the parameter). Run separately,
each of those reads and writes whole matrices again, and on more than one core the lines
the GEMM's threads wrote move between caches. Here they become one C function over a block
of the product (``tile(ptrs, i0, j0, m, n)``) that the C GEMM's threads call on each block
they finish (:func:`ardor._ops._gemm.run_epilogue`): same arithmetic, element by element,
in the same order as the separate kernels.

A node joins a product's epilogue (its "members", kept in graph order) when it is
elementwise with the product's shape and dtype, reads the product or an earlier member,
and its other inputs are already computed where the product runs (or are graph inputs or
state tensors).
The members then run at the product's position, so a member writing a state tensor in place
also needs every reader of the old value to come before the product.
Where the C GEMM does not serve at run time (no AVX-512, a small product, strided
arrays) the runner computes the product and the members one after another instead.
"""
from __future__ import annotations

import ctypes

import numpy as np

from .._ops import _gemm
from .._ops._addr import fill
from .. import _dtype as D
from ._ir import Graph, Node, promotion_plan
from ._passes.fusion import _fusable

_GEMMS = ("mm", "matmul", "addmm")


class Group:
    """A product and its epilogue members. ``ext``: the members' other inputs (the
    product's bias first for addmm), each broadcastable to the product's shape."""

    def __init__(self, gemm: Node, members: list, ext: list, bias, spent: bool = False):
        self.gemm, self.members, self.ext, self.bias = gemm, members, ext, bias
        # only members read the product: the first member given no array of its own
        # writes its values over the product's, element by element after reading it
        self.spent = spent
        self.lead = list(gemm.args[1:3] if bias is not None else gemm.args[:2]) + [bias]


def _elementwise(n: Node, meta) -> bool:
    return (n.kind == "fused" or _fusable(n)) and n.meta == meta


def _gemm_ok(n: Node) -> bool:
    if n.kind != "call" or n.op.name not in _GEMMS or n.meta is None:
        return False
    if n.meta[1] != D.float32 or len(n.meta[0]) != 2:
        return False
    mats = n.args[1:3] if n.op.name == "addmm" else n.args[:2]
    if not all(isinstance(a, Node) and a.meta is not None and len(a.meta[0]) == 2
               and a.meta[1] == D.float32 for a in mats):
        return False
    casts, _ = promotion_plan(n)
    if casts is not None and any(c is not None for c in casts):
        return False
    if n.op.name == "addmm":
        bias = n.args[0]
        if n.attrs.get("beta", 1) != 1 or n.attrs.get("alpha", 1) != 1 \
                or not isinstance(bias, Node) or bias.meta is None \
                or bias.meta[1] != D.float32 or len(bias.meta[0]) > 2:
            return False
    return True


class _Scan:
    """What the group finders read of a graph: node positions, readers, the values kept past
    the run (outputs and state writes), and the nodes already in a group."""

    def __init__(self, graph: Graph, inplace: dict, taken: set):
        self.graph, self.inplace, self.taken = graph, inplace, taken
        self.index = {id(n): i for i, n in enumerate(graph.nodes)}
        self.users = graph.users_map()
        self.kept = {id(a) for a in graph.output_node.inputs} | \
            {id(v) for _, v in graph.mutations}

    def available(self, a: Node, i0: int, shape_ok) -> bool:
        """Whether ``a`` can be read by a member run at position ``i0``: computed before
        it (or a graph input or state tensor), not a view (a transposed view of a tensor
        another member overwrites would be read at elements already changed), of a shape
        ``shape_ok`` accepts."""
        return not (a.kind not in ("get_attr", "placeholder") and self.index[id(a)] > i0
                    or a.kind == "call" and a.op.view or a.meta is None
                    or not shape_ok(a.meta[0]))

    def grow(self, root: Node, i0: int, joins, ext: list) -> tuple:
        """(members, ext, ids inside) of the group rooted at ``root`` (position ``i0``):
        every later node not in another group that reads the root or a member and that
        ``joins(n, inside)`` accepts, if it writes a state tensor in place only when no
        reader of the old value (the root included) would come after the root."""
        from ._codegen import old_readers
        inside = {id(root)}
        members = []
        for n in self.graph.nodes[i0 + 1:]:
            if id(n) in self.taken or not any(id(a) in inside for a in n.inputs) \
                    or not joins(n, inside):
                continue
            t = self.inplace.get(id(n))
            if t is not None:
                readers = old_readers(self.graph, t)
                # a product must not read the tensor a member overwrites: its threads
                # would still be packing blocks the epilogue has changed
                if id(root) in readers or any(self.index.get(r, -1) > i0 and r not in inside
                                              and r != id(n) for r in readers):
                    continue
            members.append(n)
            inside.add(id(n))
            for a in n.inputs:
                if id(a) not in inside and all(a is not e for e in ext):
                    ext.append(a)
        self.taken.update(id(m) for m in members)
        return members, ext, inside

    def spent(self, n: Node, inside: set) -> bool:
        """Whether only the group's members read ``n``'s value."""
        return id(n) not in self.kept and all(id(u) in inside for u in self.users[id(n)])


def find(graph: Graph, inplace: dict) -> list:
    """The epilogue groups of ``graph`` (``inplace``: id(node) -> state target for the
    mutations written in place, as the code generator decided)."""
    scan = _Scan(graph, inplace, set())
    groups = []
    for ig, g in enumerate(graph.nodes):
        if not _gemm_ok(g):
            continue
        shape_ok = lambda s: len(s) <= 2 and _broadcasts(s, g.meta[0])  # noqa: E731

        def joins(n, inside):
            return _elementwise(n, g.meta) and _c_member(n) and all(
                id(a) in inside or scan.available(a, ig, shape_ok) for a in n.inputs)
        bias = g.args[0] if g.op.name == "addmm" else None
        members, ext, inside = scan.grow(g, ig, joins, [bias] if bias is not None else [])
        if members:
            groups.append(Group(g, members, ext, bias, scan.spent(g, inside)))
    return groups


def _c_member(n: Node) -> bool:
    """Whether the C generator writes elementwise ``n`` (one op or a fused group)."""
    if not (n.kind == "fused" or _fusable(n)):
        return False
    try:
        _statements(n, {})
    except Exception:  # noqa: BLE001 - the C generator does not handle it
        return False
    return True


def run_members(members: list, env: dict, outs, kernels: dict) -> list:
    """The members' values one after another, as separate kernels (where a fused C call
    does not serve): ``env`` maps id(node) -> array for what they read; a member whose
    ``outs`` entry is an array is written into it."""
    res = []
    for mem, o in zip(members, outs):
        args = [env[id(x)] if isinstance(x, Node) else x for x in mem.args]
        if mem.kind == "fused":
            r = kernels[id(mem)](*args, out=o)
        else:
            r = np.asarray(mem.op.forward(np, *args, **mem.attrs))
            if r.dtype != np.float32:
                r = r.astype(np.float32)
            if o is not None:
                np.copyto(o, r)
                r = o
        env[id(mem)] = r
        res.append(r)
    return res


def _broadcasts(shape, to) -> bool:
    shape = (1,) * (len(to) - len(shape)) + tuple(shape)
    return all(s in (1, t) for s, t in zip(shape, to))


def _body(n: Node):
    """A member as (body graph, the nodes its placeholders stand for)."""
    if n.kind == "fused":
        return n.attrs["body"], list(n.args)
    from ._passes.fusion import body_of
    return body_of([n], n)


def _statements(n: Node, names: dict, prefix: str = "t"):
    from ._kernels import _body_statements
    body, ins = _body(n)
    return _body_statements(body, [names.get(id(a), "0") for a in ins], prefix)


def ext_declarations(ext: list) -> list:
    """The C lines declaring a group kernel's other inputs e0, e1, ... (from P[1 + k])."""
    from ._kernels import _CTYPE, _np_name
    lines = []
    for k, e in enumerate(ext):
        ct = _CTYPE[_np_name(e.meta[1].np)]
        lines.append(f"  const {ct}* e{k} = (const {ct}*)P[{1 + k}];")
    return lines


def traced_layouts(ext: list) -> list:
    """(shape, numpy dtype) of each of a group's other inputs, as traced."""
    return [(tuple(e.meta[0]), np.dtype(e.meta[1].np)) for e in ext]


def arrays_ok(exts, layouts, outs) -> bool:
    """Whether a group's C kernel may read ``exts`` (exactly ndarrays, C-contiguous, of
    the traced ``layouts``) and write ``outs`` (None, or exactly ndarrays)."""
    return all(type(x) is np.ndarray and x.flags.c_contiguous and x.shape == s and x.dtype == d
               for x, (s, d) in zip(exts, layouts)) \
        and all(o is None or type(o) is np.ndarray for o in outs)


def tile_source(group: Group) -> str:
    """C source of ``tile(ptrs, i0, j0, m, n)``: ptrs = [product, *ext, *member outputs]."""
    from ._kernels import _HELPERS, _bstrides
    M, N = group.gemm.meta[0]
    lines = [_HELPERS, "void tile(void* const* P, int64_t i0, int64_t j0, int64_t m, "
             "int64_t n) {", "  float* g = (float*)P[0];"]
    names = {id(group.gemm): "v"}
    lines += ext_declarations(group.ext)
    for k, e in enumerate(group.ext):
        rs, cs = _bstrides(e.meta[0], (M, N))
        idx = " + ".join(t if s == 1 else f"{t}*{s}" for t, s in (("i", rs), ("j", cs)) if s)
        names[id(e)] = f"e{k}[{idx or '0'}]"
    for q in range(len(group.members)):
        lines.append(f"  float* o{q} = (float*)P[{1 + len(group.ext) + q}];")
    lines += ["  for (int64_t i = i0; i < i0 + m; i++) {", "    #pragma omp simd",
              "    for (int64_t j = j0; j < j0 + n; j++) {",
              f"      float v = g[i*{N} + j];"]
    if group.bias is not None:
        lines += [f"      v = v + {names[id(group.bias)]};", f"      g[i*{N} + j] = v;"]
    for q, mem in enumerate(group.members):
        stmts, res = _statements(mem, names, prefix=f"m{q}_")
        lines += ["      " + s for s in stmts]
        lines.append(f"      o{q}[i*{N} + j] = {res};")
        names[id(mem)] = res
    lines += ["    }", "  }", "}"]
    return "\n".join(lines) + "\n"


class Runner:
    """``runner(a, b, bias, exts, outs)`` -> (product, *member values): the product with its
    epilogue in one C GEMM call, or (where that does not serve) one after another."""

    def __init__(self, group: Group, kernels: dict):
        from ._kernels import compile_c
        self.group = group
        self.shape = tuple(group.gemm.meta[0])
        self.kernels = kernels
        lib = compile_c(tile_source(group))
        self.fn = ctypes.cast(lib.tile, ctypes.c_void_p).value if lib is not None else None
        self.layouts = traced_layouts(group.ext)
        self.arrays_type = ctypes.c_void_p * (3 + len(group.ext) + len(group.members))
        self.configs: dict = {}   # (a's, b's strides) -> the C GEMM's numbers (or None)
        self.calls = 0   # how many runs took the fused path (tests read it)

    def _config(self, a, b):
        if type(a) is not np.ndarray or type(b) is not np.ndarray \
                or _gemm._STATE.get("use") is False:
            return None
        key = (a.strides, b.strides, a.dtype, b.dtype)
        try:
            return self.configs[key]
        except KeyError:
            if len(self.configs) > 8:
                self.configs.clear()
            cfg = self.configs[key] = _gemm.epilogue_config(a, b)
            return cfg

    def prepare(self, a, b, exts, outs):
        """For the one C call: (the GEMM's numbers, its arrays (a, b, the product, exts,
        the members' outputs), the results (product, *member values), and where each
        member's output comes from: "out" (its ``outs`` entry), "g" (the product's array,
        when nothing else reads the product) or "new"); None where the call does not
        serve."""
        # outs given are state tensors' arrays that _codegen._inplace found writable,
        # contiguous and of the member's shape and dtype
        cfg = self._config(a, b) if self.fn is not None else None
        if cfg is None or not arrays_ok(exts, self.layouts, outs):
            return None
        g = np.empty(self.shape, np.float32)
        reuse = self.group.spent
        fresh, srcs = [], []
        for o in outs:
            src = "out"
            if o is None:
                o, src = (g, "g") if reuse else (np.empty(self.shape, np.float32), "new")
                reuse = False
            fresh.append(o)
            srcs.append(src)
        return cfg, (a, b, g, *exts, *fresh), (g, *fresh), srcs

    def launch(self, prepared):
        """Make the C call :meth:`prepare` set up; returns its results."""
        cfg, arrays, results, _ = prepared
        ptrs = self.arrays_type()
        fill(arrays, ptrs)
        _gemm.run_epilogue(cfg, ptrs, self.fn)
        self.calls += 1
        return results

    def __call__(self, a, b, bias, exts, outs):
        p = self.prepare(a, b, exts, outs)
        if p is None:
            return self._separately(a, b, bias, exts, outs)
        return self.launch(p)

    def _separately(self, a, b, bias, exts, outs):
        grp = self.group
        op = grp.gemm.op
        if bias is not None:
            g = op.forward(np, bias, a, b, **grp.gemm.attrs)
        else:
            g = op.forward(np, a, b, **grp.gemm.attrs)
        env = {id(grp.gemm): g}
        env.update((id(e), x) for e, x in zip(grp.ext, exts))
        return (g, *run_members(grp.members, env, outs, self.kernels))
