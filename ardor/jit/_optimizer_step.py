"""Optimizer steps inside a compiled training step (see ``_compile``).

Every elementwise optimizer in ``ardor.optim`` does its array work in one place:
``_foreach.run(kernel, per_param, nscratch)``, where ``kernel(arrays, scalars, scratch)`` is a
short chain of numpy calls and the Python around it (step counters, bias corrections,
learning-rate decay) is host-side bookkeeping. So one mechanism serves them all:

* **while tracing**, ``run`` calls the kernel once per parameter on :class:`_Array` proxies.
  Their numpy calls (``__array_ufunc__``, ``np.copyto``/``np.clip``, in-place operators,
  masked assignment) become ardor ops through the dispatch door, so the tracer records
  them; the new values of parameters and state are written with ``copy_`` once the kernel
  has finished, so a kernel the proxies cannot run leaves nothing half-written (the step
  then runs eagerly and the trace falls back with the reason).
  The kernel's numbers (closure variables and per-parameter scalars) become
  :class:`_Scalar` proxies: arithmetic on them is recorded as host expressions, and each
  one an array op uses becomes a 0-d graph input; comparisons Python branches on are
  recorded as guards.
* **before every compiled run**, the prologue calls the optimizer's real ``step()`` with
  ``run`` in host mode: the bookkeeping runs as in eager code (counters advance), and
  ``run`` only reads the kernel's closure and scalars, evaluates the recorded expressions
  into the graph's scalar inputs and checks the guards. A failed guard (a branch the trace
  did not take, such as RAdam's rectification switching on) restores the counters and
  drops the compiled graph: the step retraces.
"""
from __future__ import annotations

import operator
import types

import numpy as np

from .._state import state
from .._tensor import Tensor, _make


class Unsupported(Exception):
    """A kernel did something the proxies cannot record."""


# ------------------------------------------------------------------ host-side scalars
class _Scalar:
    """A number of the optimizer's kernel: ``get(env)`` recomputes it on the host from the
    values the optimizer's bookkeeping produced for this step."""

    __slots__ = ("value", "fn", "args", "tensor", "plan")

    def __init__(self, value, fn=None, args=(), plan=None):
        self.value, self.fn, self.args, self.tensor, self.plan = value, fn, args, None, plan

    def get(self, env):
        if self.fn is None:
            return env[self.args]
        return self.fn(*[a.get(env) if isinstance(a, _Scalar) else a for a in self.args])

    def _op(self, fn, *args):
        # one scalar (and graph input) per expression: the kernel runs once per parameter
        key = (fn,) + tuple(("s", id(a)) if isinstance(a, _Scalar) else (type(a), a)
                            for a in args)
        memo = self.plan.memo
        s = memo.get(key)
        if s is None:
            vals = [a.value if isinstance(a, _Scalar) else a for a in args]
            s = memo[key] = _Scalar(fn(*vals), fn, args, self.plan)
        return s

    def _guard(self, fn, other):
        out = fn(self.value, other.value if isinstance(other, _Scalar) else other)
        key = (id(self), fn, ("s", id(other)) if isinstance(other, _Scalar)
               else (type(other), other))
        if key not in self.plan.memo:
            self.plan.memo[key] = out
            self.plan.guards.append((self, fn, other, out))
        return out

    def as_tensor(self):
        """The 0-d graph input standing for this number (made at first use)."""
        if self.tensor is None:
            self.tensor = _make(np.asarray(self.value))
            self.plan.used.append(self)
            state.tracer.input(self.tensor, f"optim_scalar{len(self.plan.used)}")
        return self.tensor

    __hash__ = object.__hash__

    def __array_ufunc__(self, ufunc, method, *args, **kwargs):
        if any(isinstance(a, _Array) for a in args) or kwargs or method != "__call__":
            return NotImplemented
        return self._op(ufunc, *args)

    def __float__(self):   # the number leaves the graph: later steps must have the same
        self._guard(operator.eq, self.value)
        return float(self.value)

    def __index__(self):
        self._guard(operator.eq, self.value)
        return operator.index(self.value)

    def __bool__(self):
        return self._guard(_truth, None)


def _truth(a, _):
    return bool(a)


def _binary(fn):
    return (lambda self, o: self._op(fn, self, o)), (lambda self, o: self._op(fn, o, self))


