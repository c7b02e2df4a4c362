"""The one door every tensor operation goes through.

``dispatch(op, args, attrs)`` is the only place that picks the backend, applies type
promotion, records the autograd node, hands the call to an active tracer, and (through
``dispatch_inplace``) bumps version counters and rebases views for in-place ops.
"""
from __future__ import annotations

import numpy as np

from .. import _dtype as D
from .._state import state
from .._tensor import Tensor, _make
from ..autograd.graph import accumulator_for

_ndarray = np.ndarray
_EMPTY: dict = {}
_BY_NP = D._BY_NP
_promote_types = D.promote_types
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def _compute_dtype(args, arrays):
    """torch.result_type over the tensor and scalar arguments of an op."""
    dims, zeros, scalars = [], [], []
    for a, arr in zip(args, arrays):
        if isinstance(a, Tensor):
            (dims if arr.ndim else zeros).append(_BY_NP[arr.dtype])
        elif a is not None and not isinstance(a, (list, tuple, str)):
            scalars.append(D.scalar_dtype(a))
    return D.result_type_parts(dims, zeros, scalars)


def _promote(rule, args, arrays, has_scalars):
    """Cast tensor arrays to the computation dtype of a ``promote`` rule."""
    if not has_scalars:
        dt0 = arrays[0].dtype
        same = True
        for a in arrays:
            if a.dtype is not dt0 and a.dtype != dt0:
                same = False
                break
        if same:
            if rule == "float" and dt0.kind in "biu":
                target = D.get_default_dtype().np
                return [a.astype(target) for a in arrays]
            return arrays
    else:
        # the common case, t * 0.5 / t + 1: tensors of one float dtype and Python int/float
        # scalars compute in the tensor dtype with the scalars left as they are (weak)
        dt0 = None
        for a, arr in zip(args, arrays):
            if a.__class__ is float or a.__class__ is int:
                continue
            if not isinstance(a, Tensor):
                break
            if dt0 is None:
                dt0 = arr.dtype
                if dt0 is not _F32 and dt0 is not _F64:
                    break
            elif arr.dtype is not dt0:
                break
        else:
            if dt0 is not None:
                return arrays
        # torch reads numpy scalars as the Python numbers they hold (weak, no upcast)
        for a in args:
            if isinstance(a, np.generic):
                args = [x.item() if isinstance(x, np.generic) else x for x in args]
                break
    dt = _compute_dtype(args, arrays)
    if rule == "float" and not (dt.is_floating_point or dt.is_complex):
        dt = D.get_default_dtype()
    npdt = dt.np
    out = []
    for a, arr in zip(args, arrays):
        if isinstance(a, Tensor):
            out.append(arr if arr.dtype == npdt else arr.astype(npdt))
        elif isinstance(a, bool) or not isinstance(a, (int, float, complex)):
            out.append(arr)
        elif dt.is_complex or isinstance(a, complex):
            out.append(a)
        elif isinstance(a, float) and not (dt.is_floating_point or dt.is_complex):
            out.append(a)
        elif dt is D.bfloat16:  # ml_dtypes' bfloat16 is no numpy float: a Python scalar
            out.append(npdt.type(a))  # would upcast it, so make the scalar bfloat16 too
        else:
            # numpy (NEP 50) keeps python scalars weak; cast ints that do not fit to wrap
            # around as torch does, and keep floats as they are.
            out.append(a if isinstance(a, float) or _fits(a, npdt) else npdt.type(a % (1 << (8 * npdt.itemsize))))
    return out


def _fits(v: int, npdt) -> bool:
    if npdt.kind in "fc":
        return True
    if npdt.kind == "b":
        return v in (0, 1)
    info = np.iinfo(npdt)
    return info.min <= v <= info.max


def _edge(t):
    if not isinstance(t, Tensor) or not t._requires_grad:
        return (None, 0)
    fn = t.grad_fn
    if fn is not None:
        if t._base is not None and t._vver != t._version[0]:
            fn = view_grad_fn(t)
        return (fn, t._output_nr)
    return (accumulator_for(t), 0)


