"""ardor.autograd.Function against torch.autograd.Function."""
import warnings

import numpy as np
import pytest
import torch

import ardor
from autograd_helpers import catch, graph_names, norm, rng, same, ver

X = rng(0).standard_normal((3, 4))
Y = rng(1).standard_normal((3, 4))


def _fns(lib):
    """Custom Functions written once against ``lib``'s public API."""
    F = lib.autograd.Function

    class MySigmoid(F):
        @staticmethod
        def forward(ctx, x):
            y = 1 / (1 + (-x).exp())
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y * (1 - y)

    class ScaleAdd(F):  # non-tensor input, two tensor inputs, integer second output
        @staticmethod
        def forward(ctx, x, k, y):
            ctx.save_for_backward(x, y)
            ctx.k = k
            return x * k + y * y, (x * 2).long()

        @staticmethod
        def backward(ctx, g, g_int):
            x, y = ctx.saved_tensors
            return g * ctx.k, None, 2 * g * y

    class Mul(F):  # new-style: forward without ctx + setup_context
        @staticmethod
        def forward(x, y):
            return x * y

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            needs = ctx.needs_input_grad
            return (g * y if needs[0] else None, g * x if needs[1] else None)

    class Double_(F):  # in place
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(x)
            x.mul_(2)
            return x

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    class TwoOut(F):
        @staticmethod
        def forward(ctx, x):
            a, b = x * 2, x * 3
            ctx.mark_non_differentiable(b)
            return a, b

        @staticmethod
        def backward(ctx, ga, gb):
            return ga * 2 + gb.sum() * 0

    class NoMaterialize(F):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            g = 0
            if ga is not None:
                g = g + ga * 2
            if gb is not None:
                g = g + gb * 3
            return g

    class Identity(F):  # returns its input unchanged
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    class Cube(F):  # backward made of differentiable ops -> double backward works
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * g * x * x

    class Once(F):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    return dict(MySigmoid=MySigmoid, ScaleAdd=ScaleAdd, Mul=Mul, Double_=Double_,
                TwoOut=TwoOut, NoMaterialize=NoMaterialize, Identity=Identity, Cube=Cube,
                Once=Once)


def test_sigmoid_matches_composite_and_torch():
    def sc(lib):
        f = _fns(lib)["MySigmoid"]
        x = lib.tensor(X, requires_grad=True)
        y = f.apply(x)
        y.sum().backward()
        x2 = lib.tensor(X, requires_grad=True)
        (1 / (1 + (-x2).exp())).sum().backward()
        return (y, x.grad, x2.grad, type(y.grad_fn).__name__, graph_names(y),
                y.grad_fn.needs_input_grad)
    got = same(sc)
    assert got[1] == got[2]  # the custom gradient equals the composite's


def test_non_tensor_inputs_multiple_outputs_next_functions():
    def sc(lib):
        f = _fns(lib)["ScaleAdd"]
        x = lib.tensor(X, requires_grad=True)
        y = lib.tensor(Y)
        out, idx = f.apply(x, 2.5, y)
        r = [out, idx, idx.requires_grad, idx.grad_fn is None, out.output_nr, graph_names(out),
             out.grad_fn.needs_input_grad, len(out.grad_fn.next_functions)]
        out.sum().backward()
        return r + [x.grad, y.grad]
    same(sc)


@pytest.mark.parametrize("req", [(True, True), (True, False), (False, True)])
def test_setup_context_and_needs_input_grad(req):
    def sc(lib):
        f = _fns(lib)["Mul"]
        x = lib.tensor(X, requires_grad=req[0])
        y = lib.tensor(Y, requires_grad=req[1])
        out = f.apply(x, y)
        out.backward(lib.tensor(Y))
        return out, x.grad, y.grad, graph_names(out), out.grad_fn.needs_input_grad
    same(sc)


def test_no_grad_records_nothing():
    def sc(lib):
        f = _fns(lib)["Mul"]
        x = lib.tensor(X, requires_grad=True)
        with lib.no_grad():
            out = f.apply(x, x)
        return out, out.grad_fn
    same(sc)


def test_mark_dirty_inplace():
    def sc(lib):
        f = _fns(lib)["Double_"]
        x = lib.tensor(X, requires_grad=True)
        y = x * 1
        v0 = ver(y)
        z = f.apply(y)
        r = [z is y, ver(y) - v0, graph_names(y)]
        z.sum().backward()
        leaf = catch(lambda: f.apply(lib.tensor(X, requires_grad=True)))
        return r + [x.grad, leaf]
    same(sc)


def test_mark_non_differentiable_and_materialize():
    def sc(lib):
        fns = _fns(lib)
        x = lib.tensor(X, requires_grad=True)
        a, b = fns["TwoOut"].apply(x)
        r = [b.requires_grad, b.grad_fn is None, a.grad_fn.name() if lib is torch else
             a.grad_fn.name()]
        a.sum().backward()
        r.append(x.grad)
        x.grad = None
        a, b = fns["NoMaterialize"].apply(x)
        b.sum().backward()
        return r + [x.grad]
    same(sc)


