"""Random sampling: rand/randn/randint/randperm/normal/bernoulli/multinomial/poisson, the
``*_like`` variants and the in-place fills (uniform_, normal_, ...).

Numbers come from an :class:`ardor.Generator` (numpy PCG64), float32 drawn directly in
float32. Factories build arrays directly (no input tensor); ops with tensor inputs go through
the dispatcher. In-place fills draw their values first and pass them to a fill op through
``dispatch_inplace``, which gives them torch's version bump, leaf errors and a zero-gradient
node (``UniformBackward0``...). Sampling ops with tensor inputs (``normal``, ``bernoulli``)
record torch's nodes whose gradient is zero by definition (they are not reparameterized).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _dtype as D
from .. import random as _random
from .._state import state
from .._tensor import Tensor
from .creation import (_check_broadcast, _check_device, _finish, _kw_size, _size_args, _sizes,
                       _write_out)
from .dispatch import dispatch, dispatch_inplace
from .registry import method, public, register

Generator = _random.Generator

# torch.* names that live in torch.random / torch._C
for _n in ("manual_seed", "seed", "initial_seed", "get_rng_state", "set_rng_state"):
    public(_n, method=False)(getattr(_random, _n))
public("Generator", method=False)(Generator)
public("default_generator", method=False)(_random.default_generator)


# ---------------------------------------------------------------------------- helpers
def _rng(generator, fname: str = "rand") -> np.random.Generator:
    if state.tracer is not None:  # the values drawn would become constants of the trace
        state.tracer.warn_data_dependent("random")
    if generator is None:
        return _random.default_generator._rng
    if not isinstance(generator, Generator):
        raise TypeError(f"{fname}(): argument 'generator' must be ardor.Generator, not "
                        f"{type(generator).__name__}")
    return generator._rng


def _not_impl(kernel: str, dt: D.dtype):
    return NotImplementedError(f'"{kernel}" not implemented for \'{dt._torch_name}\'')


def _work_dtype(dt: D.dtype):
    """numpy dtype to draw real floats in: float32/float64 natively, float16/bfloat16 via
    float32 (numpy's generators produce only those two)."""
    r = dt.to_real()
    return np.float64 if r is D.float64 else np.float32


def _uniform(rng, shape, dt: D.dtype, low=0.0, high=1.0) -> np.ndarray:
    """U[low, high) in dtype ``dt`` (complex: both parts)."""
    wt = _work_dtype(dt)
    if dt.is_complex:  # real and imaginary parts each U[low, high)
        u = rng.random(tuple(shape) + (2,), dtype=wt)
        if low != 0.0 or high != 1.0:
            u *= wt(high - low)
            u += wt(low)
        return u.view(dt.np).reshape(shape)
    if dt is D.float16 or dt is D.bfloat16:
        # torch draws reduced floats on their own grid, k * 2**-digits, so never 1.0
        digits = 11 if dt is D.float16 else 8
        u = rng.integers(0, 1 << digits, shape, dtype=np.int32).astype(np.float32)
        u *= np.float32(2.0 ** -digits)
    else:
        u = rng.random(shape, dtype=wt)
    if low != 0.0 or high != 1.0:
        u *= wt(high - low)
        u += wt(low)
    return u if u.dtype == dt.np else u.astype(D.np_dtype(dt))


def _standard_normal(rng, shape, dt: D.dtype) -> np.ndarray:
    """N(0, 1) in dtype ``dt`` (complex: each part N(0, 1/2), as torch)."""
    wt = _work_dtype(dt)
    if dt.is_complex:
        z = rng.standard_normal(tuple(shape) + (2,), dtype=wt)
        z *= wt(math.sqrt(0.5))
        return z.view(dt.np).reshape(shape)
    z = rng.standard_normal(shape, dtype=wt)
    return z if z.dtype == dt.np else z.astype(D.np_dtype(dt))


def _float_dt(dtype, kernel: str) -> D.dtype:
    dt = D.get_default_dtype() if dtype is None else D.as_dtype(dtype)
    if not (dt.is_floating_point or dt.is_complex):
        raise _not_impl(kernel, dt)
    return dt


def _zero_grads(ctx, *gs):
    """Backward of sampling ops: torch defines their gradient as zeros."""
    from .creation import zeros
    out = []
    for i, meta in enumerate(ctx.in_meta):
        if meta is None or not ctx.needs_input_grad[i]:
            out.append(None)
        else:
            out.append(zeros(meta[0], dtype=meta[1]))
    return out[0] if len(out) == 1 else tuple(out)


def _no_fd_sample(rng):
    # The gradient of a sampling op is zero by torch's definition (not reparameterized),
    # which finite differences of the sampled value cannot confirm: nothing to gradcheck.
    return []


# ---------------------------------------------------------------------------- factories
@public("rand", method=False)
def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, pin_memory: bool = False, **kw) -> Tensor:
    """Samples from U[0, 1) of the given size (default float dtype)."""
    sz = _sizes(size, _kw_size(kw, "rand"), "rand")
    dt = _float_dt(dtype, "check_uniform_bounds")
    _check_device(device)
    if out is None:
        r = _traced_draw(uniform_draw, _carrier(dt), dt, generator, requires_grad,
                              device, sz)
        if r is not None:
            return r
    arr = _uniform(_rng(generator, "rand"), sz, dt)
    return _write_out(out, _finish(arr, requires_grad, device))


