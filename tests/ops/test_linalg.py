"""Linear algebra against torch 2.13: matmul family, add*, einsum, tensordot, torch.linalg."""

import numpy as np
import pytest
import torch

import ardor
import ardor.linalg as AL
from ardor._ops import linalg as LA
from ardor._ops.dispatch import dispatch
from ardor._ops.registry import OPS
from tests.oracle import check

rng = np.random.default_rng(0)
r = rng.standard_normal


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [y for z in x for y in _flat(z)]
    return [x]


def lib_linalg(L):
    return AL if L is ardor else torch.linalg


def run(fn, *arrays, grad=True, rtol=1e-7, atol=1e-9, seed=1, values=True):
    """fn(lib, *tensors) on ardor and torch over the same data; compare outputs and the
    gradients of a random weighted sum of the float outputs."""
    A = [ardor.tensor(x) for x in arrays]
    T = [torch.tensor(x) for x in arrays]
    if grad:
        for a, t in zip(A, T):
            if t.is_floating_point() or t.is_complex():
                a.requires_grad_(True)
                t.requires_grad_(True)
    ra, rt = fn(ardor, *A), fn(torch, *T)
    if values:
        check(ra, rt, rtol, atol)
    if not grad:
        return ra, rt
    oa = [o for o in _flat(ra) if o.dtype.is_floating_point]
    ot = [o for o in _flat(rt) if o.is_floating_point()]
    g = np.random.default_rng(seed)
    ws = [g.standard_normal(tuple(o.shape)) for o in ot]
    sum((o * ardor.tensor(w).to(o.dtype)).sum() for o, w in zip(oa, ws)).backward()
    sum((o * torch.tensor(w).to(o.dtype)).sum() for o, w in zip(ot, ws)).backward()
    for a, t in zip(A, T):
        if t.requires_grad:
            check(a.grad, t.grad, rtol * 100, atol * 100)
    return ra, rt


def raises_like(fn, *arrays, match_message=True):
    with pytest.raises(Exception) as et:
        fn(torch, *[torch.tensor(x) for x in arrays])
    expected = AL.LinAlgError if isinstance(et.value, torch.linalg.LinAlgError) \
        else type(et.value)
    with pytest.raises(expected) as ea:
        fn(ardor, *[ardor.tensor(x) for x in arrays])
    if match_message:
        assert str(ea.value) == str(et.value)
    return ea.value


SHAPES = [(4,), (3, 4), (2, 3, 4), (2, 1, 3, 4)]


@pytest.mark.parametrize("sa", SHAPES)
@pytest.mark.parametrize("sb", [(4,), (4, 5), (2, 4, 5), (3, 4, 5)])
def test_matmul_shapes(sa, sb):
    if len(sa) >= 3 and len(sb) >= 3 and sb[0] != sa[-3] and sa[-3] != 1:
        return
    run(lambda L, a, b: a @ b, r(sa), r(sb))
    run(lambda L, a, b: L.matmul(a.float(), b.float()), r(sa), r(sb), rtol=1e-5, atol=1e-5)


def test_matmul_noncontiguous_and_rmatmul():
    run(lambda L, a, b: a.mT @ b[:, ::2], r((4, 3)), r((4, 6)))
    run(lambda L, a, b: L.matmul(a.transpose(0, 1), b), r((3, 2, 4)), r((2, 4, 5)))


@pytest.mark.parametrize("sa,sb", [((3,), (4,)), ((2, 3), (4,)), ((2, 3, 5), (4,)),
                                   ((3,), (4, 5)), ((2, 3), (4, 5)), ((2, 3, 5), (4, 6)),
                                   ((4,), (2, 3, 5)), ((2, 3, 4), (2, 3, 5)),
                                   ((2, 3, 4), (3, 4, 5)), ((3, 4), (2, 3, 5)), ((), (3,))])
def test_matmul_errors(sa, sb):
    raises_like(lambda L, a, b: L.matmul(a, b), r(sa), r(sb))


def test_matmul_dtype_error_and_ints():
    raises_like(lambda L, a, b: L.matmul(a, b.double()), r((3, 4)).astype(np.float32),
                r((4, 2)))
    xi = rng.integers(-3, 3, (3, 4)).astype(np.int32)
    run(lambda L, a: a @ a.mT, xi, grad=False)


