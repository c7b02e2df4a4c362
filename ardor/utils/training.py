"""Training checkpoints: model, optimizer, scheduler, progress and every RNG state in one file.

``save_training_state`` writes through ``ardor.save`` (atomic, torch's format, loadable with
``weights_only=True``); ``load_training_state`` restores everything so that a resumed run
continues exactly as the uninterrupted one would (on CPU, resuming at a saved boundary).
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np


def _numpy_rng_state() -> dict:
    from .. import from_numpy
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": name, "keys": from_numpy(keys.astype(np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def _set_numpy_rng_state(s: dict) -> None:
    np.random.set_state((s["name"], s["keys"].numpy().astype(np.uint32), s["pos"],
                         s["has_gauss"], s["cached_gaussian"]))


def rng_states() -> dict:
    """The ardor, numpy and Python ``random`` generator states."""
    import ardor
    return {"ardor": ardor.get_rng_state(), "numpy": _numpy_rng_state(),
            "python": random.getstate()}


def set_rng_states(states: dict) -> None:
    """Restore what ``rng_states`` returned."""
    import ardor
    ardor.set_rng_state(states["ardor"])
    _set_numpy_rng_state(states["numpy"])
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def save_training_state(path, *, model, optimizer=None, scheduler=None, epoch: int = 0,
                        step: int = 0, extra: dict | None = None) -> None:
    """Save model/optimizer/scheduler state, epoch/step, RNG states and ``extra`` to ``path``."""
    import ardor
    state = {"model": model.state_dict(), "epoch": epoch, "step": step, "rng": rng_states(),
             "extra": extra or {}}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    ardor.save(state, path)


def load_training_state(path, *, model, optimizer=None, scheduler=None,
                        restore_rng: bool = True) -> dict[str, Any]:
    """Load a training checkpoint into the given objects; returns epoch, step and extra."""
    import ardor
    state = ardor.load(path, weights_only=True)
    model.load_state_dict(state["model"])
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and "scheduler" in state:
        scheduler.load_state_dict(state["scheduler"])
    if restore_rng:
        set_rng_states(state["rng"])
    return {"epoch": state["epoch"], "step": state["step"], "extra": state.get("extra", {})}