def _wrap(arr):
    if type(arr) is not _ndarray:
        arr = np.asarray(arr)
    t = _make(arr)
    return t


def dispatch(op, args: tuple, attrs: dict = _EMPTY):
    """Run one op-table op on Tensor (or scalar) arguments and record it for autograd."""
    try:
        arrays = [a._data for a in args]
        has_scalars = False
    except AttributeError:
        arrays = [a._data if isinstance(a, Tensor) else a for a in args]
        has_scalars = True
    if op.promote is not None:
        arrays = _promote(op.promote, args, arrays, has_scalars)
    xp = np if type(arrays[0]) is _ndarray or not has_scalars and _all_numpy(arrays) \
        else _array_module(arrays)
    try:
        out = op.forward(xp, *arrays, **attrs)
    except ValueError as e:  # numpy's broadcast error -> torch's RuntimeError
        raise _broadcast_error(e, arrays) from None
    if op.nout == 1:
        res = _wrap(out)
        outs = (res,)
    else:
        outs = tuple(_wrap(o) for o in out)
        res = outs
    if op.view:
        _mark_view(outs, args[0], op, attrs)
    if state.grad_enabled and op.differentiable:
        for a in args:
            if isinstance(a, Tensor) and a._requires_grad:
                _record(op, args, attrs, outs)
                break
    if state.tracer is not None:
        state.tracer.record(op, args, attrs, outs)
    return res


def _broadcast_error(e: ValueError, arrays) -> Exception:
    """torch's message for operands whose shapes do not broadcast (else ``e`` unchanged)."""
    if "broadcast" not in str(e):
        return e
    shape = None
    for arr in arrays:
        s = getattr(arr, "shape", None)
        if s is None:
            continue
        if shape is None:
            shape = tuple(s)
            continue
        n = max(len(shape), len(s))
        a, b = (1,) * (n - len(shape)) + shape, (1,) * (n - len(s)) + tuple(s)
        for i in range(n - 1, -1, -1):
            if a[i] != b[i] and a[i] != 1 and b[i] != 1:
                return RuntimeError(f"The size of tensor a ({a[i]}) must match the size of "
                                    f"tensor b ({b[i]}) at non-singleton dimension {i}")
        shape = tuple(x if x != 1 else y for x, y in zip(a, b))
    return e


def _all_numpy(arrays) -> bool:
    return all(type(a) is _ndarray for a in arrays)


def _array_module(arrays):
    mods = set()
    for a in arrays:
        if isinstance(a, _ndarray):
            mods.add("cpu")
        elif hasattr(a, "__cuda_array_interface__"):
            mods.add("cuda")
    if len(mods) > 1:
        raise RuntimeError("Expected all tensors to be on the same device, but found at least "
                           "two devices, cuda:0 and cpu!")
    if "cuda" in mods:
        import cupy
        return cupy
    return np


# op name -> fn(attrs, i) giving the single-output (op, attrs) that replays output i of a
# multi-output view op (unbind -> select, split -> slice), filled by the op modules.
MULTI_VIEW: dict = {}
Tensor._vver = -1  # version a view's grad_fn was derived at (set by _mark_view on views)


def _mark_view(outs, base, op, attrs):
    # A view records its root base, the ops replaying it from the root, the shared version
    # counter, and (_vver) the version its grad_fn was made at: when an in-place op anywhere
    # on the storage moves the counter on, view_grad_fn() re-derives grad_fn from the root.
    root = base._base if base._base is not None else base
    ver = base._version
    if op.nout == 1:
        ops = base._view_ops + ((op, attrs),)
        for o in outs:
            o._base = root
            o._version = ver
            o._view_ops = ops
            o._vver = ver[0]
    else:
        one = MULTI_VIEW[op.name]
        for i, o in enumerate(outs):
            o._base = root
            o._version = ver
            o._view_ops = base._view_ops + (one(attrs, i),)
            o._vver = ver[0]
            o._multi_view = (op, i)  # in-place on these is an error under autograd (torch)
    if not state.grad_enabled:
        for o in outs:
            o._nograd_view = True


