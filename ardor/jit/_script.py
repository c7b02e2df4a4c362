"""ardor.jit.script: compile a Python function (or a module's forward) from its source.

The supported subset (anything else is a compile-time :class:`ScriptError` naming the
construct and the source line):

* arguments: tensors, and ``int``/``float``/``bool``/``List[int]``/``Optional[Tensor]``
  annotated arguments (checked at call time), with defaults;
* assignments (also tuple unpacking and ``+=``-style), expressions over tensors and Python
  values: arithmetic, comparisons, ``is``/``is not``, ``and``/``or``/``not`` (short-circuit),
  conditional expressions, subscripts and slices, tuples and lists;
* calls of ardor functions, tensor methods, submodules (``self.fc(x)``), other scripted
  functions and builtins (``len``, ``range``, ``int``, ``float``, ``min``, ``max``, ...);
* ``if``/``elif``/``else`` on tensor or Python values, ``for`` over ``range(...)`` or over a
  ``ModuleList``/``Sequential``/``ModuleDict``/tuple known at compile time (unrolled; also
  through ``enumerate``/``zip``/``.items()``), ``while``, ``break``, ``continue``, and
  ``return`` anywhere (early returns);
* ``raise E(...)`` of an exception class, ``assert``, and f-strings;
* function-local ``import``/``from ... import`` of ardor modules (bound at compile time;
  anything else is a ScriptError naming the import), dict literals and ``dict(k=v)``
  (their entries known at compile time, for ``d[k]`` and ``**d``), ``any``/``all`` of a
  generator over a sequence known at compile time, methods of compile-time strings and
  dicts, and ``dispatch(op, (args...), {attrs})`` of an op-table op (a graph ``call``);
* a ``for`` over ``range`` with constant bounds is unrolled when its body selects a module
  or a weight by the index (``self.layers[i]``, ``getattr(self, names[i])``).

Calls of submodules (their ``forward``), of methods of modules, of other scripted
functions and of the user's plain Python functions (not ardor's, numpy's, torch's or the
standard library's, and not marked :func:`ignore`) are compiled into the caller's graph,
as ``torch.jit.script`` compiles what scripted code calls recursively: the callee's body is compiled with its parameters bound to the argument
values (so Python-valued arguments and module attributes stay compile-time constants), and
its parameters and buffers become ``get_attr`` nodes named like the root module's
state_dict keys (``layers.0.weight``). A callee that cannot be compiled (or that has hooks,
or calls itself) stays a ``pycall`` run eagerly; ``attrs['why']`` says why. Module
attributes, including ``training``, are read at compile time; a :class:`ScriptModule` is
compiled once per train/eval state of its modules.

The IR: structured control flow in SSA form. ``if`` nodes hold ``then``/``else`` regions,
``loop`` nodes a ``body`` (and for ``while`` a ``cond``) region; regions may read values of
enclosing regions and end with an output node listing the values they define. Variables
assigned in a branch or loop body are merged through the node's outputs; ``break``,
``continue`` and ``return`` are lowered to flag variables that guard the rest of a block.
Calls that are not op-table ops are ``pycall`` nodes naming the resolved callable.

Running: when autograd would record nothing (grad mode off, or nothing the graph can see
requires grad), a call runs the generated runner (:class:`ScriptRunner`, its source in
``python_code``): the graph written as straight Python, ``if`` nodes as if/else blocks and
``loop`` nodes as ``for``/``while`` loops over local variables, pycalls as direct calls
and Python operators. Otherwise the graph is interpreted (:func:`run_region`) through
``dispatch``, so autograd records it. Both take data-dependent branches and trip counts
right for every input, and an error is re-raised unchanged with a note naming the node.
"""
from __future__ import annotations

import ast
import builtins
import inspect
import linecache
import operator
import re
import sys
import textwrap

from .._state import state
from .._tensor import Tensor
from ._ir import Graph, Node, map_nodes
# the helpers are also reached as ``_script.<name>`` by saved graphs (see _serialize)
from ._script_ops import (_BIN, _CMP, _COMPILE_TIME, _COMPILE_TIME_ITER, _FLAGS,  # noqa: F401
                          _FOLD_OPS, _PURE, _RAISED, _UN, _UNDEF, _concat, _fn_name,
                          _format, _getattr, _make_dict, _make_list, _make_tuple, _method,
                          _MUTATORS, _not_any, _raise, _slice, _truth, _VALUE_METHODS)
from . import _script_static as _static
from . import _script_run
from ._script_run import ScriptRunner, _all_tensors
from ._saveable import Saveable
from ._trace import tensors_in


class ScriptError(RuntimeError):
    """Unsupported or invalid code given to ``ardor.jit.script`` (compile time)."""


class _NeedsUnroll(Exception):
    """A ``range`` loop body needs its index at compile time (it selects a module or a
    parameter): the loop is unrolled instead (not a ScriptError, so that no callee
    being inlined swallows it)."""


_MAX_UNROLL = 64   # longest constant-range loop unrolled when its body needs the index


NotSupportedError = ScriptError


# ------------------------------------------------------------------------ compiling
_SOURCES: dict = {}   # code object -> (function ast, file, first line - 1)


def _source(fn):
    code = getattr(fn, "__code__", None)
    hit = _SOURCES.get(code) if code is not None else None
    if hit is not None:
        return hit
    try:
        lines, start = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or "<unknown>"
    except (OSError, TypeError) as e:
        raise ScriptError(f"cannot get the source of {fn!r} ({e})") from None
    try:
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except SyntaxError as e:  # e.g. a lambda's source line
        raise ScriptError(f"cannot parse the source of {fn!r} ({e.msg})") from None
    fdef = tree.body[0] if tree.body else None
    if not isinstance(fdef, ast.FunctionDef):
        raise ScriptError(f"ardor.jit.script expects a function, got {type(fdef).__name__}")
    hit = (fdef, file, start - 1)
    if code is not None:
        _SOURCES[code] = hit
    return hit


class _Shared:
    """What a compiler shares with the compilers of the calls it inlines: the qualified
    names of tensors (``layers.0.weight``, as the root module's state_dict keys) and of
    submodules, and the functions being inlined (recursion is not inlined)."""

    def __init__(self, root):
        self.names: dict = {}    # id(tensor) -> qualified name
        self.paths: dict = {}    # id(module) -> qualified name
        self.stack: list = []    # (function, id(self)) being compiled
        self.strict = 0          # > 0 while a constant-range loop is tried as a loop node
        if isinstance(root, _module_base()):
            self.add_module(root, "")

    def add_module(self, m, prefix: str) -> None:
        pre = prefix + "." if prefix else ""
        for path, sub in m.named_modules():
            self.paths.setdefault(id(sub), pre + path if path else prefix)
        for n, t in list(m.named_parameters()) + list(m.named_buffers()):
            self.names.setdefault(id(t), pre + n)


