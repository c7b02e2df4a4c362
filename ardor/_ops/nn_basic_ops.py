"""Primitive ops behind nn's basic functional pieces: activations, softmax/log_softmax,
embedding / embedding_bag, one_hot, dropout masks and the module backward-hook identity.

Activations are declared from one table: each gets a forward op (node named as torch's,
e.g. ``GeluBackward0``) and a ``*_backward`` op computing ``g * f'(x)`` in one pass (torch's
``GeluBackwardBackward0`` is the node of the latter under double backward).
"""
from __future__ import annotations

import math

import numpy as np

from . import _ckern
from .dispatch import dispatch
from .registry import register

_SQRT1_2 = 1.0 / math.sqrt(2.0)
_SQRT2PI_INV = 1.0 / math.sqrt(2.0 * math.pi)
_K_TANH = math.sqrt(2.0 / math.pi)


def _erf(xp, x):
    """The erf op's own forward (scipy's kernel when installed, else Cody's in numpy)."""
    from .elementwise import erf
    return erf.forward(xp, x)


def _sigmoid(xp, x):
    # exp of a non-positive number only: no overflow warnings for large |x|
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _softplus_np(xp, x):
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def _c(a, like):
    return a.astype(like.dtype, copy=False)


# ---------------------------------------------------------------- activation table
# name: (node name, f(xp, x, **attrs), f'(xp, x, **attrs), f'' over Tensors or None,
#        expr, onnx, sample attrs)
def _gelu_f(xp, x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1.0 + xp.tanh(_K_TANH * (x + 0.044715 * x * x * x)))
    y = _ckern.gelu(x) if xp is np else None   # one compiled loop (float32)
    if y is not None:
        return y
    return 0.5 * x * (1.0 + _erf(xp, x * _SQRT1_2))


def _gelu_d(xp, x, approximate="none"):
    if approximate == "tanh":
        inner = _K_TANH * (x + 0.044715 * x * x * x)
        t = xp.tanh(inner)
        return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _K_TANH * (1.0 + 3 * 0.044715 * x * x)
    return 0.5 * (1.0 + _erf(xp, x * _SQRT1_2)) + x * _SQRT2PI_INV * xp.exp(-0.5 * x * x)


def _gelu_d2(x, approximate="none"):
    if approximate == "tanh":
        k = _K_TANH
        inner = k * (x + 0.044715 * x * x * x)
        t = inner.tanh()
        dinner = k * (1.0 + 3 * 0.044715 * x * x)
        sech2 = 1.0 - t * t
        return sech2 * dinner - x * t * sech2 * dinner * dinner + \
            0.5 * x * sech2 * k * 6 * 0.044715 * x
    pdf = (-0.5 * x * x).exp() * _SQRT2PI_INV
    return pdf * (2.0 - x * x)


def _elu_f(xp, x, alpha=1.0, scale=1.0, input_scale=1.0):
    neg = alpha * xp.expm1(xp.minimum(x, 0) * input_scale)
    return scale * xp.where(x > 0, x, neg)


def _elu_d(xp, x, alpha=1.0, scale=1.0, input_scale=1.0):
    return xp.where(x > 0, scale, scale * alpha * input_scale *
                    xp.exp(xp.minimum(x, 0) * input_scale))


def _elu_d2(x, alpha=1.0, scale=1.0, input_scale=1.0):
    from .. import where
    return where(x > 0, 0.0, scale * alpha * input_scale * input_scale *
                 (x.clamp(max=0) * input_scale).exp())


def _celu_f(xp, x, alpha=1.0):
    return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0) / alpha))


def _celu_d(xp, x, alpha=1.0):
    return xp.where(x > 0, 1.0, xp.exp(xp.minimum(x, 0) / alpha))


def _celu_d2(x, alpha=1.0):
    from .. import where
    return where(x > 0, 0.0, (x.clamp(max=0) / alpha).exp() / alpha)


def _leaky_f(xp, x, negative_slope=0.01):
    return xp.where(x > 0, x, x * negative_slope)


def _leaky_d(xp, x, negative_slope=0.01):
    return xp.where(x > 0, 1.0, negative_slope)


def _hardtanh_f(xp, x, min_val=-1.0, max_val=1.0):
    return xp.clip(x, min_val, max_val)


