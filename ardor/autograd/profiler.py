"""torch.autograd.profiler compatibility: ``record_function`` labels a region.

ardor has no built-in op profiler; ``record_function`` is accepted (as a context manager or
decorator) so that code annotated for torch's profiler runs unchanged.
"""
from __future__ import annotations

import functools

__all__ = ["record_function"]


class record_function:
    """Label a block of code (a no-op marker outside torch's profiler)."""

    def __init__(self, name: str, args: str | None = None) -> None:
        self.name = name
        self.args = args

    def __enter__(self) -> "record_function":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*a, **k):
            with record_function(self.name, self.args):
                return fn(*a, **k)
        return wrapper
