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


# ---- the node ------------------------------------------------------------------------------------

NodeUrl = Annotated[str, typer.Option("--node", envvar="ASTERA_NODE", help="The node's URL.")]
KeyName = Annotated[str, typer.Option("--key", "-k", envvar="ASTERA_KEY", help="Key name or key file.")]
PoolOpt = Annotated[str, typer.Option("--pool", "-p", help='"core" or a Mini-Pool id.')]
RawOpt = Annotated[bool, typer.Option("--raw", help="The amount is in base units, not whole tokens.")]
DataOpt = Annotated[Path, typer.Option("--data", help="Data directory (SQLite log, genesis, role keys).")]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="ASTERA_DB", help="postgresql://user@host:port/db (default: SQLite in --data)."
    ),
]
DEFAULT_NODE = "http://127.0.0.1:8000"


@app.command()
def serve(
    data: DataOpt = Path("astera-data"),
    db: DbOpt = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    genesis: Annotated[
        Path | None, typer.Option("--genesis", help="Genesis file (JSON/TOML) for a new log.")
    ] = None,
    snapshot_every: Annotated[int, typer.Option("--snapshot-every", help="Blocks between snapshots.")] = 1000,
    no_keeper: Annotated[
        bool, typer.Option("--no-keeper", help="Do not run the liquidation keeper.")
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
) -> None:
    """Run a node: the signed transaction log over HTTP (API docs at /docs)."""
    from astera.node.serve import ServeConfig
    from astera.node.serve import serve as run

    run(ServeConfig(data, db, host, port, genesis, snapshot_every, not no_keeper, log_level))


@app.command()
def verify(data: DataOpt = Path("astera-data"), db: DbOpt = None) -> None:
    """Replay the whole log from genesis and check every signature and state hash."""
    from astera.node.serve import verify_store
    from astera.node.store import StoreError

    try:
        report = verify_store(data, db)
    except StoreError as e:
        typer.echo(f"FAILED: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"ok: {report.height} blocks, {report.transactions} transactions replayed from genesis in "
        f"{report.seconds:.2f}s; state {report.state_hash}"
    )


key_app = typer.Typer(help="Account keys (Ed25519).", no_args_is_help=True)
app.add_typer(key_app, name="key")


@key_app.command("new")
def key_new(
    name: Annotated[str, typer.Argument(help="Key name (or path to a .key file).")] = "default",
) -> None:
    """Create a key; prints its address."""
    from astera.node.commands import key_path, new_key, run

    def body() -> None:
        typer.echo(f"{new_key(name).address}  ({key_path(name)})")

    raise typer.Exit(run(body))


@key_app.command("show")
def key_show(name: Annotated[str, typer.Argument()] = "default") -> None:
    """Print a key's address."""
    from astera.node.commands import load_key, run

    raise typer.Exit(run(lambda: typer.echo(load_key(name).address)))


def _register_node_action(action: str, help_text: str) -> None:
    """One CLI command per pool action: sign it with a local key and send it to a node."""

    def command(
        asset: str,
        amount: str,
        pool: PoolOpt = "core",
        node: NodeUrl = DEFAULT_NODE,
        key: KeyName = "default",
        raw: RawOpt = False,
    ) -> None:
        from astera.node.commands import act, run

        raise typer.Exit(run(act, node, key, action, asset, amount, pool, raw))

    command.__doc__ = help_text
    app.command(name=action)(command)


for _action, _help in (
    ("deposit", "Supply tokens to a pool (amount in whole tokens, e.g. 1.5)."),
    ("withdraw", 'Withdraw supplied tokens ("max" for everything).'),
    ("borrow", "Borrow against your collateral (variable rate)."),
    ("repay", 'Repay debt ("max" repays all of it in the Core-Pool).'),
):
    _register_node_action(_action, _help)


@app.command()
def faucet(
    asset: str, amount: str, node: NodeUrl = DEFAULT_NODE, key: KeyName = "default", raw: RawOpt = False
) -> None:
    """Get test funds from the node's faucet."""
    from astera.node.commands import faucet as body
    from astera.node.commands import run

    raise typer.Exit(run(body, node, key, asset, amount, raw))


@app.command()
def account(
    who: Annotated[str, typer.Argument(help="Address, or key name.")] = "default",
    node: NodeUrl = DEFAULT_NODE,
) -> None:
    """Show wallet, positions, health factor and borrowing power."""
    from astera.node.commands import run, show_account

    raise typer.Exit(run(show_account, node, who))