@pytest.mark.parametrize("fn,shapes", [
    (lambda L, a, b: L.mm(a, b), [(3, 4), (4, 2)]),
    (lambda L, a, b: a.mm(b.T), [(3, 4), (2, 4)]),
    (lambda L, a, b: L.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
    (lambda L, a, b: L.mv(a, b), [(3, 4), (4,)]),
    (lambda L, a, b: L.dot(a, b), [(4,), (4,)]),
    (lambda L, a, b: L.vdot(a, b), [(4,), (4,)]),
    (lambda L, a, b: L.outer(a, b), [(3,), (4,)]),
    (lambda L, a, b: L.ger(a, b), [(3,), (4,)]),
    (lambda L, a, b: L.inner(a, b), [(2, 4), (3, 4)]),
    (lambda L, a, b: L.kron(a, b), [(2, 3), (3, 2)]),
    (lambda L, a, b: L.kron(a, b), [(2, 3), (4,)]),
    (lambda L, a, b: L.tensordot(a, b, 1), [(2, 3, 4), (4, 5)]),
    (lambda L, a, b: L.tensordot(a, b, 2), [(2, 3, 4), (3, 4, 5)]),
    (lambda L, a, b: L.tensordot(a, b, ([0, 2], [2, 0])), [(2, 3, 4), (4, 5, 2)]),
    (lambda L, a, b: L.tensordot(a, b, dims=([1], [0])), [(2, 3), (3, 2)]),
    (lambda L, a, b: L.linalg.cross(a, b), [(2, 3), (3,)]) if False else
    (lambda L, a, b: lib_linalg(L).cross(a, b), [(4, 3), (4, 3)]),
    (lambda L, a, b: L.cross(a, b, dim=0), [(3, 2), (3, 2)]),
    (lambda L, a, b: lib_linalg(L).vecdot(a, b), [(3, 4), (4,)]),
    (lambda L, a, b: lib_linalg(L).multi_dot([a, b, a.T]), [(3, 4), (4, 4)]),
])
def test_products(fn, shapes):
    run(fn, *[r(s) for s in shapes])


@pytest.mark.parametrize("fn,shapes", [
    (lambda L, a, b: L.mm(a, b), [(3, 4), (3, 4)]),
    (lambda L, a, b: L.mm(a[0], b), [(3, 4), (4, 4)]),
    (lambda L, a, b: L.bmm(a, b), [(3, 4), (4, 3)]),
    (lambda L, a, b: L.bmm(a, b), [(2, 3, 4), (2, 5, 3)]),
    (lambda L, a, b: L.bmm(a, b), [(2, 3, 4), (1, 4, 3)]),
    (lambda L, a, b: L.mv(a, b), [(3, 4), (3,)]),
    (lambda L, a, b: L.dot(a, b), [(3, 4), (3, 4)]),
    (lambda L, a, b: L.dot(a, b), [(4,), (3,)]),
    (lambda L, a, b: L.dot(a, b.double()), [(4,), (4,)]),
    (lambda L, a, b: L.outer(a, b), [(3, 4), (4,)]),
    (lambda L, a, b: L.tensordot(a, b, 1), [(3, 4), (3, 4)]),
    (lambda L, a, b: L.tensordot(a, b, ([0], [1])), [(3, 4), (3, 4)]),
    (lambda L, a, b: lib_linalg(L).cross(a, b), [(3, 4), (3, 4)]),
    (lambda L, a, b: L.trace(a), [(2, 3, 3), (1,)]),
])
def test_product_errors(fn, shapes):
    arrays = [r(s).astype(np.float32) for s in shapes]
    raises_like(fn, *arrays)


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, -2.0), (0, 1)])
@pytest.mark.parametrize("ishape", [(5,), (3, 5), (1, 5), (3, 1)])
def test_addmm(beta, alpha, ishape):
    run(lambda L, i, a, b: L.addmm(i, a, b, beta=beta, alpha=alpha), r(ishape), r((3, 4)),
        r((4, 5)))
    run(lambda L, i, a, b: L.addmm(i, a.T, b, beta=beta, alpha=alpha), r(ishape), r((4, 3)),
        r((4, 5)))


def test_addmm_is_one_op_and_ignores_input_when_beta_zero():
    a = ardor.randn(3, 4, requires_grad=True)
    y = ardor.addmm(ardor.zeros(5), a, ardor.randn(4, 5))
    assert type(y.grad_fn).__name__ == "AddmmBackward0"
    nan = np.full((3, 5), np.nan)
    run(lambda L, i, a, b: L.addmm(i, a, b, beta=0), nan, r((3, 4)), r((4, 5)))


@pytest.mark.parametrize("fn,shapes", [
    (lambda L, i, a, b: L.addmm(i, a, b), [(4,), (3, 4), (4, 5)]),
    (lambda L, i, a, b: L.addmm(i, a, b), [(5,), (3, 4), (3, 5)]),
    (lambda L, i, a, b: L.addmm(i, a, b.double()), [(5,), (3, 4), (4, 5)]),
    (lambda L, i, a, b: L.baddbmm(i, a, b), [(5,), (2, 3, 4), (2, 3, 5)]),
])
def test_add_product_errors(fn, shapes):
    raises_like(fn, *[r(s).astype(np.float32) for s in shapes])


@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2.0), (0, 1)])
def test_add_products(beta, alpha):
    run(lambda L, i, a, b: L.baddbmm(i, a, b, beta=beta, alpha=alpha), r((3, 5)),
        r((2, 3, 4)), r((2, 4, 5)))
    run(lambda L, i, a, b: L.addbmm(i, a, b, beta=beta, alpha=alpha), r((3, 5)),
        r((2, 3, 4)), r((2, 4, 5)))
    run(lambda L, i, a, b: L.addmv(i, a, b, beta=beta, alpha=alpha), r(3), r((3, 4)), r(4))
    run(lambda L, i, a, b: L.addr(i, a, b, beta=beta, alpha=alpha), r((3, 4)), r(3), r(4))


EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ii->", [(3, 3)]), ("ii", [(3, 3)]),
    ("ii->i", [(3, 3)]), ("i,j->ij", [(3,), (4,)]), ("ij->ji", [(3, 4)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]), ("...ij,...jk", [(2, 1, 3, 4), (3, 4, 5)]),
    ("b...,b->...", [(2, 3, 4), (2,)]), ("ij,ij->", [(3, 4), (3, 4)]),
    ("ij->j", [(3, 4)]), ("i,i,i->", [(3,), (3,), (3,)]), ("iij->j", [(3, 3, 2)]),
    ("ijk,ikl,ilm->ijm", [(2, 3, 4), (2, 4, 5), (2, 5, 3)]), ("ab,cd->", [(2, 3), (4, 5)]),
    ("i...->...", [(2, 3, 4)]), ("bi,bj->bij", [(1, 3), (4, 2)]), ("ij, jk -> ik", [(2, 3),
                                                                                  (3, 2)]),
    ("Ab,bC->AC", [(2, 3), (3, 4)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM)
def test_einsum(eq, shapes):
    run(lambda L, *ts: L.einsum(eq, *ts), *[r(s) for s in shapes])
    run(lambda L, *ts: L.einsum(eq, list(ts)), *[r(s) for s in shapes])


def test_einsum_float32_and_double_backward():
    run(lambda L, a, b: L.einsum("ij,jk", a, b), r((3, 4)).astype(np.float32),
        r((4, 2)).astype(np.float32), rtol=1e-5, atol=1e-6)
    outs = []
    for L in (ardor, torch):
        a = L.tensor(r((3, 3)) if L is ardor else outs_in[0], requires_grad=True) \
            if False else None
    x = r((3, 3))
    for L in (ardor, torch):
        a = L.tensor(x, requires_grad=True)
        y = L.einsum("ij,jk,ki->", a, a, a)
        (g,) = L.autograd.grad(y, a, create_graph=True)
        (gg,) = L.autograd.grad((g * g).sum(), a)
        outs.append(gg)
    check(outs[0], outs[1], 1e-6, 1e-8)


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk", [(3, 4), (3, 4)]), ("ij,jk->ik", [(3, 4)]), ("ij->ik", [(3, 4)]),
    ("ij", [(2, 3, 4)]), ("ii", [(3, 4)]), ("ij,jk", [(3, 4), (4, 5), (5,)]),
    ("ijk", [(3, 4)]),
])
def test_einsum_errors(eq, shapes):
    raises_like(lambda L, *ts: L.einsum(eq, *ts), *[r(s) for s in shapes])


def test_trace():
    run(lambda L, a: L.trace(a), r((3, 4)))
    run(lambda L, a: a.trace(), r((4, 3)))
    run(lambda L, a: L.trace(a), rng.integers(0, 5, (3, 3)).astype(np.int32), grad=False)


# ---------------------------------------------------------------- torch.linalg
def wc(*shape):
    """A well-conditioned random square matrix (batch)."""
    return r(shape) + 3 * np.eye(shape[-1])


def spd(*shape):
    a = r(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "solve_vec", "solve_mat", "cholesky",
                                  "cholesky_upper", "pinv", "eigvalsh", "svdvals", "inverse",
                                  "tdet", "logdet", "matrix_rank", "solve_left", "tslogdet",
                                  "cholesky_solve", "cholesky_inverse"])
@pytest.mark.parametrize("batch", [(), (2,), (2, 1)])
def test_linalg_forward_backward(name, batch):
    A = spd(*batch, 3, 3) if "chol" in name or name in ("eigvalsh", "logdet") else wc(*batch, 3,
                                                                                    3)
    B = r(batch + (3,))
    C = r(batch + (3, 2))
    fns = {
        "inv": lambda L, a: lib_linalg(L).inv(a),
        "inverse": lambda L, a: L.inverse(a),
        "det": lambda L, a: lib_linalg(L).det(a),
        "tdet": lambda L, a: a.det(),
        "slogdet": lambda L, a: lib_linalg(L).slogdet(a),
        "tslogdet": lambda L, a: L.slogdet(a),
        "logdet": lambda L, a: L.logdet(a),
        "cholesky": lambda L, a: lib_linalg(L).cholesky(a),
        "cholesky_upper": lambda L, a: lib_linalg(L).cholesky(a, upper=True),
        "pinv": lambda L, a: lib_linalg(L).pinv(a),
        "eigvalsh": lambda L, a: lib_linalg(L).eigvalsh(a),
        "svdvals": lambda L, a: lib_linalg(L).svdvals(a),
        "matrix_rank": lambda L, a: lib_linalg(L).matrix_rank(a),
    }
    if name.startswith("solve"):
        rhs = B if name == "solve_vec" else C
        left = name != "solve_left"
        if not left:
            rhs = r(batch + (2, 3))
        run(lambda L, a, b: lib_linalg(L).solve(a, b, left=left), A, rhs)
        return
    if name == "cholesky_solve":
        run(lambda L, b, a: L.cholesky_solve(b, lib_linalg(L).cholesky(a)), C, A)
        return
    if name == "cholesky_inverse":
        run(lambda L, a: L.cholesky_inverse(lib_linalg(L).cholesky(a)), A)
        return
    run(fns[name], A, grad=name != "matrix_rank")


