"""Linear algebra: matmul and friends, einsum, decompositions."""
from __future__ import annotations

from .._tensor import Tensor
from .dispatch import dispatch
from .registry import public, register


@register
class matmul:
    """Matrix product with numpy/torch broadcasting semantics."""
    promote = "binary"
    save = (0, 1)
    onnx = "MatMul"
    node_name = "MmBackward0"

    def forward(xp, a, b):
        return xp.matmul(a, b)

    def backward(ctx, g):
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if a.ndim == 1 and b.ndim == 1:
            return (g * b if na else None, g * a if nb else None)
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = g2.unsqueeze(-2)
        if b.ndim == 1:
            g2 = g2.unsqueeze(-1)
        if na:
            ga = g2 @ b2.mT
            if a.ndim == 1:
                ga = ga.squeeze(-2)
            from .core import sum_to
            ga = sum_to(ga, a.shape)
        if nb:
            gb = a2.mT @ g2
            if b.ndim == 1:
                gb = gb.squeeze(-1)
            from .core import sum_to
            gb = sum_to(gb, b.shape)
        return ga, gb


@public("matmul")
def matmul_(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Matrix product (batched and broadcast like torch.matmul)."""
    if input.ndim == 0 or other.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{input.ndim}D and {other.ndim}D")
    k1 = input.shape[-1]
    k2 = other.shape[-2] if other.ndim > 1 else other.shape[0]
    if k1 != k2:
        if input.ndim == 2 and other.ndim == 2:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x"
                               f"{input.shape[1]} and {other.shape[0]}x{other.shape[1]})")
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{k1}] but got: [{k2}].")
    if input.dtype is not other.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{input.dtype._torch_name.lower()} != "
                           f"{other.dtype._torch_name.lower()}")
    return dispatch(matmul, (input, other))


Tensor.__matmul__ = lambda self, other: matmul_(self, other)
Tensor.__rmatmul__ = lambda self, other: matmul_(other, self)
