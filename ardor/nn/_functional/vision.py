"""nn.functional: vision functions."""
__all__: list = []
