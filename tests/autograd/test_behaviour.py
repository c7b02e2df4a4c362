"""Autograd behaviours compared with torch: graph structure, backward/grad arguments,
higher-order gradients, accumulation, grad modes, detach, hooks, and torch's errors."""
import warnings

import numpy as np
import pytest
import torch

import ardor
from autograd_helpers import catch, graph_names, norm, rng, same, ver

R = rng(0)
A = R.standard_normal((3, 4))
B = R.standard_normal((3, 4))
V = R.standard_normal(4)
V3 = R.standard_normal(3)


def leaves(lib, *arrays, rg=True):
    return [lib.tensor(a, requires_grad=rg) for a in arrays]


# ---------------------------------------------------------------- graph structure
def test_leaf_flags_and_graph_names():
    def sc(lib):
        a, b = leaves(lib, A, B)
        c = lib.tensor(V)
        d = a * b + c
        e = (d.exp() / (b - 1)).mean(0)
        f = e * 2
        return ([t.requires_grad for t in (a, b, c, d, e, f)],
                [t.is_leaf for t in (a, b, c, d, e, f)],
                [t.grad_fn for t in (a, c)], graph_names(f, 8), graph_names(d))
    same(sc)


def test_next_functions_with_constants_and_repeated_inputs():
    def sc(lib):
        (a,) = leaves(lib, A)
        b = lib.tensor(B)
        y = a * b
        z = a * a
        w = z + 3
        return [[(type(n).__name__ if n is not None else None, nr) for n, nr in
                 t.grad_fn.next_functions] for t in (y, z, w)], \
            y.grad_fn.next_functions[0][0] is z.grad_fn.next_functions[1][0], \
            type(y.grad_fn.next_functions[0][0].variable).__name__
    same(sc)


def test_integer_results_do_not_require_grad():
    def sc(lib):
        (a,) = leaves(lib, A)
        return (a > 0).requires_grad, (a > 0).grad_fn, a.long().requires_grad, \
            (a * 2).requires_grad
    same(sc)


# ---------------------------------------------------------------- retain_grad / backward args
def test_retain_grad_and_retains_grad():
    def sc(lib):
        a, b = leaves(lib, A, B)
        y = a * b
        z = y.exp()
        y.retain_grad()
        y.retain_grad()  # twice is fine
        a.retain_grad()  # no-op on a leaf
        z.sum().backward()
        return y.grad, y.retains_grad, z.retains_grad, a.retains_grad, a.grad, \
            catch(lambda: lib.tensor(A).retain_grad())
    same(sc)


def test_backward_gradient_argument_and_shapes():
    def sc(lib):
        a, b = leaves(lib, A, B)
        y = a * b
        y.backward(lib.tensor(B))
        r = [a.grad, b.grad]
        e1 = catch(lambda: (a * b).backward())
        e2 = catch(lambda: (a * b).backward(lib.ones(4)))
        e3 = catch(lambda: lib.tensor(1.0).backward())
        e4 = catch(lambda: lib.autograd.backward([(a * 2).sum(), (a * 3).sum()],
                                                 [None]))
        e5 = catch(lambda: lib.tensor([1, 2]).sum().backward())
        return r + [e1, e2, e3, e4, e5]
    same(sc)


def test_retain_graph_and_freed_graph_error():
    def sc(lib):
        (a,) = leaves(lib, A)
        y = (a.exp() * a).sum()
        y.backward(retain_graph=True)
        y.backward()
        g = a.grad.clone()
        e = catch(lambda: y.backward())
        z = (a + 1).sum()  # nothing saved: a second backward works in torch
        z.backward()
        z.backward()
        return g, e, a.grad
    same(sc)


def test_backward_inputs_argument():
    def sc(lib):
        a, b = leaves(lib, A, B)
        y = a * b
        (y * y).sum().backward(inputs=[a])
        r = [a.grad, b.grad]
        y = a * b
        (y * 2).sum().backward(inputs=[y, b])
        r += [y.grad, y.retains_grad, b.grad]
        e = catch(lambda: (a * 2).sum().backward(inputs=[]))
        e2 = catch(lambda: (a * 2).sum().backward(inputs=[lib.tensor(A)]))
        return r + [e, e2]
    same(sc)


def test_inputs_argument_prunes_hooks():
    def sc(lib):
        a, b = leaves(lib, A, B)
        calls = []
        a.register_hook(lambda g: calls.append("a"))
        b.register_hook(lambda g: calls.append("b"))
        (a * b).sum().backward(inputs=[b])
        lib.autograd.grad((a * b).sum(), [a])
        return calls, a.grad
    same(sc)


