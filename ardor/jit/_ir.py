"""The IR: a small SSA graph in the style of torch.fx.

A :class:`Graph` is a list of :class:`Node` objects in topological order. Node kinds:

``placeholder``  a graph input (``target`` is its name).
``get_attr``     a live tensor held by the graph (a parameter, buffer or constant);
                 ``target`` is its qualified name, the tensor lives in ``graph.tensors``.
``call``         one op-table op: ``op`` (an ``OpDef``), positional ``args`` (nodes, Python
                 scalars, None, or tuples/lists of them) and keyword ``attrs``. Args are the
                 op's *unpromoted* inputs, exactly as ``dispatch`` receives them; promotion is
                 applied by the runners (:func:`promotion_plan`).
``getitem``      output ``index`` of a multi-output call node.
``fused``        a fused elementwise kernel (made by the fusion pass): ``args`` are its
                 inputs, ``attrs['body']`` is a sub-Graph computing the single output.
``if``/``loop``  control flow for ``script`` (``attrs`` hold sub-graphs).
``output``       the single last node; ``args[0]`` is a (nested) structure of nodes.

Every value-producing node carries ``meta``: ``(shape, dtype)`` (ardor dtype) once known;
multi-output call nodes carry a tuple of those.
"""
from __future__ import annotations

import keyword
import re

import numpy as np

from .. import _dtype as D


def unique_name(base: str, taken: set) -> str:
    """``base``, else ``base_1``, ``base_2``...: the first not in ``taken``, which it joins."""
    name, i = base, 1
    while name in taken:
        name = f"{base}_{i}"
        i += 1
    taken.add(name)
    return name


class GraphError(ValueError):
    """A malformed graph (raised by :meth:`Graph.verify`)."""


KINDS = ("placeholder", "get_attr", "call", "getitem", "fused", "if", "loop", "pycall",
         "output")


def _ops():
    from .._ops.registry import OPS
    return OPS


class Node:
    """One SSA value (or the output marker) of a :class:`Graph`."""

    __slots__ = ("graph", "kind", "name", "op", "args", "attrs", "meta", "target", "index",
                 "__weakref__")

    def __init__(self, graph, kind, name, op=None, args=(), attrs=None, meta=None,
                 target=None, index=None):
        self.graph = graph
        self.kind = kind
        self.name = name
        self.op = op
        self.args = tuple(args)
        self.attrs = dict(attrs or {})
        self.meta = meta
        self.target = target
        self.index = index

    # -- structure -------------------------------------------------------------------
    @property
    def inputs(self) -> list:
        """The nodes this node reads (flattened from args; for control-flow nodes also the
        enclosing-scope values their regions read)."""
        out = []
        _collect(self.args, out)
        for r in regions(self):
            out.extend(r.free_values())
        return out

    @property
    def users(self) -> list:
        """Nodes that read this node (computed on demand)."""
        return [n for n in self.graph.nodes if any(i is self for i in n.inputs)]

    @property
    def multi(self) -> bool:
        """Is the value a tuple of outputs (read through getitem)? Ops with a variable
        number of outputs (unbind, split) are, even when there is one."""
        return self.kind == "call" and self.op.nout != 1 or self.kind in ("if", "loop") \
            and self.attrs.get("nout", 1) != 1

    @property
    def shape(self):
        return None if self.meta is None or self.multi else self.meta[0]

    @property
    def dtype(self):
        return None if self.meta is None or self.multi else self.meta[1]

    @property
    def nout(self) -> int:
        if self.kind == "call" and self.op.nout != 1:
            return len(self.meta) if self.meta is not None else self.op.nout
        if self.kind in ("if", "loop"):
            return self.attrs.get("nout", 1)
        return 1

    @property
    def label(self) -> str:
        if self.kind == "call":
            return self.op.name
        if self.kind == "fused":
            return "fused"
        if self.kind == "pycall":
            from ._script_ops import _fn_name
            return f"pycall[{_fn_name(self.attrs['fn'])}]"
        return self.kind

    def replace_all_uses_with(self, new) -> None:
        """Point every reader of this node (and the output) at ``new``."""
        for n in self.graph.nodes:
            if n is not self:
                remap_inputs(n, {id(self): new})
        self.graph.mutations = [(t, new if v is self else v) for t, v in self.graph.mutations]

    def __repr__(self) -> str:
        return "%" + self.name