for _name, _fn in (("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                   ("truediv", operator.truediv), ("pow", operator.pow),
                   ("floordiv", operator.floordiv), ("mod", operator.mod)):
    _f, _r = _binary(_fn)
    setattr(_Scalar, f"__{_name}__", _f)
    setattr(_Scalar, f"__r{_name}__", _r)
for _name, _fn in (("neg", operator.neg), ("abs", operator.abs)):
    setattr(_Scalar, f"__{_name}__", lambda self, _fn=_fn: self._op(_fn, self))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(_Scalar, f"__{_name}__",
            lambda self, o, _fn=getattr(operator, _name): self._guard(_fn, o))


# ------------------------------------------------------------------ array proxies
_UFUNCS = {"add": "add", "subtract": "sub", "multiply": "mul", "divide": "div",
           "true_divide": "div", "negative": "neg", "sqrt": "sqrt", "maximum": "maximum",
           "minimum": "minimum", "sign": "sign", "absolute": "abs", "less": "lt",
           "greater": "gt", "less_equal": "le", "greater_equal": "ge", "equal": "eq",
           "not_equal": "ne", "square": "square", "exp": "exp", "log": "log",
           "reciprocal": "reciprocal", "power": "pow"}


def _value(x):
    """An operand of an ardor op: proxies to their tensors, constants as Python numbers."""
    if isinstance(x, _Array):
        return x.read()
    if isinstance(x, _Scalar):
        return x.as_tensor()
    if isinstance(x, np.ndarray) and x.ndim == 0 or isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (int, float, bool)):
        return x
    raise Unsupported(f"an operand of type {type(x).__name__}")


class _Array:
    """A numpy array of the kernel (a chunk of a parameter, gradient or state tensor, or
    a scratch buffer) standing for a traced tensor value."""

    def __init__(self, t: Tensor | None, shape, dtype, real: Tensor | None = None):
        self.t, self.shape, self.dtype, self.real = t, tuple(shape), np.dtype(dtype), real
        self.ndim, self.size = len(self.shape), int(np.prod(self.shape))

    def read(self) -> Tensor:
        if self.t is None:
            raise Unsupported("a scratch buffer read before it was written")
        return self.t

    def assign(self, v) -> None:
        """``self[...] = v``, with numpy's cast to this array's dtype and broadcast."""
        import ardor
        if isinstance(v, _Scalar):
            v = v.as_tensor()
        if not isinstance(v, Tensor):
            v = ardor.full(self.shape, _value(v), dtype=_dtype(self.dtype))
        if v._data.dtype != self.dtype:
            v = v.to(_dtype(self.dtype))
        if tuple(v.shape) != self.shape:
            v = v.expand(self.shape).clone()
        self.t = v

    def __array_ufunc__(self, ufunc, method, *args, out=None, **kwargs):
        import ardor
        name = _UFUNCS.get(ufunc.__name__)
        if method != "__call__" or name is None or kwargs:
            raise Unsupported(f"numpy.{ufunc.__name__}" + (f".{method}" if method != "__call__"
                                                            else ""))
        r = getattr(ardor, name)(*[_value(a) for a in args])
        if out is None:
            return _Array(r, r.shape, r._data.dtype)
        if len(out) != 1 or not isinstance(out[0], _Array):
            raise Unsupported(f"numpy.{ufunc.__name__} into a non-proxy out=")
        out[0].assign(r)
        return out[0]

    def __array_function__(self, func, types_, args, kwargs):
        import ardor
        if func is np.copyto and len(args) == 2 and not kwargs:
            args[0].assign(_value(args[1]))
            return None
        if func is np.clip:
            a, lo, hi, *rest = list(args) + [None] * (3 - len(args))
            out = kwargs.pop("out", rest[0] if rest else None)
            if kwargs:
                raise Unsupported("numpy.clip's keyword arguments")
            r = ardor.clamp(_value(a), None if lo is None else _value(lo),
                            None if hi is None else _value(hi))
            if out is None:
                return _Array(r, r.shape, r._data.dtype)
            out.assign(r)
            return out
        raise Unsupported(f"numpy.{func.__name__}")

    def __setitem__(self, key, v):
        import ardor
        if isinstance(key, _Array):
            if key.dtype != np.bool_:
                raise Unsupported("an assignment through an index array")
            self.assign(ardor.where(key.read(), _value(v), self.read()))
        elif key is Ellipsis or key == slice(None):
            self.assign(v)
        else:
            raise Unsupported("an indexed assignment other than a[...] = v or a[mask] = v")

    def __getitem__(self, key):
        raise Unsupported("indexing an array")

    def __neg__(self):
        return np.negative(self)

    def __abs__(self):
        return np.absolute(self)


