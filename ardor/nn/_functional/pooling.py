"""nn.functional: pooling functions."""
__all__: list = []
