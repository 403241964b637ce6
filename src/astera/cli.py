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


@app.command()
def keeper(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (astera-scenario/1) to run the keeper on.")],
    liquidator: Annotated[str, typer.Option(help="Account that liquidates (any name).")] = "keeper",
    flash_loan: Annotated[
        bool, typer.Option("--flash-loan/--own-funds", help="Fund repayments with flash loans.")
    ] = False,
    depth_usd: Annotated[int, typer.Option(help="USD depth per side of each model AMM pool.")] = 10_000_000,
    margin_bps: Annotated[int, typer.Option(help="Required profit over cost, in bps.")] = 50,
) -> None:
    """Replay a scenario and run the liquidation engine after every price move and warp."""
    from astera.keeper.scenario import main_keeper

    main_keeper(scenario, liquidator, flash_loan, depth_usd * 10**8, margin_bps)
