"""Rich tables for keeper output (the ``astera keeper`` command and the demo).

Amounts are shown in whole tokens, converted from the integers with :class:`decimal.Decimal`
(display only); health factors with four decimals.
"""

from __future__ import annotations

from decimal import Decimal

from rich.table import Table

from astera.core import WAD, Protocol

from .engine import BadDebt
from .executor import Execution

MAX_HF = 2**256 - 1


def tokens(amount: int, decimals: int, places: int = 4) -> str:
    """``amount`` base units as whole tokens, with thousands separators."""
    return f"{Decimal(amount).scaleb(-decimals):,.{places}f}"


def usd(value: int) -> str:
    """A USD value with 8 decimals, to the cent."""
    return f"${Decimal(value).scaleb(-8):,.2f}"


def health(hf: int) -> str:
    return "∞" if hf == MAX_HF else f"{Decimal(hf) / WAD:.4f}"


def reserve_decimals(protocol: Protocol, pool: str | int, name: str) -> int:
    p = protocol.pool(pool)
    return p.reserve((name, True) if pool == "core" else name).decimals


def liquidations_table(protocol: Protocol, executions: list[tuple[str, Execution]], title: str) -> Table:
    """One row per liquidation: when, account, debt repaid, collateral taken, bonus, slippage, HF."""
    table = Table(title=title)
    for name, justify in (
        ("when", "left"),
        ("pool", "left"),
        ("account", "left"),
        ("debt repaid", "right"),
        ("collateral taken", "right"),
        ("bonus", "right"),
        ("sold for", "right"),
        ("slippage", "right"),
        ("HF before", "right"),
        ("HF after", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for when, ex in executions:
        plan = ex.plan
        debt_decimals = reserve_decimals(protocol, plan.pool, plan.debt)
        coll_decimals = reserve_decimals(protocol, plan.pool, plan.collateral)
        table.add_row(
            when,
            str(plan.pool),
            plan.user,
            f"{tokens(ex.debt_repaid, debt_decimals, 2)} {plan.debt}",
            f"{tokens(ex.collateral_taken, coll_decimals)} {plan.collateral}",
            f"{(plan.bonus - 10_000) / 100:.2f}%",
            f"{tokens(ex.proceeds, protocol.decimals[plan.pay_asset], 2)} {plan.pay_asset}",
            f"{plan.slippage_bps / 100:.2f}%",
            health(plan.health_factor),
            health(ex.health_factor_after),
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
    table = Table(title="Bad debt (debt left on accounts without collateral)")
    for name in ("pool", "reserve", "accounts", "debt", "value"):
        table.add_column(name, justify="left" if name in ("pool", "reserve") else "right")
    for (pool, reserve), (accounts, amount, value) in sorted(totals.items(), key=lambda kv: str(kv[0])):
        table.add_row(
            str(pool),
            reserve,
            str(accounts),
            tokens(amount, reserve_decimals(protocol, pool, reserve)),
            usd(value),
        )
    if not totals:
        table.add_row("-", "-", "0", "0", usd(0))
    return table
