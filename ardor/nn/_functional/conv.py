"""nn.functional: conv functions."""
__all__: list = []
