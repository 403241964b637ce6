"""Command-line interface (``astera``).

Commands import their implementation lazily so the CLI stays importable (and
``--help`` stays fast) even while parts of the package are missing or heavy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from astera import __version__

app = typer.Typer(
    name="astera",
    help="Astera Lend in Python: Core-Pool and Mini-Pools, exact to the wei.",
    no_args_is_help=True,
    add_completion=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"astera {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Astera Lend in Python."""


@app.command()
def replay(
    scenario: Annotated[Path, typer.Argument(help="Scenario file to replay against the core.")],
    trace: Annotated[
        Path | None, typer.Option("--trace", help="Write the step-by-step trace to this file.")
    ] = None,
) -> None:
    """Replay a scenario (conformance vector) through the protocol core."""
    from astera.replay import main_replay

    main_replay(scenario, trace)


@app.command()
def demo() -> None:
    """Run a short guided demo of the protocol."""
    from astera.demo import run_demo

    run_demo()
