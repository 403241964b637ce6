"""``python -m astera.lab ...``: the same commands as ``astera lab ...``."""

from .cli import app

if __name__ == "__main__":
    app(prog_name="python -m astera.lab")
