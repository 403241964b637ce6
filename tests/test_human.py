"""Plain words: exact amount parsing, formatting, and refusal explanations whose maxima are
accepted by the core while one base unit more is refused."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from astera.actions import ACTIONS
from astera.core import UINT256_MAX, Protocol, ProtocolError
from astera.human import (
    AmountError,
    Explanation,
    borrow_apy,
    dry_run,
    duration,
    explain,
    health_factor,
    liquidation_price,
    parse_amount,
    parse_amount_or_max,
    percent_ray,
    price,
    time_unit,
    tokens,
    usd,
    usd_short,
)
from astera.node.genesis import build, default_genesis
from astera.wire import Key

USDC, WETH = 10**6, 10**18


# ---- amounts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("1.5", 18, 15 * 10**17),
        ("12,750", 6, 12_750 * USDC),
        ("1,234,567.000001", 6, 1_234_567_000_001),
        (".5", 6, 500_000),
        ("0.10", 1, 1),
        (" 7 ", 0, 7),
        ("0", 6, 0),
    ],
)
def test_parse_amount_is_exact(text: str, decimals: int, units: int) -> None:
    assert parse_amount(text, decimals) == units


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1e3", "amount:exponent"),
        ("1E-2", "amount:exponent"),
        ("-1", "amount:negative"),
        ("0.0000001", "amount:too_many_decimals"),
        ("1,5", "amount:not_a_number"),
        ("nan", "amount:not_a_number"),
        ("inf", "amount:not_a_number"),
        ("0x10", "amount:not_a_number"),
        ("1.2.3", "amount:not_a_number"),
        (".", "amount:not_a_number"),
        ("", "amount:empty"),
        ("1" * 80, "amount:too_large"),
    ],
)
def test_parse_amount_refuses_with_the_reason(text: str, code: str) -> None:
    with pytest.raises(AmountError) as e:
        parse_amount(text, 6, "USDC")
    assert e.value.code == code
    assert str(e.value)


def test_too_many_decimals_names_the_smallest_step() -> None:
    with pytest.raises(AmountError, match=r"has 7 decimals; the asset has 6 \(smallest step 0.000001 USDC\)"):
        parse_amount("0.0000001", 6, "USDC")
    assert parse_amount_or_max("MAX", 6) == "max"


def test_formatting_rounds_on_the_safe_side() -> None:
    assert tokens(12_750 * USDC, 6, "USDC") == "12,750 USDC"
    assert tokens(3_414_159_265_358_979_323, 18, "WETH") == "3.41415 WETH"
    assert tokens(3_414_159_265_358_979_323, 18, "WETH", "up") == "3.41416 WETH"
    assert tokens(1_265, 6, "USDC", "up") == "0.001265 USDC"
    assert tokens(10**18 + 1, 18, "WETH", "exact") == "1.000000000000000001 WETH"
    assert tokens(0, 6) == "0"
    assert usd(133_333_333_334_00, "up") == "$133,334"
    assert usd(1_700_000_000_000) == "$17,000"
    assert usd(12_34567890) == "$12.34"
    assert price(3_700 * 10**8) == "$3,700.00" and price(99_000_000) == "$0.99"
    assert health_factor(93 * 10**16 + 999) == "0.93"
    assert health_factor(999_999_999_999_999_999) == "0.99"
    assert health_factor(UINT256_MAX) == "∞"
    assert health_factor(1_000 * 10**18) == "1,000.00" and health_factor(1_000 * 10**18 + 1) == "above 1,000"
    assert percent_ray(4 * 10**25) == "4.00%"
    assert percent_ray(68 * 10**23, places=3) == "0.680%"
    assert health_factor(11 * 10**17, places=6) == "1.100000"


@pytest.mark.parametrize(
    ("dollars_e8", "text"),
    [
        (0, "$0.00"),
        (46_404_000_000, "$464.04"),
        (99_999_999_999_999, "$999,999"),
        (100_000_000_000_000, "$1.00M"),
        (123_456_789 * 10**8, "$123M"),
        (1_239_999 * 10**8, "$1.23M"),  # cut toward zero, never rounded up
        (456_789 * 10**14, "$456B"),
        (-1_239_999 * 10**8, "-$1.23M"),
        (12_345 * 10**20, "$12345T"),
    ],
)
def test_usd_short_fits_eight_characters(dollars_e8: int, text: str) -> None:
    assert usd_short(dollars_e8) == text


def test_borrow_apy_compounds_per_second() -> None:
    # 10 % a year compounded every second is e^0.1 - 1 = 10.517 %.
    apy = borrow_apy(10**26)
    assert 105_170_900 * 10**18 < apy < 105_171_000 * 10**18


# ---- refusals ------------------------------------------------------------------------------------


def addr(name: str) -> str:
    return Key.from_seed(hashlib.sha256(f"human:{name}".encode()).digest()).address


ALICE, BOB = addr("alice"), addr("bob")


@pytest.fixture
def p() -> Protocol:
    roles = {r: addr(r) for r in ("admin", "emergency_admin", "oracle", "faucet")}
    doc = default_genesis(roles, addr("pool_admin"), 1_750_000_000)
    for who in (ALICE, BOB):
        doc["balances"][who] = {"WETH": str(100 * WETH), "USDC": str(1_000_000 * USDC)}
    return build(doc).protocol


def act(p: Protocol, sender: str, action: str, **args: Any) -> Any:
    return ACTIONS[action].run(p, sender, {"pool": "core", **args})


def refused(p: Protocol, sender: str, action: str, **args: Any) -> Explanation:
    """Run the action, expect a refusal, explain it on the unchanged state."""
    args = {"pool": "core", **args}
    before = p.state_hash()
    with pytest.raises(ProtocolError) as e:
        act(p, sender, action, **args)
    why = explain(p, sender, action, args, e.value, lambda a: ACTIONS[action].run(p, sender, a))
    assert p.state_hash() == before, "explaining changed the state"
    assert why.message.endswith(f"{e.value.name})") and e.value.code.split(":")[-1] in why.message
    return why


def accepted(p: Protocol, sender: str, action: str, **args: Any) -> bool:
    return dry_run(p, lambda: act(p, sender, action, **args)) is None


def assert_exact_max(p: Protocol, sender: str, action: str, why: Explanation, **args: Any) -> int:
    best = why.max_amount
    assert best is not None and best > 0
    field = "debt_to_cover" if action == "liquidate" else "amount"
    assert accepted(p, sender, action, **{**args, field: best})
    assert not accepted(p, sender, action, **{**args, field: best + 1})
    return best


def test_borrow_beyond_ltv_says_what_collateral_it_needs_and_the_exact_max(p: Protocol) -> None:
    act(p, ALICE, "deposit", asset="WETH", amount=10 * WETH)  # $37,000 at 75 %: $27,750
    why = refused(p, ALICE, "borrow", asset="USDC", amount=100_000 * USDC)
    assert why.code == "9"
    # (0 + $100,000) / 75 % = $133,333.34 (rounded up): "$133,334".
    assert why.text.startswith("borrowing 100,000 USDC needs $133,334 of collateral at your LTV of 75%")
    assert "you have $37,000" in why.text and "the most you can borrow now is 27,749.99 USDC" in why.text
    best = assert_exact_max(p, ALICE, "borrow", why, asset="USDC")
    assert best == 27_749_999_999  # $27,750 itself is refused: the check is "needed >= collateral"
    # Just over the most: both figures exact, where rounding would show them alike.
    act(p, ALICE, "borrow", asset="USDC", amount=1_000_123_457)
    why = refused(p, ALICE, "borrow", asset="USDC", amount=best - 1_000_123_457 + 7)
    assert why.max_amount == 26_749_876_542
    assert why.text.startswith("borrowing 26,749.876549 USDC needs")
    assert why.text.endswith("the most you can borrow now is 26,749.876542 USDC")


def test_withdrawal_that_would_drop_the_health_factor(p: Protocol) -> None:
    act(p, ALICE, "deposit", asset="WETH", amount=10 * WETH)
    act(p, ALICE, "borrow", asset="USDC", amount=20_000 * USDC)
    why = refused(p, ALICE, "withdraw", asset="WETH", amount=UINT256_MAX)
    assert why.code == "5"
    assert why.text.startswith("withdrawing 10 WETH would leave your health factor at 0.00; the most you can")
    best = assert_exact_max(p, ALICE, "withdraw", why, asset="WETH")
    # HF after = (10 - x) * 3,700 * 0.8 / 20,000 >= 1  =>  x <= 3.2432...
    assert 3_243_000 * 10**12 < best < 3_244_000 * 10**12
    why = refused(p, ALICE, "withdraw", asset="WETH", amount=5 * WETH)
    assert "would leave your health factor at 0.74" in why.text and why.max_amount == best


def test_repay_max_says_how_much_the_wallet_lacks(p: Protocol) -> None:
    act(p, BOB, "deposit", asset="WETH", amount=10 * WETH)
    act(p, BOB, "borrow", asset="USDC", amount=1_000 * USDC)
    act(p, BOB, "deposit", asset="USDC", amount=1_000_000 * USDC)  # the wallet keeps what he borrowed
    p.advance(3600)  # and the debt grows past it
    debt = p.debt(BOB, "USDC")
    why = refused(p, BOB, "repay", asset="USDC", amount=UINT256_MAX)
    short = debt - 1_000 * USDC
    assert 0 < short < USDC
    assert why.text.startswith(
        f"repay max needs {tokens(short, 6, 'USDC', 'up')} more than your wallet holds"
    )
    assert_exact_max(p, BOB, "repay", why, asset="USDC")
    assert why.max_amount == 1_000 * USDC


def test_disabling_collateral_in_use_and_liquidating_a_healthy_account(p: Protocol) -> None:
    act(p, ALICE, "deposit", asset="WETH", amount=10 * WETH)
    act(p, ALICE, "borrow", asset="USDC", amount=20_000 * USDC)
    why = refused(p, ALICE, "set_collateral", asset="WETH", enabled=False)
    assert why.code == "15" and "without it your health factor would fall to 0.00" in why.text
    why = refused(
        p,
        BOB,
        "liquidate",
        target=ALICE,
        collateral_asset="WETH",
        debt_asset="USDC",
        debt_to_cover=UINT256_MAX,
    )
    assert why.code == "73" and why.text.startswith("that account's health factor is 1.48")


def test_deposit_cap_and_general_refusals(p: Protocol) -> None:
    core = p.core.reserve(("USDC", True))
    p.set_deposit_cap(p.admin, "core", "USDC", core.a_total_supply(p.now) // USDC + 100)
    why = refused(p, ALICE, "deposit", asset="USDC", amount=1_000 * USDC)
    assert why.code == "17" and "capped at" in why.text
    assert_exact_max(p, ALICE, "deposit", why, asset="USDC")
    p.set_pause(p.emergency_admin, "core", True)
    why = refused(p, ALICE, "deposit", asset="USDC", amount=1)
    assert (
        why.text == "the Core-Pool is paused by its emergency admin: nothing moves in it until it is unpaused"
    )


def test_liquidation_price_is_the_exact_threshold(p: Protocol) -> None:
    act(p, ALICE, "deposit", asset="WETH", amount=10 * WETH)
    act(p, ALICE, "borrow", asset="USDC", amount=20_000 * USDC)
    liq = liquidation_price(p, ALICE, "core", "WETH")
    assert liq is not None  # ~ $20,000 / (10 * 0.8) = $2,500
    assert 2_499 * 10**8 < liq <= 2_500 * 10**8

    seen: list[int] = []
    for x in (liq, liq + 1):
        dry_run(p, lambda x=x: (p.set_price("WETH", x), seen.append(p.health_factor(ALICE))))
    assert seen[0] < 10**18 <= seen[1]  # liquidatable at the price given, not one unit above
    assert liquidation_price(p, ALICE, "core", "USDC") is None  # not her collateral
    assert liquidation_price(p, BOB, "core", "WETH") is None  # no position


def test_spans_of_time_read_in_the_largest_unit_they_hold_more_than_three_of() -> None:
    assert [time_unit(s) for s in (59, 181, 7_200, 10_801, 259_201)] == [
        ("seconds", 1), ("minutes", 60), ("minutes", 60), ("hours", 3_600), ("days", 86_400)
    ]  # fmt: skip
    assert [duration(s) for s in (86_400, 600, 90, 30 * 86_400)] == [
        "24 hours",
        "10 minutes",
        "90 seconds",
        "30 days",
    ]