def test_solve_broadcast_and_vector_rules():
    run(lambda L, a, b: lib_linalg(L).solve(a, b), wc(2, 3, 3), r(3))
    run(lambda L, a, b: lib_linalg(L).solve(a, b), wc(2, 3, 3), r((2, 3)))
    run(lambda L, a, b: lib_linalg(L).solve(a, b), wc(3, 3), r((4, 2, 3, 1)))
    run(lambda L, a, b: lib_linalg(L).solve(a, b), wc(1, 3, 3), r((2, 3, 2)))


@pytest.mark.parametrize("mode", ["reduced", "complete"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (2, 5, 3), (3, 5)])
def test_qr(mode, shape):
    grad = mode == "reduced" and shape[-2] >= shape[-1] or shape[-2] == shape[-1]
    run(lambda L, a: lib_linalg(L).qr(a, mode), r(shape), grad=grad)
    run(lambda L, a: lib_linalg(L).qr(a, "r").R, r(shape), grad=False)


def _fix_signs(V):
    """Eigen/singular vectors are defined up to sign: make each column's largest entry >0."""
    idx = np.abs(V).argmax(-2)[..., None, :]
    s = np.sign(np.take_along_axis(V, idx, -2))
    return V * s


@pytest.mark.parametrize("batch", [(), (2,)])
def test_eigh(batch):
    A = spd(*batch, 4, 4)
    wa, Va = AL.eigh(ardor.tensor(A))
    wt, Vt = torch.linalg.eigh(torch.tensor(A))
    check(wa, wt, 1e-7, 1e-9)
    np.testing.assert_allclose(_fix_signs(Va.numpy()), _fix_signs(Vt.numpy()), atol=1e-8)
    # gauge-invariant loss: eigenvalues and V diag(w) V^T
    run(lambda L, a: (lambda w, V: (w, (V * w.unsqueeze(-2)) @ V.mT, (V ** 2)))(
        *lib_linalg(L).eigh(a)), A, values=False)


@pytest.mark.parametrize("shape", [(4, 3), (3, 3), (3, 5), (2, 4, 3)])
def test_svd(shape):
    A = r(shape)
    Ua, Sa, Vha = AL.svd(ardor.tensor(A), full_matrices=False)
    Ut, St, Vht = torch.linalg.svd(torch.tensor(A), full_matrices=False)
    check(Sa, St, 1e-7, 1e-9)
    np.testing.assert_allclose(((Ua * Sa.unsqueeze(-2)) @ Vha).numpy(), A, atol=1e-9)
    assert AL.svd(ardor.tensor(A)).U.shape == torch.linalg.svd(torch.tensor(A)).U.shape
    # gauge-invariant functions of U and V
    run(lambda L, a: (lambda U, S, Vh: (S, U @ Vh, (U * U).sum(-1), (Vh * Vh).sum(-2)))(
        *lib_linalg(L).svd(a, full_matrices=False)), A, values=False)
    run(lambda L, a: L.svd(a).S, A)


@pytest.mark.parametrize("ord", [None, "fro", "nuc", 2, -2, 1, -1, float("inf"),
                                 float("-inf")])
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norms(ord, keepdim):
    x = r((2, 3, 4))
    run(lambda L, a: lib_linalg(L).matrix_norm(a, "fro" if ord is None else ord,
                                               keepdim=keepdim), x)
    run(lambda L, a: lib_linalg(L).norm(a, ord, (0, 2), keepdim), x)
    run(lambda L, a: lib_linalg(L).norm(a[0], ord), x)


@pytest.mark.parametrize("ord", [2, 1, float("inf"), float("-inf"), 0, 3.5, -1.5])
@pytest.mark.parametrize("dim", [None, -1, (0, 2)])
def test_vector_norms(ord, dim):
    x = r((2, 3, 4))
    run(lambda L, a: lib_linalg(L).vector_norm(a, ord, dim), x)
    run(lambda L, a: lib_linalg(L).vector_norm(a.float(), ord, dim, True, dtype=L.float64), x)
    if dim is None:
        raises_like(lambda L, a: lib_linalg(L).norm(a, ord, dim), x)
    elif dim != (0, 2):
        run(lambda L, a: lib_linalg(L).norm(a, ord, dim), x)


@pytest.mark.parametrize("fn,arr", [
    (lambda L, a: lib_linalg(L).inv(a), np.ones((3, 3))),
    (lambda L, a: lib_linalg(L).inv(a), np.stack([np.eye(3), np.ones((3, 3))])),
    (lambda L, a: L.inverse(a), np.array([[1.0, 2.0], [2.0, 4.0]])),
    (lambda L, a: lib_linalg(L).solve(a, a[..., 0]), np.ones((3, 3))),
    (lambda L, a: lib_linalg(L).solve(a, a[..., 0]), np.stack([np.zeros((3, 3)), np.eye(3)])),
    (lambda L, a: lib_linalg(L).cholesky(a), -np.eye(3)),
    (lambda L, a: lib_linalg(L).cholesky(a), np.diag([1.0, -1.0, 1.0])),
    (lambda L, a: lib_linalg(L).cholesky(a), np.stack([np.eye(3), -np.eye(3)])),
])
def test_singular_errors(fn, arr):
    e = raises_like(fn, arr)
    assert isinstance(e, AL.LinAlgError) and isinstance(e, RuntimeError)


