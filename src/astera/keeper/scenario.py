"""Run the keeper alongside a scenario (``astera keeper SCENARIO.json``).

The scenario is built and replayed as the conformance replayer does it
(:func:`astera.scenario.build`, :func:`astera.scenario.run_action`); after every price move or
warp, and once at the end, the engine runs and liquidates what became unhealthy. Because
the keeper acts, later actions of the scenario may meet a different state than in the
reference trace (a scripted liquidation of an account the keeper already restored fails
with ``73``, for instance); those refusals are counted, not hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from astera.core import Protocol, ProtocolError
from astera.scenario import build, load_json, run_action

from .engine import KeeperEngine, KeeperReport, oracle_prices
from .executor import InProcessSubmitter
from .market import Market, Token
from .planner import PlannerConfig
from .tables import bad_debt_table, liquidations_table

#: Default depth of each model pool: $10M per side.
DEFAULT_DEPTH_USD = 10_000_000 * 10**8
#: Default bankroll of a self-funded liquidator: $10M of every asset.
DEFAULT_BANKROLL_USD = 10_000_000 * 10**8


def model_market(protocol: Protocol, depth_usd: int, fee_bps: int = 30) -> Market:
    """A constant-product pool of ``depth_usd`` per side between every two listed assets that
    the oracle prices now (no pool, so no route, for an asset whose feed is stale)."""
    prices = oracle_prices(protocol)
    tokens = [Token(a, d) for a, d in protocol.decimals.items() if a in prices]
    return Market.constant_product(tokens, prices, depth_usd, fee_bps)


def fund(protocol: Protocol, liquidator: str, bankroll_usd: int) -> None:
    """Give the liquidator ``bankroll_usd`` worth of every asset (faucet), for self-funded runs."""
    for asset, decimals in protocol.decimals.items():
        protocol.mint(liquidator, asset, bankroll_usd * 10**decimals // protocol.price(asset))


@dataclass
class ScenarioRun:
    """A replayed scenario and what the keeper did along it."""

    protocol: Protocol
    reports: list[tuple[str, KeeperReport]] = field(default_factory=list)
    refused_actions: int = 0


def run_scenario(
    doc: dict[str, Any],
    liquidator: str = "keeper",
    *,
    flash_loan: bool = False,
    depth_usd: int = DEFAULT_DEPTH_USD,
    bankroll_usd: int = DEFAULT_BANKROLL_USD,
    margin_bps: int = 50,
) -> ScenarioRun:
    """Replay ``doc`` and run the engine after every price move and warp, and at the end."""
    p, _ = build(doc)
    p.register_user(liquidator)
    if not flash_loan:
        fund(p, liquidator, bankroll_usd)
    market = model_market(p, depth_usd)
    engine = KeeperEngine(
        p,
        market,
        InProcessSubmitter(p, liquidator, market, flash_loan=flash_loan),
        PlannerConfig(margin_bps=margin_bps),
    )
    run = ScenarioRun(p)
    for i, action in enumerate(doc["actions"]):
        try:
            with engine.monitor.tracking():
                run_action(p, action)
        except ProtocolError:
            run.refused_actions += 1
        if action["op"] in ("set_price", "warp"):
            run.reports.append((f"step {i}", engine.run()))
    run.reports.append(("end", engine.run()))
    return run


def main_keeper(path: Path, liquidator: str, flash_loan: bool, depth_usd: int, margin_bps: int) -> None:
    """CLI body of ``astera keeper`` on a scenario file."""
    main_keeper_doc(load_json(path), path.name, liquidator, flash_loan, depth_usd, margin_bps)


def main_keeper_doc(
    doc: dict[str, Any], name: str, liquidator: str, flash_loan: bool, depth_usd: int, margin_bps: int
) -> None:
    """Run the keeper on a loaded scenario and print its liquidations, bad debt and counts."""
    run = run_scenario(doc, liquidator, flash_loan=flash_loan, depth_usd=depth_usd, margin_bps=margin_bps)
    console = Console(highlight=False)
    executions = [(when, ex) for when, report in run.reports for ex in report.liquidations]
    funding = "flash loans" if flash_loan else "own balances"
    console.print(
        liquidations_table(run.protocol, executions, f"{doc.get('name', name)}: liquidations ({funding})")
    )
    final = run.reports[-1][1]
    console.print(bad_debt_table(run.protocol, final.bad_debt))
    failures = sum(len(r.failures) for _, r in run.reports)
    console.print(
        f"{len(executions)} liquidations; {len(final.unprofitable)} accounts left unhealthy but "
        f"unprofitable; {len(final.unpriced)} borrowers without a price (78); {failures} refused "
        f"submissions; {run.refused_actions} scenario actions refused"
    )