# ---------------------------------------------------------------- autograd.grad
def test_grad_arguments():
    def sc(lib):
        a, b = leaves(lib, A, B)
        (c,) = leaves(lib, V)
        y = a * b
        r = [lib.autograd.grad(y, [a, b], lib.tensor(B), retain_graph=True),
             lib.autograd.grad([y.sum(), (a * 3).sum()], a, retain_graph=True),
             lib.autograd.grad(y.sum(), [a, c], allow_unused=True, retain_graph=True),
             lib.autograd.grad(y.sum(), [a, c], materialize_grads=True),
             a.grad, b.grad]
        r.append(catch(lambda: lib.autograd.grad((a * b).sum(), [a, c])))
        r.append(catch(lambda: lib.autograd.grad((a * b).sum(), [a, c], allow_unused=False,
                                                 materialize_grads=True)))
        r.append(catch(lambda: lib.autograd.grad((a * b).sum(), lib.tensor(A))))
        r.append(catch(lambda: lib.autograd.grad(lib.tensor(A).sum(), a)))
        r.append(catch(lambda: lib.autograd.grad(a * b, a, lib.ones(2))))
        r.append(catch(lambda: lib.autograd.grad(a * b, a)))
        r.append(lib.autograd.grad(a.sum(), a))
        r.append(lib.autograd.grad(a, a, lib.tensor(B)))
        y = (a * b).sum()
        lib.autograd.grad(y, a, retain_graph=True)
        r.append(lib.autograd.grad(y, b))
        r.append(catch(lambda: lib.autograd.grad(y, b)))
        return r
    same(sc)


def test_grad_with_respect_to_intermediate_and_duplicates():
    def sc(lib):
        (a,) = leaves(lib, A)
        h = a.exp()
        y = (h * h).sum()
        return lib.autograd.grad(y, [h, a, h])
    same(sc)


def test_grad_dtype_of_grad_outputs():
    def sc(lib):
        a = lib.tensor(A, dtype=lib.float32, requires_grad=True)
        (g,) = lib.autograd.grad(a * 2, a, lib.tensor(B, dtype=lib.float64))
        return g
    same(sc)


# ---------------------------------------------------------------- higher order
def test_second_and_third_derivative_of_cube():
    def sc(lib):
        x = lib.tensor(A, requires_grad=True)
        y = (x ** 3).sum()
        (g,) = lib.autograd.grad(y, x, create_graph=True)
        (g2,) = lib.autograd.grad(g.sum(), x, create_graph=True)
        (g3,) = lib.autograd.grad(g2.sum(), x)
        return g, g2, g3, g.requires_grad, graph_names(g2, 2) is not None
    same(sc)


def test_gradient_penalty():
    def sc(lib):
        w, x = leaves(lib, A, B)
        out = (w * x).tanh().sum()
        (gx,) = lib.autograd.grad(out, x, create_graph=True)
        penalty = (gx * gx).sum().sqrt()
        penalty.backward()
        return w.grad, x.grad, penalty
    same(sc)


def test_backward_create_graph_then_grad_of_grad():
    def sc(lib):
        (x,) = leaves(lib, A)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (x * x * x).sum().backward(create_graph=True)
        g = x.grad
        r = [g, g.requires_grad]
        (gg,) = lib.autograd.grad(g.sum(), x)
        return r + [gg]
    same(sc)


# ---------------------------------------------------------------- accumulation
def test_accumulation_and_grad_object_identity():
    def sc(lib):
        (x,) = leaves(lib, A)
        (x * 2).sum().backward()
        g1 = x.grad
        g1_copy = g1.clone()
        (x * 3).sum().backward()
        r = [x.grad, x.grad is g1, norm(g1) != norm(g1_copy)]  # torch adds in place
        x.grad = None
        (x * 4).sum().backward()
        r.append(x.grad)
        x.grad = lib.tensor(B)
        held = x.grad
        (x * 1).sum().backward()
        r += [x.grad, held is x.grad]
        return r
    same(sc)


def test_sibling_leaves_never_alias_grads():
    for lib in (torch, ardor):
        a, b = leaves(lib, A, A)
        (a + b).sum().backward()
        a.grad.add_(1)
        assert norm(b.grad) == norm(lib.ones(3, 4, dtype=lib.float64)), lib
        go = lib.tensor(B)
        c = lib.tensor(A, requires_grad=True)
        c.backward(go)
        c.grad.mul_(0)
        assert norm(go) == norm(lib.tensor(B)), lib  # the user's tensor was not adopted