def _collect(a, out):
    if isinstance(a, Node):
        out.append(a)
    elif isinstance(a, (tuple, list)):
        for x in a:
            _collect(x, out)
    elif isinstance(a, dict):
        for x in a.values():
            _collect(x, out)


def _subst(a, m):
    if isinstance(a, Node):
        return m.get(id(a), a)
    if isinstance(a, tuple):
        return tuple(_subst(x, m) for x in a)
    if isinstance(a, list):
        return [_subst(x, m) for x in a]
    if isinstance(a, dict):
        return {k: _subst(v, m) for k, v in a.items()}
    return a


def remap_inputs(node: Node, m: dict) -> None:
    """Point ``node``'s inputs through ``m`` (id(node) -> node); for if/loop nodes also the
    enclosing-scope values their regions read (a fused node's body is self-contained)."""
    node.args = _subst(node.args, m)
    for r in regions(node):
        for n in r.nodes:
            remap_inputs(n, m)


def outside_inputs(members: list) -> list:
    """The values ``members`` read that none of them computes, in first-read order."""
    inside = {id(m) for m in members}
    ext: list = []
    for m in members:
        for a in m.inputs:
            if id(a) not in inside and all(a is not e for e in ext):
                ext.append(a)
    return ext


def regions(node: Node) -> list:
    """The region graphs of an if/loop node (empty for other nodes)."""
    if node.kind not in ("if", "loop"):
        return []
    return [v for v in node.attrs.values() if isinstance(v, Graph)]


def map_nodes(a, fn):
    """Apply ``fn`` to every node inside a nested args structure."""
    if isinstance(a, Node):
        return fn(a)
    if isinstance(a, tuple):
        return tuple(map_nodes(x, fn) for x in a)
    if isinstance(a, list):
        return [map_nodes(x, fn) for x in a]
    if isinstance(a, dict):
        return {k: map_nodes(v, fn) for k, v in a.items()}
    return a


def _ident(s: str) -> str:
    s = re.sub(r"\W", "_", str(s))
    if not s or s[0].isdigit() or keyword.iskeyword(s):
        s = "_" + s
    return s