class _Compiler:
    def __init__(self, fn, self_obj=None, shared=None):
        self.fn = fn
        self.self_obj = self_obj
        self.fdef, self.file, self.line0 = _source(fn)
        self.shared = shared if shared is not None else _Shared(self_obj)
        self.globals = getattr(fn, "__globals__", {})
        self.closure = {}
        if getattr(fn, "__closure__", None):
            for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
                try:
                    self.closure[name] = cell.cell_contents
                except ValueError:
                    pass
        self.tmp = 0

    # -- errors ----------------------------------------------------------------------------
    def err(self, node, what: str):
        line = getattr(node, "lineno", 1) + self.line0
        text = linecache.getline(self.file, line).rstrip()
        return ScriptError(f"{what}\n  File \"{self.file}\", line {line}, in "
                           f"{self.fdef.name}\n    {text.strip()}")

    def unsupported(self, node, construct=None):
        construct = construct or type(node).__name__
        return self.err(node, f"{construct} is not supported in ardor.jit.script")

    # -- entry -------------------------------------------------------------------------------
    def compile(self):
        g = Graph()
        env = {}
        self.shared.stack.append((self.fn, id(self.self_obj)))  # a call of itself: no inline
        args = self.fdef.args
        if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
            raise self.unsupported(self.fdef, "*args/**kwargs/keyword-only arguments")
        params = list(args.args)
        if self.self_obj is not None:
            if not params:
                raise self.err(self.fdef, "forward() must take self")
            env[params[0].arg] = ("const", self.self_obj)
            params = params[1:]
        specs = []
        for a in params:
            ann = self._annotation(a)
            ph = g.placeholder(a.arg)
            ph.attrs["type"] = ann
            env[a.arg] = ph
            specs.append((a.arg, ann))
        defaults = [self._const_expr(d) for d in args.defaults]
        for f in _FLAGS:
            env[f] = ("const", False)
        env["__retval"] = ("const", None)
        env = self.block(g, self.fdef.body, env)
        g.output(self.val(g, env["__retval"]))
        g.verify()
        return g, specs, defaults

    def _annotation(self, a):
        if a.annotation is None:
            return "Tensor"
        s = ast.unparse(a.annotation).replace("typing.", "").replace("torch.", "") \
            .replace("ardor.", "")
        # PEP 585's builtin generics name the same types as typing's
        s = re.sub(r"\b(list|tuple)\[", lambda m: m.group(1).capitalize() + "[", s)
        parts = [x.strip() for x in s.split("|")]
        if len(parts) == 2 and "None" in parts:  # PEP 604: ``Tensor | None``
            s = f"Optional[{parts[1 - parts.index('None')]}]"
        ok = {"Tensor", "int", "float", "bool", "List[int]", "Optional[Tensor]", "str",
              "Tuple[int, int]", "List[float]", "Optional[int]", "Optional[float]"}
        if s not in ok:
            raise self.err(a, f"argument annotation {s!r} is not supported in ardor.jit.script "
                              f"(supported: {', '.join(sorted(ok))})")
        return s

    def _const_expr(self, e):
        try:
            return ast.literal_eval(e)
        except ValueError:
            raise self.err(e, "default values must be literals") from None

    # -- values ------------------------------------------------------------------------------
    def val(self, g, v):
        """A node or a plain constant usable as an arg."""
        if isinstance(v, tuple) and len(v) == 2 and v[0] == "const":
            c = v[1]
            if isinstance(c, Tensor):
                return self._tensor_const(g, c)
            return c
        return v

    def _tensor_const(self, g, t, hint=None):
        """A get_attr of tensor ``t`` named by its qualified name (a parameter or buffer
        of the module being compiled or of a module it calls), else ``hint`` or a
        ``_tensor_constant``; one name per tensor, so each is saved once."""
        root = _root(g)
        names = self.shared.names
        name = names.get(id(t)) or hint or f"_tensor_constant{id(t):x}"
        base, i = name, 1
        while name in root.tensors and root.tensors[name] is not t:
            name = f"{base}_{i}"
            i += 1
        names[id(t)] = name
        root.tensors[name] = t
        n = Node(g, "get_attr", g._name(name), target=name, meta=(tuple(t.shape), t.dtype))
        g.tensors[name] = t
        g.nodes.append(n)
        return n

    def call(self, g, fn, args, kwargs=None, name=None):
        """A pycall node (or a compile-time result when everything is constant and pure)."""
        if fn in (operator.is_, operator.is_not) and len(args) == 2 and not kwargs:
            same = _same(*args)
            if same is not None:
                return ("const", same == (fn is operator.is_))
        if self.shared.strict and any(
                _is_const(a) and isinstance(a[1], _module_base())
                for a in list(args) + list((kwargs or {}).values())):
            raise _NeedsUnroll()
        if _foldable(fn, args, kwargs):
            try:
                r = fn(*[a[1] for a in args], **{k: v[1] for k, v in (kwargs or {}).items()})
                return ("const", list(r) if fn in _COMPILE_TIME_ITER else r)
            except Exception:  # noqa: BLE001 - left to run time
                pass
        a = tuple(self.val(g, x) for x in args)
        k = {kk: self.val(g, v) for kk, v in (kwargs or {}).items()}
        n = Node(g, "pycall", g._name(name or _short(fn)), args=(a, k), attrs={"fn": fn})
        g.nodes.append(n)
        return n

    # -- statements ----------------------------------------------------------------------------
    def block(self, g, stmts, env):
        env = dict(env)
        for i, s in enumerate(stmts):
            env = self.stmt(g, s, env)
            if env.get(_RAISED):
                return env  # the rest is unreachable
            flags = [env[f] for f in _FLAGS]
            if all(_is_const(f) and not f[1] for f in flags):
                continue
            if any(_is_const(f) and f[1] for f in flags):
                return env  # statically unreachable rest
            rest = stmts[i + 1:]
            if not rest:
                return env
            cond = self.call(g, _not_any, flags, name="live")
            return self.if_node(g, cond, lambda sg, e: self.block(sg, rest, e),
                                lambda sg, e: e, env, rest[0])
        return env

    def stmt(self, g, s, env):
        if isinstance(s, ast.Expr):
            if isinstance(s.value, ast.Constant) and isinstance(s.value.value, str):
                return env  # docstring
            self.expr(g, s.value, env)
            return env
        if isinstance(s, ast.Assign):
            v = self.expr(g, s.value, env)
            for t in s.targets:
                env = self.assign(g, t, v, env)
            return env
        if isinstance(s, ast.AnnAssign) and s.value is not None:
            return self.assign(g, s.target, self.expr(g, s.value, env), env)
        if isinstance(s, ast.AugAssign):
            cur = self.expr(g, ast.Name(id=s.target.id, ctx=ast.Load(), lineno=s.lineno)
                            if isinstance(s.target, ast.Name) else s.target, env)
            op = _BIN.get(type(s.op))
            if op is None:
                raise self.unsupported(s.op)
            v = self.call(g, op, [cur, self.expr(g, s.value, env)])
            return self.assign(g, s.target, v, env)
        if isinstance(s, ast.Return):
            env = dict(env)
            env["__retval"] = self.expr(g, s.value, env) if s.value is not None \
                else ("const", None)
            env["__ret"] = ("const", True)
            return env
        if isinstance(s, ast.Pass):
            return env
        if isinstance(s, ast.Break):
            return {**env, "__brk": ("const", True)}
        if isinstance(s, ast.Continue):
            return {**env, "__cont": ("const", True)}
        if isinstance(s, ast.If):
            cond = self.expr(g, s.test, env)
            if _is_const(cond) and not isinstance(cond[1], Tensor):
                return self.block(g, s.body if cond[1] else s.orelse, env)
            return self.if_node(g, cond, lambda sg, e: self.block(sg, s.body, e),
                                lambda sg, e: self.block(sg, s.orelse, e), env, s)
        if isinstance(s, ast.For):
            return self.for_stmt(g, s, env)
        if isinstance(s, ast.While):
            if s.orelse:
                raise self.unsupported(s, "while ... else")
            return self.loop(g, s, env, None)
        if isinstance(s, ast.Raise):
            return self.raise_stmt(g, s, env)
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            try:  # ardor modules only: bound at compile time
                bound = _static.import_binding(self.fn, s)
            except ImportError as err:
                raise self.err(s, f"{ast.unparse(s)}: {err}") from None
            return {**env, **{k: ("const", v) for k, v in bound.items()}}
        if isinstance(s, ast.Assert):
            cond = self.expr(g, s.test, env)
            msg = [s.msg] if s.msg is not None else []
            fail = lambda sg, e: self.raise_(sg, e, AssertionError, msg)  # noqa: E731
            if _is_const(cond) and not isinstance(cond[1], Tensor):
                return env if cond[1] else fail(g, env)
            return self.if_node(g, cond, lambda sg, e: e, fail, env, s)
        raise self.unsupported(s)

    def raise_stmt(self, g, s, env):
        """``raise E(args)`` / ``raise E``: a call of ``_raise`` that ends the block."""
        if s.exc is None:
            raise self.unsupported(s, "re-raising (bare raise)")
        exc = s.exc
        call = isinstance(exc, ast.Call)
        cls = self.expr(g, exc.func if call else exc, env)
        if not (_is_const(cls) and inspect.isclass(cls[1]) and issubclass(cls[1],
                                                                        BaseException)):
            raise self.err(s, "raise needs an exception class known at compile time "
                              "(raise ValueError(...))")
        if call and (any(isinstance(a, ast.Starred) for a in exc.args)
                     or any(k.arg is None for k in exc.keywords)):
            raise self.unsupported(exc, "*args/**kwargs in calls")
        return self.raise_(g, env, cls[1], exc.args if call else [],
                           exc.keywords if call else [])

    def raise_(self, g, env, cls, arg_exprs, keywords=()):
        args = [self.expr(g, a, env) for a in arg_exprs]
        kwargs = {k.arg: self.expr(g, k.value, env) for k in keywords}
        self.call(g, _raise, [("const", cls)] + args, kwargs, name="raise")
        return {**env, _RAISED: True}

    def assign(self, g, t, v, env):
        env = dict(env)
        if isinstance(t, ast.Name):
            env[t.id] = v
            return env
        if isinstance(t, (ast.Tuple, ast.List)):
            for i, sub in enumerate(t.elts):
                if isinstance(sub, ast.Starred):
                    raise self.unsupported(sub, "starred assignment")
                items = _static.static_items(v)
                item = ("const", v[1][i]) if _is_const(v) else items[i] if items is not None \
                    and len(items) == len(t.elts) else \
                    self.call(g, operator.getitem, [v, ("const", i)], name="unpack")
                env = self.assign(g, sub, item, env)
            return env
        if isinstance(t, ast.Subscript):
            obj = self.expr(g, t.value, env)
            self._check_mutable(obj, t)
            idx = self.index(g, t.slice, env)
            self.call(g, operator.setitem, [obj, idx, v], name="setitem")
            return env
        raise self.unsupported(t, f"assignment to {type(t).__name__}")

    def _check_mutable(self, obj, where):
        """Lists and dicts known at compile time (and dicts of run-time values, whose
        entries are read at compile time) cannot be changed by scripted code: a change at
        run time would be shared by every call."""
        if _is_const(obj) and isinstance(obj[1], (list, dict)) or \
                _static.static_dict(obj) is not None:
            raise self.err(where, "changing a list or dict known at compile time is not "
                                  "supported in ardor.jit.script (build it from run-time "
                                  "values, e.g. start from [])")

    # -- control flow ---------------------------------------------------------------------------
    def if_node(self, g, cond, then_fn, else_fn, env, where):
        regions, envs = [], []
        for fn in (then_fn, else_fn):
            sg = _region(g)
            e = fn(sg, dict(env))
            regions.append(sg)
            envs.append(e)
        live = [e for e in envs if not e.get(_RAISED)]
        names = [k for k in _merge_names(env, live) if k != _RAISED]
        out = dict(env)
        if len(live) == 1:  # the other branch raises: what the live one knows holds after
            for k in list(names):
                v = live[0].get(k)
                if _is_const(v) and not isinstance(v[1], Tensor):
                    out[k] = v
                    names.remove(k)
        for sg, e in zip(regions, envs):
            sg.output(tuple(self.val(sg, e.get(k, ("const", _UNDEF))) for k in names))
        n = Node(g, "if", g._name("if"), args=(self.val(g, cond),),
                 attrs={"then": regions[0], "else": regions[1], "nout": len(names),
                        "line": getattr(where, "lineno", 0) + self.line0})
        g.nodes.append(n)
        for i, k in enumerate(names):
            out[k] = self._out(g, n, i, k)
        if not live:
            out[_RAISED] = True
        return out

    def _out(self, g, n, i, name):
        o = Node(g, "getitem", g._name(f"{n.name}_{_clean(name)}"), args=(n,), index=i)
        g.nodes.append(o)
        return o

    def for_stmt(self, g, s, env):
        if s.orelse:
            raise self.unsupported(s, "for ... else")
        it = s.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" \
                and it.func.id not in env:
            args = [self.expr(g, a, env) for a in it.args]
            if len(args) == 1:
                args = [("const", 0), args[0], ("const", 1)]
            elif len(args) == 2:
                args = args + [("const", 1)]
            if all(_is_const(a) and type(a[1]) is int for a in args) and \
                    len(range(*[a[1] for a in args])) <= _MAX_UNROLL:
                mark = _mark(g)
                self.shared.strict += 1
                try:
                    return self.loop(g, s, env, args)
                except _NeedsUnroll:  # the body selects modules/weights by the index
                    _rollback(g, mark)
                finally:
                    self.shared.strict -= 1
                return self.unroll(g, s, [("const", i) for i in range(*[a[1] for a in args])],
                                   env)
            return self.loop(g, s, env, args)
        seq = self.expr(g, it, env)
        if _is_const(seq) and (isinstance(seq[1], (list, tuple, dict)) or type(seq[1]).__name__
                               in ("ModuleList", "Sequential", "ModuleDict")):
            # the sequence is known at compile time
            return self.unroll(g, s, [("const", x) for x in seq[1]], env)
        if _static.static_items(seq) is not None:  # a tuple built of run-time values
            return self.unroll(g, s, _static.static_items(seq), env)
        raise self.unsupported(it, "for-loop over something other than range() or a "
                                   "ModuleList/Sequential/ModuleDict/tuple/list known at "
                                   "compile time")

    def unroll(self, g, s, items, env):
        """The body once per item (compiler values bound to the loop target). ``continue`` ends an
        iteration; after an iteration whose ``break``/``return`` flag is only known at run
        time, the remaining iterations run under an ``if`` on that flag (as the rest of a
        block is guarded), so they are skipped exactly when Python would skip them."""
        for i, item in enumerate(items):
            e = self.assign(g, s.target, item, env)
            e = self.block(g, s.body, e)
            if e.get(_RAISED):
                return e
            env = {**e, "__cont": ("const", False)}
            stop = [env["__brk"], env["__ret"]]
            if any(_is_const(f) and f[1] for f in stop):
                break  # the rest is statically skipped
            if all(_is_const(f) for f in stop) or i == len(items) - 1:
                continue
            live = self.call(g, _not_any, stop, name="live")
            rest = items[i + 1:]
            env = self.if_node(g, live, lambda sg, en: self.unroll(sg, s, rest, en),
                               lambda sg, en: en, env, s)
            break
        return {**env, "__brk": ("const", False)}

    def loop(self, g, s, env, rng):
        """A loop node: carried values are every variable the body assigns."""
        kinds = {type(n) for st in s.body for n in ast.walk(st)}
        assigned = _assigned(s.body) | {"__brk"}
        if ast.Continue in kinds:
            assigned.add("__cont")
        if ast.Return in kinds:
            assigned |= {"__ret", "__retval"}
        if rng is not None:
            if not isinstance(s.target, ast.Name):
                raise self.unsupported(s.target, "loop target other than a name")
            assigned.discard(s.target.id)
        carried = [k for k in sorted(assigned)]
        init = [env.get(k, ("const", _UNDEF)) for k in carried]
        body = _region(g)
        benv = dict(env)
        if rng is not None:
            benv[s.target.id] = body.placeholder(s.target.id)
        for k in carried:
            benv[k] = body.placeholder(f"{_clean(k)}_in")
        # an iteration starts only while no break or return has happened: the flags are
        # False on entry (so a body without them needs no guards)
        benv["__brk"] = benv["__cont"] = ("const", False)
        if "__ret" in carried:
            benv["__ret"] = ("const", False)
        e = self.block(body, s.body, benv)
        body.output(tuple(self.val(body, e.get(k, ("const", _UNDEF))) for k in carried))
        cond = None
        if rng is None:
            cond = _region(g)
            cenv = dict(env)
            for k in carried:
                cenv[k] = cond.placeholder(f"{_clean(k)}_c")
            cond.output(self.val(cond, self.expr(cond, s.test, cenv)))
        args = tuple(self.val(g, a) for a in (rng or [])) + tuple(self.val(g, v) for v in init)
        n = Node(g, "loop", g._name("loop"), args=args,
                 attrs={"body": body, "cond": cond, "nout": len(carried),
                        "nrange": 3 if rng is not None else 0,
                        "brk": carried.index("__brk"),
                        "ret": carried.index("__ret") if "__ret" in carried else None,
                        "cont": carried.index("__cont") if "__cont" in carried else None,
                        "line": s.lineno + self.line0})
        if cond is None:
            del n.attrs["cond"]
        g.nodes.append(n)
        out = dict(env)
        for i, k in enumerate(carried):
            out[k] = self._out(g, n, i, k)
        out["__brk"] = ("const", False)
        out["__cont"] = ("const", False)
        return out

    # -- expressions ------------------------------------------------------------------------------
    def expr(self, g, e, env):
        if isinstance(e, ast.Constant):
            return ("const", e.value)
        if isinstance(e, ast.Name):
            if e.id in env:
                return env[e.id]
            for scope in (self.closure, self.globals, vars(builtins)):
                if e.id in scope:
                    return ("const", scope[e.id])
            raise self.err(e, f"undefined value {e.id}")
        if isinstance(e, ast.Attribute):
            base = self.expr(g, e.value, env)
            if _is_const(base):
                try:
                    return ("const", getattr(base[1], e.attr))
                except AttributeError:
                    raise self.err(e, f"{type(base[1]).__name__} has no attribute "
                                      f"{e.attr!r}") from None
            return self.call(g, _getattr, [base, ("const", e.attr)], name=e.attr)
        if isinstance(e, ast.BinOp):
            op = _BIN.get(type(e.op))
            if op is None:
                raise self.unsupported(e.op)
            return self.call(g, op, [self.expr(g, e.left, env), self.expr(g, e.right, env)])
        if isinstance(e, ast.UnaryOp):
            v = self.expr(g, e.operand, env)
            if isinstance(e.op, ast.Not):
                return self.call(g, operator.not_, [v], name="not_")
            return self.call(g, _UN[type(e.op)], [v])
        if isinstance(e, ast.Compare):
            left = self.expr(g, e.left, env)
            res = None
            for op, right in zip(e.ops, e.comparators):
                r = self.expr(g, right, env)
                c = self.call(g, _CMP[type(op)], [left, r], name=type(op).__name__.lower())
                res = c if res is None else self.call(g, operator.and_, [res, c])
                left = r
            return res
        if isinstance(e, ast.BoolOp):
            return self.boolop(g, e, list(e.values), env)
        if isinstance(e, ast.IfExp):
            cond = self.expr(g, e.test, env)
            if _is_const(cond) and not isinstance(cond[1], Tensor):
                return self.expr(g, e.body if cond[1] else e.orelse, env)
            tmp = f"__ifexp{self._n()}"
            out = self.if_node(g, cond,
                               lambda sg, en: {**en, tmp: self.expr(sg, e.body, en)},
                               lambda sg, en: {**en, tmp: self.expr(sg, e.orelse, en)}, env, e)
            return out[tmp]
        if isinstance(e, (ast.Tuple, ast.List)):
            items = [self.expr(g, x, env) for x in e.elts]
            if any(isinstance(x, ast.Starred) for x in e.elts):
                raise self.unsupported(e, "starred expression")
            mk = _make_tuple if isinstance(e, ast.Tuple) else _make_list
            if all(_is_const(i) and not isinstance(i[1], Tensor) for i in items) and (
                    items or mk is _make_tuple):  # ``[]`` is a new list per call
                return ("const", mk(*[i[1] for i in items]))
            return self.call(g, mk, items, name="tuple" if mk is _make_tuple else "list")
        if isinstance(e, ast.Dict):
            if any(k is None for k in e.keys):
                raise self.unsupported(e, "**-unpacking in a dict literal")
            return self.make_dict(g, e, [(self.expr(g, k, env), self.expr(g, v, env))
                                         for k, v in zip(e.keys, e.values)])
        if isinstance(e, ast.Subscript):
            base = self.expr(g, e.value, env)
            entries = _static.static_dict(base)
            if entries is not None:
                key = self.index(g, e.slice, env)
                if _is_const(key) and key[1] in entries:
                    return entries[key[1]]
            idx = self.index(g, e.slice, env)
            if _is_const(base) and _is_const(idx) and not isinstance(base[1], Tensor):
                return ("const", base[1][idx[1]])
            return self.call(g, operator.getitem, [base, idx], name="getitem")
        if isinstance(e, ast.Call):
            return self.call_expr(g, e, env)
        if isinstance(e, ast.JoinedStr):
            parts = []
            for v in e.values:
                if isinstance(v, ast.FormattedValue):
                    spec = self.expr(g, v.format_spec, env) if v.format_spec is not None \
                        else ("const", "")
                    parts.append(self.call(g, _format, [self.expr(g, v.value, env),
                                                        ("const", v.conversion), spec],
                                           name="format"))
                else:
                    parts.append(self.expr(g, v, env))
            return self.call(g, _concat, parts, name="fstring")
        raise self.unsupported(e)

    def _n(self):
        self.tmp += 1
        return self.tmp

    def boolop(self, g, e, values, env):
        first = self.expr(g, values[0], env)
        if len(values) == 1:
            return first
        is_and = isinstance(e.op, ast.And)
        if _is_const(first) and not isinstance(first[1], Tensor):
            if bool(first[1]) == is_and:
                return self.boolop(g, e, values[1:], env)
            return first
        tmp = f"__bool{self._n()}"
        rest = lambda sg, en: {**en, tmp: self.boolop(sg, e, values[1:], en)}  # noqa: E731
        keep = lambda sg, en: {**en, tmp: first}  # noqa: E731
        cond = self.call(g, _truth, [first], name="truth")
        out = self.if_node(g, cond, rest if is_and else keep, keep if is_and else rest, env, e)
        return out[tmp]

    def index(self, g, s, env):
        if isinstance(s, ast.Slice):
            parts = [self.expr(g, p, env) if p is not None else ("const", None)
                     for p in (s.lower, s.upper, s.step)]
            if all(_is_const(p) for p in parts):
                return ("const", slice(*[p[1] for p in parts]))
            return self.call(g, _slice, parts, name="slice")
        if isinstance(s, ast.Tuple):
            items = [self.index(g, x, env) for x in s.elts]
            if all(_is_const(i) and not isinstance(i[1], Tensor) for i in items):
                return ("const", tuple(i[1] for i in items))
            return self.call(g, _make_tuple, items, name="index")
        return self.expr(g, s, env)

    def call_expr(self, g, e, env):
        if any(isinstance(a, ast.Starred) for a in e.args):
            raise self.unsupported(e, "*args in calls")
        if isinstance(e.func, ast.Name) and e.func.id in ("any", "all") and \
                e.func.id not in env and len(e.args) == 1 and not e.keywords and \
                isinstance(e.args[0], ast.GeneratorExp):
            return self.any_all(g, e.args[0], env, e.func.id == "all")
        args = [self.expr(g, a, env) for a in e.args]
        kwargs = {}
        for k in e.keywords:
            v = self.expr(g, k.value, env)
            if k.arg is not None:
                kwargs[k.arg] = v
                continue
            entries = {kk: ("const", x) for kk, x in v[1].items()} if _is_const(v) and \
                isinstance(v[1], dict) else _static.static_dict(v)
            if entries is None or not all(isinstance(kk, str) for kk in entries):
                raise self.unsupported(k, "**kwargs of a value not known at compile time")
            kwargs.update(entries)
        f = e.func
        if isinstance(f, ast.Attribute):
            base = self.expr(g, f.value, env)
            if not _is_const(base):  # a method of a runtime value
                if f.attr in _MUTATORS:
                    self._check_mutable(base, e)
                return self.call(g, _method(f.attr), [base] + args, kwargs, name=f.attr)
            if isinstance(base[1], (str, bytes, tuple, list, dict, int, float)) and \
                    not isinstance(base[1], bool) or base[1] is None:
                return self.value_method(g, e, base, f.attr, args, kwargs)
            if f.attr in ("items", "keys", "values") and not args and not kwargs and \
                    _is_mapping(base[1]):  # known at compile time: a for over it unrolls
                return ("const", list(getattr(base[1], f.attr)()))
            fn = getattr(base[1], f.attr, None)
            if fn is None:
                raise self.err(f, f"{type(base[1]).__name__} has no attribute {f.attr!r}")
            if isinstance(base[1], Tensor):  # a method of a parameter
                return self.call(g, _method(f.attr), [base] + args, kwargs, name=f.attr)
        else:
            fnv = self.expr(g, f, env)
            if not _is_const(fnv):
                raise self.err(f, "calling a computed value is not supported")
            fn = fnv[1]
        if not callable(fn):
            raise self.err(f, f"{type(fn).__name__} is not callable")
        if fn is dict and not args:
            return self.make_dict(g, e, [(("const", k), v) for k, v in kwargs.items()])
        if fn is isinstance and len(args) == 2 and not kwargs and _is_const(args[1]):
            known = _static.fold_isinstance(args[0], args[1][1])
            if known is not None:
                return ("const", known)
        if fn is _static.dispatch_fn():
            node = self.op_call(g, args, kwargs)
            if node is not None:
                return node
        if inspect.isclass(fn) and fn not in (int, float, bool, tuple, list, slice) and not (
                (fn in _COMPILE_TIME_ITER or fn is range) and _foldable(fn, args, kwargs)):
            raise self.unsupported(e, f"constructing {fn.__name__} objects")
        if getattr(fn, "_ardor_ignore", False):
            return self.call(g, fn, args, kwargs)
        from . import _api
        if fn is _api.is_scripting:   # scripted code is scripting (torch folds it the same)
            return ("const", True)
        if fn is _api.annotate and len(args) == 2 and not kwargs:
            return args[1]
        if isinstance(f, ast.Attribute) and f.attr in _MODULE_STRUCTURE and \
                isinstance(base[1], _module_base()) and _foldable(list, args, kwargs):
            # the module tree is fixed at compile time (as ModuleList loops unroll)
            return ("const", list(fn(*[a[1] for a in args],
                                     **{k: v[1] for k, v in kwargs.items()})))
        target = _inline_target(fn)
        if target is None and isinstance(f, ast.Attribute) and inspect.isfunction(fn) and \
                isinstance(base[1], _module_base()) and \
                not getattr(fn, "_ardor_ignore", False):
            target = fn, None, None  # a staticmethod of a module: compiled like a method
        if target is not None:
            return self.inline(g, fn, target, args, kwargs, e)
        return self.call(g, fn, args, kwargs)

    def value_method(self, g, e, base, attr, args, kwargs):
        """A method of a compile-time str/tuple/list/dict/number: evaluated now when its
        arguments are constants (it reads only), a graph call for ``str.format`` of
        run-time values; changing a compile-time list or dict is refused."""
        if attr in _MUTATORS:
            self._check_mutable(base, e)
        fn = getattr(base[1], attr, None)
        if fn is None:
            raise self.err(e.func, f"{type(base[1]).__name__} has no attribute {attr!r}")
        vals = list(args) + list(kwargs.values())
        if all(_is_const(v) and not _has_tensor(v[1]) for v in vals):
            try:
                return ("const", fn(*[a[1] for a in args],
                                    **{k: v[1] for k, v in kwargs.items()}))
            except Exception as err:  # noqa: BLE001 - the call raises as Python's would
                raise self.err(e, f"{type(err).__name__}: {err}") from None
        if attr in _VALUE_METHODS:
            return self.call(g, _method(attr), [base] + args, kwargs, name=attr)
        return self.call(g, fn, args, kwargs)

    def any_all(self, g, gen, env, is_all):
        """``any(elt for x in seq)`` / ``all(...)`` over a sequence known at compile time
        (constant, or a tuple of run-time values): unrolled, stopping where Python stops."""
        if len(gen.generators) != 1 or gen.generators[0].ifs or gen.generators[0].is_async:
            raise self.unsupported(gen, "a generator with several for/if clauses")
        comp = gen.generators[0]
        seq = self.expr(g, comp.iter, env)
        items = None
        if _is_const(seq) and not isinstance(seq[1], Tensor):
            try:  # any iterable known at compile time (a module's modules() generator)
                items = [("const", x) for x in seq[1]]
            except TypeError:
                items = None
        if items is None:
            items = _static.static_items(seq)
        if items is None:
            raise self.unsupported(gen, "a generator over a sequence not known at compile time")

        def chain(sg, items, en):
            if not items:
                return ("const", is_all)
            v = self.expr(sg, gen.elt, self.assign(sg, comp.target, items[0], en))
            if _is_const(v) and not isinstance(v[1], Tensor):
                return chain(sg, items[1:], en) if bool(v[1]) == is_all else \
                    ("const", not is_all)
            tmp = f"__gen{self._n()}"
            go = lambda rg, e2: {**e2, tmp: chain(rg, items[1:], e2)}  # noqa: E731
            stop = lambda rg, e2: {**e2, tmp: ("const", not is_all)}  # noqa: E731
            cond = self.call(sg, _truth, [v], name="truth")
            return self.if_node(sg, cond, go if is_all else stop, stop if is_all else go,
                                en, gen)[tmp]
        return chain(g, items, env)

    def make_dict(self, g, e, pairs):
        """A dict literal / ``dict(k=v)``: a constant when every entry is, else a graph
        dict whose entries the compiler still knows (for ``d[k]`` and ``**d``)."""
        if not all(_is_const(k) for k, _ in pairs):
            raise self.unsupported(e, "dict keys not known at compile time")
        if all(_is_const(v) and not isinstance(v[1], Tensor) for _, v in pairs):
            return ("const", {k[1]: v[1] for k, v in pairs})
        if not all(isinstance(k[1], str) for k, _ in pairs):
            raise self.unsupported(e, "a dict of run-time values with non-string keys")
        return self.call(g, _make_dict, [], {k[1]: v for k, v in pairs}, name="dict")

    def op_call(self, g, args, kwargs):
        """``dispatch(op, (args...), {attrs})`` with the op, the argument tuple's items and
        constant attributes known at compile time: a ``call`` node of the op table (saved
        by the op's name); None otherwise (it stays a Python call)."""
        if kwargs or len(args) not in (2, 3) or not _is_const(args[0]):
            return None
        from .._ops.registry import OPS
        op = args[0][1]
        if OPS.get(getattr(op, "name", None)) is not op:
            return None
        items = [("const", x) for x in args[1][1]] if _is_const(args[1]) and \
            isinstance(args[1][1], tuple) else _static.static_items(args[1])
        attrs = args[2] if len(args) == 3 else ("const", {})
        if items is None or not _is_const(attrs) or not isinstance(attrs[1], dict):
            return None
        n = Node(g, "call", g._name(op.name), op=op, args=tuple(self.val(g, a) for a in items),
                 attrs=dict(attrs[1]), meta=None)
        g.nodes.append(n)
        if op.nout == 1:
            return n
        outs = []
        for i in range(op.nout):
            o = Node(g, "getitem", g._name(f"{op.name}_{i}"), args=(n,), index=i)
            g.nodes.append(o)
            outs.append(o)
        return self.call(g, _make_tuple, outs, name="outputs")

    # -- inlining ------------------------------------------------------------------------------
    def inline(self, g, fn, target, args, kwargs, e):
        """Compile the called submodule / scripted function / module method into ``g`` with
        its parameters bound to the argument values (as ``torch.jit.script`` compiles
        submodules recursively). Where the callee cannot be compiled, it stays a pycall
        (run eagerly; ``attrs['why']`` says why, and saving names it)."""
        func, obj, sf = target
        label = ast.unparse(e.func)
        key = (func, id(obj))
        mark = _mark(g)
        try:
            if key in self.shared.stack:
                raise ScriptError(f"{label} calls itself (recursion is not compiled)")
            self.shared.stack.append(key)
            try:
                if func is None:  # a loaded script: inline its graph
                    return self._inline_graph(g, sf, args, kwargs, label)
                if isinstance(obj, _module_base()) and id(obj) not in self.shared.paths:
                    owner = e.func.value if isinstance(e.func, ast.Attribute) and \
                        not isinstance(fn, _module_base()) else e.func
                    self.shared.add_module(obj, _qualname(ast.unparse(owner)))
                sub = _Compiler(func, obj, self.shared)
                return sub.inline_body(g, args, kwargs, sf)
            finally:
                self.shared.stack.pop()
        except ScriptError as err:
            _rollback(g, mark)
            n = self.call(g, fn, args, kwargs)
            n.attrs["src"] = label
            n.attrs["why"] = str(err).splitlines()[0]
            return n

    def inline_body(self, g, args, kwargs, sf=None):
        """This function's body compiled into ``g`` with its parameters bound to ``args``/
        ``kwargs`` (compiler values); returns the returned value."""
        a = self.fdef.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
            raise self.unsupported(self.fdef, "*args/**kwargs/keyword-only arguments")
        names = [p.arg for p in a.args]
        defaults = getattr(self.fn, "__defaults__", None) or ()
        default_of = dict(zip(names[len(names) - len(defaults):], defaults))
        env = {}
        if self.self_obj is not None:
            if not names:
                raise self.err(self.fdef, "a method must take self")
            env[names[0]] = ("const", self.self_obj)
            names = names[1:]
        fname = self.fdef.name
        if len(args) > len(names):
            raise self.err(self.fdef, f"{fname}() takes {len(names)} argument(s) but "
                                      f"{len(args)} were given")
        bound = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names or k in bound:
                raise self.err(self.fdef, f"{fname}() got an unexpected or repeated "
                                          f"argument {k!r}")
            bound[k] = v
        for k in names:
            if k not in bound:
                if k not in default_of:
                    raise self.err(self.fdef, f"{fname}() is missing value for argument "
                                              f"{k!r}")
                bound[k] = ("const", default_of[k])
        if sf is not None:  # a scripted function checks its annotated argument types
            for k, ann in sf.specs:
                v = bound.get(k)
                if _is_const(v) and not _type_ok(ann, v[1]):
                    raise self.err(self.fdef, f"{fname}() Expected a value of type '{ann}' "
                                              f"for argument '{k}'")
        for f in _FLAGS:
            env[f] = ("const", False)
        env["__retval"] = ("const", None)
        env.update(bound)
        env = self.block(g, self.fdef.body, env)
        return env["__retval"]

    def _inline_graph(self, g, sf, args, kwargs, label):
        """A loaded scripted function's graph copied into ``g`` (its placeholders replaced
        by the argument values, its tensors named ``label.<name>``)."""
        try:
            vals = sf._bind_values(args, kwargs)
        except (TypeError, RuntimeError) as err:
            raise ScriptError(str(err)) from None
        m = {id(p): self.val(g, v) for p, v in zip(sf.graph.placeholders, vals)}
        out = self._copy_region(g, sf.graph, m, _qualname(label))
        return out if isinstance(out, Node) else ("const", out)

    def _copy_region(self, g, src, m, prefix):
        get = lambda a: m[id(a)]  # noqa: E731
        for n in src.nodes:
            if n.kind == "placeholder":
                continue
            if n.kind == "output":
                return map_nodes(n.args[0], get)
            if n.kind == "get_attr":
                m[id(n)] = self._tensor_const(g, src.tensors[n.target],
                                              hint=f"{prefix}.{n.target}")
                continue
            attrs = {}
            for k, v in n.attrs.items():
                if isinstance(v, Graph):
                    sg = _region(g)
                    for p in v.placeholders:
                        q = sg.placeholder(p.target)
                        q.attrs = dict(p.attrs)
                        m[id(p)] = q
                    sg.output(self._copy_region(sg, v, m, prefix))
                    v = sg
                attrs[k] = v
            c = Node(g, n.kind, g._name(n.name), op=n.op, args=map_nodes(n.args, get),
                     attrs=attrs, meta=n.meta, target=n.target, index=n.index)
            g.nodes.append(c)
            m[id(n)] = c
        raise ScriptError("a graph without output")