def _hardtanh_d(xp, x, min_val=-1.0, max_val=1.0):
    return ((x > min_val) & (x < max_val)).astype(x.dtype)


def _softplus_f(xp, x, beta=1.0, threshold=20.0):
    bx = x * beta
    return xp.where(bx > threshold, x, _softplus_np(xp, bx) / beta)


def _softplus_d(xp, x, beta=1.0, threshold=20.0):
    bx = x * beta
    return xp.where(bx > threshold, 1.0, _sigmoid(xp, bx))


def _softplus_d2(x, beta=1.0, threshold=20.0):
    from .. import where
    s = (x * beta).sigmoid()
    return where(x * beta > threshold, 0.0, beta * s * (1 - s))


def _silu_f(xp, x):
    return x * _sigmoid(xp, x)


def _silu_d(xp, x):
    s = _sigmoid(xp, x)
    return s * (1.0 + x * (1.0 - s))


def _silu_d2(x):
    s = x.sigmoid()
    return s * (1 - s) * (2 + x * (1 - 2 * s))


def _mish_f(xp, x):
    return x * xp.tanh(_softplus_np(xp, x))


def _mish_d(xp, x):
    t = xp.tanh(_softplus_np(xp, x))
    return t + x * _sigmoid(xp, x) * (1.0 - t * t)


def _mish_d2(x):
    from .. import nn
    t = nn.functional.softplus(x).tanh()
    s = x.sigmoid()
    sech2 = 1 - t * t
    return 2 * s * sech2 + x * s * (1 - s) * sech2 - 2 * x * s * s * t * sech2


def _hsig_f(xp, x):
    return xp.clip(x + 3.0, 0.0, 6.0) / 6.0


def _hsig_d(xp, x):
    return ((x > -3.0) & (x < 3.0)).astype(x.dtype) / 6.0


def _hswish_f(xp, x):
    return x * xp.clip(x + 3.0, 0.0, 6.0) / 6.0


def _hswish_d(xp, x):
    return xp.where(x < -3.0, 0.0, xp.where(x <= 3.0, x / 3.0 + 0.5, 1.0))


def _hswish_d2(x):
    from .. import where
    return where((x > -3.0) & (x < 3.0), 1.0 / 3.0, 0.0)


def _logsig_f(xp, x):
    return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))


def _logsig_d(xp, x):
    return _sigmoid(xp, -x)


def _logsig_d2(x):
    s = x.sigmoid()
    return -s * (1 - s)


def _softshrink_f(xp, x, lambd=0.5):
    return xp.where(x > lambd, x - lambd, xp.where(x < -lambd, x + lambd, 0.0))


def _shrink_d(xp, x, lambd=0.5):
    return (xp.abs(x) > lambd).astype(x.dtype)


def _hardshrink_f(xp, x, lambd=0.5):
    return xp.where(xp.abs(x) > lambd, x, 0.0)


def _threshold_f(xp, x, threshold=0.0, value=0.0):
    return xp.where(x > threshold, x, value)


def _threshold_d(xp, x, threshold=0.0, value=0.0):
    return (x > threshold).astype(x.dtype)


