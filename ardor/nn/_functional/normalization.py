"""nn.functional: normalization functions."""
__all__: list = []
