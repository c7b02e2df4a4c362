"""ardor.random: random number generators (torch.random's API) over numpy's PCG64.

A :class:`Generator` wraps ``np.random.Generator(np.random.PCG64(seed))``. The same seed
gives the same numbers on every run and platform; the streams differ from torch's (which
cannot be reproduced), the distributions do not. ``get_state()`` is a uint8 tensor that
``set_state`` restores exactly.
"""
from __future__ import annotations

import contextlib
import os
import struct

import numpy as np

from ._device import as_device

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "fork_rng"]

_DEFAULT_SEED = 67280421310721  # torch's default_rng_seed_val
_MAGIC = b"ARNG"
_FORMAT = "<4sQ16s16sII"        # magic, initial seed, PCG64 state, inc, has_uint32, uinteger
_STATE_SIZE = struct.calcsize(_FORMAT)


def _seed_value(seed) -> int:
    """torch's seed conversion: int(seed), within [-2**63, 2**64), negatives wrapping."""
    seed = int(seed)
    if not -(1 << 63) <= seed < (1 << 64):
        raise ValueError("Overflow when unpacking long long")
    return seed % (1 << 64)


class Generator:
    """A random number generator (``ardor.Generator(device='cpu')``), as torch.Generator."""

    def __init__(self, device="cpu"):
        dev = as_device(device)
        if dev.type != "cpu":
            from ._backend import array_module_for
            array_module_for(dev)  # a clear error while there is no GPU backend
        self.device = dev
        self.manual_seed(_DEFAULT_SEED)

    def manual_seed(self, seed) -> "Generator":
        """Seed the generator (any int in [-2**63, 2**64)); returns the generator."""
        s = _seed_value(seed)
        self._seed = s
        self._bitgen = np.random.PCG64(s)
        self._rng = np.random.Generator(self._bitgen)
        return self

    def seed(self) -> int:
        """Seed from a non-deterministic source; returns the new seed."""
        s = int.from_bytes(os.urandom(8), "little") & ((1 << 63) - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed last set with ``manual_seed``/``seed``."""
        return self._seed

    def get_state(self):
        """The generator's full state as a uint8 tensor."""
        from ._tensor import _make
        st = self._bitgen.state
        buf = struct.pack(_FORMAT, _MAGIC, self._seed,
                          st["state"]["state"].to_bytes(16, "little"),
                          st["state"]["inc"].to_bytes(16, "little"),
                          int(st["has_uint32"]), int(st["uinteger"]))
        return _make(np.frombuffer(buf, np.uint8).copy())

    def set_state(self, new_state) -> "Generator":
        """Restore a state returned by ``get_state`` (torch's errors for anything else)."""
        from ._tensor import Tensor
        from . import _dtype as D
        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a ardor.ByteTensor, but got {type(new_state).__name__}")
        if new_state.dtype is not D.uint8:
            raise TypeError("RNG state must be a ardor.ByteTensor")
        raw = np.ascontiguousarray(new_state._data).tobytes()
        if len(raw) != _STATE_SIZE:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {_STATE_SIZE} but "
                               f"found the input RNG state size to be {len(raw)}")
        magic, seed, state, inc, has32, uint = struct.unpack(_FORMAT, raw)
        if magic != _MAGIC:
            raise RuntimeError("Invalid RNG state: not a state from ardor's Generator.get_state")
        self._seed = seed
        self._bitgen.state = {"bit_generator": "PCG64",
                              "state": {"state": int.from_bytes(state, "little"),
                                        "inc": int.from_bytes(inc, "little")},
                              "has_uint32": has32, "uinteger": uint}
        return self

    def clone_state(self) -> "Generator":
        """A new generator in the same state."""
        g = Generator(self.device)
        g.set_state(self.get_state())
        return g

    def __repr__(self) -> str:
        return f"<ardor.Generator object at {hex(id(self))}>"


default_generator = Generator()


def manual_seed(seed) -> Generator:
    """Seed the default generator (and the CUDA ones when present); returns it."""
    default_generator.manual_seed(seed)
    from . import cuda
    cuda.manual_seed_all(int(seed))
    return default_generator


def seed() -> int:
    """Seed the default generator non-deterministically; returns the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The initial seed of the default generator."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """Restore the default generator's state."""
    default_generator.set_state(new_state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str = "cuda"):
    """Inside the block the default generator may be used freely; its state is restored
    on exit (``enabled=False`` makes this a no-op)."""
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
