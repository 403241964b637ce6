"""Configurator rules where the two pools' contracts differ (vectors FORMAT §3.2).

Deactivating a reserve, or setting its liquidation threshold to 0, needs "no liquidity"
(``24``): on the Core-Pool no cash in the aToken and no liquidity rate; on a Mini-Pool no
aToken or debt-token shares and no liquidity rate. A Mini-Pool flash loan refuses a tranche
reserve (``20``) before the frozen, inactive and flash-disabled checks.
"""

from __future__ import annotations

from collections.abc import Sequence

from strategies import ADMIN, MINI_ADMIN, mini_protocol, refused, supply

WETH = 10**18


def test_core_deactivation_looks_at_cash_and_the_liquidity_rate() -> None:
    p = mini_protocol()
    supply(p, "alice", "WETH", WETH)
    assert refused(p, p.set_reserve_flags, ADMIN, "core", "WETH", active=False).code == "24"
    assert refused(p, p.configure_reserve_as_collateral, ADMIN, "core", "WETH", 0, 0, 0).code == "24"
    p.withdraw("alice", "WETH", WETH)
    r = p.core.reserve(("WETH", True))
    assert r.cash == 0 and r.current_liquidity_rate == 0
    p.configure_reserve_as_collateral(ADMIN, "core", "WETH", 0, 0, 0)
    p.set_reserve_flags(ADMIN, "core", "WETH", active=False)
    assert not r.active


def test_mini_pool_deactivation_looks_at_shares_and_the_liquidity_rate() -> None:
    p = mini_protocol()
    supply(p, "carol", "EXO", WETH, pool=0)
    r = p.mini_pool(0).reserve("EXO")
    assert refused(p, p.set_reserve_flags, MINI_ADMIN, 0, "EXO", active=False).code == "24"
    p.withdraw("carol", "EXO", WETH, pool=0)
    assert r.a_scaled_total == 0 and r.d_scaled_total == 0
    p.set_reserve_flags(MINI_ADMIN, 0, "EXO", active=False)
    assert not r.active


def _receiver(assets: Sequence[str], amounts: Sequence[int], premiums: Sequence[int], who: str) -> bool:
    return True


def test_mini_pool_flash_loan_refuses_a_tranche_before_the_reserve_state_checks() -> None:
    p = mini_protocol()
    p.set_reserve_flags(MINI_ADMIN, 0, "aUSDC", frozen=True)
    err = refused(p, p.flash_loan, "dave", "dave", _receiver, ["aUSDC"], [1], [0], pool=0)
    assert err.code == "20"
    p.set_reserve_flags(MINI_ADMIN, 0, "EXO", frozen=True, flash_loan_enabled=False)
    assert refused(p, p.flash_loan, "dave", "dave", _receiver, ["EXO"], [1], [0], pool=0).code == "3"
