"""Account data and the health factor (spec §5.1–§5.3), with hand-computed values.

Values are USD with 8 decimals ("base units"): $1 = 100,000,000. Collateral value is
``floor(price · balance / 10^decimals)`` per asset, debt value is the ceiling per asset,
``HF = wadDiv(percentMul(collateral, avgLT), debt)``.
"""

from __future__ import annotations

from astera.core import UINT256_MAX, Protocol
from strategies import WETH_PRICE, core_protocol, refused, supply

USD = 10**8
USDC = 10**6
WETH = 10**18


def weth_borrower(weth: int, usdc_debt: int) -> Protocol:
    """bob holds ``weth`` wei of WETH collateral and borrowed ``usdc_debt`` USDC units from alice."""
    p = core_protocol()
    supply(p, "alice", "USDC", 1_000_000 * USDC)
    supply(p, "bob", "WETH", weth)
    if usdc_debt:
        p.borrow("bob", "USDC", usdc_debt)
    return p


def test_health_factor_example() -> None:
    """Spec §5.4: 10 WETH at $3700 (LT 80 %), 25,000 USDC of debt -> HF 1.184."""
    p = weth_borrower(10 * WETH, 25_000 * USDC)
    a = p.account("bob")
    assert a.total_collateral_base == 37_000 * USD
    assert a.total_debt_base == 25_000 * USD
    assert a.current_liquidation_threshold == 8000
    assert a.ltv == 7500
    # 37,000 * 0.80 / 25,000 = 1.184
    assert a.health_factor == 1_184_000_000_000_000_000 == p.health_factor("bob")
    # percentMul(37,000, 75 %) - 25,000 = 2,750
    assert a.available_borrows_base == 2_750 * USD


def test_no_position_and_no_debt() -> None:
    p = core_protocol()
    assert tuple(p.account("carol")) == (0, 0, 0, 0, 0, UINT256_MAX)
    supply(p, "carol", "WETH", 2 * WETH)
    a = p.account("carol")
    assert a.health_factor == UINT256_MAX
    assert (a.total_collateral_base, a.total_debt_base) == (7_400 * USD, 0)
    assert a.available_borrows_base == 5_550 * USD  # 75 % of $7,400


def test_collateral_value_rounds_down() -> None:
    # 0.999999999999999999 WETH at $3,700 = $3,699.99999999999999630 -> 369,999,999,999 base units
    p = weth_borrower(WETH - 1, 0)
    assert p.account("bob").total_collateral_base == 369_999_999_999


def test_debt_value_rounds_up() -> None:
    p = weth_borrower(10 * WETH, 0)
    p.set_price("USDC", 99_999_999)
    p.borrow("bob", "USDC", 1_000_001)
    # 1.000001 USDC at $0.99999999 = 100,000,098.999999 base units -> 100,000,099
    assert p.account("bob").total_debt_base == 100_000_099