def view_grad_fn(view: Tensor):
    """The view's grad_fn, re-derived from its root base when the storage was modified in
    place since it was made (torch regenerates a view's grad_fn the same way)."""
    ver = view._version[0]
    if view._vver == ver:
        return view.grad_fn
    view._vver = ver
    root = view._base
    if not root._requires_grad or view.__dict__.get("_nograd_view"):
        return view.grad_fn
    v = root
    with _enable_grad():
        for op, attrs in view._view_ops:
            v = dispatch(op, (v,), attrs)
    view._requires_grad = True
    view.grad_fn = v.grad_fn
    view._output_nr = v._output_nr
    return v.grad_fn


def _record(op, args, attrs, outs):
    node = op.node_cls()
    node.next_functions = tuple([_edge(a) for a in args])
    node.attrs = attrs
    node.in_meta = tuple([(a._data.shape, _BY_NP[a._data.dtype]) if isinstance(a, Tensor)
                          else None for a in args])
    if op.save:
        when = op.save_when
        if when is None:
            saved = tuple([args[i] if i < len(args) else None for i in op.save])
        else:  # save an input only when a gradient that needs it will be computed
            saved = tuple([args[i] if i < len(args) and any(
                isinstance(args[j], Tensor) and args[j]._requires_grad for j in w) else None
                for i, w in zip(op.save, when)])
        node._saved = saved
        node._versions = tuple([t._version[0] if isinstance(t, Tensor) else None
                                for t in saved])
    if op.save_out:
        node._saved_out = tuple([(o._data, o._version, o._version[0]) for o in outs])
    if op.nout != 1:
        node.out_meta = tuple([(o.shape, o.dtype) for o in outs])
        if op.nout == 0:  # a variable number of outputs (unbind, split)
            node.nout = len(outs)
    if state.anomaly:
        from ..autograd.anomaly_mode import capture_trace
        node._trace = capture_trace()
    for i, o in enumerate(outs):
        dt = o._data.dtype
        if dt.kind in "fc" or dt == D.bfloat16.np:
            o._requires_grad = True
            o.grad_fn = node
            o._output_nr = i


def dispatch_inplace(op, self: Tensor, args: tuple, attrs: dict = _EMPTY) -> Tensor:
    """Run ``op`` on (self, *args) and write the result into ``self``.

    Casting follows torch: the result type must be castable to self's dtype. Under autograd
    self's history is rebased onto the new node; a view's base gets a CopySlices node.
    """
    full = (self,) + tuple(args)
    needs_grad = state.grad_enabled and op.differentiable and any(
        isinstance(a, Tensor) and a._requires_grad for a in full)
    if self._requires_grad and self.grad_fn is None and state.grad_enabled:  # any op, as torch
        if self._base is not None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               "an in-place operation.")
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    base = self._base
    if base is not None and state.grad_enabled and (needs_grad or base._requires_grad):
        _check_view_inplace(self, base, needs_grad)
    if not needs_grad:
        ipf = op.inplace_forward
        if ipf is not None and state.tracer is None and type(self._data) is _ndarray \
                and self._data.flags.writeable:
            # the op's own in-place kernel: no out-of-place result, no second copy
            ipf(np, self._data, *[a._data if isinstance(a, Tensor) else a for a in args],
                **attrs)
            self._version[0] += 1
            return self
        with _no_grad():
            r = dispatch(op, full, attrs)
        _check_cast(op, r, self)
        _write(self, r._data)
        if state.tracer is not None:
            state.tracer.record_inplace(self, r)
        return self
    # Autograd: compute out of place from a snapshot of self, then rebase self's history.
    if base is not None and self._vver != self._version[0]:
        view_grad_fn(self)
    snap = _make(self._data.copy() if 0 in op.save else self._data)
    snap._requires_grad = self._requires_grad
    snap.grad_fn = self.grad_fn
    snap._output_nr = self._output_nr
    if state.tracer is not None:  # the snapshot stands for self's current value
        state.tracer.record_alias(self, snap)
    if self._requires_grad and self.grad_fn is None:  # pragma: no cover - guarded above
        snap._grad_acc = self._grad_acc
    r = dispatch(op, (snap,) + tuple(args), attrs)
    _check_cast(op, r, self)
    if r.dtype is not self.dtype:
        r = r.to(self.dtype)
    _write(self, r._data)
    if base is not None:
        _rebase_view(self, r)
    else:
        self._requires_grad = True
        self.grad_fn = r.grad_fn
        self._output_nr = r._output_nr
    return self


