"""``astera demo``: a terminal walk-through of Astera Lend on the real core, with its numbers.

Sections, in order (each a function taking a Rich console, so they can be shown alone):

1. the seed's Core-Pool example (liquidation document, Example 1): $110,000 of ETH
   deposited, $80,000 of USDC borrowed, liquidation threshold 80% → health factor exactly 1.1;
2. the reserves' utilization and rates that follow from it;
3. interest accruing on that position over a year;
4. the seed's picture: three isolated markets against one Core-Pool with Mini-Pools;
5. isolation: a Mini-Pool's collateral crashes, and who carries the loss;
6. the keeper liquidating after a crash (when :mod:`astera.keeper.demo` is installed).

Every number is read from :mod:`astera.core` (integers) and printed exactly through
:mod:`astera.human` (whole tokens, dollars, percentages): no float anywhere.
"""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from astera.core import RAY, WAD, Protocol
from astera.core.account import AccountData
from astera.core.wadray import percent_mul, ray_mul
from astera.human import bps, health_factor, percent_ray, price, tokens, usd
from astera.lab.isolation import A_DEPOSITORS, FLOW_LIMIT, isolation_report
from astera.lab.scenario import DAY, LiveScenario, default_strategy, reserve_params
from astera.lab.seed_picture import LAYOUT_TITLES, MARKETS, LayoutRates, findings, seed_picture

USD = 10**8  # prices and account values: USD with 8 decimals
USDC = 10**6
ETH = 10**18


# ---- formatting: exact integers in, whole tokens and plain figures out (astera.human) --------------


def usdc_text(amount: int) -> str:
    """USDC base units as whole tokens (six significant digits, at least cents, rounded down)."""
    return tokens(amount, 6, "USDC")


def rate(value_ray: int) -> str:
    """A rate or a utilization (ray) as a percentage to a thousandth of a percent."""
    return percent_ray(value_ray, places=3)


# ---- 1-3: the seed's Core-Pool example ------------------------------------------------------------


def seed_example() -> LiveScenario:
    """The Core-Pool of the liquidation document's Example 1 (as the public vector deploys it):
    alice supplies 200,000 USDC; bob deposits 40 ETH at $2,750 ($110,000) and borrows 80,000 USDC."""
    live = LiveScenario(
        {
            "name": "seed-example-1",
            "start_timestamp": 1_700_000_000,
            "assets": {
                "USDC": {"decimals": 6, "price": str(USD)},
                "WETH": {"decimals": 18, "price": str(2_750 * USD)},
            },
            "rate_strategies": {
                "stable": default_strategy(80, 0, 4, 75),
                "volatile": default_strategy(45, 0, 7, 300),
            },
            "core_pool": {
                "reserves": {
                    "USDC": reserve_params("stable", 8000, 8500, 10500, 1500),
                    "WETH": reserve_params("volatile", 7500, 8000, 10800, 1500),
                }
            },
            "users": ["alice", "bob"],
        }
    )
    live.act(op="deposit", pool="core", user="alice", asset="USDC", amount=str(200_000 * USDC))
    live.act(op="deposit", pool="core", user="bob", asset="WETH", amount=str(40 * ETH))
    live.act(op="borrow", pool="core", user="bob", asset="USDC", amount=str(80_000 * USDC))
    return live


def account_table(title: str, data: AccountData) -> Table:
    t = Table(title=title, show_header=True, header_style="bold")
    t.add_column("quantity")
    t.add_column("value", justify="right")
    t.add_column("how it is computed")
    ltv_now = data.total_debt_base * 10_000 // data.total_collateral_base if data.total_collateral_base else 0
    t.add_row("collateral", usd(data.total_collateral_base), "40 ETH × $2,750 (oracle price, 8 decimals)")
    t.add_row("debt", usd(data.total_debt_base, "up"), "80,000 USDC × $1, rounded up")
    t.add_row("LTV (debt / collateral)", bps(ltv_now), 'the seed\'s "LTV ~72%"')
    t.add_row("max LTV", bps(data.ltv), "ETH reserve's LTV: the borrowing limit")
    t.add_row("liquidation threshold", bps(data.current_liquidation_threshold), "ETH reserve's threshold")
    t.add_row(
        "health factor",
        health_factor(data.health_factor, places=6),
        "collateral × threshold / debt = 110,000 × 0.8 / 80,000",
    )
    t.add_row("borrowing power left", usd(data.available_borrows_base), "collateral × max LTV − debt")
    return t


