"""Rich tables for keeper output (the ``astera keeper`` command and the demo), narrow enough
for 80 columns: whole tokens and USD from :mod:`astera.human`, health factors to two decimals
rounded down.
"""

from __future__ import annotations

from rich import box
from rich.table import Table

from astera.core import Protocol
from astera.human import bps, tokens, usd
from astera.human import health_factor as health

from .engine import BadDebt
from .executor import Execution

__all__ = ["bad_debt_table", "health", "liquidations_table", "reserve_decimals", "usd"]


def reserve_decimals(protocol: Protocol, pool: str | int, name: str) -> int:
    p = protocol.pool(pool)
    return p.reserve((name, True) if pool == "core" else name).decimals


def liquidations_table(protocol: Protocol, executions: list[tuple[str, Execution]], title: str) -> Table:
    """One row per liquidation: when, account, debt repaid, collateral taken, the bonus, slippage
    of the sale, health factor before and after."""
    table = Table(  # fits 80 columns: adjacent cells share one space of padding
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        collapse_padding=True,
        pad_edge=False,
    )
    for name in ("when", "account", "repaid", "seized", "bonus", "slip.", "HF"):
        table.add_column(name, justify="left" if name in ("when", "account") else "right", no_wrap=True)
    for when, ex in executions:
        plan = ex.plan
        debt_decimals = reserve_decimals(protocol, plan.pool, plan.debt)
        coll_decimals = reserve_decimals(protocol, plan.pool, plan.collateral)
        where = "" if plan.pool == "core" else f"mp{plan.pool}:"
        table.add_row(
            when,
            f"{where}{plan.user[:8]}",
            tokens(ex.debt_repaid, debt_decimals, plan.debt),
            tokens(ex.collateral_taken, coll_decimals, plan.collateral),
            "-" if plan.write_off else bps(plan.bonus - 10_000),  # a write-off seizes and sells nothing
            "-" if plan.write_off else bps(plan.slippage_bps),
            f"{health(plan.health_factor)}→{health(ex.health_factor_after)}",
        )
    return table


def bad_debt_table(protocol: Protocol, bad_debt: list[BadDebt]) -> Table:
    """Bad debt summed per pool and reserve."""
    totals: dict[tuple[str | int, str], list[int]] = {}
    for b in bad_debt:
        row = totals.setdefault((b.pool, b.reserve), [0, 0, 0])
        row[0] += 1
        row[1] += b.amount
        row[2] += b.value
    table = Table(
        title="Bad debt (debt left on accounts without collateral)", title_justify="left", box=box.SIMPLE_HEAD
    )
    for name in ("pool", "reserve", "accounts", "debt", "value"):
        table.add_column(name, justify="left" if name in ("pool", "reserve") else "right")
    for (pool, reserve), (accounts, amount, value) in sorted(totals.items(), key=lambda kv: str(kv[0])):
        table.add_row(
            str(pool),
            reserve,
            str(accounts),
            tokens(amount, reserve_decimals(protocol, pool, reserve), rounding="up"),
            usd(value),
        )
    if not totals:
        table.add_row("-", "-", "0", "0", usd(0))
    return table