def test_returning_input_makes_a_view_with_history():
    def sc(lib):
        f = _fns(lib)["Identity"]
        x = lib.tensor(X, requires_grad=True)
        y = f.apply(x)
        r = [y is x, y._base is x, graph_names(y)]
        y.sum().backward()
        return r + [x.grad]
    same(sc)


def test_double_backward_through_user_backward():
    def sc(lib):
        f = _fns(lib)["Cube"]
        x = lib.tensor(X, requires_grad=True)
        (g,) = lib.autograd.grad(f.apply(x).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        return g, gg
    same(sc)


def test_once_differentiable():
    def sc(lib):
        f = _fns(lib)["Once"]
        x = lib.tensor(X, requires_grad=True)
        (g,) = lib.autograd.grad(f.apply(x).sum(), x, create_graph=True)
        r = [g, g.grad_fn]
        (g2,) = lib.autograd.grad((f.apply(x) * x).sum(), x, create_graph=True)
        r += [graph_names(g2, 1), catch(lambda: g2.sum().backward())]
        return r
    same(sc)


def test_saved_tensor_version_check_and_freed():
    def sc(lib):
        f = _fns(lib)["MySigmoid"]
        x = lib.tensor(X, requires_grad=True)
        y = f.apply(x)
        y.add_(1)  # modifies the saved output
        e1 = catch(lambda: y.sum().backward())
        m = _fns(lib)["Mul"]
        a = lib.tensor(X, requires_grad=True)
        b = lib.tensor(Y)
        out = m.apply(a, b)
        b.mul_(2)  # modifies a saved input
        e2 = catch(lambda: out.sum().backward())
        y = f.apply(x)
        y.sum().backward()
        e3 = catch(lambda: y.grad_fn.saved_tensors)
        e4 = catch(lambda: y.sum().backward())
        return e1, e2, e3, e4
    same(sc)


def test_bad_backward_results():
    def sc(lib):
        F = lib.autograd.Function

        class TooMany(F):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g, g

        class WrongShape(F):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g.sum(0)

        class Broadcast(F):  # a grad that sums back to the input's shape is accepted
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g.double().expand(2, 3, 4)

        class ExtraNone(F):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g, None

        class NotTensor(F):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return 3

        class NoBackward(F):
            @staticmethod
            def forward(ctx, x):
                return x * 2

        x = lib.tensor(X, requires_grad=True)
        errs = [catch(lambda: c.apply(x).sum().backward())
                for c in (TooMany, WrongShape, NotTensor, NoBackward)]
        x.grad = None
        Broadcast.apply(x).sum().backward()
        g1 = x.grad
        x.grad = None
        ExtraNone.apply(x).sum().backward()
        return errs + [g1, x.grad]
    same(sc)


def test_legacy_instantiation_and_missing_forward():
    def sc(lib):
        F = lib.autograd.Function

        class NoForward(F):
            pass

        class Old(F):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, g):
                return g
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inst = Old()
        x = lib.tensor(X, requires_grad=True)
        return catch(lambda: NoForward.apply(x)), catch(lambda: inst(x))
    same(sc)


def test_function_gradcheck_float64():
    f = _fns(ardor)["MySigmoid"]
    x = ardor.tensor(X, requires_grad=True)
    assert ardor.autograd.gradcheck(f.apply, (x,))
    assert ardor.autograd.gradgradcheck(_fns(ardor)["Cube"].apply, (x,))


def test_ctx_attributes_on_grad_fn():
    f = _fns(ardor)["ScaleAdd"]
    x = ardor.tensor(X, requires_grad=True)
    out, _ = f.apply(x, 3.0, ardor.tensor(Y))
    assert out.grad_fn.k == 3.0
    assert isinstance(out.grad_fn, ardor.autograd.function.BackwardCFunction)
    assert type(out.grad_fn).__name__ == "ScaleAddBackward"
    assert norm(out.grad_fn.saved_tensors[0]) == norm(x)


def test_reentrant_backward_checkpoint_style():
    def sc(lib):
        class Checkpoint(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return (x.exp() * x).sin()

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                with lib.enable_grad():  # recompute, then a nested backward
                    xd = x.detach().requires_grad_()
                    y = (xd.exp() * xd).sin()
                    (gx,) = lib.autograd.grad(y, xd, g)
                return gx
        x = lib.tensor(X, requires_grad=True)
        (Checkpoint.apply(x) * 2).sum().backward()
        g1 = x.grad
        x.grad = None
        ((x.exp() * x).sin() * 2).sum().backward()
        return g1, x.grad
    got = same(sc)
    assert got[0] == got[1]


def test_view_outputs_refuse_inplace():
    def sc(lib):
        F = lib.autograd.Function

        class Id(F):
            @staticmethod
            def forward(ctx, x):
                return x

            @staticmethod
            def backward(ctx, g):
                return g

        class Head(F):
            @staticmethod
            def forward(ctx, x):
                return x[:2]

            @staticmethod
            def backward(ctx, g):
                r = lib.zeros(3, 4, dtype=g.dtype)
                r[:2] = g
                return r
        r = []
        for f in (Id, Head):
            x = lib.tensor(X, requires_grad=True)
            y = f.apply(x * 1)
            r.append(catch(lambda: y.add_(1)))
            with lib.no_grad():
                y.mul_(2)  # allowed outside grad mode
            r.append(y)
        return r
    same(sc)