class Graph:
    """An SSA graph of op-table calls (see the module docstring)."""

    def __init__(self):
        self.nodes: list[Node] = []
        self.tensors: dict = {}       # get_attr target -> ardor Tensor (live)
        self.mutations: list = []     # (get_attr target, node): write node into the tensor
        self.consts: set = set()      # get_attr targets that are constants (foldable)
        self._names: set = set()

    # -- building --------------------------------------------------------------------
    def _name(self, base: str) -> str:
        return unique_name(_ident(base), self._names)

    def _add(self, node):
        self.nodes.append(node)
        return node

    def placeholder(self, name: str, shape=None, dtype=None) -> Node:
        """A graph input named ``name`` with optional (shape, dtype)."""
        meta = (tuple(shape), _as_dtype(dtype)) if shape is not None else None
        return self._add(Node(self, "placeholder", self._name(name), target=name, meta=meta))

    def get_attr(self, target: str, tensor) -> Node:
        """A reference to a live tensor (parameter, buffer or constant) named ``target``."""
        if target in self.tensors and self.tensors[target] is not tensor:
            raise GraphError(f"get_attr target {target!r} already names another tensor")
        self.tensors[target] = tensor
        return self._add(Node(self, "get_attr", self._name(target), target=target,
                              meta=(tuple(tensor.shape), tensor.dtype)))

    def call(self, op, args=(), attrs=None, meta=None, name=None) -> Node:
        """A call of op-table op ``op`` (an OpDef or its name)."""
        if isinstance(op, str):
            ops = _ops()
            if op not in ops:
                raise GraphError(f"unknown op {op!r}")
            op = ops[op]
        n = Node(self, "call", self._name(name or op.name), op=op, args=args, attrs=attrs,
                 meta=meta)
        self._add(n)
        if meta is None:
            infer_meta(n)
        return n

    def getitem(self, node: Node, index: int) -> Node:
        """Output ``index`` of a multi-output node."""
        ok = node.meta is not None and node.multi and 0 <= index < len(node.meta)
        meta = node.meta[index] if ok else None
        return self._add(Node(self, "getitem", self._name(f"{node.name}_{index}"),
                              args=(node,), index=index, meta=meta))

    def output(self, value) -> Node:
        """Mark the graph's result (a node or a nested tuple/list/dict of nodes)."""
        return self._add(Node(self, "output", "output", args=(value,)))

    def node_copy(self, node: Node, arg_map) -> Node:
        """Copy ``node`` (from another graph) with its inputs mapped through ``arg_map``."""
        args = map_nodes(node.args, arg_map)
        attrs = dict(node.attrs)
        n = Node(self, node.kind, self._name(node.name), op=node.op, args=args, attrs=attrs,
                 meta=node.meta, target=node.target, index=node.index)
        if node.kind == "get_attr":
            self.tensors[node.target] = node.graph.tensors[node.target]
        return self._add(n)

    # -- queries -----------------------------------------------------------------------
    @property
    def placeholders(self) -> list:
        return [n for n in self.nodes if n.kind == "placeholder"]

    @property
    def output_node(self) -> Node:
        return self.nodes[-1]

    def users_map(self) -> dict:
        """id(node) -> list of reader nodes (the output node included)."""
        m = {id(n): [] for n in self.nodes}
        for n in self.nodes:
            for i in n.inputs:
                if id(i) in m:
                    m[id(i)].append(n)
        return m

    def copy(self, _outer: dict | None = None) -> "Graph":
        """A structural copy (sub-graphs copied too; tensors shared). A region's reads of
        enclosing-scope values point at the enclosing copy's nodes (``_outer`` maps them
        while the enclosing graph is copied; copied alone, a region keeps its reads)."""
        g = Graph()
        m = dict(_outer) if _outer else {}
        for n in self.nodes:
            attrs = {k: (v.copy(m) if isinstance(v, Graph) else v) for k, v in n.attrs.items()}
            args = map_nodes(n.args, lambda x: m.get(id(x), x))
            c = Node(g, n.kind, n.name, op=n.op, args=args,
                     attrs=attrs, meta=n.meta, target=n.target, index=n.index)
            g.nodes.append(c)
            g._names.add(n.name)
            m[id(n)] = c
        g.tensors = dict(self.tensors)
        g.consts = set(self.consts)
        g.mutations = [(t, m[id(v)]) for t, v in self.mutations]
        return g

    def eliminate(self, nodes) -> None:
        """Remove nodes (callers guarantee they have no users)."""
        dead = {id(n) for n in nodes}
        self.nodes = [n for n in self.nodes if id(n) not in dead]
        for n in nodes:
            self._names.discard(n.name)
        used = {n.target for n in self.nodes if n.kind == "get_attr"} \
            | {t for t, _ in self.mutations}   # state written without being read
        self.tensors = {k: v for k, v in self.tensors.items() if k in used}
        self.consts &= used

    # -- checking ----------------------------------------------------------------------
    def free_values(self) -> list:
        """Values of enclosing scopes that this (region) graph reads."""
        own = {id(n) for n in self.nodes}
        out, seen = [], set()
        for n in self.nodes:
            for a in n.inputs:
                if id(a) not in own and id(a) not in seen:
                    seen.add(id(a))
                    out.append(a)
        return out

    def verify(self, _outer: frozenset = frozenset()) -> "Graph":
        """Raise :class:`GraphError` if the graph is malformed; return the graph.

        (Regions of control-flow nodes may read values of enclosing scopes.)"""
        ops = _ops()
        seen, names = set(), set()
        if not self.nodes or self.nodes[-1].kind != "output":
            raise GraphError("a graph must end with exactly one output node")
        for i, n in enumerate(self.nodes):
            where = f"node %{n.name} ({n.kind})"
            if n.graph is not self:
                raise GraphError(f"{where} belongs to another graph")
            if n.kind not in KINDS:
                raise GraphError(f"{where}: unknown node kind {n.kind!r}")
            if n.name in names:
                raise GraphError(f"{where}: duplicate name")
            names.add(n.name)
            if n.kind == "output" and i != len(self.nodes) - 1:
                raise GraphError(f"{where}: output must be the last node and unique")
            for a in n.inputs:
                if id(a) in _outer:
                    continue
                if a.graph is not self:
                    raise GraphError(f"{where} reads %{a.name} from another graph")
                if id(a) not in seen:
                    raise GraphError(f"{where} reads %{a.name} before it is defined (not SSA/"
                                     "topological)")
                if a.kind == "output":
                    raise GraphError(f"{where} reads the output node")
                if (a.multi or a.kind in ("if", "loop")) and n.kind != "getitem":
                    raise GraphError(f"{where} reads multi-output %{a.name} without getitem")
            if n.kind == "call":
                if n.op is None or ops.get(n.op.name) is not n.op:
                    raise GraphError(f"{where}: op {getattr(n.op, 'name', n.op)!r} is not in "
                                     "the op table")
                if not isinstance(n.attrs, dict):
                    raise GraphError(f"{where}: attrs must be a dict")
            elif n.kind == "placeholder":
                if n.args:
                    raise GraphError(f"{where}: a placeholder takes no inputs")
            elif n.kind == "get_attr":
                if n.target not in self.tensors:
                    raise GraphError(f"{where}: get_attr target {n.target!r} has no tensor")
            elif n.kind == "getitem":
                if len(n.args) != 1 or not isinstance(n.args[0], Node):
                    raise GraphError(f"{where}: getitem takes one node")
                src = n.args[0]
                if not src.multi and src.kind not in ("if", "loop"):
                    raise GraphError(f"{where}: getitem of single-output %{src.name}")
                if not isinstance(n.index, int) or not 0 <= n.index < src.nout:
                    raise GraphError(f"{where}: index {n.index} out of range for %{src.name} "
                                     f"with {src.nout} outputs")
            elif n.kind == "fused":
                body = n.attrs.get("body")
                if not isinstance(body, Graph):
                    raise GraphError(f"{where}: a fused node needs a body graph")
                body.verify()
                if len(body.placeholders) != len(n.args):
                    raise GraphError(f"{where}: {len(n.args)} inputs for a body with "
                                     f"{len(body.placeholders)} placeholders")
            elif n.kind in ("if", "loop"):
                for k in ("then", "else") if n.kind == "if" else ("body",):
                    sub = n.attrs.get(k)
                    if not isinstance(sub, Graph):
                        raise GraphError(f"{where}: missing sub-graph {k!r}")
                scope = frozenset(seen) | _outer
                for sub in n.attrs.values():
                    if isinstance(sub, Graph):
                        sub.verify(scope)
            elif n.kind == "pycall":
                if not callable(n.attrs.get("fn")):
                    raise GraphError(f"{where}: pycall needs a callable 'fn'")
            seen.add(id(n))
        for t, v in self.mutations:
            if t not in self.tensors or id(v) not in seen:
                raise GraphError(f"mutation of {t!r} names an unknown tensor or node")
        return self

    # -- rendering ---------------------------------------------------------------------
    def __str__(self) -> str:
        ins = ", ".join(f"{p.name}: {fmt_meta(p.meta)}" for p in self.placeholders)
        lines = [f"graph({ins}):"]
        for n in self.nodes:
            if n.kind == "placeholder":
                continue
            if n.kind == "output":
                lines.append(f"  return {_fmt_arg(n.args[0])}")
                continue
            lhs = f"  %{n.name} : {fmt_meta(n.meta)}"
            if n.kind == "get_attr":
                lines.append(f"{lhs} = get_attr[target={n.target}]")
            elif n.kind == "getitem":
                lines.append(f"{lhs} = getitem(%{n.args[0].name}, {n.index})")
            else:
                attrs = {k: v for k, v in n.attrs.items() if not isinstance(v, Graph)}
                extra = f", {_fmt_attrs(attrs)}" if attrs else ""
                args = ", ".join(_fmt_arg(x) for x in n.args)
                lines.append(f"{lhs} = {n.label}({args}){extra}")
                if n.kind == "fused":
                    body = str(n.attrs["body"]).splitlines()
                    lines.extend("      " + b for b in body)
                for k, v in n.attrs.items():
                    if isinstance(v, Graph) and n.kind != "fused":
                        lines.append(f"    {k}:")
                        lines.extend("      " + b for b in str(v).splitlines())
        for t, v in self.mutations:
            lines.append(f"  mutate {t} <- %{v.name}")
        return "\n".join(lines)

    __repr__ = __str__

    def to_dot(self, name: str = "G") -> str:
        """Graphviz DOT text of the graph (nodes labelled with op, shape and dtype)."""
        out = [f"digraph {_ident(name)} {{", "  rankdir=TB;",
               '  node [shape=box, fontname="monospace"];']
        for n in self.nodes:
            shape = {"placeholder": "ellipse", "get_attr": "note", "output": "doubleoctagon",
                     "fused": "box3d"}.get(n.kind, "box")
            lab = n.label if n.kind != "get_attr" else f"get_attr {n.target}"
            if n.kind == "placeholder":
                lab = f"input {n.target}"
            text = f"{n.name}\\n{lab}"
            if n.kind != "output":
                text += f"\\n{fmt_meta(n.meta)}".replace('"', "'")
            out.append(f'  "{n.name}" [label="{text}", shape={shape}];')
            for i in n.inputs:
                out.append(f'  "{i.name}" -> "{n.name}";')
        out.append("}")
        return "\n".join(out)

    @property
    def code(self) -> str:
        """Python source of the runner generated for this graph."""
        from ._codegen import generate
        return generate(self).source


