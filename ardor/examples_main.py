"""A short demo: fit a small two-layer model to synthetic data with plain autograd."""
from __future__ import annotations

import ardor as torch


def main(steps: int = 200) -> float:
    """Train y = sin(x)-ish regression with a 1-32-1 tanh network and print the loss."""
    torch.manual_seed(0) if hasattr(torch, "manual_seed") else None
    import numpy as np
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.uniform(-3, 3, size=(256, 1)), dtype=torch.float32)
    y = torch.tensor(np.sin(x.numpy()) + 0.05 * rng.standard_normal((256, 1)),
                     dtype=torch.float32)
    w1 = torch.tensor(rng.standard_normal((1, 32)) * 0.5, dtype=torch.float32,
                      requires_grad=True)
    b1 = torch.zeros(32, requires_grad=True)
    w2 = torch.tensor(rng.standard_normal((32, 1)) * 0.2, dtype=torch.float32,
                      requires_grad=True)
    b2 = torch.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]
    lr = 0.05
    loss = None
    for step in range(steps):
        h = x @ w1 + b1
        h = (h.exp() - (-h).exp()) / (h.exp() + (-h).exp())  # tanh from primitives
        pred = h @ w2 + b2
        loss = ((pred - y) * (pred - y)).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        if step % 50 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {loss.item():.5f}")
    return loss.item()


if __name__ == "__main__":
    main()
