"""Running scripted graphs: the interpreter (:func:`run_region`, through ``dispatch`` so
autograd records it) and the generated runner (:class:`ScriptRunner`: the graph written
as straight Python with if/else blocks and for/while loops)."""
from __future__ import annotations

import ast
import builtins
import keyword
import linecache
import math
import operator
import re

from ._ir import Graph, Node, map_nodes, outside_inputs, regions, unique_name
from ._script_ops import (_CMP, _UNDEF, _fn_name, _getattr, _make_list, _make_tuple, _not_any,
                          _slice, _truth)



# ------------------------------------------------------------------------ running
class _Undefined:
    def __repr__(self):
        return "<undefined>"


def run_region(graph: Graph, env: dict, inputs=()):
    """Interpret a script (region) graph; ``env`` maps id(node) of enclosing regions."""
    env = dict(env)
    for p, v in zip(graph.placeholders, inputs):
        env[id(p)] = v
    get = lambda a: env[id(a)]  # noqa: E731
    for n in graph.nodes:
        k = n.kind
        if k == "placeholder":
            continue
        try:
            if k == "get_attr":
                env[id(n)] = graph.tensors[n.target]
            elif k == "pycall":
                a, kw = map_nodes(n.args, get)
                for v in list(a) + list(kw.values()):
                    if v is _UNDEF_VALUE:
                        raise NameError(f"a variable used by {_fn_name(n.attrs['fn'])} is "
                                        "not defined on every path")
                env[id(n)] = n.attrs["fn"](*a, **kw)
            elif k == "getitem":
                env[id(n)] = get(n.args[0])[n.index]
            elif k == "call":
                from .._ops.dispatch import dispatch
                env[id(n)] = dispatch(n.op, tuple(map_nodes(n.args, get)), n.attrs)
            elif k == "fused":
                env[id(n)] = _interpret(n.attrs["body"], *map_nodes(n.args, get))
            elif k == "if":
                c = get(n.args[0]) if isinstance(n.args[0], Node) else n.args[0]
                region = n.attrs["then"] if bool(c) else n.attrs["else"]
                env[id(n)] = run_region(region, env)
            elif k == "loop":
                env[id(n)] = _run_loop(n, env, get)
            elif k == "output":
                return map_nodes(n.args[0], lambda a: env[id(a)]) if n.args[0] is not None \
                    else None
        except Exception as e:  # noqa: BLE001 - named, then re-raised unchanged
            note_error(e, n)
            raise
    raise RuntimeError("region without output")


def note_error(e: BaseException, node) -> None:
    """Add a note naming the graph node (and its operation) that raised ``e``: once, at the
    innermost node (an error in a region is not noted again by its if/loop node)."""
    if node is None or getattr(e, "_ardor_script_node", None) is not None:
        return
    try:
        e._ardor_script_node = node
    except AttributeError:  # pragma: no cover - exceptions without a __dict__
        return
    where = f" ({node.attrs['src']})" if node.kind == "pycall" and "src" in node.attrs \
        else ""
    line = node.attrs.get("line") if node.kind in ("if", "loop") else None
    at = f" at line {line}" if line else ""
    e.add_note(f"while running %{node.name} = {node.label}{where}{at} of a scripted graph")


_UNDEF_VALUE = _UNDEF


def _run_loop(n, env, get):
    vals = [get(a) if isinstance(a, Node) else a for a in n.args]
    nr = n.attrs["nrange"]
    carried = list(vals[nr:])
    body, cond = n.attrs["body"], n.attrs.get("cond")
    brk, ret, cont = n.attrs["brk"], n.attrs["ret"], n.attrs["cont"]
    if nr:
        start, stop, step = (int(v) for v in vals[:3])
        it = range(start, stop, step)
        for i in it:
            if cont is not None:
                carried[cont] = False
            carried = list(run_region(body, env, [i] + carried))
            if carried[brk] or ret is not None and carried[ret]:
                break
    else:
        while bool(run_region(cond, env, carried)):
            if cont is not None:
                carried[cont] = False
            carried = list(run_region(body, env, carried))
            if carried[brk] or ret is not None and carried[ret]:
                break
    carried[brk] = False
    return tuple(carried)


