"""A third-party keeper: the liquidation engine run against a live node, from outside it.

``astera keeper --node URL --key KEYFILE`` runs a follower of the node
(:mod:`astera.node.follower`): it holds an exact copy of the state, verified block by block
(signatures, nonces, state hashes), in its own store. On that copy it runs the very keeper
the node runs inside itself (:class:`~astera.keeper.in_node.InNodeKeeper`, one engine):
after each block it finds the accounts with HF < 1, plans against its own market
configuration (:class:`~astera.keeper.in_node.KeeperConfig`: model depth, fee, margin)
and sends signed ``liquidate`` transactions, which the follower forwards to the node. It
holds no privilege: its key is any funded account.

Competing keepers: whoever the node orders first wins. A loser's transaction is refused
(the account is healthy again: ``73``; nothing is logged, the nonce is not used); the
keeper counts the refusal by reason, never sends that same transaction again
(``repeat``), and plans afresh on the next block from the state the follower verified.
It does nothing while the follower is catching up (plans on a past state would only be
refused).

What it did is shown once, on the terminal, narrow enough for 80 columns (Rich: a table per
run with something to show, each refusal in the node's plain words, refusals by reason,
running totals; a liquidation the key cannot fund is said once, with what it holds and what
is needed, and not again until that holding changes; the node's log lines of the
same runs are not printed), and in ``/metrics`` (Prometheus) of the follower's own API,
served on ``--port``. ``--dry-run`` sends nothing: each planned transaction is run on the
keeper's working copy only and shown as what it would send; its totals are counted as a dry
run's (``astera_keeper_dry_run_*``), never as liquidations sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.markup import escape

from astera.actions import ACTIONS
from astera.core.errors import ERROR_NAMES, HF_NOT_BELOW_THRESHOLD, INSUFFICIENT_BALANCE
from astera.human import pool_name, tokens, usd
from astera.node.actions import parse_params
from astera.node.follower import FollowerNode, open_follower
from astera.node.sequencer import CommittedBlock, Receipt
from astera.wire import Key

from .engine import KeeperReport
from .in_node import REPEAT, InNodeKeeper, KeeperConfig, NodeSubmitter, attach
from .tables import liquidations_table, reserve_decimals


class RemoteKeeper(InNodeKeeper):
    """The in-node keeper on a follower: idle until the follower has caught up with the node."""

    def on_block(self, block: CommittedBlock) -> None:
        follower = self.node.sequencer
        if block.header.height < getattr(follower, "leader_head", 0):
            self._changed = True  # catching up: look once at the head, whatever came before
            return
        super().on_block(block)


class _RolledBack(Exception):
    """Ends the transaction a dry run ran in."""


class DryRunSubmitter(NodeSubmitter):
    """Sends nothing: each transaction runs on the working copy alone (so the engine goes on as
    if it were logged); the run's report shows it as what would be sent."""

    def _send(self, action: str, params: dict[str, Any]) -> Receipt:
        p = self.protocol
        args = parse_params(action, params)
        events: list[Any] = []
        try:
            with p.transaction():
                events = ACTIONS[action].run(p, self.liquidator, args) or []
                raise _RolledBack
        except _RolledBack:
            pass
        return Receipt("dry-run", -1, 0, "", p.now, "", events)


#: What the totals line calls the refusals a keeper meets (any other: its protocol name).
REFUSAL_NAMES: Final = {
    HF_NOT_BELOW_THRESHOLD: "healthy already",
    INSUFFICIENT_BALANCE: "key short of funds",
    REPEAT: "refused before, not resent",
}


def refusal_name(code: str) -> str:
    """A refusal code in a few plain words, for the totals line (its code stays beside it)."""
    return REFUSAL_NAMES.get(code) or ERROR_NAMES.get(code, code).replace("_", " ").lower()


class Reporter:
    """Prints each run that did or met something, as Rich tables in whole tokens and USD, and
    the keeper's totals so far (its counters, as ``/metrics`` has them): the keeper's one
    report of its runs (it replaces the node's log lines, :meth:`InNodeKeeper.log_report`)."""

    def __init__(self, keeper: InNodeKeeper, console: Console, dry_run: bool) -> None:
        self.keeper = keeper
        self.console = console
        self.dry_run = dry_run

    def __call__(self, report: KeeperReport) -> None:
        p, t = self.keeper.protocol, self.keeper.counters
        if not (report.liquidations or report.failures or report.bad_debt):
            return
        verb = "would liquidate" if self.dry_run else "liquidated"
        rows = [(f"#{i + 1}", ex) for i, ex in enumerate(report.liquidations)]
        if rows:
            when = datetime.fromtimestamp(p.now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            self.console.print(liquidations_table(p, rows, f"{verb} at {when} (block time)"))
        for f in report.failures:
            d = reserve_decimals(p, f.plan.pool, f.plan.debt)
            self.console.print(
                f"[yellow]refused[/] {tokens(f.plan.debt_to_cover, d, f.plan.debt)} of "
                f"{f.plan.user[:8]}'s debt: {escape(f.text)}"
            )
        for (pool, reserve), amount in sorted(report.deficits.items(), key=str):
            written = tokens(amount, reserve_decimals(p, pool, reserve), reserve)
            self.console.print(  # the last collateral went, or there was none (a free write-off)
                f"[cyan]written off[/] {written} of debt in {pool_name(pool)}: no collateral left; "
                "now the reserve's deficit"
            )
        if report.bad_debt:
            self.console.print(
                f"[red]bad debt[/] on {len({(b.pool, b.user) for b in report.bad_debt})} account(s)"
            )
        refusals = ", ".join(f"{refusal_name(r)} ({r}) x{n}" for r, n in sorted(t.refusals.items())) or "none"
        repaid, seized = ("would repay", "seize") if self.dry_run else ("repaid", "seized")
        self.console.print(  # one line, wrapped between figures on a narrow terminal
            f"so far{' (dry run, nothing sent)' if self.dry_run else ''}: {verb} {t.liquidations}, "
            f"{repaid} {usd(t.repaid_usd)}, {seized} {usd(t.seized_usd)}, "
            f"est. profit {usd(t.profit_usd)}; refusals: {refusals}"
        )


def open_keeper(
    url: str,
    key: Key,
    data: Path,
    db: str | None = None,
    config: KeeperConfig | None = None,
    dry_run: bool = False,
    console: Console | None = None,
    **follower_options: Any,
) -> FollowerNode:
    """A follower of ``url`` with a :class:`RemoteKeeper` signing with ``key``; nothing runs yet
    (serve it with :func:`astera.compose.create_app`, whose lifespan starts it)."""
    node = open_follower(url, data, db, keeper_key=key, **follower_options)
    keeper = attach(node, key, config, kind=RemoteKeeper)
    if dry_run:
        keeper.submitter_class = DryRunSubmitter
        keeper.counters.dry_run = True  # counted as what it would send, not as sent
    keeper.on_report = [Reporter(keeper, console or Console(stderr=True), dry_run)]
    return node


def serve_keeper(
    node: FollowerNode, host: str, port: int, on_ready: Callable[[], None] | None = None
) -> None:
    """Run the keeper's follower with its API (``/status``, ``/metrics``) until interrupted."""
    import uvicorn

    from astera.compose import create_app
    from astera.node.serve import NodeServer

    config = uvicorn.Config(
        create_app(node),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    server = NodeServer(config, node)
    follower = node.follower
    follower.on_failure.append(lambda failure: setattr(server, "should_exit", True))
    server.run()
    if follower.failure is not None:
        raise SystemExit(f"astera keeper: the follower stopped, {follower.failure}")
