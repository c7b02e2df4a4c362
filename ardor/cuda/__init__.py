"""ardor.cuda: the CUDA device (through CuPy). Not available yet: tensors live on the CPU."""


def is_available() -> bool:
    """False: ardor has no CUDA backend yet."""
    return False


def device_count() -> int:
    """Number of usable CUDA devices (0)."""
    return 0


def manual_seed(seed: int) -> None:
    """Accepted for compatibility; there is no CUDA generator."""


def manual_seed_all(seed: int) -> None:
    """Accepted for compatibility; there is no CUDA generator."""


def synchronize(device=None) -> None:
    """No-op: there is no CUDA device."""
