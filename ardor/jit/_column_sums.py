"""Column sums and the elementwise work that reads them, in one C kernel.

A Linear layer's bias gradient is the sum of its output gradient over the batch
(``sum(dy, dim=0)``); in a compiled training step the optimizer's bias update reads it
next (SGD: the momentum buffer, then the bias), and the gradient itself is kept for
``.grad`` (a ``view`` and a ``clone``). Run one by one, that is five small calls per layer,
each a few microseconds of Python and a walk over a 512-float vector. Here the sum's
readers join it (its "members", in graph order) as they join a GEMM's epilogue
(``_epilogue``): one C function sums the columns (each thread its own columns, rows added
in order, as numpy's axis-0 sum adds them, so the values are eager's bit for bit) and then
runs the members' arithmetic on each column.

A node joins when it reads the sum or an earlier member and is elementwise (or a
``view``/``reshape``/``clone``, which pass the value on) with the sum's N elements, and its
other inputs are computed where the sum runs (or are graph inputs or state tensors) and
broadcast to N. A member writing a state tensor in place also needs every reader of the
old value to come before the sum. Where the C kernel does not serve at run time (a strided
input), the members run one after another.
"""
from __future__ import annotations

import ctypes

import numpy as np

from .._ops._addr import fill
from .._ops._gemm import _threads
from .. import _dtype as D
from ._epilogue import (_c_member, _Scan, arrays_ok, ext_declarations, run_members,
                        traced_layouts)
from ._ir import Graph, Node

_PASS_ON = ("view", "reshape", "clone")


class Group:
    """A column sum (``root``, of the 2-D ``src``) and its members; ``ext``: the members'
    other inputs; ``needed``: the root and members whose values are read elsewhere."""

    def __init__(self, root: Node, members: list, ext: list, needed: list):
        self.root, self.members, self.ext, self.needed = root, members, ext, needed
        self.src = root.args[0]
        self.lead = [self.src]


def _root_ok(n: Node) -> bool:
    if n.kind != "call" or n.op.name != "sum" or n.meta is None or n.meta[1] != D.float32:
        return False
    src = n.args[0]
    at = n.attrs
    dim = at.get("dim")
    return (isinstance(src, Node) and src.meta is not None and len(src.meta[0]) == 2
            and src.meta[1] == D.float32 and src.meta[0][0] > 0 and at.get("dtype") is None
            and isinstance(dim, (tuple, list)) and len(dim) == 1 and dim[0] in (0, -2))


def _vector(shape, N: int) -> bool:
    """Whether ``shape`` holds N elements along its last dim only: (N,), (1, N)."""
    return len(shape) >= 1 and shape[-1] == N and all(s == 1 for s in shape[:-1])


def _column_arg(shape, N: int) -> bool:
    return all(s == 1 for s in shape) or _vector(shape, N)


def find(graph: Graph, inplace: dict, taken: set) -> list:
    """The column-sum groups of ``graph`` (``inplace`` as for ``_epilogue.find``; nodes in
    ``taken`` belong to other groups already)."""
    scan = _Scan(graph, inplace, set(taken))
    groups = []
    for ir, r in enumerate(graph.nodes):
        if id(r) in scan.taken or not _root_ok(r):
            continue
        N = r.args[0].meta[0][1]

        def joins(n, inside):
            if n.meta is None or n.meta[1] != D.float32 or not _vector(n.meta[0], N):
                return False
            if n.kind == "call" and n.op.name in _PASS_ON:
                return len(n.inputs) == 1
            return _c_member(n) and all(
                id(a) in inside or scan.available(a, ir, lambda s: _column_arg(s, N))
                for a in n.inputs)
        members, ext, inside = scan.grow(r, ir, joins, [])
        if members:
            needed = [m for m in [r] + members if not scan.spent(m, inside)]
            groups.append(Group(r, members, ext, needed))
    return groups