def _same(a, b):
    """Whether compiler values ``a`` and ``b`` are the same object at run time, when the
    compiler knows (the same graph value; or None against a value that is never None)."""
    if isinstance(a, Node) and a is b:
        return True
    for x, y in ((a, b), (b, a)):
        if _is_const(x) and x[1] is None and not _is_const(y):
            t = _static.static_type(y)
            if t is not None and t is not type(None):
                return False
    return None


def _is_const(v) -> bool:
    return isinstance(v, tuple) and len(v) == 2 and v[0] == "const"


def _has_tensor(v) -> bool:
    if isinstance(v, Tensor):
        return True
    if isinstance(v, (list, tuple)):
        return any(_has_tensor(x) for x in v)
    if isinstance(v, dict):
        return any(_has_tensor(x) for x in v.values())
    return False


_MODULE_STRUCTURE = ("modules", "named_modules", "children", "named_children", "parameters",
                     "named_parameters", "buffers", "named_buffers")


def _foldable(fn, args, kwargs) -> bool:
    """Whether ``fn(*args, **kwargs)`` is evaluated at compile time: every argument is a
    constant, and ``fn`` is pure on them (tensor constants stay live: only identity tests
    and compile-time introspection read them)."""
    vals = list(args) + list((kwargs or {}).values())
    if not all(_is_const(a) for a in vals):
        return False
    try:
        if fn in _PURE or fn in _COMPILE_TIME or fn in _COMPILE_TIME_ITER \
                or fn in (operator.is_, operator.is_not):
            return fn in _COMPILE_TIME or fn in (operator.is_, operator.is_not) or \
                not any(_has_tensor(a[1]) for a in vals)
        return fn in _FOLD_OPS and not any(_has_tensor(a[1]) for a in vals)
    except TypeError:  # an unhashable callable
        return False


