"""Helpers shared by the workloads."""
from __future__ import annotations

import zlib

import numpy as np


def init_params(lib, module, seed: int = 0) -> None:
    """Overwrite every parameter of ``module`` with numbers drawn by numpy (framework-free).

    Matrices and kernels get U(-1/sqrt(fan_in), 1/sqrt(fan_in)), like torch's default init;
    vectors named like norm weights get 1 + U(-0.1, 0.1), other vectors U(-0.1, 0.1)."""
    with lib.no_grad():
        for name, p in module.named_parameters():
            rng = np.random.default_rng(zlib.crc32(name.encode()) + seed)
            shape = tuple(p.shape)
            if len(shape) >= 2:
                bound = 1.0 / np.sqrt(np.prod(shape[1:]))
                arr = rng.uniform(-bound, bound, shape)
            elif "norm" in name or name.startswith("ln") or ".ln" in name:
                arr = 1.0 + rng.uniform(-0.1, 0.1, shape)
            else:
                arr = rng.uniform(-0.1, 0.1, shape)
            p.copy_(lib.from_numpy(arr.astype(np.float32)))