def _as_dtype(dt):
    if dt is None:
        return D.get_default_dtype()
    if isinstance(dt, D.dtype):
        return dt
    return D._BY_NP[np.dtype(dt)]


def fmt_meta(meta) -> str:
    """``f32[2, 3]`` for (shape, dtype); ``?`` when unknown."""
    if meta is None:
        return "?"
    if not isinstance(meta[1], D.dtype):
        return "(" + ", ".join(fmt_meta(m) for m in meta) + ")"
    shape, dt = meta
    return f"{_short_dtype(dt)}[{', '.join(map(str, shape))}]"


def _short_dtype(dt) -> str:
    n = str(dt).rsplit(".", 1)[-1] if dt is not None else "?"
    return {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16",
            "int64": "i64", "int32": "i32", "int16": "i16", "int8": "i8", "uint8": "u8",
            "bool": "b8", "complex64": "c64", "complex128": "c128"}.get(n, n)


def _fmt_arg(a) -> str:
    if isinstance(a, Node):
        return "%" + a.name
    if isinstance(a, tuple):
        inner = ", ".join(_fmt_arg(x) for x in a)
        return f"({inner}{',' if len(a) == 1 else ''})"
    if isinstance(a, list):
        return "[" + ", ".join(_fmt_arg(x) for x in a) + "]"
    if isinstance(a, dict):
        return "{" + ", ".join(f"{k}: {_fmt_arg(v)}" for k, v in a.items()) + "}"
    return repr(a)


