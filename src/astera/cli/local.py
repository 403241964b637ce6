"""Commands that work on local files: replay and keeper runs of a scenario, the demo, running
a node (``serve``) and checking its log (``verify``). Long work shows a Rich progress bar on a
terminal (nothing on a pipe)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .app import DataOpt, DbOpt, app
from .errors import CliError, err_console, guarded, load_json_file, scenario_errors

PANEL = "Scenarios and the node"


def progress_bar() -> Progress:
    """A progress bar on stderr (hidden when stderr is not a terminal)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


class _Tracked(list[Any]):
    """A scenario's action list that advances a progress bar as it is iterated."""

    def __init__(self, items: list[Any], advance: Callable[[], None]) -> None:
        super().__init__(items)
        self._advance = advance

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            yield item
            self._advance()


def _scenario(path: Path) -> dict[str, Any]:
    doc = load_json_file(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("actions"), list):
        raise CliError(f"{path}: not a scenario document (an object with an actions list)")
    return doc


@app.command(rich_help_panel=PANEL)
@guarded
def replay(
    scenario: Annotated[Path, typer.Argument(help="Scenario file to replay against the core.")],
    trace: Annotated[
        Path | None, typer.Option("--trace", help="Write the step-by-step trace to this file.")
    ] = None,
) -> None:
    """Replay a scenario (conformance vector) through the protocol core."""
    from astera.scenario import main_replay

    if not scenario.is_file():
        raise CliError(
            f"{scenario} is a directory, not a file" if scenario.is_dir() else f"no such file: {scenario}"
        )
    with progress_bar() as bar, scenario_errors(scenario):
        task = bar.add_task("replaying", total=None)
        # Streamed from the file (a scenario may be far larger than memory should hold).
        main_replay(scenario, trace, lambda done, total: bar.update(task, completed=done, total=total))


@app.command(rich_help_panel=PANEL)
@guarded
def demo() -> None:
    """Run a short guided demo of the protocol."""
    from astera.demo import run_demo

    run_demo()


@app.command(rich_help_panel=PANEL)
@guarded
def keeper(
    scenario: Annotated[
        Path | None, typer.Argument(help="Scenario file (astera-scenario/1) to run the keeper on.")
    ] = None,
    node: Annotated[
        str | None,
        typer.Option(
            "--node", metavar="URL", help="Liquidate on this live node instead (a third-party keeper)."
        ),
    ] = None,
    key: Annotated[
        str | None, typer.Option("--key", "-k", help="With --node: the key (name or file) to liquidate with.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --node: show what it would send.")] = False,
    data: Annotated[
        Path, typer.Option("--data", help="With --node: the verified copy of the log (SQLite here).")
    ] = Path("astera-keeper-data"),
    db: DbOpt = None,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="With --node: serve /status and /metrics here.")
    ] = 8100,
    liquidator: Annotated[str, typer.Option(help="Account that liquidates (any name).")] = "keeper",
    flash_loan: Annotated[
        bool, typer.Option("--flash-loan/--own-funds", help="Fund repayments with flash loans.")
    ] = False,
    depth_usd: Annotated[
        int, typer.Option(min=1, help="USD depth per side of each model AMM pool.")
    ] = 10_000_000,
    margin_bps: Annotated[int, typer.Option(min=0, help="Required profit over cost, in bps.")] = 50,
    from_snapshot: Annotated[
        bool,
        typer.Option(
            "--from-snapshot",
            help="With --node on a new --data: start from the node's newest proved snapshot.",
        ),
    ] = False,
) -> None:
    """Run the liquidation engine on a scenario, or on a live node as anyone may.

    On a scenario it runs after every price move and warp.
    With --node URL --key KEY it is a third-party keeper: it follows and verifies
    the node's log and sends signed liquidations (--dry-run: shows what it would)."""
    if node is not None:
        _remote_keeper(node, key, dry_run, data, db, port, depth_usd, margin_bps, from_snapshot)
        return
    if scenario is None:
        raise CliError("give a scenario file, or --node URL --key KEY to liquidate on a live node")
    from astera.keeper.scenario import main_keeper_doc

    doc = _scenario(scenario)
    with progress_bar() as bar, scenario_errors(scenario):
        task = bar.add_task("keeper run", total=len(doc["actions"]))
        doc["actions"] = _Tracked(doc["actions"], lambda: bar.advance(task))
        main_keeper_doc(doc, scenario.name, liquidator, flash_loan, depth_usd * 10**8, margin_bps)