@pytest.mark.parametrize("fn", [
    lambda L, a: lib_linalg(L).inv(a), lambda L, a: lib_linalg(L).det(a),
    lambda L, a: lib_linalg(L).slogdet(a), lambda L, a: lib_linalg(L).cholesky(a),
    lambda L, a: lib_linalg(L).eigh(a), lambda L, a: lib_linalg(L).solve(a, a),
    lambda L, a: lib_linalg(L).inv(a[0]), lambda L, a: lib_linalg(L).qr(a[0]),
    lambda L, a: lib_linalg(L).svd(a[0]), lambda L, a: lib_linalg(L).matrix_norm(a[0]),
    lambda L, a: lib_linalg(L).inv(a.long()), lambda L, a: lib_linalg(L).det(a.long()),
    lambda L, a: lib_linalg(L).cholesky(a.int()), lambda L, a: lib_linalg(L).vector_norm(
        a.long()), lambda L, a: lib_linalg(L).matrix_norm(a, 3),
    lambda L, a: lib_linalg(L).norm(a[None], 2),
    lambda L, a: lib_linalg(L).solve(a[:, :3], a[:, :3].double()),
    lambda L, a: lib_linalg(L).solve(a[:, :3], a[:, :3].sum(0).double()[:2]),
])
def test_linalg_errors(fn):
    raises_like(fn, r((3, 4)).astype(np.float32))


def test_linalg_float32():
    A = wc(3, 3).astype(np.float32)
    for f in (lambda L, a: lib_linalg(L).inv(a), lambda L, a: lib_linalg(L).det(a),
              lambda L, a: lib_linalg(L).solve(a, a[0])):
        run(f, A, rtol=1e-5, atol=1e-5)


def test_grad_fn_names():
    a = ardor.tensor(wc(3, 3), requires_grad=True)
    t = torch.tensor(wc(3, 3), requires_grad=True)
    for fn in (lambda L, v: L.addmm(v[0], v, v), lambda L, v: L.trace(v),
               lambda L, v: lib_linalg(L).det(v), lambda L, v: lib_linalg(L).inv(v),
               lambda L, v: L.mm(v, v), lambda L, v: L.mv(v, v[0]), lambda L, v: L.dot(v[0], v[1]),
               lambda L, v: lib_linalg(L).vector_norm(v)):
        assert type(fn(ardor, a).grad_fn).__name__ == type(fn(torch, t).grad_fn).__name__


_MINE = [op for op in OPS.values() if op.forward.__module__ == LA.__name__]


@pytest.mark.parametrize("op", [o for o in _MINE if o.differentiable], ids=lambda o: o.name)
def test_sample_gradcheck(op):
    assert op.sample is not None and op.onnx
    for args, attrs in op.sample(np.random.default_rng(3)):
        ts = tuple(ardor.tensor(a, requires_grad=True) if isinstance(a, np.ndarray) else a
                   for a in args)

        def f(*xs):
            res = dispatch(op, xs, attrs)
            return tuple(o for o in res if o.dtype.is_floating_point) if op.nout > 1 else res
        if op.name == "linalg_eig":
            def f(*xs):  # noqa: F811  (complex outputs: check phase-invariant real parts)
                w, V = dispatch(op, xs, attrs)
                return w.real, w.imag, V.abs()
        elif op.name in ("linalg_eigh", "linalg_svd", "linalg_qr"):
            # sign gauge: check gauge-invariant products of the factors instead
            def f(*xs, _f=f, _name=op.name):  # noqa: F811
                outs = _f(*xs)
                if _name == "linalg_eigh":
                    w, V = outs
                    return w, (V * w.unsqueeze(-2)) @ V.mT
                if _name == "linalg_svd":
                    U, S, Vh = outs
                    return S, U @ Vh
                return outs[0] @ outs[1]
        assert ardor.autograd.gradcheck(f, ts, eps=1e-6, atol=1e-5)


def test_every_op_has_onnx():
    for op in _MINE:
        assert op.onnx, op.name


@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular(upper, left, unit):
    A = wc(2, 3, 3)
    B = r((2, 3, 2)) if left else r((2, 2, 3))
    run(lambda L, a, b: lib_linalg(L).solve_triangular(a, b, upper=upper, left=left,
                                                       unitriangular=unit), A, B)


def test_triangular_solve_and_errors():
    run(lambda L, b, a: tuple(L.triangular_solve(b, a, upper=False)), r((3, 2)), wc(3, 3))
    run(lambda L, b, a: L.triangular_solve(b, a, transpose=True).solution, r((3, 2)),
        wc(3, 3))
    raises_like(lambda L, a: lib_linalg(L).solve_triangular(a, a[0], upper=True), wc(3, 3))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, -1, -2])
