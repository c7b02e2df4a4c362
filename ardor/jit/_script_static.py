"""Compile-time knowledge the script compiler uses beyond plain constants: function-local
imports of ardor modules, the items of tuples and dicts built from run-time values (so
that unpacking, ``**kwargs`` and loops over them are resolved while compiling), the
static type of a value (so ``isinstance`` folds as torch.jit.script's type refinement
does), and ``dispatch`` of an op-table op (a graph ``call`` node)."""
from __future__ import annotations

import importlib
import importlib.util

from .._tensor import Tensor
from ._ir import Node
from ._script_ops import _make_dict, _make_tuple


def resolve_import(fn, module: str | None, level: int) -> str:
    """The absolute name of a (possibly relative) import inside function ``fn``; an
    ImportError for anything outside ardor (scripted code may only import ardor modules:
    they are bound at compile time, nothing runs)."""
    name = module or ""
    if level:
        g = getattr(fn, "__globals__", {})
        package = g.get("__package__") or (g.get("__name__", "").rpartition(".")[0])
        name = importlib.util.resolve_name("." * level + name, package)
    if name != "ardor" and not name.startswith("ardor."):
        raise ImportError(f"import of {name!r}: scripted code may import only ardor modules")
    return name


def import_binding(fn, node) -> dict:
    """name -> object for an ``import``/``from ... import`` statement in ``fn``."""
    import ast
    out = {}
    if isinstance(node, ast.Import):
        for a in node.names:
            name = resolve_import(fn, a.name, 0)
            mod = importlib.import_module(name)
            if a.asname:
                out[a.asname] = mod
            else:  # ``import ardor.nn`` binds ``ardor``
                out[name.split(".")[0]] = importlib.import_module(name.split(".")[0])
        return out
    base = resolve_import(fn, node.module, node.level)
    mod = importlib.import_module(base)
    for a in node.names:
        if a.name == "*":
            raise ImportError("'from ... import *' is not supported in ardor.jit.script")
        try:
            out[a.asname or a.name] = getattr(mod, a.name)
        except AttributeError:
            out[a.asname or a.name] = importlib.import_module(f"{base}.{a.name}")
    return out


def static_items(v):
    """The items (compiler values) of a tuple node built in the graph, else None (tuples
    cannot change, so what was put in is what is there)."""
    if isinstance(v, Node) and v.kind == "pycall" and v.attrs.get("fn") is _make_tuple:
        return [a if isinstance(a, Node) else ("const", a) for a in v.args[0]]
    return None


def static_dict(v):
    """The entries (name -> compiler value) of a dict node built by ``dict(...)``/``{...}``
    in the graph (never mutated: the compiler refuses that), else None."""
    if isinstance(v, Node) and v.kind == "pycall" and v.attrs.get("fn") is _make_dict:
        return {k: a if isinstance(a, Node) else ("const", a) for k, a in v.args[1].items()}
    return None


def static_type(v):
    """The Python type a compiler value is known to have at run time, else None."""
    if isinstance(v, tuple) and len(v) == 2 and v[0] == "const":
        return type(v[1])
    if not isinstance(v, Node):
        return None
    if v.kind == "placeholder" and v.attrs.get("type") == "Tensor" or v.kind == "get_attr":
        return Tensor
    if v.kind == "pycall" and v.attrs.get("fn") is _make_tuple:
        return tuple
    if v.kind == "pycall" and v.attrs.get("fn") is _make_dict:
        return dict
    return None


def fold_isinstance(v, classes):
    """``isinstance(v, classes)`` decided from the static type (None when it cannot be:
    a subclass of the static type may still match at run time)."""
    t = static_type(v)
    if t is None or isinstance(v, tuple):
        return None
    cls = classes if isinstance(classes, tuple) else (classes,)
    if not all(isinstance(c, type) for c in cls):
        return None
    if any(issubclass(t, c) for c in cls):
        return True
    if not any(issubclass(c, t) for c in cls):
        return False  # unrelated classes: no run-time value of type t is an instance
    return None


def dispatch_fn():
    from .._ops.dispatch import dispatch
    return dispatch
