"""``python -m ardor``: the project's main job (a short training demo for now)."""
from .examples_main import main

if __name__ == "__main__":
    main()