def run_control(node, env: dict):
    """Run one if/loop/pycall node given the values computed so far (id(node) -> value);
    the generic interpreter delegates control flow here."""
    get = lambda a: env[id(a)]  # noqa: E731
    if node.kind == "if":
        c = get(node.args[0]) if isinstance(node.args[0], Node) else node.args[0]
        return run_region(node.attrs["then"] if bool(c) else node.attrs["else"], env)
    if node.kind == "loop":
        return _run_loop(node, env, get)
    a, kw = map_nodes(node.args, get)
    return node.attrs["fn"](*a, **kw)


# ------------------------------------------------------------------------ generated runner
_INFIX = {operator.add: "+", operator.sub: "-", operator.mul: "*", operator.truediv: "/",
          operator.floordiv: "//", operator.mod: "%", operator.pow: "**",
          operator.matmul: "@", operator.and_: "&", operator.or_: "|", operator.xor: "^",
          operator.lshift: "<<", operator.rshift: ">>", operator.lt: "<", operator.le: "<=",
          operator.gt: ">", operator.ge: ">=", operator.eq: "==", operator.ne: "!=",
          operator.is_: "is", operator.is_not: "is not", _CMP[ast.In]: "in",
          _CMP[ast.NotIn]: "not in"}
_PREFIX = {operator.neg: "-", operator.pos: "+", operator.invert: "~", operator.not_: "not "}


def _undef_error(name):
    raise NameError(f"a variable used by {name} is not defined on every path")


def _is_undef(a) -> bool:
    return isinstance(a, str) and a == _UNDEF


def _maybe_undefined(graph: Graph) -> set:
    """ids of the values (if/loop outputs as (id(node), i), loop-carried placeholders,
    getitems) that may hold the undefined marker: a variable not assigned on every path."""
    U: set = set()

    def u(a):
        return id(a) in U if isinstance(a, Node) else _is_undef(a)

    def walk(g):
        for n in g.nodes:
            if n.kind == "if":
                walk(n.attrs["then"])
                walk(n.attrs["else"])
                outs = [r.output_node.args[0] for r in (n.attrs["then"], n.attrs["else"])]
                for i in range(n.nout):
                    if any(u(o[i]) for o in outs):
                        U.add((id(n), i))
            elif n.kind == "loop":
                nr = n.attrs["nrange"]
                init = n.args[nr:]
                body, cond = n.attrs["body"], n.attrs.get("cond")
                phs = [body.placeholders[1 if nr else 0:]] + ([cond.placeholders] if cond
                                                              else [])
                for k, a in enumerate(init):
                    if u(a):
                        U.update(id(p[k]) for p in phs)
                while True:
                    walk(body)
                    if cond is not None:
                        walk(cond)
                    outs = body.output_node.args[0]
                    new = [k for k in range(len(init)) if u(outs[k]) and id(phs[0][k]) not in U]
                    if not new:
                        break
                    for k in new:
                        U.update(id(p[k]) for p in phs)
                for k in range(len(init)):
                    if u(init[k]) or u(outs[k]):
                        U.add((id(n), k))
            elif n.kind == "getitem" and n.args[0].kind in ("if", "loop"):
                if (id(n.args[0]), n.index) in U:
                    U.add(id(n))
    walk(graph)
    return U


def _all_tensors(graph: Graph, out=None) -> dict:
    out = {} if out is None else out
    out.update(graph.tensors)
    for n in graph.nodes:
        for r in regions(n):
            _all_tensors(r, out)
    return out


