"""The seed example from the core issue, verbatim with ``import ardor as torch``."""


def test_seed_example_values_and_names():
    import ardor as torch
    w = torch.tensor([1.], requires_grad=True)
    x = torch.tensor([2.], requires_grad=True)
    a = w + x
    a.retain_grad()
    b = w + 1
    y = a * b
    y.backward()
    assert w.grad.tolist() == [5.0]
    assert x.grad.tolist() == [2.0]
    assert a.grad.tolist() == [2.0]
    assert b.grad is None
    assert [t.is_leaf for t in (w, x, a, b, y)] == [True, True, False, False, False]
    assert repr(y.grad_fn).startswith("<MulBackward0 object at 0x")
    assert repr(a.grad_fn).startswith("<AddBackward0 object at 0x")
    assert w.grad_fn is None


def test_seed_matches_torch():
    import torch
    import ardor
    res = []
    for lib in (torch, ardor):
        w = lib.tensor([1.], requires_grad=True)
        x = lib.tensor([2.], requires_grad=True)
        a = w + x
        a.retain_grad()
        b = w + 1
        y = a * b
        y.backward()
        res.append((w.grad.tolist(), x.grad.tolist(), a.grad.tolist(), b.grad,
                    type(y.grad_fn).__name__, type(a.grad_fn).__name__,
                    [type(n).__name__ for n, _ in y.grad_fn.next_functions]))
    assert res[0] == res[1]