_ACTS = {
    "gelu": ("GeluBackward0", _gelu_f, _gelu_d, _gelu_d2, None, "Gelu",
             [{"approximate": "none"}, {"approximate": "tanh"}]),
    "elu": ("EluBackward0", _elu_f, _elu_d, _elu_d2,
            "mul(scale, where(gt(a, 0), a, mul(alpha, sub(exp(mul(a, input_scale)), 1))))",
            "Elu", [{"alpha": 1.0, "scale": 1.0, "input_scale": 1.0},
                    {"alpha": 1.6732632423543772, "scale": 1.0507009873554805,
                     "input_scale": 1.0}]),
    "celu": ("CeluBackward0", _celu_f, _celu_d, _celu_d2,
             "where(gt(a, 0), a, mul(alpha, sub(exp(div(a, alpha)), 1)))", "Celu",
             [{"alpha": 1.5}]),
    "leaky_relu": ("LeakyReluBackward0", _leaky_f, _leaky_d, None,
                   "where(gt(a, 0), a, mul(a, negative_slope))", "LeakyRelu",
                   [{"negative_slope": 0.1}]),
    "hardtanh": ("HardtanhBackward0", _hardtanh_f, _hardtanh_d, None,
                 "minimum(maximum(a, min_val), max_val)", "Clip",
                 [{"min_val": -1.0, "max_val": 1.0}]),
    "softplus": ("SoftplusBackward0", _softplus_f, _softplus_d, _softplus_d2, None, "Softplus",
                 [{"beta": 1.0, "threshold": 20.0}, {"beta": 2.0, "threshold": 1.0}]),
    "silu": ("SiluBackward0", _silu_f, _silu_d, _silu_d2, "mul(a, sigmoid(a))", "decompose",
             [{}]),
    "mish": ("MishBackward0", _mish_f, _mish_d, _mish_d2, None, "Mish", [{}]),
    "hardsigmoid": ("HardsigmoidBackward0", _hsig_f, _hsig_d, None,
                    "div(minimum(maximum(add(a, 3), 0), 6), 6)", "HardSigmoid", [{}]),
    "hardswish": ("HardswishBackward0", _hswish_f, _hswish_d, _hswish_d2,
                  "div(mul(a, minimum(maximum(add(a, 3), 0), 6)), 6)", "HardSwish", [{}]),
    "log_sigmoid": ("LogSigmoidBackward0", _logsig_f, _logsig_d, _logsig_d2, None,
                    "decompose", [{}]),
    "softshrink": ("SoftshrinkBackward0", _softshrink_f, _shrink_d, None,
                   "where(gt(a, lambd), sub(a, lambd), where(lt(a, neg(lambd)), "
                   "add(a, lambd), 0))", "Shrink", [{"lambd": 0.5}]),
    "hardshrink": ("HardshrinkBackward0", _hardshrink_f, _shrink_d, None,
                   "where(gt(abs(a), lambd), a, 0)", "Shrink", [{"lambd": 0.5}]),
    "threshold": ("ThresholdBackward0", _threshold_f, _threshold_d, None,
                  "where(gt(a, threshold), a, value)", "decompose",
                  [{"threshold": 0.1, "value": 2.0}]),
}

ACT_OPS: dict = {}


def _gelu_bwd_fused(g, x, approximate="none"):
    return _ckern.gelu_backward(g, x) if approximate == "none" else None


def _threshold_bwd_fused(g, x, threshold=0.0, value=0.0):
    return _ckern.threshold_backward(g, x, threshold)


# g * f'(x) in one compiled loop where numpy needs several passes (None: not applicable)
_FUSED_BWD = {"gelu": _gelu_bwd_fused, "threshold": _threshold_bwd_fused}
# gradients with a scalar expression (a: g, b: x), so ardor.jit can fuse them (relu's
# backward into the GEMM that produces g)
_BWD_EXPR = {"threshold": "where(le(b, threshold), 0, a)"}


def _make_act(name, node, f, d, d2, expr, onnx, samples):
    bname = name + "_backward"

    def fwd(xp, a, **at):
        return _c(f(xp, a, **at), a)

    fused = _FUSED_BWD.get(name)

    def bfwd(xp, g, a, **at):
        if fused is not None and xp is np:
            r = fused(g, a, **at)
            if r is not None:
                return r
        dx = d(xp, a, **at)
        r = g * dx
        if not xp.isfinite(r).all():  # torch gives 0, not nan, where the derivative is 0
            r = xp.where(dx == 0, 0, r)
        return _c(r, g)

    def bwd(ctx, g):
        (x,) = ctx.saved
        return dispatch(ACT_OPS[bname], (g, x), ctx.attrs)

    def bbwd(ctx, gg):
        g, x = ctx.saved
        ng, nx = ctx.needs_input_grad
        gg_g = dispatch(ACT_OPS[bname], (gg, x), ctx.attrs) if ng else None
        gg_x = gg * g * d2(x, **ctx.attrs) if (nx and d2 is not None) else None
        return gg_g, gg_x

    def sample(rng, samples=samples):
        return [((rng.standard_normal((3, 4)) * 2,), dict(s)) for s in samples]

    def bsample(rng, samples=samples):
        return [((rng.standard_normal((3, 4)), rng.standard_normal((3, 4)) * 2), dict(s))
                for s in samples]

    body = {"__doc__": f"{name} activation (torch's {node[:-9]}).", "forward": fwd,
            "backward": bwd, "save": (0,), "onnx": onnx, "node_name": node,
            "sample": sample}
    if expr:
        body["expr"] = expr
    ACT_OPS[name] = register(type(name, (), body))
    bbody = {"__doc__": f"g * {name}'(x): the gradient of {name}.", "forward": bfwd,
             "backward": bbwd, "save": (0, 1), "onnx": "decompose", "sample": bsample}
    if name in _BWD_EXPR:
        bbody["expr"] = _BWD_EXPR[name]
    ACT_OPS[bname] = register(type(bname, (), bbody))


