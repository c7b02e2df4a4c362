"""The Python side of scripted graphs: the operator tables the script compiler folds and
names, and the small functions its ``pycall`` nodes call (tuple/list building, truth
tests, ``raise``, f-string pieces). Saved graphs name these (see ``_serialize``)."""
from __future__ import annotations

import ast
import math
import operator


_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
        ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
        ast.Pow: operator.pow, ast.MatMult: operator.matmul, ast.BitAnd: operator.and_,
        ast.BitOr: operator.or_, ast.BitXor: operator.xor, ast.LShift: operator.lshift,
        ast.RShift: operator.rshift}
_CMP = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
        ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Is: operator.is_,
        ast.IsNot: operator.is_not, ast.In: lambda a, b: a in b,
        ast.NotIn: lambda a, b: a not in b}
_CMP[ast.In].__name__, _CMP[ast.NotIn].__name__ = "_in", "_not_in"
_UN = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert,
       ast.Not: operator.not_}
_PURE = {len, range, int, float, bool, min, max, abs, tuple, list, round} | {
    getattr(math, n) for n in dir(math) if callable(getattr(math, n))}
# operators folded at compile time when no operand is a tensor (``is``/``is not`` always:
# identity does not change)
_FOLD_OPS = set(_BIN.values()) | set(_CMP.values()) | set(_UN.values())
# builtins evaluated at compile time when every argument is a constant (the iterating ones
# give lists, so that a ``for`` over them unrolls)
_COMPILE_TIME = {getattr, hasattr, isinstance, issubclass, callable}
_COMPILE_TIME_ITER = {enumerate, zip, reversed}
_FLAGS = ("__brk", "__cont", "__ret")
_RAISED = "__raised"   # env marker: the block raised (its rest is unreachable)
_UNDEF = "<undefined>"


def _truth(v) -> bool:
    return bool(v)


def _not_any(*flags) -> bool:
    return not any(bool(f) for f in flags)


def _make_tuple(*xs):
    return tuple(xs)


def _make_list(*xs):
    return list(xs)


def _make_dict(**entries):
    return dict(entries)


# methods of lists and strings a scripted graph may call on run-time values besides
# tensor methods (saved by name: see _serialize)
_VALUE_METHODS = ("append", "extend", "insert", "pop", "index", "count", "format")
# methods that change a list or dict in place
_MUTATORS = ("append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse",
             "update", "setdefault", "popitem", "__setitem__", "__delitem__")


def _method(name):
    def call(obj, *a, **k):
        return getattr(obj, name)(*a, **k)
    call.__name__ = f"method_{name}"
    call._method = name
    return call


def _getattr(obj, name):
    return getattr(obj, name)


def _slice(a, b, c):
    return slice(a, b, c)


def _raise(cls, *args, **kwargs):
    """``raise cls(*args, **kwargs)`` (a scripted ``raise``/``assert``)."""
    raise cls(*args, **kwargs)


def _format(value, conversion: int = -1, spec: str = ""):
    """One ``{value!conversion:spec}`` field of an f-string."""
    if conversion == 115:
        value = str(value)
    elif conversion == 114:
        value = repr(value)
    elif conversion == 97:
        value = ascii(value)
    return format(value, spec)


def _concat(*parts):
    """The pieces of an f-string joined."""
    return "".join(parts)


_PURE |= {_format, _concat}


def _fn_name(f) -> str:
    if getattr(f, "_method", None):
        return "." + f._method
    mod = getattr(f, "__module__", None) or ""
    name = getattr(f, "__qualname__", None) or getattr(f, "__name__", None) or type(f).__name__
    if mod.startswith("ardor.jit._script"):
        return name
    return f"{mod}.{name}" if mod and mod != "builtins" else name


_HELPERS = {_truth, _not_any, _make_tuple, _make_list, _make_dict, _getattr, _slice,
            operator.getitem}
# names of ardor functions and methods that draw random numbers or touch global state:
# never merged or dropped
_RANDOM = ("rand", "dropout", "bernoulli", "multinomial", "normal", "poisson", "rrelu",
           "gumbel", "seed", "exponential", "geometric", "cauchy", "uniform")
_EFFECT_METHODS = {"backward", "register_hook", "retain_grad", "tolist", "numpy", "cpu",
                   "cuda", "to"}


def pure_call(fn, kwargs=None) -> bool:
    """Whether a pycall of ``fn`` (with keyword arguments ``kwargs``) only computes a value
    from its arguments: no side effect, no random draw, nothing written in place (``out=``,
    ``inplace=True``, a ``*_`` method), so that passes may merge equal calls and drop unread
    ones. Unknown callables (submodules, ``print``) are not."""
    if kwargs and (kwargs.get("out") is not None or kwargs.get("inplace") is True):
        return False
    try:
        if fn in _PURE or fn in _FOLD_OPS or fn in _HELPERS:
            return True
    except TypeError:  # an unhashable callable
        return False
    name = getattr(fn, "_method", None)
    if name is None:
        if not (getattr(fn, "__module__", None) or "").startswith("ardor."):
            return False
        name = getattr(fn, "__name__", "")
    return not (name.endswith("_") or name in _MUTATORS or name in _EFFECT_METHODS
                or name.startswith(("set_", "use_", "save", "load", "print"))
                or any(r in name for r in _RANDOM))


def writes_tensors(fn, kwargs=None) -> bool:
    """Whether a pycall of ``fn`` may write a tensor in place: an in-place method,
    ``out=``/``inplace=True``, or a callable not known to leave its arguments alone (a
    submodule, a user function). (Printing, raising and list/dict methods do not.)"""
    if pure_call(fn, kwargs) or fn is print or fn is _raise:
        return False
    return getattr(fn, "_method", None) not in _MUTATORS