def _fmt_attrs(attrs) -> str:
    return ", ".join(f"{k}={_fmt_arg(v) if not isinstance(v, D.dtype) else v}"
                     for k, v in attrs.items())


# --------------------------------------------------------------------- promotion + meta
def _fake(meta):
    from .._tensor import _make
    shape, dt = meta
    return _make(np.empty((1,) * len(shape), dt.np))


def promotion_plan(node: Node):
    """Per positional arg: the numpy dtype it must be cast to before the op's forward (None
    for no cast), and the (possibly converted) scalar constants, following ``dispatch``'s
    promotion rule exactly. Returns (casts, args) or (None, None) when the op promotes
    nothing."""
    op = node.op
    if op.promote is None:
        return None, None
    from .._ops.dispatch import _promote
    from .._tensor import Tensor
    fake_args, arrays, has_scalars = [], [], False
    for a in node.args:
        if isinstance(a, Node):
            if a.meta is None:
                return None, None
            t = _fake(a.meta)
            fake_args.append(t)
            arrays.append(t._data)
        else:
            has_scalars = True
            fake_args.append(a)
            arrays.append(a)
    out = _promote(op.promote, tuple(fake_args), arrays, has_scalars)
    casts, args = [], []
    for a, f, o in zip(node.args, fake_args, out):
        if isinstance(f, Tensor):
            casts.append(None if o.dtype == a.meta[1].np else o.dtype)
            args.append(a)
        else:
            casts.append(None)
            args.append(o)
    return casts, tuple(args)


def _dummy(meta):
    shape, dt = meta
    n = int(np.prod(shape)) if shape else 1
    if n <= 1 << 16:
        return np.zeros(shape, dt.np)
    return np.broadcast_to(np.zeros((), dt.np), shape)


def infer_meta(node: Node) -> None:
    """Fill ``node.meta`` by running the op through ``dispatch`` on zero inputs of the input
    shapes/dtypes (exact promotion and shape rules, no symbolic shape functions needed)."""
    if node.kind != "call":
        return
    from .._ops.dispatch import dispatch
    from .._tensor import _make
    from ..autograd.grad_mode import no_grad
    missing = [a for a in node.inputs if a.meta is None or a.multi]
    if missing:
        node.meta = None
        return
    args = map_nodes(node.args, lambda a: _make(_dummy(a.meta)))
    with no_grad():
        with np.errstate(all="ignore"):
            r = dispatch(node.op, args, node.attrs)
    if isinstance(r, tuple):
        node.meta = tuple((tuple(t.shape), t.dtype) for t in r)
    else:
        node.meta = (tuple(r.shape), r.dtype)