for _n, _spec in _ACTS.items():
    _make_act(_n, *_spec)


# ---------------------------------------------------------------- prelu, glu
@register
class prelu:
    """max(0, x) + weight * min(0, x), weight broadcast over the channel dim (dim 1)."""
    save = (0, 1)
    node_name = "PreluKernelBackward0"
    onnx = "PRelu"

    def forward(xp, a, w):
        return _c(xp.where(a > 0, a, w * a), a)

    def backward(ctx, g):
        a, w = ctx.saved
        return dispatch(prelu_backward, (g, a, w))

    def sample(rng):
        return [((rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 1))), {}),
                ((rng.standard_normal((5,)), rng.standard_normal((1,))), {})]


@register
class prelu_backward:
    """(grad_input, grad_weight) of prelu (weight grad summed to its broadcast shape)."""
    nout = 2
    differentiable = False
    onnx = "decompose"

    def forward(xp, g, a, w):
        pos = a > 0
        gi = xp.where(pos, g, g * w)
        gw = xp.where(pos, 0, g * a)
        # reduce the weight gradient to w's (broadcast) shape
        lead = gw.ndim - w.ndim
        axes = tuple(range(lead)) + tuple(i + lead for i, s in enumerate(w.shape)
                                          if s == 1 and gw.shape[i + lead] != 1)
        if axes:
            gw = gw.sum(axis=axes, keepdims=True)
        return _c(gi, g), _c(gw.reshape(w.shape), w)


@register
class glu:
    """a * sigmoid(b) where (a, b) are the halves of the input along ``dim``."""
    save = (0,)
    onnx = "decompose"

    def forward(xp, x, *, dim):
        a, b = xp.split(x, 2, axis=dim)
        return _c(a * _sigmoid(xp, b), x)

    def backward(ctx, g):
        (x,) = ctx.saved
        return dispatch(glu_backward, (g, x), ctx.attrs)

    def sample(rng):
        return [((rng.standard_normal((3, 4)),), {"dim": 1}),
                ((rng.standard_normal((4, 3)),), {"dim": 0})]