def _is_mapping(v) -> bool:
    return isinstance(v, dict) or type(v).__name__ in ("ModuleDict", "ParameterDict")


def _qualname(text: str) -> str:
    """``self.blocks[0]`` -> ``blocks.0`` (a state_dict-style prefix from call text)."""
    text = text[5:] if text.startswith("self.") else text
    return text.replace("[", ".").replace("]", "").replace("'", "").replace('"', "") \
        or "self"


def _has_hooks(m) -> bool:
    return any(getattr(m, k, None) for k in ("_forward_pre_hooks", "_forward_hooks",
                                             "_backward_hooks", "_backward_pre_hooks"))


def _inline_target(fn):
    """(function, self object, ScriptFunction or None) to compile in place of a call of
    ``fn``: a submodule's forward, a scripted function, a method of a module, or a user's
    plain function; None for anything else (it stays a pycall)."""
    Module = _module_base()
    if isinstance(fn, ScriptModule):
        if _has_hooks(fn):
            return None
        fn = fn.original
    if isinstance(fn, Module):
        fwd = fn.forward
        if _has_hooks(fn) or not inspect.ismethod(fwd) or fwd.__self__ is not fn \
                or getattr(fwd.__func__, "_ardor_ignore", False):
            return None
        return fwd.__func__, fn, None
    if isinstance(fn, ScriptFunction):
        return fn.fn, fn.self_obj, fn
    if inspect.isfunction(fn) and _user_function(fn):
        return fn, None, None
    if inspect.ismethod(fn) and isinstance(fn.__self__, Module):
        func = fn.__func__
        if getattr(func, "_ardor_ignore", False) or not inspect.isfunction(func):
            return None
        for klass in type(fn.__self__).__mro__:  # Module's own API and containers' stay calls
            if klass.__module__ in ("ardor.nn.modules.module", "ardor.nn.modules.container") \
                    and vars(klass).get(func.__name__) is func and func.__name__ != "forward":
                return None
        return func, fn.__self__, None
    return None


