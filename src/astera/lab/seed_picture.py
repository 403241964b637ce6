"""The seed's picture, with numbers: isolated markets against one Core-Pool (issue 3, item 7).

The product document contrasts, for the same 15M ETH of liquidity,

* the *traditional approach*: three isolated markets of 10M, 2M and 3M ETH, and
* the *Astera approach*: one Core-Pool of 15M ETH whose Mini-Pools 1 and 2 draw 2M and 3M,

and claims "higher utilization, better rates". This module builds each layout on the real
core, puts the **same borrower demand** on both, and reads back every market's utilization
and rates. Three layouts:

``isolated``
    The Core-Pool's WETH reserve holds 10M; Mini-Pools 1 and 2 each list WETH as a unique
    (non-tranche) reserve holding 2M and 3M, with no credit line: three separate markets.
``flow``
    The Core-Pool's WETH reserve holds all 15M; Mini-Pools 1 and 2 list a ``was-WETH`` tranche
    with no depositors of its own and flow limits of 2M and 3M: their borrowers draw from the
    Core by flow borrowing (§7.5).
``deposit``
    The seed's literal wording, "2M Core Pool ETH deposited": 15M ETH is deposited in the Core,
    and the holders of 2M and 3M of it deposit those Core aTokens into the Mini-Pools' tranches.

Borrower demand (identical in every layout, chosen so the isolated markets are unevenly used,
which is where pooling liquidity is supposed to help): 6.0M ETH by borrowers of the Core
market (60% of its 10M), 1.8M by Mini-Pool 1's borrowers (90% of 2M), 0.6M by Mini-Pool 2's
(20% of 3M). Every borrower posts collateral worth twice the loan (USDC in the Core, an exotic
token in each Mini-Pool) and takes the ETH out (tranche borrows unwrap to ETH).

Every WETH market, on both sides, uses the deployment's WETH rate strategy (§13.1/§13.2: PI
controller, U0 70%, kp 1, ki 1.3e-7/s, min controller error -0.3001, reserve factor 20%). All
actions happen in the deployment block, where the controller's integral is still 0, so its
rate is the static curve 0.2·((max(e, -0.3001) + 1)/2)² of the normalised utilization error e.
Mini-Pool borrowers act before the Core's, so the Core's last rate change re-syncs the
tranches (§8.7) and every stored rate reflects the final liquidity.

Borrowers of a tranche owe shares, which appreciate at the Core supply rate; their cost is
their tranche's borrow rate plus that (≈, §7.7). Tranche depositors likewise earn both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from astera.core import RAY, Pool, Reserve
from astera.core.wadray import ray_div, ray_mul
from astera.deployment import tranche_symbol

from .scenario import LiveScenario, default_strategy, reserve_params

ETH = 10**18
USD = 10**8
START = 1_700_000_000
ETH_PRICE = 2_750 * USD
MILLION = 10**6

#: Liquidity of the three isolated markets, in ETH (the seed's numbers).
MARKET_LIQUIDITY = (10 * MILLION, 2 * MILLION, 3 * MILLION)
#: Borrower demand per market, in tenths of an ETH (6.0M, 1.8M, 0.6M): the same in every layout.
DEMAND_TENTHS = (60 * MILLION, 18 * MILLION, 6 * MILLION)
MARKETS = ("Core market", "Mini-Pool 1", "Mini-Pool 2")
#: The Mini-Pools' tranche of the Core's WETH, named as the node names it.
TRANCHE = tranche_symbol("WETH")
LAYOUTS = ("isolated", "flow", "deposit")
LAYOUT_TITLES = {
    "isolated": "3 isolated markets",
    "flow": "Core-Pool + flow",
    "deposit": "Core-Pool + deposits",
}

#: The deployment's WETH strategy (spec §13.1): PI controller, U0 70%.
WETH_PI = {
    "model": "pi",
    "optimal_utilization": str(70 * RAY // 100),
    "kp": str(RAY),
    "ki": str(13 * 10**19),
    "min_controller_error": str(-3001 * RAY // 10_000),
    "max_i_time_amp": 1_728_000,
}


def _weth(tranche: bool = False) -> dict[str, Any]:
    return reserve_params("weth_pi", 7500, 8000, 10800, 2000, tranche_of="WETH" if tranche else None)


def deployment(layout: str) -> dict[str, Any]:
    """The scenario head of one layout."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}")
    exotic = reserve_params("exotic", 6000, 7500, 11000, 2000, borrowing_enabled=False)
    mini_pools = []
    for i in (1, 2):
        weth = {"WETH": _weth()} if layout == "isolated" else {TRANCHE: _weth(tranche=True)}
        mp: dict[str, Any] = {"id": i - 1, "min_debt_threshold": 100, "reserves": {f"EX{i}": exotic, **weth}}
        if layout == "flow":
            mp["flow_limits"] = {"WETH": str(MARKET_LIQUIDITY[i] * ETH)}
        mini_pools.append(mp)
    return {
        "name": f"seed-picture-{layout}",
        "description": f"The seed's two approaches, same liquidity and demand: {LAYOUT_TITLES[layout]}. "
        "Built by astera.lab.seed_picture.",
        "start_timestamp": START,
        "assets": {
            "WETH": {"decimals": 18, "price": str(ETH_PRICE)},
            "USDC": {"decimals": 6, "price": str(USD)},
            "EX1": {"decimals": 18, "price": str(USD)},
            "EX2": {"decimals": 18, "price": str(USD)},
        },
        "rate_strategies": {
            "weth_pi": WETH_PI,
            "stable": default_strategy(80, 0, 4, 75),
            "exotic": default_strategy(45, 0, 7, 300),
        },
        "core_pool": {
            "reserves": {
                "WETH": _weth(),
                "USDC": reserve_params("stable", 8500, 9000, 10800, 2000),
            }
        },
        "mini_pools": mini_pools,
        "users": ["lp_core", "lp_mini1", "lp_mini2", "borrower_core", "borrower_mini1", "borrower_mini2"],
    }