@public("randn", method=False)
def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False, pin_memory: bool = False, **kw) -> Tensor:
    """Samples from N(0, 1) of the given size (default float dtype)."""
    sz = _sizes(size, _kw_size(kw, "randn"), "randn")
    dt = _float_dt(dtype, "normal_kernel_cpu")
    _check_device(device)
    if out is None:
        r = _traced_draw(normal_draw, _carrier(dt), dt, generator, requires_grad,
                              device, sz)
        if r is not None:
            return r
    arr = _standard_normal(_rng(generator, "randn"), sz, dt)
    return _write_out(out, _finish(arr, requires_grad, device))


@register
class uniform_draw:
    """U[low, high) samples of ``shape`` in ``like``'s dtype, drawn from ardor's default
    generator inside the op: the random input of dropout and rrelu, and rand/uniform_/
    bernoulli while tracing. Being an op (not a factory call), a traced or compiled graph
    records it and draws anew on every run, as eager code does."""
    differentiable = False
    onnx = "RandomUniformLike"

    def forward(xp, like, *, shape, low=0.0, high=1.0):
        return _uniform(_random.default_generator._rng, tuple(shape),
                        D.from_numpy_dtype(like.dtype), low, high)


@register
class normal_draw:
    """N(mean, std**2) samples of ``shape`` in ``like``'s dtype from ardor's default
    generator, drawn inside the op (see :class:`uniform_draw`): randn/normal_ while
    tracing."""
    differentiable = False
    onnx = "RandomNormalLike"

    def forward(xp, like, *, shape, mean=0.0, std=1.0):
        return _normal(_random.default_generator._rng, tuple(shape),
                       D.from_numpy_dtype(like.dtype), mean, std)


def _normal(rng, shape, dt: D.dtype, mean=0.0, std=1.0) -> np.ndarray:
    """N(mean, std**2) in dtype ``dt``: standard draws scaled, then shifted."""
    z = _standard_normal(rng, shape, dt)
    if std != 1.0 or mean != 0.0:
        z = z * std + mean if dt.is_complex else (z * z.dtype.type(std) + z.dtype.type(mean))
    return z


def draw_uniform(like: Tensor, shape) -> Tensor:
    """``rand(*shape, dtype=like.dtype)`` through :class:`uniform_draw` (the same draws)."""
    return dispatch(uniform_draw, (like.detach(),), {"shape": tuple(shape)})


