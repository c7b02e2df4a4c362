"""ardor.linalg: torch.linalg's functions (norms, inv, det, solve, decompositions).

The ops live in ``ardor/_ops/linalg.py`` (and the vector norm in ``reduction.py``); this
module is the public namespace, mirroring ``torch.linalg``.
"""
from __future__ import annotations

from .._ops.linalg import (  # noqa: F401  (the public names, re-exported)
    LinAlgError, cholesky, cond, cross, lu, lu_factor, lu_factor_ex, lu_solve, det, eig, eigh, eigvals, eigvalsh, inv, tensorinv, tensorsolve,
    vander, linalg_norm as norm, lstsq,
    matmul_ as matmul, matrix_exp, matrix_norm, matrix_power, matrix_rank, pinv, qr, slogdet, solve,
    solve_triangular, svd, svdvals)
from .._ops.reduction import vector_norm  # noqa: F401
from .._ops.reduction import _nt
from .._tensor import Tensor

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eig", "eigh", "eigvals",
           "eigvalsh", "inv", "inv_ex", "lstsq", "lu", "lu_factor", "lu_factor_ex", "lu_solve", "matmul", "matrix_exp", "matrix_norm", "matrix_power",
           "matrix_rank", "multi_dot", "solve_triangular",
           "norm", "pinv", "qr", "slogdet", "solve", "solve_ex", "svd", "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot",
           "vector_norm"]


inv_ex_t = _nt("linalg_inv_ex", "inverse info")
cholesky_ex_t = _nt("linalg_cholesky_ex", "L info")
solve_ex_t = _nt("linalg_solve_ex", "result info")


def _ex(run, A: Tensor, info_of, check_errors: bool, tup, base="", name=""):
    """torch's *_ex: (result, info) where info > 0 marks a failed matrix of the batch.
    With check_errors=False a failure does not raise: that matrix's result is NaN and the
    whole result carries no gradient."""
    import ardor
    import numpy as np
    try:
        return tup(run(), ardor.zeros(tuple(A.shape[:-2]), dtype=ardor.int32))
    except LinAlgError as e:
        if check_errors:
            raise LinAlgError(str(e).replace(base + ":", name + ":", 1)) from None
    a = A.detach().numpy(force=True)
    flat = a.reshape((-1,) + a.shape[-2:])
    info = np.array([info_of(m) for m in flat], dtype=np.int32).reshape(a.shape[:-2])
    good = (info == 0).reshape(-1)
    safe = flat.copy()
    safe[~good] = np.eye(a.shape[-1], dtype=a.dtype)          # placeholder, overwritten
    with ardor.no_grad():
        r = run(ardor.tensor(safe.reshape(a.shape)))
    out = r.numpy().copy()
    out.reshape((-1,) + out.shape[-2:])[~good] = np.nan
    return tup(ardor.tensor(out), ardor.tensor(info))


def inv_ex(A: Tensor, *, check_errors: bool = False, out=None):
    """(inverse, info) of torch.linalg.inv_ex: info is the 1-based index of a zero pivot."""
    from .._ops.linalg import _lu_info
    return _ex(lambda X=A: inv(X), A, _lu_info, check_errors, inv_ex_t, "linalg.inv",
               "linalg.inv_ex")


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False, out=None):
    """(L, info) of torch.linalg.cholesky_ex: info is the order of the failing minor."""
    from .._ops.linalg import _chol_order
    return _ex(lambda X=A: cholesky(X, upper=upper), A, _chol_order, check_errors,
               cholesky_ex_t, "linalg.cholesky", "linalg.cholesky_ex")


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False,
             out=None):
    """(result, info) of torch.linalg.solve_ex."""
    import ardor
    try:
        return solve_ex_t(solve(A, B, left=left),
                          ardor.zeros(tuple(A.shape[:-2]), dtype=ardor.int32))
    except LinAlgError as e:
        if check_errors:
            raise LinAlgError(str(e).replace("linalg.solve:", "linalg.solve_ex:", 1)) from None
    from .._ops.linalg import _lu_info
    r = _ex(lambda X=A: inv(X), A, _lu_info, False, inv_ex_t)   # NaN where singular
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    with ardor.no_grad():
        if not left:
            X = B @ r.inverse
        elif vector:
            X = (r.inverse @ B.unsqueeze(-1)).squeeze(-1)
        else:
            X = r.inverse @ B
    return solve_ex_t(X, r.info)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """Dot product of vectors along ``dim`` (broadcast)."""
    if x.is_complex():
        x = x.conj()
    return (x * y).sum(dim)


def multi_dot(tensors, *, out=None) -> Tensor:
    """Product of a chain of matrices (first/last may be 1-D)."""
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    r = tensors[0]
    for t in tensors[1:]:
        r = r @ t
    return r


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonals of a batch of matrices."""
    import ardor
    return ardor.diagonal(A, offset=offset, dim1=dim1, dim2=dim2)