def _ops(name):
    uf = getattr(np, name)

    def fwd(self, o):
        return uf(self, o)

    def rev(self, o):
        return uf(o, self)

    def inplace(self, o):
        return uf(self, o, out=(self,))
    return fwd, rev, inplace


for _name, _uf in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"),
                   ("truediv", "true_divide"), ("pow", "power")):
    _f, _r, _i = _ops(_uf)
    setattr(_Array, f"__{_name}__", _f)
    setattr(_Array, f"__r{_name}__", _r)
    setattr(_Array, f"__i{_name}__", _i)
for _name, _uf in (("lt", "less"), ("le", "less_equal"), ("gt", "greater"),
                   ("ge", "greater_equal"), ("eq", "equal"), ("ne", "not_equal")):
    setattr(_Array, f"__{_name}__", _ops(_uf)[0])
_Array.__hash__ = object.__hash__


def _dtype(npdt):
    from .. import _dtype as D
    return D.from_numpy_dtype(npdt)


# ------------------------------------------------------------------ one traced step
class Plan:
    """What a traced ``opt.step()`` did, for the prologue to redo on the host: for each
    ``run`` call, how to read its numbers, and the scalars the graph takes and the guards."""

    def __init__(self, opt):
        self.opt = opt
        # per run call: (code, scratch count, closure cells holding numbers, the other
        # cells' constants, per parameter (array count, each scalar: _NUM or the constant))
        self.calls: list = []
        self.nbase = 0
        self.used: list = []      # _Scalars that are graph inputs, in input order
        self.guards: list = []    # (scalar, fn, other, outcome)
        self.memo: dict = {}      # expressions and guards already recorded
        self.params: dict = {}    # id(param group) -> the parameters stepped
        self.host: list = []      # 0-d state tensors the bookkeeping updates
        self.bad = None           # why the traced step cannot be replayed

    def base(self, value):
        if isinstance(value, np.ndarray):
            value = value.copy()    # a 0-d state array the bookkeeping updates later
        s = _Scalar(value, None, self.nbase, self)
        self.nbase += 1
        return s


def _is_number(v) -> bool:
    return type(v) is float or isinstance(v, (int, float)) and not isinstance(v, bool) \
        or isinstance(v, (np.ndarray, np.generic)) and np.ndim(v) == 0 and v.dtype.kind == "f"


_NUM = object()   # a slot holding a number (a graph input), not a constant


def _constant_ok(a, b) -> bool:
    if a is None or isinstance(a, (bool, str)):
        return a is b or a == b
    return a is b


def traced_run(plan: Plan, kernel, per, nscratch):
    """``_foreach.run`` while a compiled step is traced (see the module docstring)."""
    from ..autograd.grad_mode import no_grad
    from ..optim import _foreach as F
    tensors = {}
    opt = plan.opt
    for g in opt.param_groups:
        for p in g["params"]:
            tensors[id(p._data)] = p
            if p._grad is not None:
                tensors[id(p._grad._data)] = p._grad
    for st in opt.state.values():
        for t in st.values():
            if isinstance(t, Tensor):
                tensors[id(t._data)] = t
    layout, nums, consts, calls = [], [], [], []
    try:
        for arrays, scalars in per:
            for a in arrays:
                if id(a) not in tensors:
                    raise Unsupported("optimizer state is created on the first step")
                if a.dtype.kind != "f" or not a.ndim:
                    raise Unsupported(f"a {a.dtype} {a.ndim}-d array in the update")
        # the kernel's closure numbers and the per-parameter scalars become proxies
        new_cells = []
        for k, c in enumerate(kernel.__closure__ or ()):
            v = c.cell_contents
            if _is_number(v):
                s = plan.base(v)
                nums.append(k)
                new_cells.append(types.CellType(s))
            else:
                consts.append((k, v))
                new_cells.append(c)
        traced = types.FunctionType(kernel.__code__, kernel.__globals__, kernel.__name__,
                                    kernel.__defaults__, tuple(new_cells) or None)
        for arrays, scalars in per:
            sl = []
            sc = []
            for v in scalars:
                if _is_number(v):
                    sl.append(_NUM)
                    sc.append(plan.base(v))
                else:
                    sl.append(v)
                    sc.append(v)
            layout.append((len(arrays), tuple(sl)))
            a0 = arrays[0]
            px = [_Array(tensors[id(a)], a.shape, a.dtype, tensors[id(a)]) for a in arrays]
            scratch = [_Array(None, a0.shape, a0.dtype) for _ in range(nscratch)]
            with no_grad():
                traced(px, tuple(sc), scratch)
            calls.append(px)
    except Exception as why:  # noqa: BLE001 - nothing is written yet: run it eagerly
        if not isinstance(why, Unsupported):
            why = f"{type(why).__name__}: {why}"
        plan.bad = f"{type(opt).__name__}.step: {why}"
        return F.run_arrays(kernel, per, nscratch)
    from .._ops.dispatch import _write
    for px in calls:   # the kernels have finished: write the new values, as in-place ops do
        for a in px:
            if a.t is not a.real:
                _write(a.real, a.t._data)
                state.tracer.record_inplace(a.real, a.t)
    plan.calls.append((kernel.__code__, nscratch, tuple(nums), tuple(consts), tuple(layout)))