class _ScriptGen:
    """Writes the Python source of a scripted graph's runner (see :class:`ScriptRunner`)."""

    def __init__(self, graph: Graph, name: str, fuse: bool = True):
        from .._ops.dispatch import dispatch
        self.graph = graph
        self.fuse = fuse
        self.name = name
        self.glob = {"_UNDEF": _UNDEF, "_undef": _undef_error, "_dispatch": dispatch}
        self.lines: list = []        # (depth, text, node)
        self.var: dict = {}          # id(node) -> variable name
        self.taken: set = set()
        self.ids: dict = {}          # id(global object) -> its global name
        self.undef = _maybe_undefined(graph)
        self.items: dict = {}        # id(if/loop node) -> {index: [getitem nodes]}
        self.attrs: dict = {}        # get_attr target -> variable
        self.prologue: list = []     # the get_attr reads
        self.indices: set = set()    # ids of the for-range loops' index placeholders
        self._getitems(graph)
        self.dead: dict = {}         # id(loop body's output node) -> its unneeded positions
        self._dead_carried(graph)

    def _getitems(self, g):
        for n in g.nodes:
            if n.kind == "getitem" and n.args[0].kind in ("if", "loop"):
                self.items.setdefault(id(n.args[0]), {}).setdefault(n.index, []).append(n)
            if n.kind == "loop" and n.attrs["nrange"]:
                self.indices.add(id(n.attrs["body"].placeholders[0]))
            for r in regions(n):
                self._getitems(r)

    def _dead_carried(self, g):
        """Find the values loops carry that nothing needs: not read after the loop, nor by
        the body or the condition before being assigned again (a variable the body only
        sets, such as a temporary)."""
        gusers = None
        for n in g.nodes:
            for r in regions(n):
                self._dead_carried(r)
            if n.kind != "loop":
                continue
            gusers = gusers or g.users_map()
            a = n.attrs
            body, cond = a["body"], a.get("cond")
            phs = body.placeholders[1 if a["nrange"] else 0:]
            users = body.users_map()
            cusers = cond.users_map() if cond is not None else {}
            cphs = cond.placeholders if cond is not None else []
            out = body.output_node
            dead = set()
            for k in range(n.nout):
                if k in (a["brk"], a["ret"], a["cont"]) or any(
                        gusers[id(gi)] for gi in self.items.get(id(n), {}).get(k, ())):
                    continue
                if any(u is not out or any(o is phs[k] for i, o in enumerate(out.args[0])
                                           if i != k) for u in users[id(phs[k])]):
                    continue
                if cphs and cusers[id(cphs[k])]:
                    continue
                dead.add(k)
            if dead:
                self.dead[id(out)] = dead

    def needed_by(self, user, value) -> bool:
        """Does ``user`` need ``value`` (not only as a loop's unneeded carried value)?"""
        dead = self.dead.get(id(user))
        return dead is None or any(o is value for i, o in enumerate(user.args[0])
                                   if i not in dead)

    # -- names and values ----------------------------------------------------------------
    def alloc(self, base: str) -> str:
        base = re.sub(r"\W", "_", str(base)) or "v"
        if base[0] == "_" or base[0].isdigit() or keyword.iskeyword(base) or \
                hasattr(builtins, base):
            base = ("v" if base[0] == "_" else "v_") + base
        return unique_name(base, self.taken)

    def bind(self, node, name=None) -> str:
        v = self.var[id(node)] = name or self.alloc(node.name)
        return v

    def global_(self, obj, prefix: str, hint: str = "") -> str:
        name = self.ids.get(id(obj))
        if name is None or self.glob.get(name) is not obj:
            base = f"{prefix}{re.sub(r'[^0-9a-zA-Z_]', '_', hint)}" if hint else \
                f"{prefix}{len(self.ids)}"
            name, i = base, 1
            while name in self.glob:
                name = f"{base}_{i}"
                i += 1
            self.ids[id(obj)] = name
            self.glob[name] = obj
        return name

    def const(self, v) -> str:
        if v is None or isinstance(v, bool) or type(v) is int:
            return repr(v)
        if type(v) is float:
            return repr(v) if math.isfinite(v) else f"float({str(v)!r})"
        if type(v) is str:
            return "_UNDEF" if v == _UNDEF else repr(v)
        if type(v) is tuple:
            inner = ", ".join(self.const(x) for x in v)
            return f"({inner}{',' if len(v) == 1 else ''})"
        if type(v) is list:
            return "[" + ", ".join(self.const(x) for x in v) + "]"
        return self.global_(v, "_c")

    def ref(self, a) -> str:
        if isinstance(a, Node):
            return self.var[id(a)]
        if isinstance(a, tuple):
            inner = ", ".join(self.ref(x) for x in a)
            return f"({inner}{',' if len(a) == 1 else ''})"
        if isinstance(a, list):
            return "[" + ", ".join(self.ref(x) for x in a) + "]"
        if isinstance(a, dict):
            return "{" + ", ".join(f"{self.const(k)}: {self.ref(v)}" for k, v in a.items()) + "}"
        return self.const(a)

    def atom(self, a) -> str:
        """``a`` rendered where an attribute or subscript follows it."""
        s = self.ref(a)
        return s if s.isidentifier() else f"({s})"

    def emit(self, depth: int, text: str, node=None) -> None:
        self.lines.append((depth, text, node))

    # -- nodes -------------------------------------------------------------------------------
    def pycall(self, n) -> str:
        fn = n.attrs["fn"]
        a, kw = n.args
        A = [self.ref(x) for x in a]
        K = [f"{k}={self.ref(v)}" if isinstance(k, str) and k.isidentifier()
             and not keyword.iskeyword(k) else None for k, v in kw.items()]
        if None in K:
            K = [f"**{self.ref(dict(kw))}"]
        try:
            infix, prefix = _INFIX.get(fn), _PREFIX.get(fn)
        except TypeError:  # an unhashable callable
            infix = prefix = None
        if not K:
            if infix and len(A) == 2:
                return f"({A[0]} {infix} {A[1]})"
            if prefix and len(A) == 1:
                return f"({prefix}{A[0]})"
            if fn is operator.getitem and len(A) == 2:
                return f"{self.atom(a[0])}[{A[1]}]"
            if fn is _make_tuple:
                return f"({', '.join(A)}{',' if len(A) == 1 else ''})"
            if fn is _make_list:
                return f"[{', '.join(A)}]"
            if fn is _truth and len(A) == 1:
                return f"bool({A[0]})"
            if fn is _not_any:
                if any(x is True for x in a):
                    return "False"
                live = [r for x, r in zip(a, A) if x is not False]
                return f"(not ({' or '.join(live)}))" if live else "True"
            if fn is _getattr and len(A) == 2 and isinstance(a[1], str) and \
                    a[1].isidentifier() and not keyword.iskeyword(a[1]):
                return f"{self.atom(a[0])}.{a[1]}"
            if fn is _slice and len(A) == 3:
                return f"slice({', '.join(A)})"
        m = getattr(fn, "_method", None)
        if m is not None and A and m.isidentifier() and not keyword.iskeyword(m):
            return f"{self.atom(a[0])}.{m}({', '.join(A[1:] + K)})"
        name = getattr(fn, "__name__", None) or type(fn).__name__
        return f"{self.global_(fn, '_f_', str(name).strip('_') or 'call')}({', '.join(A + K)})"

    def segments(self, g: Graph) -> dict:
        """id(first node) -> (calls, external inputs, outputs) of each run of two or more
        consecutive tensor calls in ``g`` (get_attr reads may sit between them), whose
        values the run's :class:`~._script_segments.Segment` may compute (see there)."""
        from ._script_segments import tensor_call
        users = g.users_map()
        runs, cur = [], []
        for n in g.nodes + [None]:
            if n is not None and n.kind == "get_attr" and cur:
                continue
            # (a call reading a loop's index, as ``xs[i]``, would take a new signature
            # at every step: it stays outside)
            if n is not None and tensor_call(n) and not any(
                    isinstance(a, Node) and (id(a) in self.undef or id(a) in self.indices)
                    or _is_undef(a) for a in list(n.args[0]) + list(n.args[1].values())):
                cur.append(n)
                continue
            if len(cur) >= 2:
                runs.append(cur)
            cur = []
        out = {}
        for calls in runs:
            inside = {id(c) for c in calls}
            ext = outside_inputs(calls)
            outs = [c for c in calls if any(id(u) not in inside and self.needed_by(u, c)
                                            for u in users[id(c)])]
            if outs:
                out[id(calls[0])] = (calls, ext, outs)
        return out

    def segment(self, calls, ext, outs, depth) -> None:
        """Emit a run of tensor calls: its Segment first, the calls where it answers None."""
        from ._script_segments import Segment
        sub = Graph()
        m = {}
        for e in ext:
            m[id(e)] = sub.placeholder(e.name)
        for c in calls:
            m[id(c)] = sub.node_copy(c, lambda a: m[id(a)])
        sub.output(tuple(m[id(o)] for o in outs))
        for e in ext:
            if e.kind == "get_attr":
                self.get_attr(e)
        r = self.alloc("seg")
        fn = self.global_(Segment(sub), "_seg")
        self.emit(depth, f"{r} = {fn}({', '.join(self.ref(e) for e in ext)})", calls[0])
        self.emit(depth, f"if {r} is None:", calls[0])
        for c in calls:
            self.emit(depth + 1, f"{self.bind(c)} = {self.pycall(c)}", c)
        self.emit(depth, "else:", calls[0])
        self.emit(depth + 1, f"{', '.join(self.var[id(o)] for o in outs)}, = {r}", calls[0])

    def get_attr(self, n) -> None:
        """Bind a get_attr node: read once, at the top (a live tensor: always the same)."""
        v = self.attrs.get(n.target)
        if v is None:
            v = self.attrs[n.target] = self.bind(n)
            self.prologue.append(f"{v} = _T[{n.target!r}]")
        self.var[id(n)] = v

    def region(self, g: Graph, depth: int):
        """Emit the nodes of ``g`` (its placeholders already bound); return its output."""
        segs = self.segments(g) if self.fuse else {}
        done: set = set()
        for n in g.nodes:
            k = n.kind
            if k == "placeholder" or id(n) in done:
                continue
            if id(n) in segs:
                calls, ext, outs = segs[id(n)]
                self.segment(calls, ext, outs, depth)
                done.update(id(c) for c in calls)
                continue
            if k == "output":
                return n.args[0]
            if k == "get_attr":
                self.get_attr(n)
            elif k == "getitem":
                src = n.args[0]
                if src.kind in ("if", "loop"):
                    continue  # bound to the variable the if/loop assigns
                self.emit(depth, f"{self.bind(n)} = {self.atom(src)}[{n.index}]", n)
            elif k == "pycall":
                label = _fn_name(n.attrs["fn"])
                for a in list(n.args[0]) + list(n.args[1].values()):
                    if isinstance(a, Node) and id(a) in self.undef or _is_undef(a):
                        self.emit(depth, f"if {self.ref(a)} is _UNDEF: _undef({label!r})", n)
                self.emit(depth, f"{self.bind(n)} = {self.pycall(n)}", n)
            elif k == "call":
                op = self.global_(n.op, "_op")
                attrs = self.global_(n.attrs, "_at")
                self.emit(depth, f"{self.bind(n)} = _dispatch({op}, {self.ref(tuple(n.args))}, "
                                 f"{attrs})  # {n.op.name}", n)
            elif k == "fused":
                body = n.attrs["body"]
                run = self.global_(lambda *xs, _b=body: _interpret(_b, *xs), "_fz")
                args = ", ".join(self.ref(a) for a in n.args)
                self.emit(depth, f"{self.bind(n)} = {run}({args})", n)
            elif k == "if":
                self.if_(n, depth)
            elif k == "loop":
                self.loop(n, depth)
            else:
                raise NotImplementedError(f"node kind {k!r} in a scripted graph")
        raise ValueError("region without output")

    def outvars(self, n, all_: bool) -> dict:
        """index -> variable for the outputs of if/loop ``n`` that are read (all when
        ``all_``, as loops carry every value)."""
        out = {}
        for i in range(n.nout):
            users = self.items.get(id(n), {}).get(i, [])
            if users or all_:
                name = self.bind(users[0]) if users else self.alloc(f"{n.name}_{i}")
                for u in users[1:]:
                    self.var[id(u)] = name
                out[i] = name
        return out

    def assign(self, depth, targets, values, node) -> None:
        pairs = [(t, self.ref(v)) for t, v in zip(targets, values)]
        pairs = [(t, v) for t, v in pairs if t != v]
        if pairs:
            lhs = ", ".join(t for t, _ in pairs)
            rhs = ", ".join(v for _, v in pairs)
            self.emit(depth, f"{lhs} = {rhs}", node)

    def if_(self, n, depth) -> None:
        outs = self.outvars(n, False)
        self.emit(depth, f"if {self.ref(n.args[0])}:", n)
        for i, key in enumerate(("then", "else")):
            if i:
                self.emit(depth, "else:", n)
            mark = len(self.lines)
            res = self.region(n.attrs[key], depth + 1)
            self.assign(depth + 1, list(outs.values()), [res[i] for i in outs], n)
            if len(self.lines) == mark:
                self.emit(depth + 1, "pass", n)

    def loop(self, n, depth) -> None:
        a = n.attrs
        nr = a["nrange"]
        body, cond = a["body"], a.get("cond")
        carried = self.outvars(n, True)
        cv = [carried[i] for i in range(n.nout)]
        self.assign(depth, cv, list(n.args[nr:]), n)
        for p, v in zip(body.placeholders[1 if nr else 0:], cv):
            self.var[id(p)] = v
        inner = depth + 1
        if nr:
            i = self.bind(body.placeholders[0])
            bounds = [self.ref(b) if type(b) is int else f"int({self.ref(b)})"
                      for b in n.args[:3]]
            if bounds[2] == "1":
                bounds = bounds[1:2] if bounds[0] == "0" else bounds[:2]
            self.emit(depth, f"for {i} in range({', '.join(bounds)}):", n)
        else:
            for p, v in zip(cond.placeholders, cv):
                self.var[id(p)] = v
            if all(x.kind in ("placeholder", "output") for x in cond.nodes):
                self.emit(depth, f"while {self.ref(self.region(cond, inner))}:", n)
            else:
                self.emit(depth, "while True:", n)
                c = self.region(cond, inner)
                self.emit(inner, f"if not {self.ref(c)}:", n)
                self.emit(inner + 1, "break", n)
        if a["cont"] is not None:
            self.emit(inner, f"{cv[a['cont']]} = False", n)
        res = self.region(body, inner)
        dead = self.dead.get(id(body.output_node), ())
        live = [k for k in range(n.nout) if k not in dead]
        self.assign(inner, [cv[k] for k in live], [res[k] for k in live], n)
        phs = body.placeholders[1 if nr else 0:]
        init = n.args[nr:]
        flags = [cv[k] for k in (a["brk"], a["ret"]) if k is not None and res[k] is not False
                 and not (res[k] is phs[k] and init[k] is False)]  # (a flag never set)
        if flags:
            self.emit(inner, f"if {' or '.join(flags)}:", n)
            self.emit(inner + 1, "break", n)
        self.emit(depth, f"{cv[a['brk']]} = False", n)

    # -- the function ----------------------------------------------------------------------------
    def build(self):
        params = [self.bind(p) for p in self.graph.placeholders]
        out = self.region(self.graph, 1)
        for t, v in self.graph.mutations:
            self.glob["_mutate"] = _mutate
            self.emit(1, f"_mutate(_T[{t!r}], {self.ref(v)})", self.graph.output_node)
        self.emit(1, f"return {self.ref(out)}", self.graph.output_node)
        head = f"def run({', '.join(['_T'] + params)}):"
        body = ["    " + t for t in self.prologue] + ["    " * d + t for d, t, _ in self.lines]
        src = "\n".join([head] + body) + "\n"
        first = 2 + len(self.prologue)
        line_nodes = {i + first: nd for i, (_, _, nd) in enumerate(self.lines)}
        return src, line_nodes


