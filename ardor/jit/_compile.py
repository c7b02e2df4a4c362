"""ardor.jit.compile: a whole step (forward, loss, backward, optimizer update) as one graph.

``step = ardor.jit.compile(train_step)`` (also ``ardor.compile``) returns a callable with
the same signature. Calls go:

1. the first call for a signature runs eagerly (optimizers create their state lazily);
2. the next call runs eagerly *under the tracer*: forward ops, the backward formulas the
   autograd engine runs (the op table's ``backward``, traced like any other op: this is
   the graph-level autodiff), and the optimizer update (any of ardor.optim's elementwise
   optimizers: their numpy kernels are recorded as ardor ops, and the numbers their
   bookkeeping computes each step, such as bias corrections, become 0-d inputs; see
   ``_optimizer_step``) are recorded into one graph whose state mutations (parameters,
   optimizer buffers) are written back at its end and whose outputs include the new
   ``.grad`` of every parameter;
3. later calls run the optimizers' bookkeeping on the host (step counters advance; a step
   leaving the traced path, like RAdam's rectification switching on, retraces), then the
   compiled graph (fused kernels, planned memory, no autograd).

A function whose outputs require grad with no backward inside it (``model =
ardor.compile(model)``, differentiated by the caller) is traced on through the backward
autograd would run for it, and split into a compiled forward and a compiled backward
joined by one autograd node (see ``_aot``).

A ``.grad`` that exists before the step and that the step modifies in place
(``zero_grad(set_to_none=False)``, or gradients accumulated over several calls) is state
like a parameter: the graph zeroes or adds into it, and the tensor stays the same object.

Guards: the signature is the tensor arguments' shapes/dtypes, the other arguments, the
optimizers' hyper-parameters and the parameters' shapes/dtypes; a new signature recompiles
(steps 1-2 again) up to ``max_recompiles`` times, then the function runs eagerly; so does a
signature whose in-place ``.grad`` tensors were replaced. Anything the trace cannot replay
faithfully (a tensor converted to a Python value, a state tensor modified outside the
recorded ops, an unsupported optimizer) makes that signature run eagerly, with a one-line
warning giving the reason.
"""
from __future__ import annotations

import functools
import warnings

from .._state import state
from .._tensor import Tensor, _make
from ._runtime import CompiledGraph, _wrap
from ._trace import (Tracer, TracerWarning, _is_optimizer, reachable, state_tensors,
                     tensors_in)


class JitWarning(UserWarning):
    """A compiled function recompiled or fell back to eager execution (the reason given)."""


class _Fallback(Exception):
    pass


def _find(objs, pred):
    """Objects satisfying ``pred`` that ``objs`` reach (see ``_trace.reachable``)."""
    return [o for o, _ in reachable(objs) if pred(o)]


_ACCUMULATE = ("gradients accumulate into .grad tensors that exist before the step (call "
               "zero_grad() with its default set_to_none=True in the step)")


def _has(cell) -> bool:
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


def _module_key(mods) -> tuple:
    """The modules' training flags and their parameters' identities, shapes, dtypes and
    requires_grad, in one explicit walk of the module trees: the guard reads it on every
    call, and Module.modules()/parameters() (generators with de-duplication) took ~14 us
    of a 2 ms step."""
    out = []
    add = out.append
    stack = list(reversed(mods))
    while stack:
        m = stack.pop()
        add(m.training)
        for p in m._parameters.values():
            if p is not None:
                d = p._data
                add((id(p), d.shape, d.dtype, p._requires_grad))
        if m._modules:
            stack.extend([c for c in reversed(m._modules.values()) if c is not None])
    return tuple(out)


def _modules(objs):
    from ..nn.modules.module import Module
    return _find(objs, lambda o: isinstance(o, Module))


# ------------------------------------------------------------------ traceable optimizers
_CTX: list = []   # the compile trace in progress: {"plans": [...], "host": set()}