def _remote_keeper(
    url: str,
    key: str | None,
    dry_run: bool,
    data: Path,
    db: str | None,
    port: int,
    depth: int,
    margin: int,
    from_snapshot: bool,
) -> None:
    """``astera keeper --node URL``: a follower of the node with the keeper on it."""
    import logging

    from rich.logging import RichHandler

    from astera.keeper.in_node import KeeperConfig
    from astera.keeper.remote import open_keeper, serve_keeper
    from astera.node.follower import LeaderUnreachable, VerificationFailed

    from .node_client import load_key, node_url

    node_url(url)
    if key is None:
        raise CliError("--node needs --key KEY: the account that liquidates (any funded key)")
    signer = load_key(key)
    # What the follower and the keeper log (a silent leader, an abandoned run), wrapped to the
    # terminal beside the keeper's Rich report of its runs.
    handler = RichHandler(console=err_console, show_path=False, markup=False, log_time_format="[%X]")
    logging.basicConfig(level="INFO", format="%(message)s", handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not every long poll
    config = KeeperConfig(margin_bps=margin, depth_usd=depth * 10**8)
    try:
        keeper_node = open_keeper(
            url, signer, data, db, config, dry_run, console=err_console, from_snapshot=from_snapshot
        )
    except LeaderUnreachable as e:
        raise CliError(f"cannot follow {url}: {e}") from None
    except VerificationFailed as e:
        raise CliError(f"the follower stopped, {e}") from None
    err_console.print(  # the address on a line of its own: 64 digits fill most of 80 columns
        f"keeper {signer.address}\nfollowing {url}{' (dry run: sends nothing)' if dry_run else ''}\n"
        f"metrics at http://127.0.0.1:{port}/metrics"
    )
    serve_keeper(keeper_node, "127.0.0.1", port)


@app.command(rich_help_panel=PANEL)
@guarded
def serve(
    data: DataOpt = Path("astera-data"),
    db: DbOpt = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8000,
    genesis: Annotated[
        Path | None, typer.Option("--genesis", help="Genesis file (JSON/TOML) for a new log.")
    ] = None,
    snapshot_every: Annotated[
        int, typer.Option("--snapshot-every", min=0, help="Blocks between snapshots.")
    ] = 1000,
    no_keeper: Annotated[
        bool, typer.Option("--no-keeper", help="Do not run the liquidation keeper.")
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level")] = "info",
    follow: Annotated[
        str | None,
        typer.Option("--follow", metavar="URL", help="Follow this leader: verify and serve its log."),
    ] = None,
    from_snapshot: Annotated[
        bool,
        typer.Option(
            "--from-snapshot",
            help="With --follow on a new store: start from the leader's newest snapshot, proved by "
            "its block's state hash, instead of replaying from genesis.",
        ),
    ] = False,
    faucet_window: Annotated[
        int, typer.Option("--faucet-window", min=1, help="Seconds over which the faucet counts what it gave.")
    ] = 86_400,
    faucet_requests: Annotated[
        int, typer.Option("--faucet-requests", min=0, help="Faucet requests per client (IP) per window.")
    ] = 20,
) -> None:
    """Run a node: the signed transaction log over HTTP (API docs at /docs).

    With --follow URL, a follower: it verifies every block of the leader's log by
    replay, serves the same reads and forwards transactions to the leader."""
    from astera.compose import serve as run
    from astera.node.serve import ServeConfig

    if genesis is not None and not genesis.is_file():
        raise CliError(f"no genesis file {genesis}")
    if follow is not None:
        from .node_client import node_url

        node_url(follow)
    keeper = not no_keeper and follow is None  # a follower's keeper is `astera keeper --node`
    run(
        ServeConfig(
            data,
            db,
            host,
            port,
            genesis,
            snapshot_every,
            keeper,
            log_level,
            follow,
            faucet_window,
            faucet_requests,
            from_snapshot,
        )
    )


@app.command(rich_help_panel=PANEL)
@guarded
def verify(data: DataOpt = Path("astera-data"), db: DbOpt = None) -> None:
    """Replay the whole log from genesis and check every signature and state hash."""
    from astera.node.serve import verify_store
    from astera.node.store import StoreError

    with progress_bar() as bar:
        task = bar.add_task("verifying blocks", total=None)

        def on_block(height: int, head: int) -> None:
            bar.update(task, completed=height, total=head)

        try:
            report = verify_store(data, db, on_block)
        except StoreError as e:
            raise CliError(f"FAILED: {e}") from None
    typer.echo(
        f"ok: {report.height} blocks, {report.transactions} transactions replayed from genesis in "
        f"{report.seconds:.2f}s; state {report.state_hash}"
    )
