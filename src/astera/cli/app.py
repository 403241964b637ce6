"""The ``astera`` Typer application and the options its commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from astera import __version__, help_screens  # noqa: F401 - no type after a flag in --help

app = typer.Typer(
    name="astera",
    help="Astera Lend in Python: Core-Pool and Mini-Pools, exact to the wei.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
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


DEFAULT_NODE = "http://127.0.0.1:8000"
NodeUrl = Annotated[str, typer.Option("--node", envvar="ASTERA_NODE", help="The node's URL.")]
KeyName = Annotated[
    str, typer.Option("--key", "-k", envvar="ASTERA_KEY", help="Key name (~/.astera/keys) or key file.")
]
PoolOpt = Annotated[str, typer.Option("--pool", "-p", help='"core" or a Mini-Pool id.')]
RawOpt = Annotated[bool, typer.Option("--raw", help="Amounts in base units, not whole tokens.")]
WhatIfOpt = Annotated[
    bool,
    typer.Option(
        "--what-if",
        help="Send nothing: show what it would do (health factor, borrowing power, positions now → after) "
        "or why it would be refused.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="The node's JSON (exact base units).")]
DataOpt = Annotated[Path, typer.Option("--data", help="Data directory (SQLite log, genesis, role keys).")]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="ASTERA_DB",
        metavar="URL",
        help="A PostgreSQL database (postgresql://…) instead of SQLite in --data.",
    ),
]
