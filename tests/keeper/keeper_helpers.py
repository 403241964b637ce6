"""Deployments for the keeper tests: the demo's Core-Pool (USDC, WETH, WBTC) and Mini-Pool 0
(WETH, aUSDC tranche), with liquidity from alice and whatever positions a test opens."""

from __future__ import annotations

from typing import Any

from astera.core import Protocol
from astera.keeper import InProcessSubmitter, KeeperEngine, Market, PlannerConfig
from astera.keeper.demo import demo_scenario
from astera.keeper.scenario import fund, model_market
from astera.replay import build, run_action

USD = 10**8
WETH = 10**18
USDC = 10**6
WBTC = 10**8


def act(op: str, user: str, asset: str, amount: int, pool: str = "core") -> dict[str, Any]:
    a: dict[str, Any] = {"op": op, "pool": pool, "user": user, "asset": asset, "amount": str(amount)}
    if pool == "mini":
        a["mini_pool"] = 0
    return a


LIQUIDITY = [
    act("deposit", "alice", "USDC", 10_000_000 * USDC),
    act("deposit", "alice", "WBTC", 100 * WBTC),
    act("deposit", "alice", "WETH", 1_000 * WETH, pool="mini"),
]


def deploy(*actions: dict[str, Any], **core_params: dict[str, int]) -> Protocol:
    """The demo deployment with alice's liquidity, then ``actions``; ``core_params`` overrides
    Core reserve parameters (e.g. ``WETH={"liquidation_bonus": 10500}``)."""
    doc = demo_scenario()
    for asset, params in core_params.items():
        doc["core_pool"]["reserves"][asset].update(params)
    doc["actions"] = [*LIQUIDITY, *actions]
    p, _ = build(doc)
    for a in doc["actions"]:
        with p.transaction():
            run_action(p, a)
    p.register_user("keeper")
    return p


def engine(
    p: Protocol,
    market: Market | None = None,
    *,
    flash_loan: bool = False,
    funded: bool = True,
    liquidator: str = "keeper",
    **config: int,
) -> KeeperEngine:
    """A keeper over a deep model market ($100M a side) unless a market is given."""
    if funded:
        fund(p, liquidator, 10_000_000 * USD)
    market = market or model_market(p, 100_000_000 * USD)
    submitter = InProcessSubmitter(p, liquidator, market, flash_loan=flash_loan)
    return KeeperEngine(p, market, submitter, PlannerConfig(**config))