def test_expanded_grad_is_materialized():
    def sc(lib):
        (x,) = leaves(lib, A)
        x.sum().backward()  # grad of sum is an expanded view
        x.grad.add_(1)
        return x.grad, x.grad.is_contiguous()
    same(sc)


# ---------------------------------------------------------------- grad modes
def test_grad_mode_context_managers_and_decorators():
    def sc(lib):
        (x,) = leaves(lib, A)
        r = []
        with lib.no_grad():
            r.append((x * 2).requires_grad)
            r.append(lib.is_grad_enabled())
            with lib.enable_grad():
                r.append((x * 2).requires_grad)
            with lib.set_grad_enabled(True):
                r.append((x * 2).requires_grad)
        with lib.set_grad_enabled(False):
            r.append((x * 2).requires_grad)
        r.append(lib.is_grad_enabled())
        lib.set_grad_enabled(False)
        r.append(lib.is_grad_enabled())
        lib.set_grad_enabled(True)
        with lib.inference_mode():
            r.append((x * 2).requires_grad)
            r.append(lib.is_inference_mode_enabled())
        with lib.inference_mode(False):
            r.append((x * 2).requires_grad)

        @lib.no_grad()
        def f(t):
            return t * 2

        @lib.enable_grad()
        def g(t):
            return t * 2

        @lib.inference_mode()
        def h(t):
            return t * 2

        @lib.set_grad_enabled(False)
        def k(t):
            return t * 2
        r += [f(x).requires_grad, h(x).requires_grad, k(x).requires_grad,
              lib.is_grad_enabled()]
        with lib.no_grad():
            r.append(g(x).requires_grad)
        return r
    same(sc)


def test_no_grad_on_generator():
    def sc(lib):
        (x,) = leaves(lib, A)

        @lib.no_grad()
        def gen():
            for i in range(2):
                yield (x * i).requires_grad, lib.is_grad_enabled()
        out = []
        for item in gen():
            out.append(item)
            out.append(lib.is_grad_enabled())
        return out
    same(sc)


def test_grad_mode_restored_after_exception():
    def sc(lib):
        try:
            with lib.no_grad():
                raise KeyError("x")
        except KeyError:
            pass
        return lib.is_grad_enabled()
    same(sc)


# ---------------------------------------------------------------- detach / requires_grad_
def test_detach_shares_data_and_version():
    def sc(lib):
        (x,) = leaves(lib, A)
        y = x * 2
        d = y.detach()
        r = [d.requires_grad, d.grad_fn, d.is_leaf, d._base is None]
        v0 = ver(y)
        d.add_(1)
        r += [ver(y) - v0, y]
        z = y * 1
        z.detach_()
        r += [z.requires_grad, z.grad_fn, z.is_leaf]
        r.append(catch(lambda: (x * 1)[:2].detach_()))
        dd = x.data
        dd.mul_(0)
        r += [ver(x), x, dd.requires_grad]
        return r
    same(sc)


def test_requires_grad_flag_rules():
    def sc(lib):
        a = lib.tensor(A)
        r = [a.requires_grad_() is a, a.requires_grad, a.requires_grad_(False).requires_grad]
        a.requires_grad = True
        r.append(a.requires_grad)
        r.append(catch(lambda: (a * 2).requires_grad_(False)))
        r.append(((a * 2).requires_grad_(True)).requires_grad)
        r.append(catch(lambda: lib.tensor([1, 2]).requires_grad_()))
        return r
    same(sc)


# ---------------------------------------------------------------- hooks
def test_tensor_hooks_leaf_and_non_leaf():
    def sc(lib):
        (x,) = leaves(lib, A)
        seen = []
        h1 = x.register_hook(lambda g: g * 2)
        y = x * 3
        h2 = y.register_hook(lambda g: seen.append(g.sum().item()))
        y.register_hook(lambda g: g + 1)
        y.retain_grad()
        y.sum().backward()
        r = [x.grad, y.grad, len(seen)]
        h1.remove()
        h2.remove()
        x.grad = None
        y = x * 3
        y.sum().backward()
        r.append(x.grad)
        r.append(catch(lambda: lib.tensor(A).register_hook(lambda g: g)))
        (g,) = lib.autograd.grad((x * 1).sum(), x)  # x has no hooks left
        x.register_hook(lambda g: g * 10)
        (g2,) = lib.autograd.grad((x * 1).sum(), x)
        return r + [g, g2, seen]
    same(sc)


