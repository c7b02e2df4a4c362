"""ardor.autograd: reverse-mode automatic differentiation (torch.autograd's API)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .._state import state
from .._tensor import Tensor, _make
from .engine import run_backward
from .graph import AccumulateGrad, GradientEdge, Node, accumulator_for
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                        is_inference_mode_enabled, no_grad, set_grad_enabled)
from .function import Function, FunctionCtx, once_differentiable  # noqa: E402
from .anomaly_mode import (detect_anomaly, is_anomaly_check_nan_enabled,  # noqa: E402
                           is_anomaly_enabled, set_detect_anomaly)
# Bound after the submodule import so that the name is the function, as in torch.
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402
from . import functional  # noqa: E402

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_grad_enabled", "Function", "gradcheck", "gradgradcheck", "detect_anomaly",
           "set_detect_anomaly", "is_anomaly_enabled", "functional", "Variable", "GradcheckError",
           "once_differentiable"]


def _as_tuple(x):
    if x is None:
        return None
    if isinstance(x, (Tensor, GradientEdge)):
        return (x,)
    return tuple(x)


def _make_grads(outputs, grad_outputs, is_grads_batched=False):
    res = []
    for i, out in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None else None
        if g is None:
            if not out._requires_grad:
                res.append(None)
                continue
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not (out.dtype.is_floating_point or out.dtype.is_complex):
                raise RuntimeError(f"grad can be implicitly created only for real scalar "
                                   f"outputs but got {out.dtype}")
            g = _make(np.ones(out._data.shape, out._data.dtype))
        elif not isinstance(g, Tensor):
            raise TypeError(f"gradients can be either Tensors or None, but got "
                            f"{type(g).__name__}")
        elif g.shape != out.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{g.shape} and output[{i}] has a shape of {out.shape}.")
        elif g.dtype is not out.dtype and (out.dtype.is_floating_point
                                           or out.dtype.is_complex):
            g = g.to(out.dtype)
        res.append(g)
    return res


def _edge(t):
    """(node, output_nr) through which a gradient reaches ``t``."""
    fn = t.grad_fn if t._base is None else _view_grad_fn(t)
    if fn is not None:
        return (fn, t._output_nr)
    return (accumulator_for(t), 0)


def _view_grad_fn(t):
    # a view whose storage was modified in place since it was made re-derives its grad_fn
    from .._ops.dispatch import view_grad_fn
    return view_grad_fn(t)


def _root_edges(outputs):
    edges = []
    for i, t in enumerate(outputs):
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
        fn = t.grad_fn if t._base is None else _view_grad_fn(t)
        edges.append((fn, t._output_nr) if fn is not None else (accumulator_for(t), 0))
    return edges


def _check_lengths(tensors, grads):
    if grads is not None and len(grads) != len(tensors):
        raise RuntimeError(f"got {len(tensors)} tensors and {len(grads)} gradients")


_CREATE_GRAPH_WARNING = (
    "Using backward() with create_graph=True will create a reference cycle between the "
    "parameter and its gradient which can cause a memory leak. We recommend using "
    "autograd.grad when creating the graph to avoid this. If you have to use this function, "
    "make sure to reset the .grad fields of your parameters to None after use to break the "
    "cycle and avoid the leak.")


_warned_create_graph = False


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False,
             grad_variables=None, inputs=None) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of graph leaves (only of
    ``inputs`` when given; a non-leaf input is made to retain its grad)."""
    tensors = _as_tuple(tensors)
    if grad_tensors is None:
        grad_tensors = grad_variables
    grad_tensors = _as_tuple(grad_tensors) if grad_tensors is not None else None
    _check_lengths(tensors, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        if len(inputs) == 0:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    grads = _make_grads(tensors, grad_tensors)
    roots = _root_edges(tensors)
    global _warned_create_graph
    if create_graph and not _warned_create_graph:  # TORCH_WARN_ONCE
        _warned_create_graph = True
        import warnings
        warnings.warn(_CREATE_GRAPH_WARNING, stacklevel=3)
    targets = None
    if inputs is not None:
        targets = []
        for t in inputs:
            if t.grad_fn is None and t._requires_grad:
                targets.append(accumulator_for(t))
            else:
                t.retain_grad()
                targets.append(t.grad_fn)
    run_backward(roots, grads, retain_graph, create_graph, targets=targets)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused=None, is_grads_batched: bool = False,
         materialize_grads: bool = False):
    """Gradients of ``outputs`` with respect to ``inputs`` (returned, not accumulated).

    ``is_grads_batched``: the first dimension of each grad_output is a batch of vectors;
    each result gets the same leading dimension (computed one vector at a time)."""
    outputs = _as_tuple(outputs)
    inputs_t = _as_tuple(inputs)
    if is_grads_batched:
        return _batched_grad(outputs, inputs_t, _as_tuple(grad_outputs), retain_graph,
                             create_graph, allow_unused, materialize_grads)
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    grad_outputs = _as_tuple(grad_outputs) if grad_outputs is not None else None
    if grad_outputs is not None and len(grad_outputs) < len(outputs):
        _check_lengths(outputs, grad_outputs)
    if retain_graph is None:
        retain_graph = create_graph
    for t in inputs_t:
        if not isinstance(t, GradientEdge) and not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _make_grads(outputs, grad_outputs)
    roots = _root_edges(outputs)
    capture = {}
    slots = []
    for t in inputs_t:
        e = (t[0], t[1]) if isinstance(t, GradientEdge) else _edge(t)
        if e not in capture:
            capture[e] = len(capture)
        slots.append(capture[e])
    got = run_backward(roots, grads, retain_graph, create_graph, capture=capture,
                       accumulate=False)
    result = []
    for i, (t, s) in enumerate(zip(inputs_t, slots)):
        g = got[s]
        if g is None:
            if materialize_grads and not isinstance(t, GradientEdge):
                from .._ops.creation import zeros_like
                g = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not "
                                   "have been used in the graph. Set allow_unused=True if this "
                                   "is the desired behavior.")
        elif not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)


def _batched_grad(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                  materialize_grads):
    import ardor
    if grad_outputs is None:
        raise RuntimeError("is_grads_batched=True requires grad_outputs")
    n = None
    for g in grad_outputs:
        if g is not None:
            n = g.shape[0] if n is None else n
    per = []
    for i in range(n):
        gos = tuple(None if g is None else g[i] for g in grad_outputs)
        per.append(grad(outputs, inputs, gos, retain_graph=True if i < n - 1 else retain_graph,
                        create_graph=create_graph, allow_unused=allow_unused,
                        materialize_grads=materialize_grads))
    return tuple(None if per[0][k] is None else ardor.stack([p[k] for p in per], 0)
                 for k in range(len(inputs)))


def Variable(data, requires_grad: bool = False):
    """Deprecated torch.autograd.Variable: returns a Tensor."""
    t = data.detach()
    t.requires_grad_(requires_grad)
    return t


def __getattr__(name):
    # Submodules other workers fill in are imported lazily to keep import time small.
    import importlib
    if name in ("forward_ad", "profiler"):
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module 'ardor.autograd' has no attribute '{name}'")