def _user_function(fn) -> bool:
    """Whether ``fn`` is a user's plain Python function that scripted code compiles in
    (as torch.jit.script compiles called functions recursively): not ardor's own (its
    functions are graph calls), not numpy's, torch's or the standard library's, and not
    marked with :func:`ignore`/:func:`unused`."""
    top = (getattr(fn, "__module__", None) or "").split(".")[0]
    return not getattr(fn, "_ardor_ignore", False) and top not in _FOREIGN \
        and top not in sys.stdlib_module_names


_FOREIGN = ("ardor", "numpy", "torch")


def _mark(g):
    root = _root(g)
    return len(g.nodes), set(g.tensors), root, set(root.tensors)


def _rollback(g, mark) -> None:
    """Undo what an abandoned inlining added to ``g`` (its nodes and tensor names)."""
    n, own, root, names = mark
    del g.nodes[n:]
    for d, keep in ((g.tensors, own), (root.tensors, names)):
        for k in [k for k in d if k not in keep]:
            del d[k]


def _root(g):
    while getattr(g, "_parent", None) is not None:
        g = g._parent
    return g


def _region(g) -> Graph:
    """A new region (sub-graph) of ``g``: it may read g's values, and shares its names."""
    sg = Graph()
    sg._parent = g
    sg._names = g._names  # one name space across regions
    return sg


