"""Throughput of the protocol core on one core: ops/s per action over 10,000 distinct users.

Run: ``.venv/bin/python bench/core_bench.py [--users N]``. Not a test: figures depend on the
machine. Each phase runs the public, validated, atomic API (what a library user calls).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from astera.core import DefaultRateStrategy, Protocol

RAY = 10**27
START = 1_700_000_000


def deployment(users: int) -> Protocol:
    """Core-Pool with USDC/WETH and one Mini-Pool with EXO and an aUSDC tranche."""
    p = Protocol(START)
    stable = DefaultRateStrategy(8 * RAY // 10, 0, 4 * RAY // 100, 75 * RAY // 100)
    volatile = DefaultRateStrategy(45 * RAY // 100, 0, 7 * RAY // 100, 3 * RAY)
    for sym, dec, price in (("USDC", 6, 10**8), ("WETH", 18, 3000 * 10**8), ("EXO", 18, 10 * 10**8)):
        p.add_asset(sym, dec, price)
    for sym, strat, (ltv, lt, bonus) in (
        ("USDC", stable, (8000, 8500, 10500)),
        ("WETH", volatile, (8000, 8250, 10500)),
    ):
        p.init_core_reserve("admin", sym, strat)
        p.configure_reserve_as_collateral("admin", "core", sym, ltv, lt, bonus)
        p.set_reserve_flags("admin", "core", sym, borrowing_enabled=True)
        p.set_reserve_factor("admin", "core", sym, 1500)
    p.create_mini_pool("admin", "mp_admin")
    p.init_mini_reserve("admin", 0, "EXO", volatile)
    p.init_mini_reserve("admin", 0, "aUSDC", stable, tranche_of="USDC")
    p.configure_reserve_as_collateral("mp_admin", 0, "EXO", 5000, 6500, 11000)
    p.configure_reserve_as_collateral("mp_admin", 0, "aUSDC", 8000, 8500, 10500)
    for name in ("EXO", "aUSDC"):
        p.set_reserve_flags("mp_admin", 0, name, borrowing_enabled=True)
    p.set_flow_limit("admin", "USDC", 0, 10**18)
    for i in range(users):
        p.register_user(f"u{i}")
    p.register_user("whale")
    p.mint("whale", "USDC", 10**16)
    p.deposit("whale", "USDC", 10**15)
    return p


def timed(n: int, fn: Callable[[int], object]) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t0)


def run(users: int) -> list[tuple[str, float]]:
    p = deployment(users)
    names = [f"u{i}" for i in range(users)]
    for u in names:
        p.mint(u, "WETH", 10**19)
        p.mint(u, "EXO", 10**22)
        p.mint(u, "USDC", 10**10)
    results = []
    results.append(("core deposit", timed(users, lambda i: p.deposit(names[i], "WETH", 10**18))))
    results.append(("core borrow", timed(users, lambda i: p.borrow(names[i], "USDC", 1000 * 10**6))))
    p.advance(3600)
    results.append(("core repay", timed(users, lambda i: p.repay(names[i], "USDC", 500 * 10**6))))
    results.append(("core withdraw", timed(users, lambda i: p.withdraw(names[i], "WETH", 10**17))))

    def mix(i: int) -> None:
        u = names[i % users]
        k = i % 4
        if k == 0:
            p.deposit(u, "WETH", 10**16)
        elif k == 1:
            p.borrow(u, "USDC", 10 * 10**6)
        elif k == 2:
            p.repay(u, "USDC", 5 * 10**6)
        else:
            p.withdraw(u, "WETH", 10**15)

    results.append(("core mix (dep/bor/rep/wd)", timed(users, mix)))

    def mix_with_blocks(i: int) -> None:
        p.advance(12)  # a new block before every operation: indexes accrue every time
        mix(i)

    results.append(("core mix, 12 s block per op", timed(users, mix_with_blocks)))
    results.append(("mini deposit (EXO)", timed(users, lambda i: p.deposit(names[i], "EXO", 10**21, pool=0))))
    # Every aUSDC borrow here exceeds the tranche's liquidity, so each one flow-borrows from the Core.
    results.append(
        ("mini flow borrow (aUSDC)", timed(users, lambda i: p.borrow(names[i], "aUSDC", 100 * 10**6, pool=0)))
    )
    results.append(
        (
            "mini repay (aUSDC, repays Core)",
            timed(users, lambda i: p.repay(names[i], "aUSDC", 50 * 10**6, pool=0)),
        )
    )
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", type=int, default=10_000)
    args = ap.parse_args()
    table = Table(title=f"astera.core throughput, {args.users:,} distinct users, one core")
    table.add_column("operation")
    table.add_column("ops/s", justify="right")
    for name, rate in run(args.users):
        table.add_row(name, f"{rate:,.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