def _tracing_default(generator) -> bool:
    """Whether draws go into the graph being traced: a tracer is on and the numbers come
    from the default generator (a graph cannot hold another generator)."""
    return state.tracer is not None and generator is None


def _traced_fill(self: Tensor, generator, op, dt=None, then=None, **attrs):
    """While tracing, an in-place fill from the default generator: the draw op ``op`` in
    dtype ``dt`` (same numbers as the eager fill), mapped by ``then``, copied into
    ``self``; None otherwise."""
    if not _tracing_default(generator):
        return None
    vals = dispatch(op, (_carrier(dt or self.dtype),), {"shape": tuple(self.shape), **attrs})
    if then is not None:
        vals = then(vals)
    from .indexing import copy
    return dispatch_inplace(copy, self, (vals,))


def _traced_draw(op, input: Tensor, dt, generator, requires_grad, device, shape=None):
    """While tracing, ``rand``/``randn`` and their ``*_like`` forms drawing from the default
    generator become a draw op of the graph (a compiled step then draws anew each run, as
    eager code); None otherwise (the factory draws on the host)."""
    if not _tracing_default(generator) or dt is not input.dtype or requires_grad \
            or device is not None:
        return None
    shape = tuple(input.shape) if shape is None else tuple(shape)
    return dispatch(op, (input.detach(),), {"shape": shape})


def _carrier(dt) -> Tensor:
    # a 0-d tensor that only tells a draw op its dtype (a factory has no input tensor)
    from .._tensor import _make
    return _make(np.zeros((), D.np_dtype(dt)))


def _int_bound(v, fname):
    if isinstance(v, Tensor) and v.numel() == 1:
        v = v.item()
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Integral,)):
        raise TypeError(f"{fname}() received an invalid combination of arguments - got "
                        f"({type(v).__name__}, ...), but expected (int low, int high, tuple of "
                        "ints size)")
    return int(v)


def _randint_array(rng, low: int, high: int, size, dt: D.dtype) -> np.ndarray:
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    if dt._category == D._INT or dt is D.bool_:
        info = np.iinfo(dt.np) if dt is not D.bool_ else np.iinfo(np.uint8)
        hi_max = 1 if dt is D.bool_ else info.max
        if high - 1 > hi_max:
            raise RuntimeError(f"to - 1 is out of bounds for {_CPP_NAMES.get(dt, dt.name)}")
        if low < info.min:
            raise RuntimeError(f"from is out of bounds for {_CPP_NAMES.get(dt, dt.name)}")
    if dt is D.bool_:
        return rng.integers(low, high, size, dtype=np.int8).astype(np.bool_)
    if dt._category == D._INT:
        if dt.np.itemsize < 8 or dt.np.kind == "i":
            return rng.integers(low, high, size, dtype=dt.np)
    if high - low > (1 << 63) or dt.np == np.uint64:
        # draw offsets in uint64 and add low with wrap-around (low may be negative)
        off = rng.integers(0, high - low, size, dtype=np.uint64)
        vals = off + np.uint64(low % (1 << 64))
        if low < 0 and dt.np != np.uint64:
            vals = vals.view(np.int64)
        return vals.astype(D.np_dtype(dt))
    return rng.integers(low, high, size, dtype=np.int64).astype(D.np_dtype(dt))


@public("randint", method=False)
def randint(*args, generator=None, out=None, dtype=None, layout=None, device=None,
            requires_grad: bool = False, pin_memory: bool = False, **kw) -> Tensor:
    """``randint(high, size)`` / ``randint(low, high, size)``: integers uniform in
    [low, high) (int64 unless ``dtype`` is given)."""
    low = kw.pop("low", None)
    high = kw.pop("high", None)
    size = kw.pop("size", None)
    if kw:
        raise TypeError(f"randint() got an unexpected keyword argument '{next(iter(kw))}'")
    args = list(args)
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size = args.pop()
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    elif args:
        raise TypeError("randint() received an invalid combination of arguments")
    if high is None or size is None:
        raise TypeError("randint() received an invalid combination of arguments - expected "
                        "(int high, tuple of ints size) or (int low, int high, tuple of ints "
                        "size)")
    low = 0 if low is None else _int_bound(low, "randint")
    high = _int_bound(high, "randint")
    sz = _size_args((tuple(size),), "randint")
    dt = D.int64 if dtype is None else D.as_dtype(dtype)
    _check_device(device)
    arr = _randint_array(_rng(generator, "randint"), low, high, sz, dt)
    return _write_out(out, _finish(arr, requires_grad, device))


