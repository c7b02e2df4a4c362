"""Small helpers shared by the op modules: dim normalization and argument parsing."""
from __future__ import annotations

from .._tensor import _wrap_dim as wrap_dim  # noqa: F401  (re-exported)


def dims_arg(dim, ndim: int):
    """Normalize an int / tuple / list / None dim argument to a sorted tuple (None = all)."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        out = tuple(wrap_dim(int(d), ndim) for d in dim)
        if len(set(out)) != len(out):
            raise RuntimeError(f"dim {out[0]} appears multiple times in the list of dims")
        return tuple(sorted(out))
    return (wrap_dim(int(dim), ndim),)


def size_args(args) -> tuple:
    """Accept f(2, 3) and f((2, 3)) / f([2, 3]) / f(Size)."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = args[0]
    return tuple(int(a) for a in args)
