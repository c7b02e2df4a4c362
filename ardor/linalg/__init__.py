"""ardor.linalg: torch.linalg's functions (norms, inv, det, solve, decompositions).

The ops live in ``ardor/_ops/linalg.py`` (and the vector norm in ``reduction.py``); this
module is the public namespace, mirroring ``torch.linalg``.
"""
from __future__ import annotations

from .._ops.linalg import (  # noqa: F401  (the public names, re-exported)
    LinAlgError, cholesky, cond, cross, det, eigh, eigvalsh, inv, tensorinv, tensorsolve,
    vander, linalg_norm as norm, lstsq,
    matmul_ as matmul, matrix_exp, matrix_norm, matrix_power, matrix_rank, pinv, qr, slogdet, solve,
    solve_triangular, svd, svdvals)
from .._ops.reduction import vector_norm  # noqa: F401
from .._tensor import Tensor

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cond", "cross", "det", "diagonal", "eigh",
           "eigvalsh", "inv", "inv_ex", "lstsq", "matmul", "matrix_exp", "matrix_norm", "matrix_power",
           "matrix_rank", "multi_dot", "solve_triangular",
           "norm", "pinv", "qr", "slogdet", "solve", "solve_ex", "svd", "svdvals", "tensorinv", "tensorsolve", "vander", "vecdot",
           "vector_norm"]


def inv_ex(A: Tensor, *, check_errors: bool = False, out=None):
    """(inverse, info): like inv; info is 0 (errors raise, as with check_errors=True)."""
    import ardor
    return inv(A), ardor.zeros(tuple(A.shape[:-2]), dtype=ardor.int32)


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False, out=None):
    """(L, info): like cholesky; info is 0 (errors raise, as with check_errors=True)."""
    import ardor
    return cholesky(A, upper=upper), ardor.zeros(tuple(A.shape[:-2]), dtype=ardor.int32)


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False,
             out=None):
    """(X, info): like solve; info is 0 (errors raise, as with check_errors=True)."""
    import ardor
    return solve(A, B, left=left), ardor.zeros(tuple(A.shape[:-2]), dtype=ardor.int32)


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