@register
class glu_backward:
    """Gradient of glu with respect to its input."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, g, x, *, dim):
        a, b = xp.split(x, 2, axis=dim)
        s = _sigmoid(xp, b)
        return _c(xp.concatenate([g * s, g * a * s * (1.0 - s)], axis=dim), x)


# ---------------------------------------------------------------- softmax family
def _softmax_np(xp, a, dim):
    if not a.size:
        return xp.exp(a)
    if xp is np and dim in (-1, a.ndim - 1):  # one compiled pass per row where available
        from . import _ckern
        y = _ckern.softmax_lastdim(a)
        if y is not None:
            return y
    m = xp.max(a, axis=dim, keepdims=True)
    if not bool(xp.isfinite(m).all()):   # rows of -inf (or inf/nan): shift by 0 there
        m = xp.where(xp.isfinite(m), m, 0)
    e = a - m                            # one temporary, then in place
    xp.exp(e, out=e)
    e /= xp.sum(e, axis=dim, keepdims=True)
    return e


@register
class softmax:
    """exp(x) / sum(exp(x)) along ``dim`` (max-shifted for stability)."""
    save_out = True
    onnx = "Softmax"
    node_name = "SoftmaxBackward0"

    def forward(xp, a, *, dim):
        if a.ndim == 0:
            return _c(xp.ones_like(a), a) if a.dtype.kind == "f" else a
        return _c(_softmax_np(xp, a, dim), a)

    def backward(ctx, g):
        y = ctx.out
        if y.ndim == 0:
            return g * 0
        d = ctx.attrs["dim"]
        return y * (g - (g * y).sum(d, keepdim=True))

    def sample(rng):
        return [((rng.standard_normal((3, 4)),), {"dim": 1}),
                ((rng.standard_normal((2, 3, 4)),), {"dim": 0})]


@register
class log_softmax:
    """x - logsumexp(x) along ``dim`` (max-shifted for stability)."""
    save_out = True
    onnx = "LogSoftmax"
    node_name = "LogSoftmaxBackward0"

    def forward(xp, a, *, dim):
        if a.ndim == 0:
            return _c(xp.zeros_like(a), a)
        if a.size == 0:
            return a.copy()
        m = xp.max(a, axis=dim, keepdims=True)
        if not bool(xp.isfinite(m).all()):
            m = xp.where(xp.isfinite(m), m, 0)
        s = a - m
        lse = xp.log(xp.sum(xp.exp(s), axis=dim, keepdims=True))
        s -= lse
        return _c(s, a)

    def backward(ctx, g):
        y = ctx.out
        if y.ndim == 0:
            return g * 0
        d = ctx.attrs["dim"]
        return g - y.exp() * g.sum(d, keepdim=True)

    def sample(rng):
        return [((rng.standard_normal((3, 4)),), {"dim": 1}),
                ((rng.standard_normal((2, 3, 4)),), {"dim": -1})]


# ---------------------------------------------------------------- embedding
def _check_indices(xp, idx, n):
    if idx.dtype.kind not in "iu":
        from .. import _dtype as D
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the "
                           "following scalar types: Long, Int; but got "
                           f"ardor.{D._BY_NP[idx.dtype]._torch_name}Tensor instead (while "
                           "checking arguments for embedding)")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError("index out of range in self")


@register
class embedding:
    """weight[indices]: rows of an embedding table."""
    save = (1,)
    onnx = "Gather"
    node_name = "EmbeddingBackward0"

    def forward(xp, w, idx, *, padding_idx=-1, scale_grad_by_freq=False):
        if w.ndim != 2:
            raise RuntimeError("'weight' must be 2-D")
        _check_indices(xp, idx, w.shape[0])
        return xp.take(w, idx, axis=0)

    def backward(ctx, g):
        (idx,) = ctx.saved
        if not ctx.needs_input_grad[0]:
            return None, None
        at = ctx.attrs
        return dispatch(embedding_dense_backward, (g, idx),
                        {"num_weights": ctx.in_meta[0][0][0], "padding_idx": at["padding_idx"],
                         "scale_grad_by_freq": at["scale_grad_by_freq"]}), None

    def sample(rng):
        return [((rng.standard_normal((5, 3)), np.array([[0, 2], [4, 2]])),
                 {"padding_idx": -1, "scale_grad_by_freq": False}),
                # padding_idx / scale_grad_by_freq alter the gradient on purpose (not the
                # true derivative), so the gradcheck samples leave them off
                ((rng.standard_normal((5, 3)), np.array([1, 3, 1, 0])),
                 {"padding_idx": -1, "scale_grad_by_freq": False})]


@register
class embedding_dense_backward:
    """Scatter-add of row gradients into a (num_weights, D) table; padding_idx rows get
    zero, scale_grad_by_freq divides by each index's count."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, g, idx, *, num_weights, padding_idx=-1, scale_grad_by_freq=False):
        dim = g.shape[-1]
        flat = idx.reshape(-1)
        gf = g.reshape(-1, dim)
        if scale_grad_by_freq:
            counts = xp.bincount(flat, minlength=num_weights)
            gf = gf / counts[flat][:, None].astype(g.dtype)
        out = xp.zeros((num_weights, dim), g.dtype)
        xp.add.at(out, flat, gf)
        if padding_idx is not None and padding_idx >= 0:
            out[padding_idx] = 0
        return out


