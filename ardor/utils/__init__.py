"""ardor.utils: hooks, data loading and other utilities."""