def test_node_hooks():
    def sc(lib):
        (x,) = leaves(lib, A)
        y = x * 2
        calls = []
        y.grad_fn.register_prehook(lambda go: calls.append(("pre", norm(go))))
        h = y.grad_fn.register_hook(lambda gi, go: calls.append(("post", norm(gi), norm(go))))
        z = y.exp()
        z.grad_fn.register_hook(lambda gi, go: (gi[0] * 0,))
        z.sum().backward()
        r = [calls, x.grad]
        h.remove()
        y2 = x * 2
        y2.grad_fn.register_prehook(lambda go: (go[0] * 10,))
        x.grad = None
        y2.sum().backward()
        return r + [x.grad, len(calls)]
    same(sc)


def test_post_accumulate_grad_hook():
    def sc(lib):
        (x,) = leaves(lib, A)
        seen = []
        h = x.register_post_accumulate_grad_hook(lambda t: seen.append(norm(t.grad)))
        (x * 2).sum().backward()
        (x * 3).sum().backward()
        h.remove()
        (x * 3).sum().backward()
        return seen, catch(lambda: (x * 2).register_post_accumulate_grad_hook(lambda t: t))
    same(sc)


def test_grad_fn_metadata_and_name():
    def sc(lib):
        (x,) = leaves(lib, A)
        y = x * 2
        y.grad_fn.metadata["k"] = 1
        return y.grad_fn.metadata, y.grad_fn.name()
    same(sc)


# ---------------------------------------------------------------- errors
def test_inplace_on_saved_tensor_errors():
    def sc(lib):
        (x,) = leaves(lib, A)
        y = x.exp()
        y.add_(1)
        e1 = catch(lambda: y.sum().backward())
        z = x * 1
        w = z * z
        z.mul_(2)
        e2 = catch(lambda: w.sum().backward())
        b = lib.tensor(B)
        u = x * b
        b.add_(1)
        e3 = catch(lambda: u.sum().backward())
        return e1, e2, e3
    same(sc)


def test_inplace_on_leaf_and_numpy_errors():
    def sc(lib):
        (x,) = leaves(lib, A)
        r = [catch(lambda: x.add_(1)), catch(lambda: x.numpy()),
             catch(lambda: x[:2].mul_(2))]
        with lib.no_grad():
            x.add_(1)  # allowed under no_grad
        r.append(x)
        r.append(x.detach().numpy().shape)
        y = x * 1
        y.add_(1)  # in-place on a non-leaf rebases its history
        r.append(graph_names(y))
        return r
    same(sc)


def test_non_leaf_grad_access_warns():
    def sc(lib):
        (x,) = leaves(lib, A)
        y = x * 2
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            g = y.grad
        return g, [str(m.message)[:70] for m in w]
    same(sc)


def test_grad_setter_checks():
    def sc(lib):
        (x,) = leaves(lib, A)

        def setg(v):
            x.grad = v
        return [catch(lambda: setg(3)), catch(lambda: setg(lib.ones(2))),
                catch(lambda: setg(lib.ones(3, 4, dtype=lib.float32)))]
    same(sc)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mixed_dtype_grads_are_cast_to_leaf_dtype(dtype):
    def sc(lib):
        x = lib.tensor(A, dtype=getattr(lib, dtype), requires_grad=True)
        y = lib.tensor(B, dtype=lib.float32, requires_grad=True)
        (x * y + 1).sum().backward()
        return x.grad, y.grad
    same(sc)


def test_broadcast_and_noncontiguous_grads():
    def sc(lib):
        x = lib.tensor(A.T.copy(), requires_grad=True)
        v = lib.tensor(V3, requires_grad=True)
        y = (x.t() * v.unsqueeze(1) + x.t()[:, :2].sum()).sum()
        y.backward()
        return x.grad, v.grad
    same(sc)


def test_empty_and_zero_dim():
    def sc(lib):
        e = lib.tensor(np.zeros((0, 3)), requires_grad=True)
        s = lib.tensor(2.0, requires_grad=True)
        (e * s).sum().backward()
        (s * s).backward()
        return e.grad, s.grad
    same(sc)


def test_grad_is_grads_batched():
    def sc(lib):
        x = lib.tensor(A[0], requires_grad=True)
        y = x.exp() * x
        eye = lib.tensor(np.eye(4))
        (jac,) = lib.autograd.grad(y, x, eye, is_grads_batched=True)
        jv = lib.autograd.functional.jacobian(lambda t: t.exp() * t, lib.tensor(A[0]),
                                              vectorize=True)
        return jac, jv
    same(sc)


