"""Grad-mode switches: no_grad, enable_grad, set_grad_enabled, inference_mode."""
from __future__ import annotations

import functools
import inspect
import sys

from .._state import state


def _decorate(make_ctx, fn):
    """Run ``fn`` inside ``make_ctx()``; for a generator function, inside each step only
    (the caller's mode is back in force between yields), as torch's decorators do."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                with make_ctx():
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with make_ctx():
                            gen.close()
                        raise
                    except BaseException:
                        with make_ctx():
                            response = gen.throw(*sys.exc_info())
                    else:
                        with make_ctx():
                            response = gen.send(request)
            except StopIteration as e:
                return e.value
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with make_ctx():
            return fn(*args, **kwargs)
    return wrapper


class _GradModeContext:
    """Base for context managers that are also usable as decorators."""

    _mode: bool = False

    def __call__(self, fn):
        return _decorate(self.clone, fn)

    def __enter__(self):
        self._prev = state.grad_enabled
        state.grad_enabled = self._mode
        return self

    def __exit__(self, *exc):
        state.grad_enabled = self._prev
        return False

    def clone(self):
        return self.__class__()


class no_grad(_GradModeContext):
    """Disable gradient recording inside the block (or decorated function)."""
    _mode = False


class enable_grad(_GradModeContext):
    """Enable gradient recording inside the block (or decorated function)."""
    _mode = True


class set_grad_enabled(_GradModeContext):
    """Set grad mode on or off; takes effect at once, and as a context manager restores it."""

    def __init__(self, mode: bool):
        self._prev = state.grad_enabled
        self._mode = bool(mode)
        state.grad_enabled = self._mode

    def __enter__(self):
        return self

    def __call__(self, fn):
        state.grad_enabled = self._prev
        mode = self._mode
        return _decorate(lambda: set_grad_enabled(mode), fn)

    def clone(self):
        return set_grad_enabled(self._mode)


class inference_mode(_GradModeContext):
    """Like no_grad (tensors made inside never record history)."""

    def __init__(self, mode: bool = True):
        self._mode = not mode
        self._inf = mode

    def __enter__(self):
        self._prev = state.grad_enabled
        self._prev_inf = state.inference
        state.grad_enabled = self._mode
        state.inference = self._inf
        return self

    def __exit__(self, *exc):
        state.grad_enabled = self._prev
        state.inference = self._prev_inf
        return False

    def __call__(self, fn):
        mode = self._inf
        return _decorate(lambda: inference_mode(mode), fn)

    def clone(self):
        return inference_mode(self._inf)


def is_grad_enabled() -> bool:
    """Whether gradient recording is on."""
    return state.grad_enabled


def is_inference_mode_enabled() -> bool:
    """Whether an inference_mode block is active."""
    return state.inference
