"""Shared helpers for the protocol-core tests.

* Deployments built through the public Core API (the way an operator would), with the
  test-harness parameters of spec §13.3: a Core-Pool with USDC, WBTC and WETH, and
  optionally Mini-Pool 0 with a unique reserve ``EXO`` and a tranche ``aUSDC`` of the Core
  USDC reserve that may flow-borrow from the Core.
* :func:`refused`: the atomicity contract of every public operation: a refusal raises a
  :class:`ProtocolError` with a stable code and leaves the canonical state hash unchanged.

The Hypothesis state machines live in ``invariant_machine.py``-free form in the test files
themselves; they build on these deployments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from astera.core import (
    RAY,
    DefaultRateStrategy,
    PIRateStrategy,
    Protocol,
    ProtocolError,
    RateStrategy,
)

T0 = 1_700_000_000
PCT = RAY // 100
ADMIN = "admin"
EMERGENCY = "emergency_admin"
MINI_ADMIN = "mp_admin"
USERS = ("alice", "bob", "carol", "dave")

#: Oracle prices (USD, 8 decimals) of spec §13.3.
USDC_PRICE = 100_000_000
WBTC_PRICE = 67_000 * 10**8
WETH_PRICE = 3_700 * 10**8
EXO_PRICE = 5 * 10**8


def stable_curve() -> DefaultRateStrategy:
    """Common.sol stable curve: U0 0.80, base 0, slope1 4 %, slope2 75 %."""
    return DefaultRateStrategy(80 * PCT, 0, 4 * PCT, 75 * PCT)


def volatile_curve() -> DefaultRateStrategy:
    """Common.sol volatile curve: U0 0.45, base 0, slope1 7 %, slope2 300 %."""
    return DefaultRateStrategy(45 * PCT, 0, 7 * PCT, 300 * PCT)


def pi_controller(u0: int = 70 * PCT, min_ce: int = -3675 * RAY // 10_000) -> PIRateStrategy:
    """Deployment PI controller (spec §13.1): kp 1, ki 13e19 per second, 20 days of integral."""
    return PIRateStrategy(u0, RAY, 13 * 10**19, min_ce, 1_728_000, T0)


def add_core_reserve(
    p: Protocol,
    symbol: str,
    strategy: RateStrategy,
    ltv: int,
    lt: int,
    bonus: int,
    reserve_factor: int = 0,
    deposit_cap: int = 0,
) -> None:
    """Init and configure a borrowable Core reserve (asset already listed)."""
    p.init_core_reserve(ADMIN, symbol, strategy)
    p.configure_reserve_as_collateral(ADMIN, "core", symbol, ltv, lt, bonus)
    p.set_reserve_flags(ADMIN, "core", symbol, borrowing_enabled=True)
    if reserve_factor:
        p.set_reserve_factor(ADMIN, "core", symbol, reserve_factor)
    if deposit_cap:
        p.set_deposit_cap(ADMIN, "core", symbol, deposit_cap)


def core_protocol(users: tuple[str, ...] = USERS, wbtc_strategy: RateStrategy | None = None) -> Protocol:
    """Core-Pool with USDC (6 dec), WBTC (8) and WETH (18); reserve parameters of §13.3."""
    p = Protocol(start_timestamp=T0, admin=ADMIN, emergency_admin=EMERGENCY)
    p.add_asset("USDC", decimals=6, price=USDC_PRICE)
    p.add_asset("WBTC", decimals=8, price=WBTC_PRICE)
    p.add_asset("WETH", decimals=18, price=WETH_PRICE)
    add_core_reserve(p, "USDC", stable_curve(), 8000, 8500, 10500, 1500)
    add_core_reserve(p, "WBTC", wbtc_strategy or pi_controller(), 7500, 8000, 10800, 2000)
    add_core_reserve(p, "WETH", volatile_curve(), 7500, 8000, 10800, 1500)
    for u in users:
        p.register_user(u)
    return p


def mini_protocol(users: tuple[str, ...] = USERS, flow_limit: int = 1_000_000 * 10**6) -> Protocol:
    """:func:`core_protocol` plus Mini-Pool 0: unique ``EXO`` (18 dec) and tranche ``aUSDC``."""
    p = core_protocol(users)
    p.add_asset("EXO", decimals=18, price=EXO_PRICE)
    p.create_mini_pool(ADMIN, pool_admin=MINI_ADMIN)
    p.init_mini_reserve(ADMIN, 0, "EXO", volatile_curve())
    p.init_mini_reserve(ADMIN, 0, "aUSDC", stable_curve(), tranche_of="USDC")
    for name, (ltv, lt, bonus) in {"EXO": (5000, 6500, 11000), "aUSDC": (8000, 8500, 10500)}.items():
        p.configure_reserve_as_collateral(MINI_ADMIN, 0, name, ltv, lt, bonus)
        p.set_reserve_flags(MINI_ADMIN, 0, name, borrowing_enabled=True)
    p.set_reserve_factor(ADMIN, 0, "aUSDC", 1000)
    p.set_flow_limit(ADMIN, "USDC", 0, flow_limit)
    return p


def supply(p: Protocol, user: str, asset: str, amount: int, pool: str | int = "core") -> None:
    """Mint ``amount`` to ``user`` and deposit it (a plain, non-tranche reserve)."""
    p.mint(user, asset, amount)
    p.deposit(user, asset, amount, pool=pool)


def refused(p: Protocol, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> ProtocolError:
    """Call ``fn`` expecting a refusal; assert that the state did not change at all."""
    before = p.state_hash()
    with pytest.raises(ProtocolError) as exc:
        fn(*args, **kwargs)
    assert p.state_hash() == before, f"refused operation ({exc.value.code}) changed the state"
    return exc.value