def _short(fn) -> str:
    n = getattr(fn, "_method", None) or getattr(fn, "__name__", None) or type(fn).__name__
    return n.strip("_") or "call"


def _clean(name: str) -> str:
    return name.strip("_") or "v"


def _assigned(stmts) -> set:
    out = set()
    for s in stmts:
        for n in ast.walk(s):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                out.add(n.id)
    return out


def _merge_names(env, envs):
    """Variables some branch assigned (changed or newly defined), in a stable order."""
    names = []
    for e in envs:
        for k, v in e.items():
            if k not in names and any(x.get(k) is not env.get(k) for x in envs):
                names.append(k)
    return names



# ------------------------------------------------------------------------ public API
_CHECK = {"int": (int,), "float": (float, int), "bool": (bool,), "str": (str,)}


def _type_ok(ann: str, v) -> bool:
    """Whether ``v`` is a value of the script argument type ``ann``."""
    if ann == "Tensor":
        return isinstance(v, Tensor)
    if ann == "Optional[Tensor]":
        return v is None or isinstance(v, Tensor)
    if ann in _CHECK:
        return isinstance(v, _CHECK[ann]) and not (ann != "bool" and isinstance(v, bool))
    if ann.startswith("List") or ann.startswith("Tuple"):
        return isinstance(v, (list, tuple))
    return True


