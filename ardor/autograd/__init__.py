"""ardor.autograd: reverse-mode automatic differentiation (torch.autograd's API)."""
from __future__ import annotations

from typing import Sequence

from .._state import state
from .engine import run_backward
from .graph import AccumulateGrad, Node, accumulator_for
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
    from .._tensor import Tensor
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def _make_grads(outputs, grad_outputs, is_grads_batched=False):
    from .._tensor import Tensor, _make
    import numpy as np
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
            g = _make(np.full(out._data.shape, g, out._data.dtype))
        elif g.shape != out.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{g.shape} and output[{i}] has a shape of {out.shape}.")
        res.append(g)
    return res


def _root_edges(outputs):
    from .._ops.dispatch import _edge
    edges = []
    for i, t in enumerate(outputs):
        if not t._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
        edges.append(_edge(t))
    return edges


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False,
             grad_variables=None, inputs=None) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of graph leaves."""
    tensors = _as_tuple(tensors)
    if grad_tensors is None:
        grad_tensors = grad_variables
    grad_tensors = _as_tuple(grad_tensors) if grad_tensors is not None else None
    if retain_graph is None:
        retain_graph = create_graph
    grads = _make_grads(tensors, grad_tensors)
    pairs = [(t, g) for t, g in zip(tensors, grads)]
    roots = _root_edges([t for t, _ in pairs])
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if len(inputs) == 0:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
        from .._tensor import _make  # noqa: F401
        capture = {}
        for i, t in enumerate(inputs):
            if not t._requires_grad:
                raise RuntimeError("One of the differentiated Tensors does not require grad")
            from .._ops.dispatch import _edge
            capture[_edge(t)] = i
        got = run_backward(roots, [g for _, g in pairs], retain_graph, create_graph,
                           capture=capture, accumulate=False)
        from .engine import accumulate_into
        prev = state.grad_enabled
        state.grad_enabled = create_graph
        try:
            for t, g in zip(inputs, got):
                if g is not None:
                    if t.grad_fn is None:
                        accumulate_into(t, g)
                    else:
                        t.grad = g if t.grad is None else t.grad + g
        finally:
            state.grad_enabled = prev
        return
    run_backward(roots, [g for _, g in pairs], retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused=None, is_grads_batched: bool = False,
         materialize_grads: bool = False):
    """Gradients of ``outputs`` with respect to ``inputs`` (returned, not accumulated)."""
    from .._ops.dispatch import _edge
    outputs = _as_tuple(outputs)
    inputs_t = _as_tuple(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    grad_outputs = _as_tuple(grad_outputs) if grad_outputs is not None else None
    if grad_outputs is not None and len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got "
                           f"{len(grad_outputs)} grad_outputs and {len(outputs)} outputs")
    if retain_graph is None:
        retain_graph = create_graph
    for t in inputs_t:
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grads = _make_grads(outputs, grad_outputs)
    keep = [(o, g) for o, g in zip(outputs, grads) if o._requires_grad]
    for i, o in enumerate(outputs):
        if not o._requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have "
                               "a grad_fn")
    roots = _root_edges([o for o, _ in keep])
    capture = {}
    slots = []
    for t in inputs_t:
        e = _edge(t)
        if e not in capture:
            capture[e] = len(capture)
        slots.append(capture[e])
    got = run_backward(roots, [g for _, g in keep], retain_graph, create_graph,
                       capture=capture, accumulate=False)
    result = []
    for t, s in zip(inputs_t, slots):
        g = got[s]
        if g is None:
            if materialize_grads:
                from .._ops.creation import zeros_like
                g = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
        elif not create_graph:
            g = g.detach()
        result.append(g)
    return tuple(result)


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