def test_sum_node_names():
    def sc(lib):
        (x,) = leaves(lib, A)
        return [graph_names(t, 0) for t in (x.sum(), x.sum(0), x.mean(), x.mean(1))]
    same(sc)


def test_retain_grad_follows_inplace_rebase():
    def sc(lib):
        (x,) = leaves(lib, A)
        y = x * 1
        y.retain_grad()
        y.mul_(2)  # .grad is the gradient of y's new value
        (y * 3).sum().backward()
        r = [y.grad, x.grad, y.retains_grad]
        (x2,) = leaves(lib, A)
        z = x2 * 1
        z.retain_grad()
        z[:2].mul_(5)  # through a view: z's history becomes CopySlices
        (z * 3).sum().backward()
        return r + [z.grad, x2.grad, graph_names(z, 0)]
    same(sc)


def test_hook_return_value_checks():
    def sc(lib):
        def myhook(g):
            return g[:2]
        r = []
        for hook in (myhook, lambda g: g.double(), lambda g: 5):
            (x,) = leaves(lib, A[0], rg=False)
            x = x.float().requires_grad_()
            x.register_hook(hook)
            r.append(catch(lambda: (x * 2).sum().backward()))
            y = x * 2
            y.register_hook(hook)
            r.append(catch(lambda: (y * 2).sum().backward()))
        return r
    same(sc)


def test_gradient_edges_and_increment_version():
    def sc(lib):
        G = lib.autograd.graph
        (x,) = leaves(lib, A)
        y = x * 2
        z = (y * y).sum()
        e = G.get_gradient_edge(y)
        ex = G.get_gradient_edge(x)
        r = [lib.autograd.grad(z, e, retain_graph=True), lib.autograd.grad(z, [ex, e]),
             type(e.node).__name__, e.output_nr, type(ex.node).__name__,
             isinstance(y.grad_fn, G.Node)]
        v = ver(x)
        G.increment_version(x)
        r.append(ver(x) - v)
        r.append(catch(lambda: G.get_gradient_edge(lib.tensor(A))))
        return r
    same(sc)


def test_saved_tensors_hooks():
    def sc(lib):
        G = lib.autograd.graph
        log = []

        def pack(t):
            log.append(("pack", tuple(t.shape)))
            return t.detach().clone()

        def unpack(p):
            log.append(("unpack", tuple(p.shape)))
            return p

        class Sq(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * x

            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return 2 * g * x
        (x,) = leaves(lib, A[0])
        with G.saved_tensors_hooks(pack, unpack):
            w = (x * x).exp().sum() + Sq.apply(x).sum()
        with lib.no_grad():
            x.mul_(3)  # the packed copies are used, so no version error
        w.backward()
        with G.disable_saved_tensors_hooks("no hooks here"):
            e = catch(lambda: G.saved_tensors_hooks(pack, unpack).__enter__())
        return log, x.grad, e
    same(sc)
    from ardor.autograd.graph import _SAVED_SLOT, Node
    assert Node.__dict__["_saved"] is _SAVED_SLOT  # hooks leave no cost behind


def test_accumulate_grad_node_hooks_and_which_nodes_run():
    def sc(lib):
        calls = []
        (x,) = leaves(lib, A)
        y = x * 2
        acc = y.grad_fn.next_functions[0][0]
        acc.register_hook(lambda gi, go: calls.append(("post", gi, norm(go), norm(x.grad))))
        acc.register_prehook(lambda go: calls.append(("pre", norm(go), x.grad)))
        y.sum().backward()
        lib.autograd.grad((x * 2).sum(), x)  # x's AccumulateGrad is not run: no node hooks
        (w,) = leaves(lib, B)
        y = x * w
        y.grad_fn.register_prehook(lambda g: calls.append("y node ran"))
        (y * 2).sum().backward(inputs=[y])  # the input's own node runs (torch)
        lib.autograd.grad((y * 2).sum(), y)  # captured only: its node does not run
        return calls, y.grad, w.grad
    same(sc)


def test_scalar_operand_does_not_save_tensor_like_torch():
    """mul/div by a Python number save no tensor, so a later in-place op is fine (as torch)."""
    import torch
    for lib in (ardor, torch):
        for op in (lambda t: t * 2, lambda t: t / 2, lambda t: 3 * t):
            a = lib.ones(3, requires_grad=True).clone()
            b = op(a)
            a.add_(1)
            b.sum().backward()
    a = ardor.ones(3, requires_grad=True).clone()
    w = ardor.ones(3, requires_grad=True)
    b = a * w
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        b.sum().backward()