class ScriptFunction(Saveable):
    """A scripted function: ``graph`` (IR with control-flow nodes), ``code``, callable.

    Calls of submodules and of other scripted functions are compiled into ``graph``
    (their parameters are ``get_attr`` nodes named like state_dict keys)."""

    def __init__(self, fn, self_obj=None):
        self.fn = fn
        self.self_obj = self_obj
        self.graph, self.specs, self.defaults = _Compiler(fn, self_obj).compile()
        self.__name__ = getattr(fn, "__name__", "script")
        self.__doc__ = getattr(fn, "__doc__", None)

    @property
    def code(self) -> str:
        """The graph's text form (regions indented under their control-flow nodes)."""
        return str(self.graph)

    def _bind(self, args, kwargs=None):
        n = len(self.specs)
        if kwargs:  # keyword arguments fill their positions (those before must be given)
            names = [k for k, _ in self.specs]
            pos = dict(zip(names, args))
            for k, v in kwargs.items():
                if k not in names or k in pos:
                    raise TypeError(f"{self.__name__}() got an unexpected or repeated "
                                    f"argument '{k}'")
                pos[k] = v
            nd = len(self.defaults)
            for i, k in enumerate(names):
                if k not in pos and i >= n - nd:
                    pos[k] = self.defaults[i - (n - nd)]
            args = []
            for k in names:
                if k not in pos:
                    break
                args.append(pos[k])
            if len(args) < len(pos):
                missing = names[len(args)]
                raise TypeError(f"{self.__name__}() is missing value for argument "
                                f"'{missing}'")
        if len(args) > n:
            raise TypeError(f"{self.__name__}() expected at most {n} argument(s) but received "
                            f"{len(args)}")
        nd = len(self.defaults)
        if len(args) < n - nd:
            missing = self.specs[len(args)][0]
            raise TypeError(f"{self.__name__}() is missing value for argument '{missing}'")
        vals = list(args) + list(self.defaults[len(args) - (n - nd):]) if len(args) < n \
            else list(args)
        for (name, ann), v in zip(self.specs, vals):
            if not _type_ok(ann, v):
                raise RuntimeError(f"{self.__name__}() Expected a value of type '{ann}' for "
                                   f"argument '{name}' but instead found type "
                                   f"'{type(v).__name__}'.")
        return vals

    def _bind_values(self, args, kwargs):
        """Compile-time binding of compiler values (nodes or ("const", v)) to the
        parameters, defaults filled in; constants are type-checked."""
        names = [k for k, _ in self.specs]
        if len(args) > len(names):
            raise TypeError(f"{self.__name__}() expected at most {len(names)} argument(s) "
                            f"but received {len(args)}")
        bound = dict(zip(names, args))
        for k, v in kwargs.items():
            if k not in names or k in bound:
                raise TypeError(f"{self.__name__}() got an unexpected or repeated argument "
                                f"{k!r}")
            bound[k] = v
        nd = len(self.defaults)
        for i, k in enumerate(names):
            if k not in bound:
                if i < len(names) - nd:
                    raise TypeError(f"{self.__name__}() is missing value for argument '{k}'")
                bound[k] = ("const", self.defaults[i - (len(names) - nd)])
        for k, ann in self.specs:
            v = bound[k]
            if _is_const(v) and not _type_ok(ann, v[1]):
                raise RuntimeError(f"{self.__name__}() Expected a value of type '{ann}' for "
                                   f"argument '{k}'")
        return [bound[k] for k in names]

    _runner = None
    _closed = None

    @property
    def compiled(self) -> ScriptRunner:
        """The generated runner (built on first use); ``compiled.code`` is its source."""
        if self._runner is None:
            self._runner = ScriptRunner(self.graph, self.__name__)
        return self._runner

    @property
    def python_code(self) -> str:
        """Python source of the generated runner (``code`` is the graph's text)."""
        return self.compiled.code

    def _uses_runner(self, vals) -> bool:
        """Whether a call runs the generated runner: when autograd would record nothing
        (grad mode off; or no input and no graph tensor requires grad and every call in
        the graph is to a known function that cannot bring in tensors that do), and no
        tracer is recording. Otherwise the interpreter runs it (gradients flow)."""
        if state.tracer is not None:
            return False
        if not state.grad_enabled:
            return True
        if self._closed is None:
            self._closed = _closed_graph(self.graph)
            self._params = list(_all_tensors(self.graph).values())
        if not self._closed or any(t.requires_grad for t in tensors_in(vals)):
            return False
        return not any(t._requires_grad for t in self._params)

    def __call__(self, *args, **kwargs):
        vals = self._bind(args, kwargs)
        if self._uses_runner(vals):
            return self.compiled(*vals)
        return _script_run.run_region(self.graph, {}, vals)