def _foreach_steps() -> set:
    """The ``step`` functions that do their array work in ``optim._foreach.run``."""
    from .. import optim
    return {c.step for c in (optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad,
                             optim.Adadelta, optim.Adamax, optim.NAdam, optim.RAdam,
                             optim.ASGD, optim.Rprop)}


def _hyper(opt):
    """The optimizer settings a compiled step is specialized on: the flags, and for each
    number only whether it is zero (momentum or weight decay switching on changes the
    state and the kernel). The numbers themselves are graph inputs read at every run, so
    a scheduler moving the learning rate, momentum or betas does not recompile; a kernel
    branching on a number is guarded in the prologue (see ``_optimizer_step``)."""
    return tuple(tuple([(k, v == 0 if type(v) is float or type(v) is int else _setting(v))
                        for k, v in g.items() if k != "params"]) for g in opt.param_groups)


def _plain(v):
    """A setting held as a tensor, as a number (or, past one element, its identity)."""
    if isinstance(v, Tensor):
        return v.item() if v.numel() == 1 else id(v)
    return v


def _settings(opt) -> list:
    """Every (key, value) of the optimizer's param groups but the parameters."""
    return [(k, _plain(v)) for g in opt.param_groups for k, v in g.items() if k != "params"]


def _setting(v):
    v = _plain(v)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v == 0
    if isinstance(v, (tuple, list)):
        return tuple(_setting(x) for x in v)
    return v


class _Patch:
    """Swap the optimizers' ``step`` for the recording one while tracing."""

    def __init__(self, opts):
        self.opts = opts

    def __enter__(self):
        steps = _foreach_steps()
        for o in self.opts:
            if type(o).step not in steps:
                raise _Fallback(f"optimizer {type(o).__name__} has no traceable step "
                                "(supported: ardor.optim's elementwise optimizers)")
            o.step = functools.partial(_traced_step, o)

    def __exit__(self, *exc):
        for o in self.opts:
            o.__dict__.pop("step", None)


def _traced_step(opt, closure=None):
    from ._optimizer_step import Unsupported, traced_step
    try:
        plan = traced_step(opt, closure)
    except Unsupported as why:
        raise _Fallback(str(why)) from None
    ctx = _CTX[-1]
    ctx["plans"].append(plan)
    ctx["host"].update(id(t) for t in plan.host)


# ------------------------------------------------------------------ the compiled callable
class _Entry:
    def __init__(self):
        self.calls = 0
        self.compiled = None
        self.params = []       # (target, tensor) whose .grad the graph returns
        self.eager_reason = None
        self.aot = None        # a compiled forward + backward (see _aot)
        self.kept_grads = ()   # (parameter, its .grad) the graph updates in place
        self.plans = []        # the traced optimizer steps (_optimizer_step.Plan)