def test_matrix_power(n):
    run(lambda L, a: lib_linalg(L).matrix_power(a, n), wc(2, 3, 3) / 3)
    run(lambda L, a: L.matrix_power(a, n), wc(3, 3) / 3)


def test_matrix_power_errors():
    raises_like(lambda L, a: lib_linalg(L).matrix_power(a, 2), r((2, 3)))
    raises_like(lambda L, a: lib_linalg(L).matrix_power(a, 2), r(3))


@pytest.mark.parametrize("bshape", [(5, 2), (5,)])
def test_lstsq(bshape):
    ra, rt = run(lambda L, a, b: lib_linalg(L).lstsq(a, b).solution, r((5, 3)), r(bshape))
    ra = AL.lstsq(ardor.tensor(r((5, 3))), ardor.tensor(r(bshape)))
    rt = torch.linalg.lstsq(torch.tensor(r((5, 3))), torch.tensor(r(bshape)))
    check(ra.rank, rt.rank)
    check(ra.residuals, rt.residuals)
    check(ra.singular_values, rt.singular_values)


def test_return_type_names():
    A = wc(3, 3)
    for fn in (lambda L, a: lib_linalg(L).slogdet(a), lambda L, a: L.slogdet(a),
               lambda L, a: lib_linalg(L).qr(a), lambda L, a: L.qr(a),
               lambda L, a: lib_linalg(L).svd(a), lambda L, a: L.svd(a),
               lambda L, a: lib_linalg(L).eigh(a + a.mT), lambda L, a: lib_linalg(L).lstsq(a, a),
               lambda L, a: L.triangular_solve(a, a)):
        ra, rt = fn(ardor, ardor.tensor(A)), fn(torch, torch.tensor(A))
        assert type(ra).__name__ == type(rt).__name__
        assert repr(ra).split("(")[0].split(".")[-1] == repr(rt).split("(")[0].split(".")[-1]
        for f in type(ra)._fields:
            assert hasattr(rt, f)


@pytest.mark.parametrize("fn,shapes", [
    (lambda L, a, b: a @ b, [(3, 0), (0, 4)]),
    (lambda L, a, b: a @ b, [(0, 3), (3, 4)]),
    (lambda L, a, b: L.bmm(a, b), [(0, 3, 4), (0, 4, 2)]),
    (lambda L, a, b: L.einsum("ij,jk->ik", a, b), [(3, 0), (0, 4)]),
    (lambda L, a, b: L.addmm(b, a, a.mT), [(3, 0), (3, 3)]),
    (lambda L, a, b: L.dot(a, b), [(0,), (0,)]),
    (lambda L, a, b: lib_linalg(L).inv(a), [(0, 3, 3), (1,)]),
    (lambda L, a, b: lib_linalg(L).det(a), [(0, 0), (1,)]),
    (lambda L, a, b: lib_linalg(L).det(a), [(0, 2, 2), (1,)]),
    (lambda L, a, b: lib_linalg(L).vector_norm(a), [(0, 3), (1,)]),
    (lambda L, a, b: lib_linalg(L).matrix_norm(a), [(0, 3), (1,)]),
])
def test_empty(fn, shapes):
    run(fn, *[r(s) for s in shapes])


@pytest.mark.parametrize("fn", [
    lambda L, a, b: lib_linalg(L).inv(a.mT), lambda L, a, b: lib_linalg(L).det(a.mT),
    lambda L, a, b: lib_linalg(L).solve(a.mT, b[..., ::2, :]),
    lambda L, a, b: lib_linalg(L).cholesky(a @ a.mT + 3 * L.eye(3, dtype=L.float64)),
    lambda L, a, b: L.einsum("bij,bjk->bik", a.mT, b[..., ::2, :]),
    lambda L, a, b: L.addmm(b[0, 0, :3], a[0].mT, a[1]),
    lambda L, a, b: L.baddbmm(b[..., ::2, :], a.mT, a),
])
def test_noncontiguous_inputs(fn):
    run(fn, wc(2, 3, 3), r((2, 6, 3)))


def test_det_singular_gradient_is_zero_like_torch():
    for A in (np.array([[1.0, 2.0], [2.0, 4.0]]), np.zeros((3, 3)),
              np.stack([np.array([[1.0, 2.0], [2.0, 4.0]]), np.eye(2) * 2])):
        run(lambda L, a: lib_linalg(L).det(a), A)


def test_einsum_sublist_and_chain_matmul():
    run(lambda L, a, b: L.einsum(a, [0, 1], b, [1, 2], [0, 2]), r((2, 3)), r((3, 4)))
    run(lambda L, a, b: L.einsum(a, [Ellipsis, 1], b, [1, 2]), r((2, 3)), r((3, 4)))
    run(lambda L, a, b: L.chain_matmul(a, b, a.T), r((2, 3)), r((3, 3)))


@pytest.mark.parametrize("p", [2.0, 1.0, 0.5, 3.0, float("inf"), 0.0])
@pytest.mark.parametrize("shapes", [[(4, 3), (5, 3)], [(2, 4, 3), (2, 5, 3)], [(2, 4, 3),
                                                                                (5, 3)]])
