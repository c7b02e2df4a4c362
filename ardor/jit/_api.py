"""The small ``torch.jit`` helpers that model code calls: is_scripting/is_tracing checks,
type annotations (annotate, Final, Attribute), ``export``, ``fork``/``wait`` and
``optimize_for_inference``."""
from __future__ import annotations

import typing

Final = typing.Final

Error = RuntimeError   # what torch.jit raises from scripted code


def is_scripting() -> bool:
    """False when running as Python; scripted code sees True (the script compiler folds it)."""
    return False


def is_tracing() -> bool:
    """Whether a trace (``ardor.jit.trace``/``ardor.compile``) is recording right now."""
    from .._state import state
    return state.tracer is not None


def annotate(the_type, the_value):
    """``the_value`` (a type hint for the script compiler; a no-op in Python)."""
    return the_value


def Attribute(value, type=None):  # noqa: N802,A002 - torch's names
    """``value`` (declares a module attribute's type to the script compiler)."""
    return value


def export(fn):
    """Mark a method to be compiled with the module; returns ``fn`` unchanged."""
    fn._ardor_export = True
    return fn


class Future:
    """The result of :func:`fork` (computed at once: ardor runs forks inline)."""

    def __init__(self, value):
        self._value = value

    def wait(self):
        """The forked call's result."""
        return self._value

    def value(self):
        """The forked call's result."""
        return self._value

    def done(self) -> bool:
        """Always True: the call already ran."""
        return True


def fork(func, *args, **kwargs) -> Future:
    """Run ``func(*args, **kwargs)`` and return a :class:`Future` holding its result."""
    return Future(func(*args, **kwargs))


def wait(future: Future):
    """The result of a :func:`fork`."""
    return future.wait()


def optimize_for_inference(mod, other_methods=None):
    """``freeze(mod)``: parameters folded into the graph, which is optimized for inference."""
    from ._freeze import freeze
    return freeze(mod)