def _check_view_inplace(view: Tensor, base: Tensor, needs_grad: bool) -> None:
    """torch's refusals for in-place ops on views under autograd."""
    d = view.__dict__
    cf = d.get("_custom_fn_view")  # set by autograd.Function on view outputs
    if cf is not None:
        raise RuntimeError(
            f"Output {cf[1]} of {cf[0]} is a view and is being modified inplace. This view was "
            "created inside a custom Function (or because an input was returned as-is) and the "
            "autograd logic to handle view+inplace would override the custom backward "
            "associated with the custom Function, leading to incorrect gradients. This behavior "
            "is forbidden. You can fix this by cloning the output of the custom Function.")
    if d.get("_nograd_view"):
        raise RuntimeError(
            "A view was created in no_grad mode and is being modified inplace with grad mode "
            "enabled. Given that this use case is ambiguous and error-prone, it is forbidden. "
            "You can clarify your code by moving both the view and the inplace either both "
            "inside the no_grad block (if you don't want the inplace to be tracked) or both "
            "outside (if you want the inplace to be tracked).")
    mv = d.get("_multi_view")
    if mv is not None:
        op, i = mv
        name = op.node_name[:-len("Backward0")] if op.node_name.endswith("Backward0") \
            else op.node_name
        raise RuntimeError(
            f"Output {i} of {name} is a view and is being modified inplace. This view is the "
            "output of a function that returns multiple views. Such functions do not allow the "
            "output views to be modified inplace. You should replace the inplace operation by "
            "an out-of-place one.")
    if needs_grad and base._requires_grad and base.grad_fn is None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")


class _no_grad:
    def __enter__(self):
        self.prev = state.grad_enabled
        state.grad_enabled = False

    def __exit__(self, *exc):
        state.grad_enabled = self.prev


def _check_cast(op, r, self):
    if r.dtype is not self.dtype and not D.can_cast(r.dtype, self.dtype):
        raise RuntimeError(f"result type {r.dtype._torch_name} can't be cast to the desired "
                           f"output type {self.dtype._torch_name}")


def _write(self: Tensor, arr) -> None:
    dst = self._data
    if arr is not dst:
        if dst.shape != arr.shape and np.broadcast_shapes(dst.shape, arr.shape) != dst.shape:
            raise RuntimeError(
                f"output with shape {list(dst.shape)} doesn't match the broadcast shape "
                f"{list(np.broadcast_shapes(dst.shape, arr.shape))}")
        if not dst.flags.writeable:
            raise RuntimeError("unsupported operation: more than one element of the written-to "
                               "tensor refers to a single memory location. Please clone() the "
                               "tensor before performing the operation.")
        if type(dst) is _ndarray:
            np.copyto(dst, arr, casting="unsafe")
        else:  # another backend's array (cupy): plain assignment casts and broadcasts
            dst[...] = arr
    self._version[0] += 1


def _rebase_view(view: Tensor, new_value: Tensor) -> None:
    """After an in-place op on a view under autograd, give its base a CopySlices node."""
    from .core import copy_slices
    base = view._base
    copy_slices(base, view._view_ops, new_value)
    # the view's history is now "a view of the updated base"
    v = base
    with _enable_grad():
        for op, attrs in view._view_ops:
            v = dispatch(op, (v,), attrs)
    view._requires_grad = True
    view.grad_fn = v.grad_fn
    view._output_nr = v._output_nr
    view._vver = view._version[0]


class _enable_grad:
    def __enter__(self):
        self.prev = state.grad_enabled
        state.grad_enabled = True

    def __exit__(self, *exc):
        state.grad_enabled = self.prev
