"""Shared test fixtures: torch 2.13.0 is the reference oracle."""
import numpy as np
import pytest

import ardor


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Each test starts with grad mode on and the default dtype float32."""
    yield
    ardor.set_default_dtype(ardor.float32)
    from ardor._state import state
    state.grad_enabled = True
    state.anomaly = False