def _interpret(body, *xs):
    from ._codegen import interpret
    return interpret(body, *xs)


def _mutate(dst, val):
    """Write a graph mutation's value into its tensor (as the interpreter does)."""
    if val is not dst:
        from ..autograd.grad_mode import no_grad
        with no_grad():
            dst.copy_(val)


_RUNNERS = 0


class ScriptRunner:
    """The generated runner of a scripted graph: straight Python source (``code``) in which
    ``if`` nodes are if/else blocks and ``loop`` nodes ``for``/``while`` loops over the
    carried values (break/continue/return flags as the interpreter keeps them), and pycalls
    are direct calls (operators and methods written as Python expressions) on the values
    the interpreter holds: Tensors, whose ops go straight to ``dispatch`` (which records
    no autograd when nothing requires grad). No per-node interpretation, no environment
    dictionaries. Errors are re-raised unchanged, with a note naming the node."""

    def __init__(self, graph: Graph, name: str = "script", fuse: bool = True):
        global _RUNNERS
        gen = _ScriptGen(graph, name, fuse)
        self.source, self._lines = gen.build()
        _RUNNERS += 1
        self.filename = f"<ardor.jit script {name} #{_RUNNERS}>"
        linecache.cache[self.filename] = (len(self.source), None,
                                          self.source.splitlines(True), self.filename)
        self.globals = gen.glob
        exec(compile(self.source, self.filename, "exec"), self.globals)
        self.fn = self.globals["run"]
        self.graph = graph
        self.tensors = _all_tensors(graph)
        self.calls = 0

    @property
    def code(self) -> str:
        """The generated Python source."""
        return self.source

    def __call__(self, *values):
        self.calls += 1
        try:
            return self.fn(self.tensors, *values)
        except Exception as e:  # noqa: BLE001 - named, then re-raised unchanged
            node, tb = None, e.__traceback__
            while tb is not None:  # the innermost frame of this runner
                if tb.tb_frame.f_code.co_filename == self.filename:
                    node = self._lines.get(tb.tb_lineno, node)
                tb = tb.tb_next
            note_error(e, node)
            raise


def generate_script(graph: Graph, name: str = "script") -> ScriptRunner:
    """The :class:`ScriptRunner` of a graph with control-flow or pycall nodes (what
    ``_codegen.generate`` returns for such graphs); its ``source`` is the Python code."""
    return ScriptRunner(graph, name)