def test_cdist(p, shapes):
    x1, x2 = r(shapes[0]), r(shapes[1])
    x2[..., 0, :] = x1.reshape(-1, 3)[0]   # a zero distance: finite gradient as torch
    run(lambda L, a, b: L.cdist(a, b, p), x1, x2)


def test_cdist_errors():
    raises_like(lambda L, a, b: L.cdist(a, b), r((4, 3)), r((5, 2)))
    raises_like(lambda L, a, b: L.cdist(a, b), r(3), r((5, 3)))


def test_inplace_variants():
    run(lambda L, i, a, b: i.clone().addmm_(a, b, beta=0.5, alpha=2), r((3, 5)), r((3, 4)),
        r((4, 5)))
    run(lambda L, i, a, b: i.clone().baddbmm_(a, b), r((2, 3, 5)), r((2, 3, 4)), r((2, 4, 5)))


@pytest.mark.parametrize("fn", [
    lambda L, a: lib_linalg(L).vector_norm(a, float("inf")),
    lambda L, a: lib_linalg(L).vector_norm(a, -1),
    lambda L, a: lib_linalg(L).vector_norm(a, float("inf"), 1),
    lambda L, a: lib_linalg(L).vector_norm(a, float("-inf"), 0),
    lambda L, a: lib_linalg(L).vector_norm(a, 2, 0),
    lambda L, a: lib_linalg(L).matrix_norm(a, 2),
    lambda L, a: lib_linalg(L).matrix_norm(a, -2),
    lambda L, a: lib_linalg(L).matrix_norm(a[None], "nuc"),
    lambda L, a: L.norm(a, "nuc", dim=(0, 0)),
])
def test_norms_of_empty(fn):
    x = np.zeros((0, 3))
    try:
        fn(torch, torch.tensor(x))
    except (RuntimeError, IndexError):
        raises_like(fn, x)
    else:
        run(fn, x, grad=False)


@pytest.mark.parametrize("scale", [0.1, 1.0, 10.0])
@pytest.mark.parametrize("batch", [(), (2,)])
def test_matrix_exp(scale, batch):
    A = r(batch + (3, 3)) * scale
    run(lambda L, a: lib_linalg(L).matrix_exp(a), A, rtol=1e-9, atol=1e-9)
    run(lambda L, a: L.matrix_exp(a.float()), A, rtol=1e-4, atol=1e-4)


def test_matrix_exp_errors_and_empty():
    raises_like(lambda L, a: lib_linalg(L).matrix_exp(a), r((2, 3)))
    raises_like(lambda L, a: lib_linalg(L).matrix_exp(a.long()), r((3, 3)))
    run(lambda L, a: L.matrix_exp(a), np.zeros((0, 0)))


@pytest.mark.parametrize("oshape,odt", [((3, 2), "float64"), ((0,), "float64"), ((5,), "float64"),
                                        ((3, 2), "float32")])
def test_out_argument(oshape, odt):
    def fn(L, a, b):
        out = L.zeros(oshape, dtype=getattr(L, odt))
        r = L.matmul(a, b, out=out)
        assert r is out
        return out
    a, b = r((3, 4)), r((4, 2))
    try:
        fn(torch, torch.tensor(a), torch.tensor(b))
    except RuntimeError:
        raises_like(fn, a, b)
    else:
        run(fn, a, b, grad=False)
    raises_like(lambda L, x, y: L.mm(x.requires_grad_(), y, out=L.empty(3, 2, dtype=L.float64)),
                a, b)
    run(lambda L, x: lib_linalg(L).inv(x, out=L.empty(3, 3, dtype=L.float64)), wc(3, 3),
        grad=False)


def _c(*s):
    return r(s) + 1j * r(s)


@pytest.mark.parametrize("fn,arrs", [
    (lambda L, a, b: a @ b, lambda: [_c(2, 3), _c(3, 2)]),
    (lambda L, a, b: a @ b, lambda: [_c(2, 2, 3), _c(3, 2)]),
    (lambda L, a, b: L.dot(a, b), lambda: [_c(3), _c(3)]),
    (lambda L, a, b: L.vdot(a, b), lambda: [_c(3), _c(3)]),
    (lambda L, i, a, b: L.addmm(i, a, b), lambda: [_c(2, 2), _c(2, 3), _c(3, 2)]),
    (lambda L, a: lib_linalg(L).inv(a), lambda: [_c(3, 3) + 3 * np.eye(3)]),
    (lambda L, a: lib_linalg(L).det(a), lambda: [_c(3, 3) + 3 * np.eye(3)]),
    (lambda L, a, b: lib_linalg(L).solve(a, b), lambda: [_c(3, 3) + 3 * np.eye(3), _c(3, 2)]),
    (lambda L, a, b: L.einsum("ij,jk->ik", a, b), lambda: [_c(2, 3), _c(3, 2)]),
    (lambda L, a: lib_linalg(L).cholesky(a @ a.mT.conj() + 3 * L.eye(3, dtype=a.dtype)),
     lambda: [_c(3, 3)]),
])
def test_complex_gradients(fn, arrs):
    run(lambda L, *ts: fn(L, *ts).abs(), *arrs())


