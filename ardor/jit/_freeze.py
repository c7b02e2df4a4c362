"""ardor.jit.freeze: parameters and buffers become constants, then constant folding."""
from __future__ import annotations

import numpy as np

from .._tensor import _make
from ._passes import cse, dce, fold_constants, simplify
from ._passes.basic import fold_conv_bn
from ._runtime import TracedFunction, TracedModule


def freeze(traced, preserve_parameters: bool = False):
    """A frozen copy of a traced module/function: its parameters and buffers are inlined as
    constants (snapshots of their current values), eval-mode batch norms after convolutions
    are folded into the convolution weights, and everything computable from constants
    alone (e.g. weight transposes) is precomputed by constant folding.
    Later changes to the original parameters do not affect the frozen module."""
    tf = traced._traced if isinstance(traced, TracedModule) else traced
    if not isinstance(tf, TracedFunction):
        raise TypeError("freeze() expects a module or function returned by ardor.jit.trace")
    if tf.graph.mutations:
        raise RuntimeError("freeze(): the traced code mutates state in place "
                           f"({', '.join(t for t, _ in tf.graph.mutations)}); call .eval() "
                           "before tracing")
    g = tf.graph.copy()
    if not preserve_parameters:
        for k, t in list(g.tensors.items()):
            if k not in g.consts:
                g.tensors[k] = _make(np.array(t._data, copy=True))
                g.consts.add(k)
    g = dce(cse(fold_constants(fold_conv_bn(simplify(g))))).verify()
    out = TracedFunction(tf._fn, g, (), tf._backend)
    out._sig = tf._sig
    return out
