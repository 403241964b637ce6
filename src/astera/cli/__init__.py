"""Command-line interface (``astera``): a package so each part stays small.

``app`` (the Typer application and shared options), ``errors`` (no tracebacks for user
errors), ``node_client`` (keys, URL, amounts, signed sends), ``wallet`` (a user's commands),
``operator`` (role-key commands), ``local`` (replay, keeper, demo, serve, verify),
``tables`` (80-column Rich tables). Command bodies import heavy modules lazily so
``--help`` stays fast.
"""

# Imported for their commands, in the order --help lists their panels.
from . import wallet  # noqa: I001, F401
from . import operator  # noqa: F401
from . import local  # noqa: F401
from .app import app

__all__ = ["app"]

from astera.lab.cli import app as lab_app  # noqa: E402

app.add_typer(lab_app, name="lab")