@dataclass(frozen=True)
class MarketRates:
    """One market's numbers after the demand is served (amounts in wei, rates ray per year)."""

    market: str
    deposited: int  # ETH its outside depositors supplied to it
    borrowed: int  # ETH its borrowers took
    utilization: int  # as the rate strategy computes it: debt / (liquidity + debt)
    borrow_rate: int  # the reserve's variable borrow rate
    supply_rate: int  # the reserve's liquidity rate
    borrower_cost: int  # what its borrowers pay per year, in wei of ETH
    depositor_income: int  # what its outside depositors earn per year, in wei of ETH


@dataclass(frozen=True)
class LayoutRates:
    """A layout's markets and totals; the scenario it was built from replays to the same state."""

    layout: str
    markets: tuple[MarketRates, ...]
    scenario: dict[str, Any]

    @property
    def deposited(self) -> int:
        return sum(m.deposited for m in self.markets)

    @property
    def borrowed(self) -> int:
        return sum(m.borrowed for m in self.markets)

    @property
    def borrower_cost(self) -> int:
        return sum(m.borrower_cost for m in self.markets)

    @property
    def depositor_income(self) -> int:
        return sum(m.depositor_income for m in self.markets)

    @property
    def protocol_take(self) -> int:
        """Interest paid by borrowers but not earned by outside depositors: reserve factors,
        and in the flow layout the Mini-Pools' own spread (swept to the Astera treasury)."""
        return self.borrower_cost - self.depositor_income


def _utilization(pool: Pool, r: Reserve) -> int:
    """``debt / (liquidity + debt)``, the rate strategies' utilization (§8)."""
    debt = ray_mul(r.d_scaled_total, r.variable_borrow_index)
    return ray_div(debt, pool.cash(r) + debt) if debt else 0


