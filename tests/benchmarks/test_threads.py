"""ardor.set_num_threads / get_num_threads beside torch's."""
from __future__ import annotations

import pytest
import torch

import ardor
from ardor import _threads


@pytest.fixture
def restore():
    before = ardor.get_num_threads()
    yield
    ardor.set_num_threads(before)


@pytest.mark.parametrize("n", [1, 2])
def test_set_get_round_trip(restore, n):
    ardor.set_num_threads(n)
    assert ardor.get_num_threads() == n
    blas = _threads._blas_get()
    if blas is not None:  # the BLAS pool follows (threadpoolctl or numpy's OpenBLAS)
        assert blas == n
    from ardor.optim import _foreach
    assert _foreach.num_threads() == n


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "2"])
def test_bad_values_raise_like_torch(restore, bad):
    with pytest.raises(Exception) as et:
        torch.set_num_threads(bad)
    with pytest.raises(type(et.value)) as ea:
        ardor.set_num_threads(bad)
    if isinstance(bad, (int, float)):
        assert str(ea.value) == str(et.value)


def test_published_as_functions_only():
    assert ardor.get_num_threads() >= 1
    assert not hasattr(ardor.Tensor, "set_num_threads")