def _closed_graph(graph: Graph) -> bool:
    """Whether every pycall of the graph (all regions) is to a function a saved graph may
    name (operators, builtins, math, tensor methods, ardor functions, script helpers) and
    none asks for a tensor that requires grad: then the inputs and the graph's tensors
    are all the tensors autograd could see."""
    from ._serialize import encode_callable
    for n in graph.nodes:
        if n.kind == "pycall":
            fn = n.attrs["fn"]
            if getattr(fn, "_method", None) in ("requires_grad_", "retain_grad") or \
                    "requires_grad" in n.args[1]:
                return False
            try:
                encode_callable(fn)
            except ValueError:
                return False
        for v in n.attrs.values():
            if isinstance(v, Graph) and not _closed_graph(v):
                return False
    return True


def _module_base():
    from ..nn.modules.module import Module
    return Module


class ScriptModule(Saveable, _module_base()):
    """A scripted module: shares parameters with the original; ``graph``/``code``.

    Its submodules' forwards are compiled into the graph; ``training`` flags are read
    at compile time, so the module is compiled once per train/eval state of its
    submodules (``.train()``/``.eval()`` switch between them, as torch reads ``training``
    at run time)."""

    def __init__(self, module):
        super().__init__()
        self.original = module
        object.__setattr__(self, "_scripts", {})
        self.training = module.training
        self._script  # compile now: unsupported code raises here  # noqa: B018

    @property
    def _script(self) -> ScriptFunction:
        """The ScriptFunction for the current train/eval state of the modules."""
        key = tuple(m.training for m in self.original.modules())
        sf = self._scripts.get(key)
        if sf is None:
            sf = self._scripts[key] = ScriptFunction(type(self.original).forward,
                                                     self.original)
        return sf

    @property
    def graph(self) -> Graph:
        return self._script.graph

    @property
    def code(self) -> str:
        return self._script.code

    @property
    def compiled(self) -> ScriptRunner:
        """The generated runner of the current graph (see ScriptFunction.compiled)."""
        return self._script.compiled

    @property
    def python_code(self) -> str:
        """Python source of the generated runner of the current graph."""
        return self._script.python_code

    def forward(self, *args, **kwargs):
        return self._script(*args, **kwargs)


def script(obj):
    """Compile a function or a module's ``forward`` from its source (see module docs).
    Usable as a decorator. Unsupported syntax raises :class:`ScriptError` at this call."""
    Module = _module_base()
    if isinstance(obj, ScriptFunction):
        return obj
    if isinstance(obj, Module):
        return ScriptModule(obj)
    if inspect.isclass(obj):
        raise ScriptError("script() of a class: script an instance of the module instead")
    if not callable(obj):
        raise TypeError(f"script() expects a function or Module, got {type(obj).__name__}")
    return ScriptFunction(obj)


def ignore(fn):
    """Leave ``fn`` as a Python call inside scripted code (it is not compiled)."""
    fn._ardor_ignore = True
    return fn


def unused(fn):
    """Mark ``fn`` as not to be compiled; calling it from scripted code still works eagerly."""
    fn._ardor_ignore = True
    return fn
