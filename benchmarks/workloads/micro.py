"""Op overhead and throughput workloads, and the plain-numpy reference.

Each class is built as ``Cls(lib, size)`` with ``lib`` torch, ardor or numpy; ``step()`` runs
``inner`` calls and the runner reports the time per call (per op for the chain). Classes whose
``numpy`` flag is False have no numpy counterpart (autograd cases).
"""
from __future__ import annotations

import numpy as np


class _Micro:
    kind = "micro"
    inner = 1
    numpy = True     # has a plain-numpy counterpart
    per = 1          # ops per call (the time reported is per op)
    flops = 0        # floating-point operations per call (for GFLOP/s)

    def __init__(self, lib, size: str = "full", seed: int = 0):
        self.lib = lib
        self.is_numpy = lib is np
        self.setup(np.random.default_rng(seed), size)

    def step(self):
        """Run ``inner`` calls."""
        f = self.fn
        for _ in range(self.inner):
            f()


def _t(lib, arr, requires_grad=False):
    if lib is np:
        return arr
    t = lib.from_numpy(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


class AddTiny(_Micro):
    """a + b on 8-element float32 tensors (pure per-call overhead)."""
    inner = 2000

    def setup(self, rng, size):
        a, b = (_t(self.lib, np.ones(8, np.float32)) for _ in range(2))
        self.fn = (lambda: np.add(a, b)) if self.is_numpy else (lambda: a + b)


class AddTinyGrad(_Micro):
    """a + b on 8 elements with a requiring grad (overhead of recording the node)."""
    inner = 2000
    numpy = False

    def setup(self, rng, size):
        a = _t(self.lib, np.ones(8, np.float32), True)
        b = _t(self.lib, np.ones(8, np.float32))
        self.fn = lambda: a + b


class ChainBackward(_Micro):
    """Ten multiplies on 8 elements, sum, backward: time per op of forward + backward."""
    inner = 100
    numpy = False
    per = 10

    def setup(self, rng, size):
        a = _t(self.lib, np.ones(8, np.float32), True)

        def chain():
            y = a
            for _ in range(10):
                y = y * 1.0001
            y.sum().backward()
        self.fn = chain


class Gemm(_Micro):
    """1024x1024 @ 1024x1024 float32 matmul."""
    inner = 5

    def setup(self, rng, size):
        n = 1024 if size == "full" else 16
        self.flops = 2 * n ** 3
        m1, m2 = (_t(self.lib, rng.standard_normal((n, n)).astype(np.float32))
                  for _ in range(2))
        self.fn = (lambda: np.matmul(m1, m2)) if self.is_numpy else (lambda: m1 @ m2)


class AddLarge(_Micro):
    """x + y on 1M float32 elements (memory bandwidth)."""
    inner = 20

    def setup(self, rng, size):
        n = 1 << 20 if size == "full" else 64
        x, y = (_t(self.lib, rng.standard_normal(n).astype(np.float32)) for _ in range(2))
        self.fn = (lambda: np.add(x, y)) if self.is_numpy else (lambda: x + y)


class ExpLarge(_Micro):
    """exp on 1M float32 elements (transcendental throughput)."""
    inner = 20

    def setup(self, rng, size):
        n = 1 << 20 if size == "full" else 64
        x = _t(self.lib, rng.standard_normal(n).astype(np.float32))
        self.fn = (lambda: np.exp(x)) if self.is_numpy else (lambda: self.lib.exp(x))


class NumpyMLP:
    """The mlp workload's training step written by hand in numpy (the reference row: what
    the same arithmetic costs with no framework at all; its spread shows machine noise)."""

    kind = "reference"
    numpy = True
    inner = 1
    per = 1
    flops = 0

    def __init__(self, lib, size: str = "full", seed: int = 0):
        from .models import MLP
        cfg = MLP.SIZES[size]
        rng = np.random.default_rng(seed)
        dims = [cfg["d_in"], cfg["hidden"], cfg["hidden"], cfg["classes"]]
        self.W = [rng.uniform(-1, 1, (o, i)).astype(np.float32) / np.float32(np.sqrt(i))
                  for i, o in zip(dims[:-1], dims[1:])]
        self.b = [np.zeros(o, np.float32) for o in dims[1:]]
        self.vel = [np.zeros_like(p) for p in self.W + self.b]
        self.x = rng.standard_normal((cfg["batch"], cfg["d_in"])).astype(np.float32)
        self.y = rng.integers(0, cfg["classes"], cfg["batch"])

    def step(self):
        """Forward, softmax cross-entropy, backward, SGD with momentum."""
        hs = [self.x]
        h = self.x
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            h = h @ W.T + b
            if i < 2:
                h = np.maximum(h, 0)
            hs.append(h)
        z = h - h.max(1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(1, keepdims=True)
        n = len(self.y)
        loss = -np.log(p[np.arange(n), self.y]).mean()
        g = p
        g[np.arange(n), self.y] -= 1
        g /= n
        gW, gb = [None] * 3, [None] * 3
        for i in (2, 1, 0):
            gW[i] = g.T @ hs[i]
            gb[i] = g.sum(0)
            if i:
                g = (g @ self.W[i]) * (hs[i] > 0)
        for p_, g_, v in zip(self.W + self.b, gW + gb, self.vel):
            v *= 0.9
            v += g_
            p_ -= 0.01 * v
        return loss


MICRO = {
    "op_add_tiny": AddTiny,
    "op_add_tiny_grad": AddTinyGrad,
    "op_fwd_bwd_chain": ChainBackward,
    "gemm_1024": Gemm,
    "add_1M": AddLarge,
    "exp_1M": ExpLarge,
    "numpy_mlp_ref": NumpyMLP,
}
