"""ardor.jit: static graphs from dynamic code.

Three front doors produce one SSA IR (:class:`Graph`): :func:`trace` records the ops a run
executes (through the same dispatch door as eager ops), :func:`script` compiles a
function's source, and :func:`placeholder` builds graphs in the deferred style. Passes
(``ardor.jit.passes``) optimize it; :class:`CompiledGraph` runs it with fused elementwise
kernels compiled by the system C compiler (numpy fallback) and planned memory;
:func:`save`/:func:`load` store it as a zip of JSON + raw weights; :func:`compile` turns a
whole training step into one graph with shape/dtype guards.
"""
from __future__ import annotations

from . import _passes as passes
from ._ir import Graph, GraphError, Node
from ._runtime import CompiledGraph, TracedFunction, TracedModule, grad, trace
from ._api import (Attribute, Error, Final, Future, annotate, export, fork, is_scripting,
                   is_tracing, optimize_for_inference, wait)
from ._trace import TracerWarning

__all__ = ["Graph", "GraphError", "Node", "trace", "grad", "TracerWarning", "TracedFunction",
           "TracedModule", "CompiledGraph", "passes", "placeholder", "freeze", "save",
           "load", "script", "ignore", "unused", "compile", "ScriptError", "is_scripting",
           "is_tracing", "annotate", "Final", "Attribute", "export", "fork", "wait", "Future",
           "optimize_for_inference", "Error"]


def __getattr__(name):
    # the other front doors load on first use (keeps `import ardor` light)
    if name in ("placeholder", "Placeholder"):
        from . import _placeholder
        return getattr(_placeholder, name)
    if name == "freeze":
        from ._freeze import freeze
        return freeze
    if name in ("save", "load", "SerializationError", "LoadedGraph"):
        from . import _serialize
        return getattr(_serialize, name)
    if name in ("script", "ignore", "unused", "ScriptError", "ScriptFunction", "ScriptModule",
                "NotSupportedError"):
        from . import _script
        return getattr(_script, name)
    if name in ("compile", "CompiledStep", "JitWarning"):
        from . import _compile
        return getattr(_compile, name)
    raise AttributeError(f"module 'ardor.jit' has no attribute {name!r}")