@pytest.mark.parametrize("p", [None, 2, -2, "fro", "nuc", 1, float("inf")])
def test_cond(p):
    # torch 2.13's own backward fails for the norm-based orders (an in-place bug): values only
    run(lambda L, a: lib_linalg(L).cond(a, p), wc(2, 3, 3), grad=p in (None, 2, -2, "nuc"))


def test_vander_tensorinv_tensorsolve():
    run(lambda L, x: lib_linalg(L).vander(x), r(4))
    run(lambda L, x: lib_linalg(L).vander(x, N=3), r((2, 4)))
    run(lambda L, x: lib_linalg(L).vander(x.long()), rng.integers(0, 4, 3), grad=False)
    A = wc(6, 6).reshape(6, 2, 3)
    run(lambda L, a: lib_linalg(L).tensorinv(a, ind=1), A)
    run(lambda L, a, b: lib_linalg(L).tensorsolve(a, b), A, r(6))
    raises_like(lambda L, a: lib_linalg(L).tensorinv(a, ind=2), r((2, 3, 4)))


@pytest.mark.parametrize("name", ["inv_ex", "cholesky_ex", "solve_ex"])
def test_ex_variants(name):
    good = spd(2, 3, 3)
    bad = good.copy()
    bad[1] = -np.eye(3) if name == "cholesky_ex" else np.ones((3, 3))
    args = (lambda L, a: (a, a[..., 0])) if name == "solve_ex" else (lambda L, a: (a,))
    fn = lambda L, a: getattr(lib_linalg(L), name)(*args(L, a))  # noqa: E731
    run(lambda L, a: tuple(fn(L, a)), good)
    assert type(fn(ardor, ardor.tensor(good))).__name__ == type(fn(torch, torch.tensor(good))
                                                              ).__name__
    a_res, t_res = fn(ardor, ardor.tensor(bad)), fn(torch, torch.tensor(bad))
    check(a_res[1], t_res[1])                         # info
    check(a_res[0][0], t_res[0][0])                   # the good matrix's result
    raises_like(lambda L, a: getattr(lib_linalg(L), name)(*args(L, a), check_errors=True), bad)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_eig_eigvals(dt):
    A = r((2, 4, 4)).astype(dt)
    tol = dict(rtol=1e-4, atol=1e-4) if dt == np.float32 else {}
    run(lambda L, a: lib_linalg(L).eigvals(a), A, grad=False, **tol)
    # phase-invariant functions of the eigenvectors; gradients of the eigenvalues
    run(lambda L, a: (lambda w, V: (w.real, w.imag, V.abs()))(*lib_linalg(L).eig(a)), A, **tol)
    run(lambda L, a: lib_linalg(L).eig(a).eigenvalues.abs(), A + 0j, **tol)
    raises_like(lambda L, a: lib_linalg(L).eig(a), r((3, 4)))


@pytest.mark.parametrize("shape", [(4, 4), (2, 4, 4), (3, 5), (2, 5, 3)])
def test_lu_family(shape):
    A = r(shape)
    run(lambda L, a: tuple(lib_linalg(L).lu_factor(a)), A)
    run(lambda L, a: tuple(lib_linalg(L).lu(a)), A)
    run(lambda L, a: tuple(L.lu_unpack(*lib_linalg(L).lu_factor(a))), A)
    run(lambda L, a: tuple(L.lu(a)), A)
    if shape[-1] == shape[-2]:
        B = r(shape[:-1] + (2,))
        run(lambda L, a, b: lib_linalg(L).lu_solve(*lib_linalg(L).lu_factor(a), b), A, B)
        run(lambda L, a, b: L.lu_solve(b, *L.linalg.lu_factor(a)), A, B)
    for fn in (lambda L, a: lib_linalg(L).lu_factor(a), lambda L, a: lib_linalg(L).lu(a)):
        assert type(fn(ardor, ardor.tensor(A))).__name__ == type(fn(torch, torch.tensor(A))
                                                                  ).__name__


def test_lu_errors():
    raises_like(lambda L, a: lib_linalg(L).lu_factor(a), np.ones((3, 3)))
    raises_like(lambda L, a: lib_linalg(L).lu_factor(a.long()), np.ones((3, 3)))
    raises_like(lambda L, a: lib_linalg(L).lu_factor(a), np.ones(3))


def test_lu_factor_ex():
    A = np.stack([wc(3, 3), np.diag([1.0, 0.0, 1.0])])
    run(lambda L, a: tuple(lib_linalg(L).lu_factor_ex(a)), A, grad=False)
    assert type(AL.lu_factor_ex(ardor.tensor(A))).__name__ == "linalg_lu_factor_ex"


def test_matmul_non_tensor_operands():
    for fn in (lambda L, a: a @ [[1.0, 2.0], [3.0, 4.0]], lambda L, a: L.matmul(a, 3),
               lambda L, a: [[1.0, 2.0]] @ a):
        raises_like(fn, r((2, 2)))