def section_core_example(console: Console, live: LiveScenario | None = None) -> None:
    """The seed's Example 1 on the Core-Pool: the position and its health factor."""
    live = live or seed_example()
    p = live.protocol
    console.rule("[bold]1. The seed's Core-Pool example (liquidation document, Example 1)")
    cfg = Table(title="Core-Pool reserves", header_style="bold")
    for col in ("reserve", "price", "LTV", "liq. threshold", "liq. bonus", "reserve factor"):
        cfg.add_column(col, justify="right" if col != "reserve" else "left")
    for r in p.core.reserves:
        cfg.add_row(
            r.asset,
            price(p.core.price(r)),
            bps(r.ltv),
            bps(r.liquidation_threshold),
            bps(r.liquidation_bonus - 10_000),
            bps(r.reserve_factor),
        )
    console.print(cfg)
    data = p.account("bob")
    console.print(account_table("bob: 40 ETH deposited, 80,000 USDC borrowed", data))
    exact = "exactly" if data.health_factor == 11 * WAD // 10 else "NOT"
    console.print(
        f"Health factor {data.health_factor} (wad) = {exact} 1.1. "
        f"It falls below 1 when ETH drops under $2,500 (collateral $100,000).\n"
    )


def reserves_table(p: Protocol, title: str) -> Table:
    t = Table(title=title, header_style="bold")
    for col in ("reserve", "supplied", "borrowed", "available", "util.", "borrow rate", "supply rate"):
        t.add_column(col, justify="right" if col != "reserve" else "left")
    for r in p.core.reserves:
        supplied, borrowed = r.a_total_supply(p.now), r.debt_total_supply(p.now)
        cash = p.core.cash(r)
        util = borrowed * RAY // (cash + borrowed) if borrowed else 0
        t.add_row(
            r.asset,
            tokens(supplied, r.decimals),
            tokens(borrowed, r.decimals),
            tokens(cash, r.decimals),
            rate(util),
            rate(r.current_variable_borrow_rate),
            rate(r.current_liquidity_rate),
        )
    return t


def section_rates(console: Console, live: LiveScenario | None = None) -> None:
    """Utilization and rates of each Core reserve after the example's actions."""
    live = live or seed_example()
    console.rule("[bold]2. Utilization and rates")
    console.print(reserves_table(live.protocol, "Core-Pool reserves after bob's borrow"))
    console.print(
        "USDC: utilization 80,000 / 200,000 = 40%; the two-slope curve (optimum 80%, slope 4%) "
        "gives 40% / 80% × 4% = 2% to borrowers, and suppliers get 2% × 40% × (1 − 15% reserve "
        "factor) = 0.68%.\n"
    )


def section_accrual(console: Console, live: LiveScenario | None = None) -> None:
    """The same position as time passes: debt compounds, deposits grow, the treasury takes its share."""
    live = live or seed_example()
    p = live.protocol
    usdc = p.core.reserve(("USDC", True))
    console.rule("[bold]3. Interest accrual")
    t = Table(title="Nobody acts; the indexes roll forward (views at each date)", header_style="bold")
    for col in ("day", "bob's debt", "alice's deposit", "treasury's cut", "bob's health factor"):
        t.add_column(col, justify="right")
    t.caption = "USDC to the last base unit (0.000001), as the core holds it"
    elapsed = 0
    for day in (0, 30, 90, 180, 365):
        p.advance((day - elapsed) * DAY)
        elapsed = day
        # What update_state would mint to the treasury now: the reserve factor of the accrued interest.
        accrued = usdc.debt_total_supply(p.now) - ray_mul(usdc.d_scaled_total, usdc.variable_borrow_index)
        t.add_row(
            str(day),
            *(
                tokens(units, 6, rounding="exact")
                for units in (
                    usdc.debt_balance("bob", p.now),
                    usdc.a_balance("alice", p.now),
                    percent_mul(accrued, usdc.reserve_factor),
                )
            ),
            health_factor(p.health_factor("bob"), places=6),
        )
    console.print(t)
    console.print(
        "Debt compounds at 2% a year (per second, to the cubic term); deposits grow linearly at "
        "0.68%; the treasury's 15% of the interest is minted to it when the reserve next updates.\n"
    )


# ---- 4: the seed's picture ---------------------------------------------------------------------------


