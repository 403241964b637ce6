"""The keeper's section of ``astera demo``: crash a price and watch the liquidations.

Five borrowers, one market crash (WETH −20%), one engine run:

* **bob** is the liquidation document's Example 1 (40 WETH, $80,000 of USDC): liquidated
  50% at a time until his health factor is back above 1;
* **carol** holds WETH (8% bonus) and WBTC (6%): the keeper takes the WETH;
* **dave** borrowed WBTC against WETH, and the WETH/WBTC pool is thin: the keeper shrinks
  the repayment to what the pool absorbs at a profit, then stops;
* **erin** borrowed at the maximum LTV: after the crash her collateral is worth less than
  her debt plus the bonus, so each liquidation makes her worse until no collateral is left,
  and the rest is reported as bad debt;
* **frank** borrows the Mini-Pool's USDC tranche (flow-borrowed from the Core-Pool) against
  WETH in Mini-Pool 0: repaid in tranche shares minted by a Core deposit.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from astera.core import Protocol, account_data
from astera.deployment import tranche_symbol
from astera.scenario import build, run_action

from .engine import KeeperEngine
from .executor import InProcessSubmitter
from .market import ConstantProductPool, Market, Token
from .planner import PlannerConfig
from .scenario import fund
from .tables import bad_debt_table, health, liquidations_table, usd

#: The Mini-Pool's tranche of the Core's USDC, named as the node names it.
TRANCHE = tranche_symbol("USDC")

USD = 10**8
WETH = 10**18


def _reserve(ltv: int, lt: int, bonus: int, strategy: str, **extra: Any) -> dict[str, Any]:
    return {
        "ltv": ltv,
        "liquidation_threshold": lt,
        "liquidation_bonus": bonus,
        "reserve_factor": 1500,
        "rate_strategy": strategy,
        **extra,
    }


def demo_scenario() -> dict[str, Any]:
    """The deployment and positions of the demo, as an ``astera-scenario/1`` document."""

    def act(op: str, user: str, asset: str, amount: int, pool: str = "core") -> dict[str, Any]:
        a = {"op": op, "pool": pool, "user": user, "asset": asset, "amount": str(amount)}
        return a | ({"mini_pool": 0} if pool == "mini" else {})

    return {
        "format": "astera-scenario/1",
        "name": "keeper-demo",
        "start_timestamp": 1_700_000_000,
        "assets": {
            "USDC": {"decimals": 6, "price": str(USD)},
            "WETH": {"decimals": 18, "price": str(2_750 * USD)},
            "WBTC": {"decimals": 8, "price": str(60_000 * USD)},
        },
        "rate_strategies": {
            "stable": {
                "model": "default",
                "optimal_utilization": str(8 * 10**26),
                "base_rate": "0",
                "slope1": str(4 * 10**25),
                "slope2": str(75 * 10**25),
            },
            "volatile": {
                "model": "default",
                "optimal_utilization": str(45 * 10**25),
                "base_rate": "0",
                "slope1": str(7 * 10**25),
                "slope2": str(3 * 10**27),
            },
        },
        "core_pool": {
            "reserves": {
                "USDC": _reserve(8000, 8500, 10500, "stable"),
                "WETH": _reserve(7500, 8000, 10800, "volatile"),
                "WBTC": _reserve(7000, 7500, 10600, "volatile"),
            }
        },
        "mini_pools": [
            {
                "id": 0,
                "reserves": {
                    "WETH": _reserve(7500, 8000, 10800, "volatile"),
                    TRANCHE: _reserve(8000, 8500, 10500, "stable", tranche_of="USDC"),
                },
                "flow_limits": {"USDC": str(1_000_000 * 10**6)},
            }
        ],
        "users": ["alice", "bob", "carol", "dave", "erin", "frank"],
        "actions": [
            act("deposit", "alice", "USDC", 10_000_000 * 10**6),
            act("deposit", "alice", "WBTC", 100 * 10**8),
            act("deposit", "bob", "WETH", 40 * WETH),
            act("borrow", "bob", "USDC", 80_000 * 10**6),
            act("deposit", "carol", "WETH", 30 * WETH),
            act("deposit", "carol", "WBTC", 10**8 // 2),
            act("borrow", "carol", "USDC", 80_000 * 10**6),
            act("deposit", "dave", "WETH", 200 * WETH),
            act("borrow", "dave", "WBTC", 6 * 10**8),
            act("deposit", "erin", "WETH", 10 * WETH),
            act("borrow", "erin", "USDC", 20_600 * 10**6),
            act("deposit", "frank", "WETH", 20 * WETH, pool="mini"),
            act("borrow", "frank", TRANCHE, 36_000 * 10**6, pool="mini"),
        ],
    }


def demo_market(protocol: Protocol) -> Market:
    """Deep USDC pools; a thin WETH/WBTC pool ($300,000 a side)."""
    prices = {a: protocol.price(a) for a in protocol.decimals}
    usdc, weth, wbtc = (Token(a, protocol.decimals[a]) for a in ("USDC", "WETH", "WBTC"))
    market = Market()
    market.add(ConstantProductPool(weth, usdc, 50_000_000 * USD, prices))
    market.add(ConstantProductPool(wbtc, usdc, 50_000_000 * USD, prices))
    market.add(ConstantProductPool(weth, wbtc, 300_000 * USD, prices))
    return market


def positions_table(protocol: Protocol, title: str) -> Table:
    table = Table(title=title)
    for name in ("pool", "account", "collateral", "debt", "HF"):
        table.add_column(name, justify="left" if name in ("pool", "account") else "right")
    for ref in ("core", 0):
        pool = protocol.pool(ref)
        for user in ("bob", "carol", "dave", "erin", "frank"):
            data = account_data(pool, user)
            if data.total_debt_base:
                table.add_row(
                    str(ref),
                    user,
                    usd(data.total_collateral_base),
                    usd(data.total_debt_base),
                    health(data.health_factor),
                )
    return table


def liquidation_demo(console: Console) -> None:
    """Build the demo positions, crash WETH by 20%, run the keeper once, show what it did."""
    doc = demo_scenario()
    p, _ = build(doc)
    for action in doc["actions"]:
        with p.transaction():
            run_action(p, action)
    p.register_user("keeper")
    fund(p, "keeper", 10_000_000 * USD)
    market = demo_market(p)
    engine = KeeperEngine(p, market, InProcessSubmitter(p, "keeper", market), PlannerConfig(margin_bps=50))
    console.print(positions_table(p, "Positions at WETH = $2,750"))
    p.set_price("WETH", 2_200 * USD)
    console.print(positions_table(p, "WETH crashes to $2,200"))
    report = engine.run()
    console.print(
        liquidations_table(
            p,
            [("crash", ex) for ex in report.liquidations],
            "Keeper run: liquidations (own funds, $10M bankroll)",
        )
    )
    for left in report.unprofitable:
        console.print(
            f"left unhealthy, no profitable size: {left.user} in pool {left.pool} "
            f"(HF {health(left.health_factor)})"
        )
    console.print(bad_debt_table(p, report.bad_debt))
    console.print(positions_table(p, "Positions after the keeper run"))
