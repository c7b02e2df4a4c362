"""A small hand-written MLP used to drive optimizers identically in torch and ardor."""
from __future__ import annotations

import numpy as np

SHAPES = [(8, 5), (8,), (3, 8), (3,)]


def init_arrays(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * 0.5).astype(np.float32) for s in SHAPES]


def data(seed: int = 1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.standard_normal((16, 3)).astype(np.float32)
    return x, y


def make_params(lib, arrays):
    """Leaf tensors over copies of ``arrays`` (lib is torch or ardor)."""
    return [lib.tensor(a.copy(), requires_grad=True) for a in arrays]


def loss_fn(lib, params, x, y):
    """MSE of a 2-layer MLP with a logistic hidden layer (only ops both libraries have)."""
    w1, b1, w2, b2 = params
    h = x @ w1.T + b1
    h = 1 / (1 + lib.exp(-h))
    d = h @ w2.T + b2 - y
    return (d * d).mean()


def train(lib, params, opt, steps: int, x, y, closure_style: bool = False, seed: int = 2):
    """Run ``steps`` optimizer steps; returns the parameters (numpy copies) after each step.

    The input batch changes every step (scaled by a fixed per-step factor) so that the
    optimizers see varying gradients."""
    X, Y = lib.tensor(x), lib.tensor(y)
    traj = []
    for k in range(steps):
        s = 1.0 + 0.05 * k
        xs = X * s

        def closure():
            opt.zero_grad()
            loss = loss_fn(lib, params, xs, Y)
            loss.backward()
            return loss

        if closure_style:
            opt.step(closure)
        else:
            closure()
            opt.step()
        traj.append([p.detach().numpy().copy() for p in params])
    return traj