def build_layout(layout: str) -> LayoutRates:
    """Deploy one layout, supply its liquidity, serve the demand, and read the rates."""
    live = LiveScenario(deployment(layout))
    p = live.protocol
    liquidity = [n * ETH for n in MARKET_LIQUIDITY]
    demand = [t * ETH // 10 for t in DEMAND_TENTHS]
    lenders = ("lp_core", "lp_mini1", "lp_mini2")
    borrowers = ("borrower_core", "borrower_mini1", "borrower_mini2")
    weth_name = "WETH" if layout == "isolated" else TRANCHE

    # Liquidity: 15M ETH in every layout.
    if layout == "isolated":
        live.act(op="deposit", pool="core", user="lp_core", asset="WETH", amount=str(liquidity[0]))
        for i in (1, 2):
            live.act(
                op="deposit",
                pool="mini",
                mini_pool=i - 1,
                user=lenders[i],
                asset="WETH",
                amount=str(liquidity[i]),
            )
    else:
        live.act(op="deposit", pool="core", user="lp_core", asset="WETH", amount=str(sum(liquidity)))
        if layout == "deposit":  # lp_core's Core aTokens worth 2M and 3M go into the tranches
            for i in (1, 2):
                live.act(
                    op="transfer",
                    pool="core",
                    user="lp_core",
                    to=lenders[i],
                    asset="WETH",
                    amount=str(liquidity[i]),
                )
                live.act(
                    op="deposit",
                    pool="mini",
                    mini_pool=i - 1,
                    user=lenders[i],
                    asset=TRANCHE,
                    amount=str(p.core.assets_to_shares(p.core.reserve(("WETH", True)), liquidity[i])),
                )

    # Demand: Mini-Pool borrowers first, so the Core's last rate change re-syncs the tranches.
    core_weth = p.core.reserve(("WETH", True))
    for i in (1, 2):
        collateral = 2 * demand[i] * ETH_PRICE // USD
        live.act(
            op="deposit",
            pool="mini",
            mini_pool=i - 1,
            user=borrowers[i],
            asset=f"EX{i}",
            amount=str(collateral),
        )
        amount = demand[i] if layout == "isolated" else p.core.assets_to_shares(core_weth, demand[i])
        live.act(
            op="borrow",
            pool="mini",
            mini_pool=i - 1,
            user=borrowers[i],
            asset=weth_name,
            amount=str(amount),
            **({} if layout == "isolated" else {"unwrap": True}),
        )
    live.act(
        op="deposit",
        pool="core",
        user="borrower_core",
        asset="USDC",
        amount=str(2 * demand[0] * ETH_PRICE // USD // 10**12),
    )
    live.act(op="borrow", pool="core", user="borrower_core", asset="WETH", amount=str(demand[0]))

    # Who supplied each market: in the flow layout all 15M sits in the Core, the tranches have none.
    deposited = [sum(liquidity), 0, 0] if layout == "flow" else liquidity
    markets = [_market(p.core, core_weth, MARKETS[0], deposited[0], demand[0], None)]
    for i in (1, 2):
        mp = p.mini_pools[i - 1]
        markets.append(
            _market(
                mp,
                mp.reserve(weth_name),
                MARKETS[i],
                deposited[i],
                demand[i],
                None if layout == "isolated" else core_weth,
            )
        )
    return LayoutRates(layout, tuple(markets), live.document())


def _market(
    pool: Pool, r: Reserve, name: str, deposited: int, borrowed: int, core_weth: Reserve | None
) -> MarketRates:
    """Read one market; a tranche's borrowers and depositors also carry the Core supply rate."""
    extra = core_weth.current_liquidity_rate if core_weth is not None else 0
    return MarketRates(
        market=name,
        deposited=deposited,
        borrowed=borrowed,
        utilization=_utilization(pool, r),
        borrow_rate=r.current_variable_borrow_rate,
        supply_rate=r.current_liquidity_rate,
        borrower_cost=ray_mul(borrowed, r.current_variable_borrow_rate + extra),
        depositor_income=ray_mul(deposited, r.current_liquidity_rate + extra),
    )


def seed_picture() -> dict[str, LayoutRates]:
    """Every layout, built on the core with the same liquidity and demand."""
    return {layout: build_layout(layout) for layout in LAYOUTS}


def _pct(numerator: int, denominator: int) -> str:
    return f"{numerator * 100 / denominator:.3f}%"


def findings(picture: dict[str, LayoutRates]) -> list[str]:
    """What the numbers say about the seed's claim ("higher utilization, better rates"), worded
    from the numbers themselves so the text cannot contradict the table."""
    iso, flow, dep = picture["isolated"], picture["flow"], picture["deposit"]
    tranche = flow.markets[1]
    isolated_utilizations = ", ".join(_pct(m.utilization, RAY) for m in iso.markets)
    lines = [
        f"The same {iso.borrowed / ETH / MILLION:.1f}M ETH is lent out of the same "
        f"{iso.deposited / ETH / MILLION:.0f}M ETH in every layout ({_pct(iso.borrowed, iso.deposited)}): "
        "pooling moves no extra demand.",
        f"With flow borrowing the Core-Pool shows {_pct(flow.markets[0].utilization, RAY)} utilization, "
        f"the pooled average, against {isolated_utilizations} in the isolated markets. Each Mini-Pool "
        f"tranche runs at {_pct(tranche.utilization, RAY)}: flow borrowing leaves it no idle liquidity, "
        f"so its borrowers pay the top of its curve, {_pct(tranche.borrow_rate, RAY)} plus the Core "
        "supply rate.",
    ]
    earn = {lay.layout: lay.depositor_income * RAY // lay.deposited for lay in picture.values()}
    pay = {lay.layout: lay.borrower_cost * RAY // lay.borrowed for lay in picture.values()}
    earn_text = ", ".join(f"{_pct(v, RAY)} ({k})" for k, v in earn.items())
    best = max(earn, key=lambda k: earn[k])
    if best == "isolated":
        lines.append(
            f'Depositors earn on average {earn_text}: the seed\'s "better rates" for suppliers does not '
            "hold here. The rate curve is convex, so one pooled utilization earns less than the same demand "
            "spread unevenly; and with flow borrowing the tranches' spread goes to the Mini-Pools' own "
            "self-deposit, swept to the Astera treasury once the flow is repaid (the protocol keeps "
            f"{flow.protocol_take / ETH:,.0f} ETH/yr against {iso.protocol_take / ETH:,.0f} isolated)."
        )
    else:
        lines.append(f"Depositors earn on average {earn_text}: {best} pays suppliers the most.")
    pay_text = ", ".join(f"{_pct(v, RAY)} ({k})" for k, v in pay.items())
    lines.append(f"Borrowers pay on average {pay_text}: cheapest with {min(pay, key=lambda k: pay[k])}.")
    dep2, iso2 = dep.markets[2], iso.markets[2]
    if dep2.depositor_income * iso2.deposited > iso2.depositor_income * dep2.deposited:
        lines.append(
            "Depositing Core aTokens into the tranches (the seed's wording) lets the same ETH earn the Core "
            f"rate and the tranche rate: Mini-Pool 2's depositors earn "
            f"{_pct(dep2.depositor_income, dep2.deposited)} against "
            f"{_pct(iso2.depositor_income, iso2.deposited)} isolated."
        )
    lines.append(
        "These are the rates of the deployment block. The PI controllers then integrate the error: markets "
        "above 70% utilization (the flow tranches at 100%) get dearer every day, those below get cheaper "
        "down to the curve's floor."
    )
    return lines