class Retrace(Exception):
    """The host-side step took a path the traced graph did not."""


def _number(v):
    return v.copy() if isinstance(v, np.ndarray) else v


def host_run(env: list, it, kernel, per, nscratch):
    """``_foreach.run`` in the prologue: append this update's numbers to ``env``."""
    try:
        code, nsc, nums, consts, layout = next(it)
    except StopIteration:
        raise Retrace("more optimizer updates than traced") from None
    if kernel.__code__ is not code or len(per) != len(layout) or nscratch != nsc:
        raise Retrace("the optimizer updates other parameters than traced")
    clo = kernel.__closure__ or ()
    for k in nums:
        v = clo[k].cell_contents
        if not _is_number(v):
            raise Retrace("an optimizer setting changed")
        env.append(_number(v))
    for k, const in consts:
        v = clo[k].cell_contents
        if v is not const and not _constant_ok(const, v):
            raise Retrace("an optimizer setting changed")
    for (arrays, scalars), (na, sl) in zip(per, layout):
        if len(scalars) != len(sl) or len(arrays) != na:
            raise Retrace("an optimizer's per-step values changed")
        for v, const in zip(scalars, sl):
            if v is const:
                continue
            if const is _NUM and _is_number(v):
                env.append(_number(v))
            elif const is _NUM or not _constant_ok(const, v):
                raise Retrace("an optimizer's per-step branch changed")


def host_step(plan: Plan) -> tuple:
    """Run ``plan.opt.step()``'s bookkeeping for a compiled run; return the graph's scalar
    inputs. Raises :class:`Retrace` (having changed only ``plan.host`` tensors, which the
    caller restores) where the step left the traced path."""
    from ..optim import _foreach as F
    opt = plan.opt
    env: list = []
    it = iter(plan.calls)
    blank = [p for ps in plan.params.values() for p in ps if p._grad is None]
    for p in blank:     # a stand-in: the bookkeeping reads .grad, never its values
        p._grad = p
    opt._with_grad = lambda group: plan.params.get(id(group), [])
    try:
        with F.intercepted(lambda k, per, n: host_run(env, it, k, per, n)):
            opt.step()
    finally:
        del opt._with_grad
        for p in blank:
            p._grad = None
    if next(it, None) is not None:
        raise Retrace("fewer optimizer updates than traced")
    for s, fn, other, out in plan.guards:
        if fn(s.get(env), other.get(env) if isinstance(other, _Scalar) else other) != out:
            raise Retrace("an optimizer's update took another branch than traced")
    return tuple(np.asarray(s.get(env), s.tensor._data.dtype) for s in plan.used)


def traced_step(opt, closure=None):
    """``opt.step()`` while a compiled step is traced: the real step, its array work
    recorded (see the module docstring); returns the step's :class:`Plan`."""
    from ..optim import _foreach as F
    if closure is not None:
        raise Unsupported("optimizer.step(closure) is not supported in a compiled step")
    plan = Plan(opt)
    plan.params = {id(g): opt._with_grad(g) for g in opt.param_groups}
    with F.intercepted(lambda k, per, n: traced_run(plan, k, per, n)):
        type(opt).step(opt)
    plan.host = [t for st in opt.state.values() for t in st.values()
                 if isinstance(t, Tensor) and t._data.ndim == 0]
    return plan
