"""Runnable examples; ``python -m ardor.examples.train`` is the project's main job."""
