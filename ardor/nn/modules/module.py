"""nn.Module (filled in by the nn Module-system work)."""


class Module:
    """Base class for all neural network modules."""