@register
class embedding_renorm:
    """Rows of ``w`` referenced by ``idx`` rescaled to norm <= max_norm (in place use)."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, w, idx, *, max_norm, norm_type=2.0):
        rows = xp.unique(idx.reshape(-1))
        out = w.copy()
        sub = out[rows]
        if norm_type == float("inf"):
            norms = xp.abs(sub).max(axis=1)
        else:
            norms = (xp.abs(sub) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        out[rows] = sub * scale[:, None].astype(w.dtype)
        return out


def _bag_layout(xp, idx, offsets, include_last_offset):
    """(bag id per index, number of bags) for 1-D indices with offsets."""
    n = idx.shape[0]
    offs = offsets.astype(np.int64)
    nb = offs.shape[0] - 1 if include_last_offset else offs.shape[0]
    if include_last_offset:
        offs = offs[:-1]
    bag = xp.zeros(n, np.int64)
    if n and nb:
        starts = offs[(offs < n)]
        xp.add.at(bag, starts, 1)
        bag = xp.cumsum(bag) - 1
        bag = xp.maximum(bag, 0)
        # indices before the first offset belong to no bag (torch requires offsets[0] == 0)
    return bag, nb


def _bag_reduce(xp, w, idx, offsets, psw, mode, include_last_offset, padding_idx):
    bag, nb = _bag_layout(xp, idx, offsets, include_last_offset)
    rows = w[idx]
    keep = xp.ones(idx.shape[0], bool) if padding_idx is None or padding_idx < 0 \
        else idx != padding_idx
    if psw is not None:
        rows = rows * psw[:, None]
    dim = w.shape[1]
    out = xp.zeros((nb, dim), w.dtype)
    counts = xp.zeros(nb, np.int64)
    arg = xp.full((nb, dim), -1, np.int64)
    if idx.shape[0] and nb:
        if mode == 2:  # max
            neg = xp.full((nb, dim), -xp.inf, w.dtype)
            kb, kr = bag[keep], rows[keep]
            xp.maximum.at(neg, kb, kr)
            xp.add.at(counts, kb, 1)
            out = xp.where(counts[:, None] > 0, neg, 0).astype(w.dtype)
            # argmax: the first index (in order) reaching the max of its bag
            pos = xp.nonzero(keep)[0]
            hit = kr == neg[kb]
            for_arg = xp.where(hit, pos[:, None], xp.iinfo(np.int64).max)
            best = xp.full((nb, dim), xp.iinfo(np.int64).max, np.int64)
            xp.minimum.at(best, kb, for_arg)
            arg = xp.where(counts[:, None] > 0, idx[xp.minimum(best, idx.shape[0] - 1)], -1)
        else:
            xp.add.at(out, bag[keep], rows[keep])
            xp.add.at(counts, bag[keep], 1)
            if mode == 1:
                out = out / xp.maximum(counts, 1)[:, None].astype(w.dtype)
    return out.astype(w.dtype, copy=False), bag, counts, keep, arg


@register
class embedding_bag:
    """Sums / means / maxes of embedding rows per bag (bags given by offsets)."""
    save = (0, 1, 2, 3)
    onnx = "decompose"
    node_name = "EmbeddingBagBackward0"

    def forward(xp, w, idx, offsets, psw, *, mode, include_last_offset=False,
                padding_idx=-1):
        _check_indices(xp, idx, w.shape[0])
        if offsets.shape[0] and int(offsets[0]) != 0:
            raise RuntimeError("offsets[0] has to be 0, i.e., the first sequence in the "
                               "mini-batch has to start from position 0. However, got "
                               f"{int(offsets[0])}")
        if offsets.shape[0] and int(offsets[-1]) > idx.shape[0]:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length "
                               f"({idx.shape[0]}), but got offsets[-1] of {int(offsets[-1])}")
        return _bag_reduce(xp, w, idx, offsets, psw, mode, include_last_offset,
                           padding_idx)[0]

    def backward(ctx, g):
        w, idx, offsets, psw = ctx.saved
        gw, gp = dispatch(embedding_bag_backward, (g, w, idx, offsets, psw), ctx.attrs)
        nw, _, _, np_ = ctx.needs_input_grad
        return (gw if nw else None), None, None, (gp if np_ and psw is not None else None)

    def sample(rng):
        idx, off = np.array([0, 2, 4, 2, 1]), np.array([0, 2])
        return [((rng.standard_normal((5, 3)), idx, off, None),
                 {"mode": m, "include_last_offset": False, "padding_idx": -1})
                for m in (0, 1, 2)] + [
            ((rng.standard_normal((5, 3)), idx, off, rng.standard_normal(5)),
             {"mode": 0, "include_last_offset": False, "padding_idx": -1})]


@register
class embedding_bag_backward:
    """(grad_weight, grad_per_sample_weights) of embedding_bag."""
    nout = 2
    differentiable = False
    onnx = "decompose"

    def forward(xp, g, w, idx, offsets, psw, *, mode, include_last_offset=False,
                padding_idx=-1):
        out, bag, counts, keep, arg = _bag_reduce(xp, w, idx, offsets, psw, mode,
                                                  include_last_offset, padding_idx)
        gw = xp.zeros_like(w)
        if mode == 2:
            nb, dim = g.shape
            valid = arg >= 0
            cols = xp.broadcast_to(xp.arange(dim), (nb, dim))
            xp.add.at(gw, (arg[valid], cols[valid]), g[valid])
            return gw, (xp.zeros_like(psw) if psw is not None else xp.zeros(0, w.dtype))
        grow = g[bag]
        if mode == 1:
            grow = grow / xp.maximum(counts, 1)[bag][:, None].astype(g.dtype)
        grow = grow * keep[:, None]
        gp = (grow * w[idx]).sum(axis=1) if psw is not None else xp.zeros(0, w.dtype)
        if psw is not None:
            grow = grow * psw[:, None]
        xp.add.at(gw, idx, grow.astype(w.dtype, copy=False))
        return gw, gp.astype(w.dtype, copy=False)


# ---------------------------------------------------------------- one_hot, dropout mask
@register
class one_hot:
    """int64 one-hot encoding with ``num_classes`` classes (-1: max + 1)."""
    differentiable = False
    onnx = "OneHot"

    def forward(xp, idx, *, num_classes=-1):
        if idx.dtype.kind not in "iu":
            raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
        if num_classes == -1:
            if idx.size == 0:
                raise RuntimeError("Can not infer total number of classes from empty tensor.")
            num_classes = int(idx.max()) + 1
        if idx.size:
            if int(idx.min()) < 0:
                raise RuntimeError("Class values must be non-negative.")
            if int(idx.max()) >= num_classes:
                raise RuntimeError("Class values must be smaller than num_classes.")
        out = xp.zeros(idx.shape + (num_classes,), np.int64)
        xp.put_along_axis(out, idx[..., None].astype(np.int64), 1, axis=-1)
        return out


@register
class dropout_mask:
    """(u >= p) / (1 - p) in u's dtype: the scaled keep-mask of dropout from uniforms u."""
    differentiable = False
    onnx = "decompose"

    def forward(xp, u, *, p):
        if p >= 1.0:
            return xp.zeros_like(u)
        return ((u >= p) * (1.0 / (1.0 - p))).astype(u.dtype)


