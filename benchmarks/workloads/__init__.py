"""Benchmark workloads, written once against the PyTorch API.

Every workload is a class built as ``Workload(lib, size)`` where ``lib`` is the framework
module (``torch`` or ``ardor``, imported by the caller) and ``size`` is ``"full"`` (the sizes
of issue 8, for timing) or ``"tiny"`` (seconds-fast sizes for the correctness tests). It
offers ``step()`` (one training step, or one inference batch; returns the loss/output tensor),
``loss()`` (the forward pass and loss alone, for gradient comparisons), ``model`` and ``opt``.

Weights and data come from numpy's default_rng, parameter by parameter in registration order,
so both frameworks start from the same numbers and their first-step losses agree.
"""
from __future__ import annotations

from . import micro, models
from ._common import init_params  # noqa: F401 (re-exported)

TRAIN = ("mlp", "cnn", "rnn", "transformer")
WORKLOADS = {
    "mlp": models.MLP,
    "cnn": models.CNN,
    "rnn": models.CharLSTM,
    "transformer": models.GPT,
    "inference": models.CNNInference,
    **micro.MICRO,
}


def get(name: str):
    """The workload class called ``name``."""
    return WORKLOADS[name]
