"""nn.functional: basic functions."""
__all__: list = []