class CompiledStep:
    """The callable returned by :func:`compile` (see the module docstring)."""

    def __init__(self, fn, max_recompiles: int = 8, backend: str = "auto"):
        self.fn = fn
        self.max_recompiles = max_recompiles
        self.backend = backend
        self.entries: dict = {}
        self.eager = False
        self._reached = None     # (closure/global identities, optimizers, modules)
        self._retraced = 0       # entries dropped because a kept .grad was replaced
        functools.update_wrapper(self, fn)

    # the guard: everything the graph was specialized on
    def _key(self, args, kwargs):
        parts = []
        for a in list(args) + [kwargs[k] for k in sorted(kwargs)]:
            if isinstance(a, Tensor):
                parts.append(("T", a._data.shape, a._data.dtype, a._requires_grad))
            else:
                try:
                    hash(a)
                    parts.append(("V", a))
                except TypeError:
                    parts.append(("id", id(a)))
        opts, mods = self._reach()
        parts.append(state.grad_enabled)
        parts.append(tuple(_hyper(o) for o in opts))
        parts.append(_module_key(mods))
        return tuple(parts)

    def _reach(self):
        """The optimizers and modules the function reaches (``_trace.reachable``). The
        search can cost ~40 us, so it is redone only when something the function holds
        directly (closure cells, globals it names, a bound method's instance attributes,
        and what small containers among those hold) is another object than before."""
        fn = self.fn
        code = getattr(fn, "__code__", None)
        if code is None:
            return _find([fn], _is_optimizer), _modules([fn])
        g = getattr(fn, "__globals__", {})
        near = [c.cell_contents if _has(c) else None for c in fn.__closure__ or ()] \
            + [g.get(n) for n in code.co_names]
        owner = getattr(fn, "__self__", None)        # a bound method's instance
        if isinstance(getattr(owner, "__dict__", None), dict):
            near += [owner] + list(owner.__dict__.values())
        mark = []
        for v in near:  # the objects, and what small containers among them hold
            mark.append(id(v))
            if isinstance(v, (list, tuple)) and len(v) <= 64:
                mark += [id(x) for x in v]
            elif isinstance(v, dict) and len(v) <= 64:
                mark += [id(x) for x in v.values()]
        mark = tuple(mark)
        if self._reached is None or self._reached[0] != mark:
            self._reached = (mark, _find([fn], _is_optimizer), _modules([fn]))
        return self._reached[1], self._reached[2]

    def _warn(self, msg):
        name = getattr(self.fn, "__name__", None) or type(self.fn).__name__
        warnings.warn(f"ardor.jit.compile({name}): {msg}", JitWarning, stacklevel=3)

    def __call__(self, *args, **kwargs):
        if self.eager:
            return self.fn(*args, **kwargs)
        key = self._key(args, kwargs)
        e = self.entries.get(key)
        if e is not None and e.kept_grads and any(p._grad is not g for p, g in e.kept_grads):
            self._retraced += 1
            e = None
            del self.entries[key]
        if e is None:
            e = self._new_entry(key)
            if e is None:
                return self.fn(*args, **kwargs)
        e.calls += 1
        if e.eager_reason is not None or e.calls == 1 or kwargs:
            if kwargs and e.calls == 2:
                e.eager_reason = "keyword arguments are not supported; running eagerly"
                self._warn(e.eager_reason)
            return self.fn(*args, **kwargs)
        if e.compiled is None:
            try:
                return self._trace(e, args)
            except _Fallback as why:
                e.eager_reason = str(why.args[0])
                self._warn(f"{e.eager_reason}; running eagerly")
                return why.args[1] if len(why.args) > 1 else self.fn(*args)
        return self._run(e, key, args)

    def _new_entry(self, key, why: str | None = None):
        """A fresh entry for ``key``, with a warning (``why`` the entry is recompiled, else
        the guard failed) when it is not the first; None, from now on eager, past
        ``max_recompiles``."""
        if len(self.entries) + self._retraced > self.max_recompiles:
            self.eager = True
            self._warn(f"{why + '; ' if why else ''}more than {self.max_recompiles} "
                       "recompilations; running eagerly from now on")
            return None
        if self.entries or self._retraced:
            self._warn((why or "guard failed (input shapes/dtypes, arguments, grad mode, "
                        "optimizer hyper-parameters, parameters or the .grad tensors it "
                        "updates in place changed)") + "; recompiling")
        e = self.entries[key] = _Entry()
        return e

    def _trace(self, e, args):
        from ..autograd.grad_mode import enable_grad
        grad_at_call = state.grad_enabled
        objs = [self.fn]
        opts = _find(objs, _is_optimizer)
        names = state_tensors(*objs)
        tracer = Tracer(state_names=names)
        inputs = []
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                if any(a is b for b in inputs):
                    a = _make(a._data)
                tracer.input(a, f"arg{i}")
                inputs.append(a)
        # live state tensors, to catch writes that bypass the recorded ops
        live = {}
        mods = _modules(objs)
        for mod in mods:
            for n, t in list(mod.named_parameters()) + list(mod.named_buffers()):
                live[id(t)] = (n, t, t._version[0])
        for o in opts:
            for st in o.state.values():
                for k, t in st.items():
                    if isinstance(t, Tensor):
                        live[id(t)] = (k, t, t._version[0])
        params = [p for mod in mods for p in mod.parameters()]
        for o in opts:
            for g in o.param_groups:
                params += [p for p in g["params"] if all(p is not q for q in params)]
        for p in params:
            if p._grad is not None:
                live[id(p._grad)] = ("grad", p._grad, p._grad._version[0])
        # each parameter's .grad before the run: one the step leaves alone stays as it is
        before = {id(p): (p._grad, p._grad._version[0] if p._grad is not None else None)
                  for p in params}
        settings = [_settings(o) for o in opts]
        ctx = {"plans": [], "host": set()}
        _CTX.append(ctx)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", TracerWarning)
                with _Patch(opts), enable_grad(), tracer:
                    result = self.fn(*args)
        finally:
            _CTX.pop()
        data_dep = [w for w in caught if issubclass(w.category, TracerWarning)]
        for w in caught:
            if not issubclass(w.category, TracerWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        for o, was in zip(opts, settings):
            now = _settings(o)
            if now != was:
                what = next((k for (k, v), (k0, v0) in zip(now, was)
                             if k != k0 or v != v0), "param_groups")
                raise _Fallback(f"the step changes optimizer settings ({what}), which a "
                                "compiled run would not replay (step a learning-rate "
                                "scheduler outside the compiled function)", result)
        bad = next((p.bad for p in ctx["plans"] if p.bad), None)
        if bad:
            raise _Fallback(bad, result)
        if data_dep:
            raise _Fallback(f"the step is data-dependent ({str(data_dep[0].message)[:60]}...)",
                            result)
        stale = tracer.stale_constants()
        if stale:
            t = tracer.attr_nodes[stale[0]][0]
            if any(t is g for g, _ in before.values()):
                raise _Fallback(_ACCUMULATE, result)
            raise _Fallback(f"the step modifies a tensor of shape {tuple(t.shape)} that it "
                            "reads but that is not a parameter, buffer or optimizer state "
                            "it can reach (keep the model and optimizer in variables, "
                            "attributes or small containers the step names)", result)
        # gradients: outputs of the graph, reinstalled after each compiled run; or, for a
        # .grad that existed before and was modified in place (zero_grad(set_to_none=False),
        # accumulation), state the graph writes back, guarded to be the same tensor
        grads, kept = [], []
        for p in params:
            g = p._grad
            if g is None:
                grads.append((p, None))
                continue
            if before[id(p)][0] is g:
                if before[id(p)][1] == g._version[0]:
                    continue        # untouched (a forward without backward): left as it is
                an = tracer.attr_nodes.get(names.get(id(g)))
                if an is not None and tracer.env.get(id(g)) is not an[1]:
                    kept.append((p, g))
                    continue
            n = tracer.env.get(id(g)) or tracer.by_array.get(id(g._data))
            if n is None or n.kind == "get_attr":
                raise _Fallback(_ACCUMULATE, result)
            grads.append((p, n))
        # (an optimizer step means the backward ran inside, its grads since cleared)
        aot = grad_at_call and not kept and not ctx["plans"] \
            and all(n is None for _, n in grads) \
            and any(t.requires_grad for t in tensors_in(result))
        if aot:   # a forward differentiated outside: trace its backward too
            try:
                wrt, arg_grad = self._trace_backward(tracer, inputs, result, mods)
            except RuntimeError as why:   # e.g. the graph's buffers were freed
                raise _Fallback(f"the backward of the result could not be traced "
                                f"({str(why)[:80]})", result) from why
        else:
            tracer.finish(result)
        mutated = {t for t, _ in tracer.graph.mutations}
        for tid, (n, t, v0) in live.items():
            tgt = names.get(tid)
            if t._version[0] != v0 and tgt not in mutated and tgt is not None \
                    and tid not in ctx["host"] and tid not in tracer.op_mutated:
                # a version bump without a recorded in-place op: the write bypassed dispatch
                raise _Fallback(f"state tensor {tgt} was modified outside the traced ops",
                                result)
        g = tracer.graph
        if aot:
            from . import _aot
            try:
                fwd, bwd = _aot.split(g, len(inputs))
                e.aot = _aot.Compiled(fwd, bwd, wrt, arg_grad, _aot.spec_of(result),
                                      [t.requires_grad for t in tensors_in(result)],
                                      self.backend)
            except Exception as why:  # noqa: BLE001 - a compiler bug must not stop training
                raise _Fallback(f"the traced forward and backward could not be compiled "
                                f"({type(why).__name__}: {str(why)[:80]})", result) from why
            e.compiled = e.aot
            return result
        out_node = g.nodes.pop()
        g._names.discard(out_node.name)
        g.output((out_node.args[0], tuple(n for _, n in grads if n is not None)))
        try:
            g.verify()
            e.compiled = CompiledGraph(g, self.backend)
        except Exception as why:  # noqa: BLE001 - a compiler bug must not stop training
            raise _Fallback(f"the traced graph could not be compiled ({type(why).__name__}: "
                            f"{str(why)[:80]})", result) from why
        e.params = [p for p, n in grads]
        e.has_grad = [n is not None for _, n in grads]
        e.kept_grads = kept
        e.inputs_n = len(inputs)
        e.plans = ctx["plans"]
        return result

    def _trace_backward(self, tracer, inputs, result, mods):
        """Continue the trace of a forward whose outputs require grad with the backward
        autograd would run for them (output gradients as graph inputs); finish the graph
        with output (result, gradients). Returns (parameters, indices of the tensor
        arguments) whose gradients the graph computes."""
        import numpy as np
        from ..autograd import grad as _grad
        from ..autograd.grad_mode import enable_grad
        outs = [t for t in tensors_in(result) if t.requires_grad]
        params = [p for mod in mods for p in mod.parameters() if p.requires_grad]
        arg_grad = [i for i, a in enumerate(inputs) if a.requires_grad]
        wrt = params + [inputs[i] for i in arg_grad]
        gouts = [_make(np.ones(t._data.shape, t._data.dtype)) for t in outs]
        for i, go in enumerate(gouts):
            tracer.input(go, f"grad_out{i}")
        with enable_grad(), tracer:
            gs = _grad(outs, wrt, grad_outputs=gouts, retain_graph=True, allow_unused=True)
        tracer.finish((result, tuple(gs)))
        return params, arg_grad

    def _run(self, e, key, args):
        if e.aot is not None:
            return e.aot(args)
        arrays = [a._data for a in args if isinstance(a, Tensor)]
        if e.plans:   # the optimizers' bookkeeping, giving the graph its scalar inputs
            from ._optimizer_step import Retrace, host_step
            saved = [(t, t._data.copy()) for p in e.plans for t in p.host]
            try:
                for p in e.plans:
                    arrays.extend(host_step(p))
            except Retrace as why:
                for t, v in saved:
                    t._data[...] = v
                # this call runs eagerly as the replacing entry's first; the next retraces
                self._retraced += 1
                e = self._new_entry(key, str(why))
                if e is not None:
                    e.calls = 1
                return self.fn(*args)
        out, grads = e.compiled(*arrays)
        it = iter(grads)
        for p, has in zip(e.params, e.has_grad):
            p._grad = _make(next(it)) if has else None
        return _wrap(out)


def compile(fn=None, *, max_recompiles: int = 8, backend: str = "auto"):
    """Compile ``fn`` (a training step or any function of tensors) into one graph with
    guards; usable as ``@ardor.jit.compile`` or ``ardor.jit.compile(fn)``."""
    if fn is None:
        return lambda f: CompiledStep(f, max_recompiles, backend)
    return CompiledStep(fn, max_recompiles, backend)
