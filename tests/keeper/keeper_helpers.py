"""Deployments for the keeper tests: the demo's Core-Pool (USDC, WETH, WBTC) and Mini-Pool 0
(WETH, was-USDC tranche), with liquidity from alice and whatever positions a test opens."""

from __future__ import annotations

import random
from typing import Any

from astera.core import DefaultRateStrategy, Protocol, ProtocolError
from astera.keeper import InProcessSubmitter, KeeperEngine, Market, PlannerConfig
from astera.keeper.demo import demo_scenario
from astera.keeper.scenario import fund, model_market
from astera.scenario import build, run_action

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


def charge_fee(p: Protocol, fee_bps: int) -> None:
    """A liquidation protocol fee of ``fee_bps`` of the bonus on every collateral reserve of every pool."""
    for ref, pool in (("core", p.core), *((mp.id, mp) for mp in p.mini_pools)):
        for r in pool.reserves:
            if r.liquidation_threshold:
                p.set_liquidation_protocol_fee("admin", ref, r.asset, fee_bps, r.reserve_type)


def random_book(rng: random.Random, users: int) -> list[dict[str, object]]:
    """Random Core and Mini-Pool positions, most of them borrowing close to the limit."""
    actions: list[dict[str, object]] = []
    for i in range(users):
        u = f"u{i}"
        weth = rng.randint(1, 50) * WETH // 10
        wbtc = rng.randint(1, 20) * WBTC // 100 if rng.random() < 0.35 else 0
        actions += (
            [act("deposit", u, "WETH", weth), act("deposit", u, "WBTC", wbtc)]
            if wbtc
            else [act("deposit", u, "WETH", weth)]
        )
        limit = (weth * 2_750 * 75 // 100 // 10**12) + (wbtc * 60_000 * 70 // 100 // 100)
        actions.append(act("borrow", u, "USDC", limit * rng.randint(50, 99) // 100))
        if rng.random() < 0.4:
            coll = rng.randint(1, 30) * WETH // 10
            actions.append(act("deposit", u, "WETH", coll, pool="mini"))
            actions.append(
                act("borrow", u, "was-USDC", coll * 2_750 * rng.randint(40, 74) // 100 // 10**12, pool="mini")
            )
    return actions


COARSE = {  # symbol: (decimals, price, ltv, liquidation threshold, bonus)
    "GEM": (0, 12_345_678_901, 6_000, 7_000, 11_000),
    "TKN": (2, 333_333_333, 7_000, 7_500, 10_800),
    "STB": (6, 99_990_001, 8_000, 8_500, 10_500),
}


def coarse_book(rng: random.Random, users: int) -> Protocol:
    """A Core-Pool with coarse units (GEM has no decimals: one unit is $123) and odd prices.

    Half a unit of ``rayMul`` rounding is then worth $61, so the per-asset rounding is
    large next to the positions ($1,000 to $50,000, borrowing close to their limit).
    """
    p = Protocol(start_timestamp=1_700_000_000, admin="admin", emergency_admin="emergency_admin")
    strategy = DefaultRateStrategy(8 * 10**26, 2 * 10**25, 4 * 10**25, 75 * 10**25)
    p.register_user("alice")
    for asset, (decimals, price, ltv, lt, bonus) in COARSE.items():
        p.add_asset(asset, decimals=decimals, price=price)
        p.init_core_reserve("admin", asset, strategy)
        p.configure_reserve_as_collateral("admin", "core", asset, ltv, lt, bonus)
        p.set_reserve_flags("admin", "core", asset, borrowing_enabled=True)
        p.set_reserve_factor("admin", "core", asset, 1_000)
        liquidity = 10**6 * 10**decimals * 10**8 // price
        p.mint("alice", asset, liquidity)
        p.deposit("alice", asset, liquidity)
    for i in range(users):
        u = f"c{i}"
        p.register_user(u)
        for asset in rng.sample(sorted(COARSE), rng.randint(1, 2)):
            decimals, price = COARSE[asset][:2]
            amount = rng.randint(1_000, 50_000) * 10**decimals * 10**8 // price  # $1,000 to $50,000
            p.mint(u, asset, amount)
            p.deposit(u, asset, amount)
        for asset in rng.sample(sorted(COARSE), rng.randint(1, 2)):
            decimals, price = COARSE[asset][:2]
            room = p.account(u).available_borrows_base * rng.randint(60, 100) // 100
            amount = room * 10**decimals // price
            if amount:
                try:
                    p.borrow(u, asset, amount)
                except ProtocolError:
                    pass
    return p
