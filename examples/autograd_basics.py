"""Autograd basics: the seed example, then a custom sigmoid as an autograd.Function.

Runs unchanged with ``import torch`` in place of ``import ardor as torch``.
"""
import ardor as torch


def seed_example():
    """y = (w + x) * (w + 1): gradients, leaves and graph nodes."""
    w = torch.tensor([1.], requires_grad=True)
    x = torch.tensor([2.], requires_grad=True)
    a = w + x
    a.retain_grad()
    b = w + 1
    y = a * b
    y.backward()
    print("w.grad:", w.grad, " x.grad:", x.grad, " a.grad:", a.grad)
    print("is_leaf  w, x, a, b, y:", [t.is_leaf for t in (w, x, a, b, y)])
    print("grad_fn  y:", y.grad_fn, " a:", a.grad_fn, " w:", w.grad_fn)
    print("y.grad_fn.next_functions:", y.grad_fn.next_functions)
    return w.grad, x.grad, a.grad


class MySigmoid(torch.autograd.Function):
    """sigmoid(x) = 1 / (1 + exp(-x)) as ONE graph node, with d/dx = s * (1 - s)."""

    @staticmethod
    def forward(ctx, x):
        s = 1 / (1 + (-x).exp())
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad_output):
        (s,) = ctx.saved_tensors
        return grad_output * s * (1 - s)


def custom_sigmoid():
    """The custom Function's gradient equals the composite expression's."""
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0], dtype=torch.float64, requires_grad=True)
    y = MySigmoid.apply(x)
    y.sum().backward()
    custom = x.grad.clone()

    x.grad = None
    (1 / (1 + (-x).exp())).sum().backward()
    composite = x.grad

    print("custom node:", y.grad_fn)
    print("custom grad:   ", custom)
    print("composite grad:", composite)
    ok = torch.autograd.gradcheck(MySigmoid.apply, (x.detach().requires_grad_(),))
    print("gradcheck:", ok)
    return custom, composite


if __name__ == "__main__":
    seed_example()
    custom_sigmoid()