def seed_picture_table(picture: dict[str, LayoutRates]) -> Table:
    t = Table(
        title="Same 15M ETH of liquidity, same borrower demand (6.0M / 1.8M / 0.6M ETH)", header_style="bold"
    )
    t.add_column("market")
    t.add_column("")
    for layout in picture:
        t.add_column(LAYOUT_TITLES[layout], justify="right")
    layouts = list(picture.values())
    for i, name in enumerate(MARKETS):
        ms = [lay.markets[i] for lay in layouts]
        t.add_row(name, "utilization", *(rate(m.utilization) for m in ms))
        t.add_row("", "borrow rate", *(rate(m.borrow_rate) for m in ms))
        t.add_row("", "supply rate", *(rate(m.supply_rate) for m in ms), end_section=True)
    t.add_row(
        "all", "depositors earn", *(rate(lay.depositor_income * RAY // lay.deposited) for lay in layouts)
    )
    t.add_row("", "borrowers pay", *(rate(lay.borrower_cost * RAY // lay.borrowed) for lay in layouts))
    t.add_row("", "kept (ETH/yr)", *(tokens(lay.protocol_take, 18) for lay in layouts))
    return t


def section_seed_picture(console: Console) -> None:
    """The seed's two approaches side by side, on the real core."""
    console.rule("[bold]4. The seed's picture: isolated markets vs one Core-Pool")
    picture = seed_picture()
    console.print(seed_picture_table(picture))
    for line in findings(picture):
        console.print(f"• {line}")
    console.print()


# ---- 5: isolation --------------------------------------------------------------------------------------


def section_isolation(console: Console) -> None:
    """Mini-Pool A's collateral loses 95%; what reaches B, the Core, and A's depositors."""
    console.rule("[bold]5. Isolation: Mini-Pool A's collateral loses 95%")
    report = isolation_report()
    loss = report.loss
    t = Table(title="Who carries A's loss (end of the crash run, day 60)", header_style="bold")
    t.add_column("who")
    t.add_column("USDC", justify="right")
    t.add_column("why")
    rows: list[tuple[str, int, str]] = [
        ("A's bad debt", loss.bad_debt, "borrowers' debt left after the keeper took all their EXA"),
        (
            "A's other tranche depositors",
            loss.other_depositors,
            f"first loss: liquidation proceeds repay the Core first (§7.6); {', '.join(A_DEPOSITORS)} "
            f"got back {usdc_text(loss.other_depositors_vs_calm)} less than in the calm run",
        ),
        (
            "Core-Pool USDC suppliers",
            loss.core_suppliers,
            f"A's flow debt, unrecoverable from A; capped by the flow limit {usdc_text(FLOW_LIMIT)} "
            f"plus interest ({usdc_text(report.crash.claim_bound)})",
        ),
        (
            "A's own spread (self-deposit)",
            loss.mini_pool_spread,
            "what A's self-deposit earned beyond its Core debt",
        ),
        ("A's treasuries", loss.treasuries, "reserve-factor aTokens on the same tranche"),
        ("accrual gap", loss.accrual_gap, "debt compounds, deposits accrue linearly"),
    ]
    for who, amount, why in rows:
        t.add_row(who, tokens(amount, 6), why)
    console.print(t)
    shares = ", ".join(f"{u} {usdc_text(v)}" for u, v in loss.core_supplier_shares.items())
    console.print(
        f"Pro rata over the Core's USDC suppliers that is {shares}: the Core's aTokens stay whole "
        "(balances never fall), but the last suppliers to withdraw would find that much missing."
    )
    b_liq = any(o.b_liquidatable for o in report.crash.observations)
    console.print(
        f"Mini-Pool B: {'some' if b_liq else 'no'} user liquidatable in the crash run; "
        + report.shared_rates.explanation()
        + "\n"
    )


# ---- 6: the keeper ---------------------------------------------------------------------------------------


def section_keeper(console: Console) -> None:
    """The liquidation engine at work, if the keeper package provides its demo."""
    try:
        from astera.keeper.demo import liquidation_demo
    except ImportError:
        console.print("[dim](keeper demo not installed: skipped)[/dim]")
        return
    console.rule("[bold]6. The keeper liquidates after a crash")
    liquidation_demo(console)


def run_demo(console: Console | None = None) -> None:
    """Print every section."""
    console = console or Console()
    console.print(
        Panel(
            "Astera Lend in Python: a Core-Pool of blue-chip liquidity lending to isolated Mini-Pools.\n"
            "Every number below comes from the exact integer core (token base units, wad, ray).",
            title="astera demo",
        )
    )
    live = seed_example()
    section_core_example(console, live)
    section_rates(console, live)
    section_accrual(console, live)
    section_seed_picture(console)
    section_isolation(console)
    section_keeper(console)
