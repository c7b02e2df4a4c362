"""Anomaly detection (torch.autograd.detect_anomaly / set_detect_anomaly).

While it is on, the dispatcher stores each new node's forward traceback
(:func:`capture_trace`) and the engine runs every node through
:func:`run_with_anomaly_check`, which warns with that traceback when the node's backward
fails and raises when it returns NaN (unless ``check_nan=False``).
"""
from __future__ import annotations

import os
import traceback
import warnings

from .._state import state

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled"]

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_ENABLED_MSG = ("Anomaly Detection has been enabled. This mode will increase the runtime and "
                "should only be enabled for debugging.")


class detect_anomaly:
    """Context manager that turns anomaly detection on inside its block."""

    def __init__(self, check_nan: bool = True) -> None:
        self.prev = state.anomaly
        self.check_nan = check_nan
        self.prev_check_nan = state.anomaly_check_nan
        warnings.warn(_ENABLED_MSG, stacklevel=2)

    def __enter__(self) -> None:
        state.anomaly = True
        state.anomaly_check_nan = self.check_nan

    def __exit__(self, *args) -> None:
        state.anomaly = self.prev
        state.anomaly_check_nan = self.prev_check_nan


class set_detect_anomaly:
    """Turn anomaly detection on or off at once; as a context manager, restore it on exit."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = state.anomaly
        self.prev_check_nan = state.anomaly_check_nan
        state.anomaly = bool(mode)
        state.anomaly_check_nan = bool(check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *args) -> None:
        state.anomaly = self.prev
        state.anomaly_check_nan = self.prev_check_nan


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on."""
    return state.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection checks backward outputs for NaN."""
    return state.anomaly_check_nan


def capture_trace():
    """The user-code frames of the current stack (ardor's own frames left out)."""
    stack = traceback.extract_stack()[:-1]
    return [f for f in stack if not f.filename.startswith(_PKG_DIR)] or stack


def _warn_trace(node) -> None:
    trace = getattr(node, "_trace", None)
    if not trace:
        return
    text = "".join(traceback.format_list(trace))
    warnings.warn(f"Error detected in {type(node).__name__}. Traceback of forward call that "
                  f"caused the error:\n{text}", stacklevel=3)


def run_with_anomaly_check(node, grads):
    """Run ``node``'s backward; on an error or (with check_nan) a NaN gradient, warn with the
    node's forward traceback, and raise torch's RuntimeError for NaN."""
    try:
        out = node.apply(grads)
    except Exception:
        _warn_trace(node)
        raise
    if state.anomaly_check_nan:
        import numpy as np
        for i, g in enumerate(out):
            if g is None:
                continue
            arr = g._data
            if arr.dtype.kind in "fc" and not np.isfinite(arr).all() and np.isnan(arr).any():
                _warn_trace(node)
                raise RuntimeError(f"Function '{type(node).__name__}' returned nan values in "
                                   f"its {i}th output.")
    return out
