"""ardor.autograd.functional against torch.autograd.functional."""
import pytest

from autograd_helpers import catch, rng, same

R = rng(0)
X = R.standard_normal(3)
Y = R.standard_normal(3)
V = R.standard_normal(3)
W = R.standard_normal(3)


def f_scalar(x, y):
    return (x * y * x).sum() * x.exp().sum()


def f_vec(x, y):
    return x * y.exp(), (x - y) * x


def f_one(x):
    return (x * x * x).sum()


@pytest.mark.parametrize("create_graph", [False, True])
def test_jacobian_hessian(create_graph):
    def sc(lib):
        F = lib.autograd.functional
        x, y = lib.tensor(X), lib.tensor(Y)
        return (F.jacobian(f_vec, (x, y), create_graph=create_graph),
                F.jacobian(lambda a: a.exp(), x, create_graph=create_graph),
                F.hessian(f_scalar, (x, y), create_graph=create_graph),
                F.hessian(f_one, x, create_graph=create_graph))
    same(sc)


@pytest.mark.parametrize("create_graph", [False, True])
def test_products(create_graph):
    def sc(lib):
        F = lib.autograd.functional
        x, y = lib.tensor(X), lib.tensor(Y)
        v, w = lib.tensor(V), lib.tensor(W)
        return (F.vjp(f_vec, (x, y), (v, w), create_graph=create_graph),
                F.vjp(f_one, x, create_graph=create_graph),
                F.jvp(f_vec, (x, y), (v, w), create_graph=create_graph),
                F.hvp(f_scalar, (x, y), (v, w), create_graph=create_graph),
                F.vhp(f_scalar, (x, y), (v, w), create_graph=create_graph),
                F.hvp(f_one, x, v, create_graph=create_graph),
                F.vhp(f_one, x, v, create_graph=create_graph))
    same(sc)


def test_create_graph_allows_differentiating_the_result():
    def sc(lib):
        F = lib.autograd.functional
        x = lib.tensor(X, requires_grad=True)
        _, hv = F.hvp(f_one, x, lib.tensor(V), create_graph=True)
        (g,) = lib.autograd.grad(hv.sum(), x)
        jac = F.jacobian(lambda a: a * a, x, create_graph=True)
        (g2,) = lib.autograd.grad(jac.sum(), x)
        return hv, g, g2
    same(sc)


def test_strict_and_errors():
    def sc(lib):
        F = lib.autograd.functional
        x, y = lib.tensor(X), lib.tensor(Y)
        return (
            catch(lambda: F.jacobian(lambda a, b: a * 2, (x, y), strict=True)),
            F.jacobian(lambda a, b: a * 2, (x, y)),
            catch(lambda: F.vjp(lambda a: a * 2, x)),
            catch(lambda: F.vjp(lambda a: a * 2, x, lib.tensor(V[:2]))),
            catch(lambda: F.jvp(lambda a, b: a * b, (x, y), (lib.tensor(V),))),
            catch(lambda: F.hessian(lambda a: a * 2, x)),
            catch(lambda: F.hvp(lambda a: a.sum(), x, lib.tensor(V), strict=True)),
            catch(lambda: F.jacobian(lambda a: a * 2, [x])),
            catch(lambda: F.jacobian(lambda a: a, x, strategy="bad")),
            catch(lambda: F.vjp(lambda a: lib.tensor(X), x, lib.tensor(V), strict=True)),
        )
    same(sc)
