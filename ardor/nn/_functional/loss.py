"""nn.functional: loss functions."""
__all__: list = []