def source(group: Group) -> str:
    """C source of ``colsum(ptrs, nt)``: ptrs = [src, *ext, *outputs of ``needed``]."""
    from ._epilogue import _statements
    from ._kernels import _HELPERS
    M, N = group.src.meta[0]
    lines = [_HELPERS, "void colsum(void* const* P, int nt) {",
             "  const float* x = (const float*)P[0];"]
    names = {id(group.root): "v"}
    lines += ext_declarations(group.ext)
    for k, e in enumerate(group.ext):
        names[id(e)] = f"e{k}[{'j' if _vector(e.meta[0], N) else '0'}]"
    outs = {}
    for q, m in enumerate(group.needed):
        lines.append(f"  float* o{q} = (float*)P[{1 + len(group.ext) + q}];")
        outs[id(m)] = f"o{q}"
    # column blocks of 64 floats (four vector registers) shared out among the threads
    lines += ["  #pragma omp parallel for num_threads(nt) schedule(static) if(nt > 1)",
              f"  for (int64_t jb = 0; jb < {N}; jb += 64) {{",
              f"    int64_t nb = {N} - jb < 64 ? {N} - jb : 64;",
              "    float s[64];",
              "    for (int64_t c = 0; c < nb; c++) s[c] = x[jb + c];",
              f"    for (int64_t i = 1; i < {M}; i++) {{",
              f"      const float* xi = x + i * {N} + jb;",
              "      #pragma omp simd",
              "      for (int64_t c = 0; c < nb; c++) s[c] += xi[c];",
              "    }",
              "    #pragma omp simd",
              "    for (int64_t c = 0; c < nb; c++) {",
              "      int64_t j = jb + c;",
              "      float v = s[c];"]
    if id(group.root) in outs:
        lines.append(f"      {outs[id(group.root)]}[j] = v;")
    for q, mem in enumerate(group.members):
        if mem.kind == "call" and mem.op.name in _PASS_ON:
            names[id(mem)] = names[id(mem.inputs[0])]
        else:
            stmts, res = _statements(mem, names, prefix=f"m{q}_")
            lines += ["      " + s for s in stmts]
            names[id(mem)] = res
        if id(mem) in outs:
            lines.append(f"      {outs[id(mem)]}[j] = {names[id(mem)]};")
    lines += ["    }", "  }", "}"]
    return "\n".join(lines) + "\n"


class Runner:
    """``runner(src, exts, outs)`` -> (sum, *member values), None for those not read
    elsewhere: one C call, or (where that does not serve) the nodes one after another."""

    def __init__(self, group: Group, kernels: dict):
        from ._kernels import compile_c
        self.group = group
        self.kernels = kernels
        lib = compile_c(source(group))
        self.fn = self.address = None
        if lib is not None:
            self.fn = lib.colsum
            self.address = ctypes.cast(lib.colsum, ctypes.c_void_p).value
            self.fn.argtypes = [ctypes.c_void_p, ctypes.c_int]
            self.fn.restype = None
        self.shape = tuple(group.src.meta[0])
        self.layouts = traced_layouts(group.ext)
        self.needed = [(tuple(m.meta[0]), i) for i, m in enumerate([group.root] + group.members)
                       if any(m is x for x in group.needed)]
        self.ptrs_type = ctypes.c_void_p * (1 + len(group.ext) + len(group.needed))
        self.nodes = 1 + len(group.members)
        self.threads = self.shape[0] * self.shape[1] >= 1 << 15
        self.calls = 0   # how many runs took the C path (tests read it)

    def prepare(self, x, exts, outs):
        """For the one C call: (its arrays (x, exts, the outputs of ``needed``: a member's
        ``outs`` entry where given, else new), the results (sum, *member values; None for
        those not read elsewhere)); None where the call does not serve."""
        # outs: per member, a state tensor's array to write in place, or None
        if self.fn is None or type(x) is not np.ndarray or x.dtype != np.float32 \
                or not x.flags.c_contiguous or x.shape != self.shape \
                or not arrays_ok(exts, self.layouts, outs):
            return None
        res = [None] * self.nodes
        for s, i in self.needed:
            o = outs[i - 1] if i else None
            res[i] = np.empty(s, np.float32) if o is None else o
        return (x, *exts, *[res[i] for _, i in self.needed]), tuple(res)

    def launch(self, prepared):
        """Make the C call :meth:`prepare` set up; returns its results."""
        arrays, res = prepared
        ptrs = self.ptrs_type()
        fill(arrays, ptrs)
        self.fn(ptrs, _threads() if self.threads else 1)
        self.calls += 1
        return res

    def __call__(self, x, exts, outs):
        p = self.prepare(x, exts, outs)
        if p is not None:
            return self.launch(p)
        grp = self.group
        r = np.asarray(grp.root.op.forward(np, x, **grp.root.attrs))
        env = {id(grp.root): r}
        env.update((id(e), a) for e, a in zip(grp.ext, exts))
        return (r, *run_members(grp.members, env, outs, self.kernels))
