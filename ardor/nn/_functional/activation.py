"""nn.functional: activation functions."""
__all__: list = []