@public("randperm", method=False)
def randperm(n: int, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A random permutation of 0..n-1 (int64 unless ``dtype`` is given)."""
    n = int(n)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    dt = D.int64 if dtype is None else D.as_dtype(dtype)
    _check_device(device)
    arr = _rng(generator, "randperm").permutation(n).astype(D.np_dtype(dt), copy=False)
    return _write_out(out, _finish(arr, requires_grad, device))


def _like_dt(input, dtype):
    if not isinstance(input, Tensor):
        raise TypeError(f"argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input.dtype if dtype is None else D.as_dtype(dtype)


@public("rand_like", method=False)
def rand_like(input: Tensor, *, generator=None, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """U[0, 1) samples with ``input``'s shape and dtype."""
    dt = _like_dt(input, dtype)
    if not (dt.is_floating_point or dt.is_complex):
        raise _not_impl("check_uniform_bounds", dt)
    r = _traced_draw(uniform_draw, input, dt, generator, requires_grad, device)
    if r is not None:
        return r
    return _finish(_uniform(_rng(generator), input.shape, dt), requires_grad, device)


@public("randn_like", method=False)
def randn_like(input: Tensor, *, generator=None, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """N(0, 1) samples with ``input``'s shape and dtype."""
    dt = _like_dt(input, dtype)
    if not (dt.is_floating_point or dt.is_complex):
        raise _not_impl("normal_kernel_cpu", dt)
    r = _traced_draw(normal_draw, input, dt, generator, requires_grad, device)
    if r is not None:
        return r
    return _finish(_standard_normal(_rng(generator), input.shape, dt), requires_grad, device)


@public("randint_like", method=False)
def randint_like(input: Tensor, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    """``randint_like(input, high)`` / ``(input, low, high)``: integers in [low, high) with
    ``input``'s shape and dtype."""
    if high is None:
        low, high = 0, low
    dt = _like_dt(input, dtype)
    arr = _randint_array(_rng(generator), _int_bound(low, "randint_like"),
                         _int_bound(high, "randint_like"), input.shape, dt)
    return _finish(arr, requires_grad, device)


# ---------------------------------------------------------------------------- normal
@register
class normal_tensor_float:
    """normal(mean: Tensor, std: float): mean + std * noise (noise drawn by the caller)."""
    node_name = "NormalBackward1"
    onnx = "decompose"
    sample = _no_fd_sample

    def forward(xp, mean, *, std, noise):
        return mean + xp.asarray(std, mean.dtype) * noise

    backward = _zero_grads


@register
class normal_float_tensor:
    """normal(mean: float, std: Tensor): mean + std * noise."""
    node_name = "NormalBackward2"
    onnx = "decompose"
    sample = _no_fd_sample

    def forward(xp, std, *, mean, noise):
        return xp.asarray(mean, std.dtype) + std * noise

    backward = _zero_grads


@register
class normal_tensor_tensor:
    """normal(mean: Tensor, std: Tensor): mean + std * noise, broadcast."""
    node_name = "NormalBackward3"
    onnx = "decompose"
    promote = "binary"
    sample = _no_fd_sample

    def forward(xp, mean, std, *, noise):
        return mean + std * noise

    backward = _zero_grads


def _check_std_tensor(std: Tensor):
    if std.numel() and bool((std._data < 0).any()):
        raise RuntimeError("normal expects all elements of std >= 0.0")


def _check_float_tensor(t: Tensor, kernel="normal_kernel_cpu"):
    if not (t.dtype.is_floating_point or t.dtype.is_complex):
        raise _not_impl(kernel, t.dtype)


@public("normal", method=False)
def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Samples from N(mean, std**2): tensor mean and/or std (broadcast), or scalar mean and
    std with a ``size``."""
    rng = _rng(generator, "normal")
    mt, st = isinstance(mean, Tensor), isinstance(std, Tensor)
    if mt and st:
        _check_float_tensor(mean)
        _check_float_tensor(std)
        _check_std_tensor(std)
        dt = D.promote_types(mean.dtype, std.dtype)
        _check_broadcast(tuple(mean.shape), tuple(std.shape))
        shape = np.broadcast_shapes(mean.shape, std.shape)
        r = dispatch(normal_tensor_tensor, (mean, std),
                     {"noise": _standard_normal(rng, shape, dt)})
    elif mt:
        _check_float_tensor(mean)
        std = float(std)
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_g(std)}")
        r = dispatch(normal_tensor_float, (mean,),
                     {"std": std, "noise": _standard_normal(rng, mean.shape, mean.dtype)})
    elif st:
        _check_float_tensor(std)
        _check_std_tensor(std)
        r = dispatch(normal_float_tensor, (std,),
                     {"mean": float(mean), "noise": _standard_normal(rng, std.shape, std.dtype)})
    else:
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments - got "
                            f"({type(mean).__name__}, {type(std).__name__}), but expected "
                            "(float mean, float std, tuple of ints size)")
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {_g(std)}")
        sz = _size_args((tuple(size),) if isinstance(size, (list, tuple)) else (size,),
                        "normal")
        dt = _float_dt(dtype, "normal_kernel_cpu")
        _check_device(device)
        z = _standard_normal(rng, sz, dt)
        if std != 1.0:
            z *= z.dtype.type(std) if not dt.is_complex else std
        if mean != 0.0:
            z += z.dtype.type(mean) if not dt.is_complex else mean
        return _write_out(out, _finish(z, requires_grad, device))
    return _write_out(out, r)


def _g(v) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


# ---------------------------------------------------------------------------- bernoulli
@register
class bernoulli_op:
    """bernoulli(p): 1 where u < p (u drawn by the caller), in p's dtype."""
    name = "bernoulli"
    node_name = "BernoulliBackward0"
    onnx = "Bernoulli"

    def forward(xp, p, *, u):
        return (xp.asarray(u) < p).astype(p.dtype)

    backward = _zero_grads

    def sample(rng):
        p = rng.uniform(0.3, 0.7, (2, 3))
        return [((p,), {"u": rng.choice([0.1, 0.9], (2, 3))})]


def _check_p(p: float, name: str = "bernoulli_"):
    if not 0 <= p <= 1:
        raise RuntimeError(f"{name} expects p to be in [0, 1], but got p={_g(p)}")


@public("bernoulli")
def bernoulli(input: Tensor, p=None, *, generator=None, out=None) -> Tensor:
    """0/1 samples: with probabilities ``input``, or with a fixed ``p`` in input's shape."""
    # while tracing, the draws are a graph op (a compiled step draws anew each run);
    # torch's zero gradient for probabilities that require grad keeps the eager path
    traced = out is None and _tracing_default(generator) and not (
        p is None and state.grad_enabled and input.requires_grad)
    rng = None if traced else _rng(generator, "bernoulli")
    if p is not None:
        p = float(p)
        _check_p(p)
    elif not (input.dtype.is_floating_point):
        raise _not_impl("bernoulli_tensor_cpu_p_", input.dtype)
    elif input.numel() and bool(((input._data < 0) | (input._data > 1)).any()):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    wt = D.float64 if input.dtype is D.float64 else D.float32
    if traced:
        u = dispatch(uniform_draw, (_carrier(wt),), {"shape": tuple(input.shape)})
        return u.lt(p if p is not None else input).to(input.dtype)
    u = _uniform(rng, input.shape, wt)
    if p is not None:
        return _write_out(out, _finish((u < p).astype(input._data.dtype)))
    return _write_out(out, dispatch(bernoulli_op, (input,), {"u": u}))


# ---------------------------------------------------------------------------- multinomial
@register
class multinomial:
    """Indices sampled from rows of (unnormalized) probabilities."""
    differentiable = False
    onnx = "Multinomial"

    def forward(xp, p, *, num_samples, replacement, rng):
        p2 = p.reshape(-1, p.shape[-1]).astype(np.float64)
        rows, k = p2.shape
        if not np.isfinite(p2).all() or (p2 < 0).any():
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        sums = p2.sum(axis=1)
        if (sums <= 0).any():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if replacement:
            cdf = np.cumsum(p2 / sums[:, None], axis=1)
            cdf[:, -1] = 1.0
            # one searchsorted over all rows: shift row i's cdf and draws by i
            offs = np.arange(rows, dtype=np.float64)[:, None]
            u = rng.random((rows, num_samples))
            idx = np.searchsorted((cdf + offs).ravel(), (u + offs).ravel(), side="right")
            out = idx.reshape(rows, num_samples) - offs.astype(np.int64) * k
            out = np.minimum(out, k - 1)
        else:
            # torch's exponential trick: the top num_samples of p / E, E ~ Exp(1)
            keys = p2 / rng.standard_exponential((rows, k))
            out = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
        out = out.astype(np.int64)
        return out.reshape(p.shape[:-1] + (num_samples,))


@public("multinomial")
def multinomial_(input: Tensor, num_samples: int, replacement: bool = False, *,
                 generator=None, out=None) -> Tensor:
    """``num_samples`` category indices per row of ``input`` (1-D or 2-D weights)."""
    if input.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{input.dtype._torch_name}")
    num_samples = int(num_samples)
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > input.shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    r = dispatch(multinomial, (input,), {"num_samples": num_samples,
                                         "replacement": bool(replacement),
                                         "rng": _rng(generator, "multinomial")})
    return _write_out(out, r)


# ---------------------------------------------------------------------------- poisson
@register
class poisson:
    """Poisson samples with rates ``input``."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, lam, *, rng):
        if lam.size and (lam < 0).any():
            raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
        return rng.poisson(lam.astype(np.float64)).astype(lam.dtype)


@public("poisson", method=False)
def poisson_(input: Tensor, generator=None) -> Tensor:
    """Samples from Poisson(input), in input's dtype."""
    if not input.dtype.is_floating_point:
        raise _not_impl("poisson_cpu", input.dtype)
    return dispatch(poisson, (input,), {"rng": _rng(generator, "poisson")})


# ---------------------------------------------------------------------------- in-place fills
def _fill_sample(rng):
    a = rng.standard_normal((2, 3))
    return [((a,), {"values": rng.standard_normal((2, 3))})]


def _fill_forward(xp, a, *, values):
    return xp.asarray(values)


def _fill_backward(ctx, g):
    from .creation import zeros_like
    return zeros_like(g)


def _fill_op(name: str, node_name: str, onnx: str):
    body = {"__doc__": f"In-place {name}: self takes values drawn by the caller (zero "
                       "gradient, as torch).",
            "node_name": node_name, "onnx": onnx, "forward": _fill_forward,
            "backward": _fill_backward, "sample": _fill_sample}
    return register(type(name, (), body))


_UNIFORM = _fill_op("uniform_fill", "UniformBackward0", "RandomUniformLike")
_NORMAL = _fill_op("normal_fill", "NormalBackward0", "RandomNormalLike")
_EXPONENTIAL = _fill_op("exponential_fill", "ExponentialBackward0", "decompose")
_BERNOULLI_F = _fill_op("bernoulli_fill_float", "BernoulliBackward1", "Bernoulli")
_BERNOULLI_T = _fill_op("bernoulli_fill_tensor", "BernoulliBackward2", "Bernoulli")
_RANDOM_FT = _fill_op("random_fill_from_to", "RandomBackward0", "decompose")
_RANDOM_T = _fill_op("random_fill_to", "RandomBackward1", "decompose")
_RANDOM = _fill_op("random_fill", "RandomBackward2", "decompose")
_CAUCHY = _fill_op("cauchy_fill", "CauchyBackward0", "decompose")
_LOG_NORMAL = _fill_op("log_normal_fill", "LogNormalBackward0", "decompose")
_GEOMETRIC = _fill_op("geometric_fill", "GeometricBackward0", "decompose")


def _direct_target(self: Tensor):
    """self's array when samples may be drawn straight into it: no autograd or tracer
    involvement (e.g. nn.init under no_grad), a writable contiguous float32/64 numpy array.
    The version counter is bumped by the caller, as dispatch_inplace would."""
    from .._state import state
    a = self._data
    if (state.tracer is None and not (state.grad_enabled and self._requires_grad)
            and type(a) is np.ndarray and a.flags.c_contiguous and a.flags.writeable
            and (a.dtype == np.float32 or a.dtype == np.float64)):
        return a
    return None


def _fill(op, self: Tensor, values: np.ndarray) -> Tensor:
    if values.dtype != self._data.dtype:
        values = values.astype(self._data.dtype)
    return dispatch_inplace(op, self, (), {"values": values})


# C++ names of the integer scalar types, as torch's typeid-based messages print them
_CPP_NAMES = {D.int64: "long int", D.int32: "int", D.int16: "short int", D.int8: "signed char",
              D.uint8: "unsigned char", D.bool_: "bool", D.uint16: "unsigned short",
              D.uint32: "unsigned int", D.uint64: "unsigned long"}


def _continuous(self: Tensor, what: str, cpp_name: bool = False):
    if not (self.dtype.is_floating_point or self.dtype.is_complex):
        name = _CPP_NAMES.get(self.dtype, self.dtype.name) if cpp_name else \
            self.dtype._torch_name
        raise RuntimeError(f"{what} distribution is a continuous probability distribution. "
                           f"dtype must be a floating point but you specified {name}")


@method("uniform_")
def uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0, *, generator=None,
             **kw) -> Tensor:
    """Fill with samples from U[from, to)."""
    from_ = kw.pop("from", from_)
    if not (self.dtype.is_floating_point or self.dtype.is_complex):
        raise _not_impl("check_uniform_bounds", self.dtype)
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={_g(from_)} > to={_g(to)}")
    a = _direct_target(self)
    if a is not None:
        _rng(generator).random(out=a, dtype=a.dtype)
        if from_ != 0.0 or to != 1.0:
            a *= a.dtype.type(to - from_)
            a += a.dtype.type(from_)
        self._version[0] += 1
        return self
    r = _traced_fill(self, generator, uniform_draw, low=from_, high=to)
    if r is not None:
        return r
    return _fill(_UNIFORM, self, _uniform(_rng(generator), self.shape, self.dtype, from_, to))


@method("normal_")
def normal__(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples from N(mean, std**2)."""
    if not (self.dtype.is_floating_point or self.dtype.is_complex):
        raise _not_impl("normal_kernel_cpu", self.dtype)
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_g(std)}")
    a = _direct_target(self)
    if a is not None:
        _rng(generator).standard_normal(out=a, dtype=a.dtype)
        if std != 1.0:
            a *= a.dtype.type(std)
        if mean != 0.0:
            a += a.dtype.type(mean)
        self._version[0] += 1
        return self
    r = _traced_fill(self, generator, normal_draw, mean=mean, std=std)
    if r is not None:
        return r
    return _fill(_NORMAL, self, _normal(_rng(generator), self.shape, self.dtype, mean, std))


@method("exponential_")
def exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples from Exp(lambd)."""
    _continuous(self, "Exponential")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={_g(lambd)}")
    wt = _work_dtype(self.dtype)
    e = _rng(generator).standard_exponential(self.shape, dtype=wt)
    if lambd != 1.0:
        e /= wt(lambd)
    return _fill(_EXPONENTIAL, self, e)


@method("bernoulli_")
def bernoulli__(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill with 0/1 samples: probability ``p`` (a float or a broadcastable tensor)."""
    if isinstance(p, Tensor):
        pa = p._data.astype(np.float64)
        if pa.size and ((pa < 0) | (pa > 1)).any():
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
        r = _traced_fill(self, generator, uniform_draw, D.float64,
                         lambda u: u.lt(p.detach().to(D.float64)))
        if r is not None:
            return r
        return _fill(_BERNOULLI_T, self, _rng(generator).random(self.shape) < pa)
    p = float(p)
    _check_p(p)
    r = _traced_fill(self, generator, uniform_draw, D.float32, lambda u: u.lt(p))
    if r is not None:
        return r
    return _fill(_BERNOULLI_F, self, _rng(generator).random(self.shape, dtype=np.float32) < p)


def _dtype_max_random(dt: D.dtype) -> int:
    """torch's default upper bound of random_(): 2**digits for floats, max for integers."""
    if dt is D.bool_:
        return 1
    if dt._category == D._INT:
        return int(np.iinfo(dt.np).max)
    digits = {D.float16: 11, D.bfloat16: 8, D.float32: 24, D.float64: 53}[dt.to_real()]
    return 1 << digits


@method("random_")
def random_(self: Tensor, from_=None, to=None, *, generator=None, **kw) -> Tensor:
    """``random_()``: integers in [0, 2**mantissa] (floats) or [0, max] (integers);
    ``random_(to)``: [0, to); ``random_(from, to)``: [from, to)."""
    has_from_kw = "from" in kw
    from_ = kw.pop("from", from_)
    rng = _rng(generator)
    if from_ is None and to is None:
        op, lo, hi = _RANDOM, 0, _dtype_max_random(self.dtype) + 1
    elif to is None and not has_from_kw:  # random_(to)
        op, lo, hi = _RANDOM_T, 0, int(from_)
    else:
        op, lo = _RANDOM_FT, int(from_)
        hi = _dtype_max_random(self.dtype) + 1 if to is None else int(to)
    if lo >= hi:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={lo} "
                           f">= to={hi}")
    vals = rng.integers(lo, hi, self.shape, dtype=np.int64 if hi <= (1 << 63) else np.uint64)
    return _fill(op, self, vals)


@method("cauchy_")
def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *,
            generator=None) -> Tensor:
    """Fill with samples from Cauchy(median, sigma)."""
    _continuous(self, "Cauchy", cpp_name=True)
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_g(sigma)}")
    wt = _work_dtype(self.dtype)
    u = _rng(generator).random(self.shape, dtype=wt)
    u -= wt(0.5)
    u *= wt(np.pi)
    return _fill(_CAUCHY, self, np.tan(u, out=u) * wt(sigma) + wt(median))


@method("log_normal_")
def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *,
                generator=None) -> Tensor:
    """Fill with samples exp(N(mean, std**2))."""
    if not (self.dtype.is_floating_point or self.dtype.is_complex):
        raise _not_impl("log_normal_cpu", self.dtype)
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_g(std)}")
    wt = _work_dtype(self.dtype)
    z = _rng(generator).standard_normal(self.shape, dtype=wt)
    z *= wt(std)
    z += wt(mean)
    return _fill(_LOG_NORMAL, self, np.exp(z, out=z))


@method("geometric_")
def geometric_(self: Tensor, p: float, *, generator=None) -> Tensor:
    """Fill with samples from Geometric(p) on {1, 2, ...}."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_g(p)}")
    if self.dtype is D.bool_:
        raise _not_impl("geometric_cpu", self.dtype)
    return _fill(_GEOMETRIC, self, _rng(generator).geometric(p, self.shape))