def test_rounding_is_per_asset() -> None:
    """Debt is the sum of per-asset ceilings, not the ceiling of the sum (and collateral likewise)."""
    p = weth_borrower(10 * WETH, 0)
    supply(p, "alice", "WBTC", 10**8)
    p.set_price("USDC", 100_000_001)
    p.set_price("WBTC", 6_700_000_000_001)
    p.borrow("bob", "USDC", 1)  # 100.000001 -> 101
    p.borrow("bob", "WBTC", 1)  # 67,000.00000001 -> 67,001
    assert p.account("bob").total_debt_base == 101 + 67_001  # a single ceiling would give 67,101

    q = core_protocol()
    q.set_price("WETH", 370_000_000_001)  # $3,700.00000001
    supply(q, "carol", "WETH", WETH // 2)  # 185,000,000,000.5 -> floor
    supply(q, "carol", "USDC", 1)  # deposits of 1 unit: 100 base units exactly
    q.set_price("USDC", 100_000_050)  # 1 unit = 100.00005 -> floor 100
    assert q.account("carol").total_collateral_base == 185_000_000_000 + 100


def test_weighted_average_threshold_and_ltv() -> None:
    p = weth_borrower(10 * WETH, 25_000 * USDC)
    supply(p, "bob", "USDC", 1_000 * USDC)
    a = p.account("bob")
    assert a.total_collateral_base == 38_000 * USD
    # avgLT = floor((37,000 * 8000 + 1,000 * 8500) / 38,000) = floor(8013.157...) = 8013
    assert a.current_liquidation_threshold == 8013
    # avgLTV = floor((37,000 * 7500 + 1,000 * 8000) / 38,000) = floor(7513.157...) = 7513
    assert a.ltv == 7513
    # percentMul(38,000, 8013) = 30,449.4 -> HF = 30,449.4 / 25,000 = 1.217976
    assert a.health_factor == 1_217_976_000_000_000_000
    assert a.available_borrows_base == 354_940_000_000  # 28,549.4 - 25,000 USD


def test_disabled_collateral_and_zero_threshold_do_not_count() -> None:
    p = weth_borrower(10 * WETH, 25_000 * USDC)
    supply(p, "bob", "USDC", 1_000 * USDC)
    p.set_collateral("bob", "USDC", False)
    assert p.account("bob").total_collateral_base == 37_000 * USD
    assert p.health_factor("bob") == 1_184_000_000_000_000_000
    p.set_collateral("bob", "USDC", True)
    assert p.account("bob").total_collateral_base == 38_000 * USD


def test_ltv_zero_collateral_counts_for_hf_but_dilutes_ltv() -> None:
    p = weth_borrower(10 * WETH, 25_000 * USDC)
    p.configure_reserve_as_collateral("admin", "core", "USDC", 0, 8500, 10500)
    supply(p, "bob", "USDC", 37_000 * USDC)
    a = p.account("bob")
    assert a.total_collateral_base == 74_000 * USD
    assert a.ltv == 3750  # (37,000 * 7500 + 37,000 * 0) / 74,000
    assert a.current_liquidation_threshold == 8250
    # percentMul(74,000, 8250) / 25,000 = 61,050 / 25,000 = 2.442
    assert a.health_factor == 2_442_000_000_000_000_000


def test_health_factor_follows_the_price() -> None:
    p = weth_borrower(10 * WETH, 25_000 * USDC)
    p.set_price("WETH", WETH_PRICE // 2)  # $1,850: 18,500 * 0.8 / 25,000 = 0.592
    assert p.health_factor("bob") == 592_000_000_000_000_000
    p.set_price("USDC", 2 * USD)  # debt now $50,000: 14,800 / 50,000 = 0.296
    assert p.health_factor("bob") == 296_000_000_000_000_000


def test_health_factor_falls_as_interest_accrues() -> None:
    p = weth_borrower(10 * WETH, 25_000 * USDC)
    before = p.health_factor("bob")
    p.advance(365 * 86_400)
    assert p.account("bob").total_debt_base > 25_000 * USD
    assert p.health_factor("bob") < before


# ---- balanceDecreaseAllowed (§5.3) ---------------------------------------------------------------


def test_withdraw_that_breaks_hf_is_refused_with_5() -> None:
    p = weth_borrower(10 * WETH, 25_000 * USDC)
    # HF after withdrawing 2 WETH: 29,600 * 0.8 / 25,000 = 0.9472 < 1
    assert refused(p, p.withdraw, "bob", "WETH", 2 * WETH).code == "5"
    # 0.5 WETH: 35,150 * 0.8 / 25,000 = 1.1248 >= 1: allowed
    p.withdraw("bob", "WETH", WETH // 2)
    assert p.health_factor("bob") == 1_124_800_000_000_000_000


def test_withdrawing_the_only_collateral_in_debt() -> None:
    """collAfter = 0 is a refusal (5); when the decrease, rounded up, exceeds the collateral
    rounded down, the contracts underflow instead: panic 0x11 (vectors/README.md)."""
    exact = weth_borrower(10 * WETH, 1_000 * USDC)
    assert refused(exact, exact.withdraw, "bob", "WETH", 10 * WETH).code == "5"
    assert refused(exact, exact.set_collateral, "bob", "WETH", False).code == "15"

    # 10 WETH + 1 wei is worth 37,000.0000000037 USD: collateral floors to 37,000 USD while the
    # decrease ceils to 37,000 USD + 1 base unit.
    dusty = weth_borrower(10 * WETH + 1, 1_000 * USDC)
    assert refused(dusty, dusty.withdraw, "bob", "WETH", 10 * WETH + 1).code == "panic:0x11"
    assert refused(dusty, dusty.set_collateral, "bob", "WETH", False).code == "panic:0x11"


def test_decrease_of_non_collateral_or_without_debt_is_always_allowed() -> None:
    p = weth_borrower(10 * WETH, 25_000 * USDC)
    supply(p, "bob", "USDC", 5_000 * USDC)
    p.set_collateral("bob", "USDC", False)
    p.withdraw("bob", "USDC", 5_000 * USDC)  # not collateral: no HF check
    assert p.wallet("USDC", "bob") == 30_000 * USDC
    free = weth_borrower(10 * WETH, 0)
    free.withdraw("bob", "WETH", UINT256_MAX)
    assert free.wallet("WETH", "bob") == 10 * WETH
    assert tuple(free.account("bob")) == (0, 0, 0, 0, 0, UINT256_MAX)