# ---------------------------------------------------------------- module backward hooks
_HOOK_OPS: dict = {}


def _hook_identity_op(n: int):
    op = _HOOK_OPS.get(n)
    if op is None:
        def fwd(xp, *arrays):
            return tuple(a.view() for a in arrays) if n > 1 else arrays[0].view()

        def bwd(ctx, *gs):
            return tuple(gs)

        def sample(rng, n=n):
            return [(tuple(rng.standard_normal((2, 3)) for _ in range(n)), {})]
        op = register(type(f"backward_hook_function_{n}", (), {
            "__doc__": "Identity over a module's tensors; its node carries module hooks.",
            "forward": fwd, "backward": bwd, "nout": n, "onnx": "Identity",
            "node_name": "BackwardHookFunctionBackward", "sample": sample}))
        _HOOK_OPS[n] = op
    return op


def backward_hook_identity(tensors):
    """The tensors passed through one BackwardHookFunctionBackward node (a list back)."""
    out = dispatch(_hook_identity_op(len(tensors)), tuple(tensors))
    out = list(out) if len(tensors) > 1 else [out]
    # tensors that did not require grad stay constants (torch marks them non-differentiable:
    # the hooks then see zeros for them)
    return [o if t.requires_grad else o.detach() for t, o in zip(tensors, out)]


_hook_identity_op(1)
_hook_identity_op(2)
