"""``python -m ardor``: the project's main job (train a CNN on the bundled digits)."""
from .examples.train import main

if __name__ == "__main__":
    main()
