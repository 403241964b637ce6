"""Every public operation refuses bad input with a typed error and a stable code, and a
refusal changes nothing: the canonical state hash is the same before and after.

Bad input (wrong types, out-of-range amounts, unknown names) raises :class:`InputError`
with an ``input:*`` code; a missing role raises the contracts' ``21``
(``VL_CALLER_NOT_POOL_ADMIN``) or ``26`` (``VL_CALLER_NOT_EMERGENCY_ADMIN``); a zero amount
``1``. Protocol refusals that happen half-way through an operation (a Mini-Pool borrow
that has already borrowed from the Core, a flash loan whose receiver does not pay back)
roll everything back, the Core-Pool included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from astera.core import UINT256_MAX, InputError, Protocol, ProtocolError
from strategies import ADMIN, EMERGENCY, MINI_ADMIN, mini_protocol, refused, stable_curve, supply

USDC = 10**6
WETH = 10**18
DAY = 86_400

Call = Callable[[Protocol, Any], Any]


@pytest.fixture
def p() -> Protocol:
    """A live deployment: Core supply and debt, and a Mini-Pool that owes the Core USDC.

    alice supplies USDC to the Core; bob borrows USDC against WETH; carol borrows aUSDC in
    Mini-Pool 0 against EXO, which flow-borrows from the Core; a day passes.
    """
    p = mini_protocol()
    supply(p, "alice", "USDC", 1_000_000 * USDC)
    supply(p, "bob", "WETH", 10 * WETH)
    p.borrow("bob", "USDC", 10_000 * USDC)
    supply(p, "carol", "EXO", 10_000 * WETH, pool=0)
    p.borrow("carol", "aUSDC", 5_000 * USDC, pool=0)
    p.advance(DAY)
    assert p.core.current_flow("USDC", p.mini_pools[0]) > 0
    return p


def _noop_receiver(assets: Sequence[str], amounts: Sequence[int], premiums: Sequence[int], who: str) -> bool:
    return True


# ---- amounts: wrong types and out-of-range values ---------------------------------------------

#: Each public operation that takes an integer, with that integer as the free argument.
AMOUNT_TAKERS: dict[str, Call] = {
    "deposit": lambda p, x: p.deposit("alice", "USDC", x),
    "deposit_mini": lambda p, x: p.deposit("carol", "EXO", x, pool=0),
    "withdraw": lambda p, x: p.withdraw("alice", "USDC", x),
    "withdraw_mini": lambda p, x: p.withdraw("carol", "EXO", x, pool=0),
    "borrow": lambda p, x: p.borrow("bob", "USDC", x),
    "borrow_mini": lambda p, x: p.borrow("carol", "aUSDC", x, pool=0),
    "repay": lambda p, x: p.repay("bob", "USDC", x),
    "repay_mini": lambda p, x: p.repay("carol", "aUSDC", x, pool=0),
    "repay_with_a_tokens": lambda p, x: p.repay_with_a_tokens("bob", "USDC", x),
    "transfer": lambda p, x: p.transfer("alice", "dave", "USDC", x),
    "transfer_mini": lambda p, x: p.transfer("carol", "dave", "EXO", x, pool=0),
    "transfer_shares": lambda p, x: p.transfer_shares("alice", "dave", "USDC", x),
    "approve_delegation": lambda p, x: p.approve_delegation("bob", "dave", "USDC", x),
    "liquidate": lambda p, x: p.liquidate("dave", "bob", "WETH", "USDC", x),
    "flash_loan_amount": lambda p, x: p.flash_loan("dave", "dave", _noop_receiver, ["USDC"], [x], [0]),
    "flash_loan_mode": lambda p, x: p.flash_loan("dave", "dave", _noop_receiver, ["USDC"], [1], [x]),
    "mint": lambda p, x: p.mint("dave", "USDC", x),
    "advance": lambda p, x: p.advance(x),
    "set_time": lambda p, x: p.set_time(x),
    "set_fallback_price": lambda p, x: p.set_fallback_price(ADMIN, "WETH", x),
    "set_price_timeout": lambda p, x: p.set_price_timeout(ADMIN, "WETH", x),
    "set_flow_limit": lambda p, x: p.set_flow_limit(ADMIN, "USDC", 0, x),
    "set_deposit_cap": lambda p, x: p.set_deposit_cap(ADMIN, "core", "USDC", x),
    "set_reserve_factor": lambda p, x: p.set_reserve_factor(ADMIN, "core", "USDC", x),
    "set_flash_premium": lambda p, x: p.set_flash_premium(ADMIN, "core", x),
    "set_min_debt_threshold": lambda p, x: p.set_min_debt_threshold(ADMIN, 0, x),
    "set_max_reserves_with_flow_borrowing": lambda p, x: p.set_max_reserves_with_flow_borrowing(ADMIN, x),
    "configure_ltv": lambda p, x: p.configure_reserve_as_collateral(ADMIN, "core", "USDC", x, 8500, 10500),
    "configure_bonus": lambda p, x: p.configure_reserve_as_collateral(ADMIN, "core", "USDC", 8000, 8500, x),
}

BAD_AMOUNTS = {
    "str": ("100", "input:type"),
    "float": (100.0, "input:type"),
    "bool": (True, "input:type"),
    "none": (None, "input:type"),
    "negative": (-1, "input:amount"),
    "above_uint256": (UINT256_MAX + 1, "input:amount"),
}


@pytest.mark.parametrize("bad", BAD_AMOUNTS)
@pytest.mark.parametrize("op", AMOUNT_TAKERS)
def test_bad_amounts_are_refused_unchanged(p: Protocol, op: str, bad: str) -> None:
    value, code = BAD_AMOUNTS[bad]
    err = refused(p, AMOUNT_TAKERS[op], p, value)
    assert isinstance(err, InputError)
    assert err.code == code
    assert err.name == {"input:type": "INVALID_TYPE", "input:amount": "INVALID_AMOUNT_RANGE"}[code]


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("advance", 1 << 40),
        ("set_time", 1 << 40),
        ("set_fallback_price", 0),
        ("configure_ltv", 65_536),
        ("set_reserve_factor", 65_536),
    ],
)
def test_amounts_beyond_their_own_range(p: Protocol, op: str, value: int) -> None:
    assert refused(p, AMOUNT_TAKERS[op], p, value).code == "input:amount"


@pytest.mark.parametrize("value", ["1", 1.0, True, None, 1 << 255, -(1 << 255) - 1])
def test_a_price_is_an_int256(p: Protocol, value: object) -> None:
    assert refused(p, p.set_price, "WETH", value).code in ("input:type", "input:amount")


def test_a_feed_answer_of_zero_or_less_falls_back(p: Protocol) -> None:
    """A Chainlink feed can answer 0 or a negative number; the oracle then uses the fallback
    price, and without one every priced action refuses with 78 (§9)."""
    for answer in (0, -5):
        p.set_price("WETH", answer)
        assert p.oracle.answers["WETH"] == answer
        err = refused(p, p.borrow, "bob", "USDC", 1)
        assert (err.code, err.name) == ("78", "O_PRICE_FEED_INCONSISTENCY")
        p.set_fallback_price(ADMIN, "WETH", 2_000 * 10**8)
        assert p.price("WETH") == 2_000 * 10**8
        p.oracle.fallback.pop("WETH")


def test_time_never_goes_backwards(p: Protocol) -> None:
    assert refused(p, p.set_time, p.now - 1).code == "input:time"
    p.set_time(p.now)  # the same block is fine


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.withdraw("alice", "USDC", 1, unwrap="yes"),
        lambda p: p.borrow("carol", "aUSDC", 1, pool=0, unwrap=1),
        lambda p: p.set_collateral("alice", "USDC", 1),
        lambda p: p.liquidate("dave", "bob", "WETH", "USDC", 1, receive_a_token="no"),
        lambda p: p.set_reserve_flags(ADMIN, "core", "USDC", borrowing_enabled=0),
        lambda p: p.set_reserve_flags(ADMIN, "core", "USDC", borrowing_enabled=False, frozen="yes"),
        lambda p: p.set_pause(EMERGENCY, "core", "true"),
        lambda p: p.register_user(42),
        lambda p: p.register_user(""),
        lambda p: p.register_user("minipool:0"),
        lambda p: p.register_user("treasury"),
        lambda p: p.set_pool_admin(MINI_ADMIN, 0, 7),
    ],
    ids=[
        "unwrap",
        "unwrap_mini",
        "enabled",
        "receive_a_token",
        "flag",
        "second_flag",
        "paused",
        "user_int",
        "user_empty",
        "user_internal",
        "user_treasury",
        "pool_admin",
    ],
)
def test_non_integer_arguments_of_the_wrong_type(p: Protocol, call: Callable[[Protocol], Any]) -> None:
    err = refused(p, call, p)
    assert isinstance(err, InputError)
    assert err.code == "input:type"


# ---- unknown names ---------------------------------------------------------------------------------

UNKNOWN = {
    # unknown asset: only operations that name a token, not a reserve
    "mint_asset": (lambda p: p.mint("dave", "DOGE", 1), "input:unknown_asset"),
    "set_price_asset": (lambda p: p.set_price("DOGE", 1), "input:unknown_asset"),
    "flow_limit_asset": (lambda p: p.set_flow_limit(ADMIN, "DOGE", 0, 1), "input:unknown_asset"),
    "init_reserve_asset": (
        lambda p: p.init_core_reserve(ADMIN, "DOGE", stable_curve()),
        "input:unknown_asset",
    ),
    "init_mini_unique": (
        lambda p: p.init_mini_reserve(ADMIN, 0, "DOGE", stable_curve()),
        "input:unknown_asset",
    ),
    "init_mini_tranche": (
        lambda p: p.init_mini_reserve(ADMIN, 0, "aDOGE", stable_curve(), tranche_of="DOGE"),
        "input:unknown_asset",
    ),
    # unknown reserve: a token the pool does not list (or no token at all)
    "deposit_reserve": (lambda p: p.deposit("alice", "DOGE", 1), "input:unknown_reserve"),
    "deposit_not_listed": (lambda p: p.deposit("alice", "EXO", 1), "input:unknown_reserve"),
    "deposit_mini_core_name": (lambda p: p.deposit("alice", "USDC", 1, pool=0), "input:unknown_reserve"),
    "deposit_false_type": (
        lambda p: p.deposit("alice", "USDC", 1, reserve_type=False),
        "input:unknown_reserve",
    ),
    "withdraw_reserve": (lambda p: p.withdraw("alice", "DOGE", 1), "input:unknown_reserve"),
    "borrow_reserve": (lambda p: p.borrow("bob", "DOGE", 1), "input:unknown_reserve"),
    "repay_reserve": (lambda p: p.repay("bob", "EXO", 1), "input:unknown_reserve"),
    "collateral_reserve": (lambda p: p.set_collateral("alice", "DOGE", True), "input:unknown_reserve"),
    "transfer_reserve": (lambda p: p.transfer("alice", "bob", "DOGE", 1), "input:unknown_reserve"),
    "liquidate_collateral": (
        lambda p: p.liquidate("dave", "bob", "DOGE", "USDC", 1),
        "input:unknown_reserve",
    ),
    "liquidate_debt": (lambda p: p.liquidate("dave", "bob", "WETH", "DOGE", 1), "input:unknown_reserve"),
    "delegation_reserve": (lambda p: p.approve_delegation("bob", "dave", "DOGE", 1), "input:unknown_reserve"),
    "flash_reserve": (
        lambda p: p.flash_loan("dave", "dave", _noop_receiver, ["DOGE"], [1], [0]),
        "input:unknown_reserve",
    ),
    "configure_reserve": (
        lambda p: p.configure_reserve_as_collateral(ADMIN, "core", "DOGE", 0, 0, 0),
        "input:unknown_reserve",
    ),
    "cap_reserve": (lambda p: p.set_deposit_cap(ADMIN, "core", "EXO", 1), "input:unknown_reserve"),
    "flow_limit_no_core_reserve": (lambda p: p.set_flow_limit(ADMIN, "EXO", 0, 1), "input:unknown_reserve"),
    # unknown pool
    "deposit_pool": (lambda p: p.deposit("alice", "USDC", 1, pool=7), "input:unknown_pool"),
    "deposit_pool_name": (lambda p: p.deposit("alice", "USDC", 1, pool="mini"), "input:unknown_pool"),
    "deposit_pool_bool": (lambda p: p.deposit("alice", "USDC", 1, pool=False), "input:unknown_pool"),
    "deposit_pool_negative": (lambda p: p.deposit("alice", "USDC", 1, pool=-1), "input:unknown_pool"),
    "borrow_pool": (lambda p: p.borrow("bob", "USDC", 1, pool=1), "input:unknown_pool"),
    "liquidate_pool": (lambda p: p.liquidate("dave", "bob", "WETH", "USDC", 1, pool=3), "input:unknown_pool"),
    "flash_pool": (
        lambda p: p.flash_loan("dave", "dave", _noop_receiver, ["EXO"], [1], [0], pool=2),
        "input:unknown_pool",
    ),
    "flow_limit_pool": (lambda p: p.set_flow_limit(ADMIN, "USDC", 5, 1), "input:unknown_pool"),
    "pause_pool": (lambda p: p.set_pause(EMERGENCY, 9, True), "input:unknown_pool"),
    # unknown user, in every role a user name can play
    "deposit_user": (lambda p: p.deposit("mallory", "USDC", 1), "input:unknown_user"),
    "deposit_on_behalf": (
        lambda p: p.deposit("alice", "USDC", 1, on_behalf_of="mallory"),
        "input:unknown_user",
    ),
    "withdraw_to": (lambda p: p.withdraw("alice", "USDC", 1, to="mallory"), "input:unknown_user"),
    "borrow_on_behalf": (lambda p: p.borrow("dave", "USDC", 1, on_behalf_of="mallory"), "input:unknown_user"),
    "repay_on_behalf": (lambda p: p.repay("dave", "USDC", 1, on_behalf_of="mallory"), "input:unknown_user"),
    "repay_a_tokens_user": (lambda p: p.repay_with_a_tokens("mallory", "USDC", 1), "input:unknown_user"),
    "transfer_to": (lambda p: p.transfer("alice", "mallory", "USDC", 1), "input:unknown_user"),
    "transfer_shares_to": (lambda p: p.transfer_shares("alice", "mallory", "USDC", 1), "input:unknown_user"),
    "collateral_user": (lambda p: p.set_collateral("mallory", "USDC", True), "input:unknown_user"),
    "liquidator": (lambda p: p.liquidate("mallory", "bob", "WETH", "USDC", 1), "input:unknown_user"),
    "liquidation_target": (lambda p: p.liquidate("dave", "mallory", "WETH", "USDC", 1), "input:unknown_user"),
    "delegator": (lambda p: p.approve_delegation("mallory", "dave", "USDC", 1), "input:unknown_user"),
    "delegatee": (lambda p: p.approve_delegation("bob", "mallory", "USDC", 1), "input:unknown_user"),
    "flash_initiator": (
        lambda p: p.flash_loan("mallory", "dave", _noop_receiver, ["USDC"], [1], [0]),
        "input:unknown_user",
    ),
    "flash_receiver": (
        lambda p: p.flash_loan("dave", "mallory", _noop_receiver, ["USDC"], [1], [0]),
        "input:unknown_user",
    ),
    "flash_on_behalf": (
        lambda p: p.flash_loan("dave", "dave", _noop_receiver, ["USDC"], [1], [1], "mallory"),
        "input:unknown_user",
    ),
    "mint_user": (lambda p: p.mint("mallory", "USDC", 1), "input:unknown_user"),
    "user_int": (lambda p: p.deposit(7, "USDC", 1), "input:unknown_user"),
    # already listed
    "add_asset_twice": (lambda p: p.add_asset("USDC", 6, 10**8), "input:duplicate"),
}


@pytest.mark.parametrize("case", UNKNOWN)
def test_unknown_names_are_refused_unchanged(p: Protocol, case: str) -> None:
    call, code = UNKNOWN[case]
    err = refused(p, call, p)
    assert isinstance(err, InputError)
    assert err.code == code


def test_reserves_cannot_be_added_twice(p: Protocol) -> None:
    assert refused(p, p.init_core_reserve, ADMIN, "USDC", stable_curve()).code == "66"
    assert refused(p, p.init_mini_reserve, ADMIN, 0, "EXO", stable_curve()).code == "66"
    assert refused(p, p.init_mini_reserve, ADMIN, 0, "aUSDC2", stable_curve(), tranche_of="USDC").code == "66"


# ---- roles ------------------------------------------------------------------------------------------

ADMIN_CALLS: dict[str, Call] = {
    "init_core_reserve": lambda p, who: p.init_core_reserve(who, "EXO", stable_curve()),
    "create_mini_pool": lambda p, who: p.create_mini_pool(who, pool_admin="alice"),
    "init_mini_reserve": lambda p, who: p.init_mini_reserve(who, 0, "WETH", stable_curve()),
    "configure_core": lambda p, who: p.configure_reserve_as_collateral(who, "core", "USDC", 0, 0, 0),
    "flags_core": lambda p, who: p.set_reserve_flags(who, "core", "USDC", borrowing_enabled=False),
    "reserve_factor_core": lambda p, who: p.set_reserve_factor(who, "core", "USDC", 100),
    "reserve_factor_mini": lambda p, who: p.set_reserve_factor(who, 0, "EXO", 100),
    "rate_strategy": lambda p, who: p.set_rate_strategy(who, "core", "USDC", stable_curve()),
    "deposit_cap": lambda p, who: p.set_deposit_cap(who, "core", "USDC", 1),
    "flash_premium": lambda p, who: p.set_flash_premium(who, "core", 5),
    "min_debt_threshold": lambda p, who: p.set_min_debt_threshold(who, 0, 5),
    "flow_limit": lambda p, who: p.set_flow_limit(who, "USDC", 0, 10**15),
    "max_flow_pairs": lambda p, who: p.set_max_reserves_with_flow_borrowing(who, 9),
    "price_timeout": lambda p, who: p.set_price_timeout(who, "WETH", 60),
    "fallback_price": lambda p, who: p.set_fallback_price(who, "WETH", 10**8),
}

#: Settings that belong to a Mini-Pool's own admin, not to the main admin (§7.1).
MINI_ADMIN_CALLS: dict[str, Call] = {
    "configure_mini": lambda p, who: p.configure_reserve_as_collateral(who, 0, "EXO", 0, 0, 0),
    "flags_mini": lambda p, who: p.set_reserve_flags(who, 0, "EXO", frozen=True),
    "owner_reserve_factor": lambda p, who: p.set_reserve_factor(who, 0, "EXO", 100, owner=True),
    "hand_over": lambda p, who: p.set_pool_admin(who, 0, "alice"),
}


@pytest.mark.parametrize("op", ADMIN_CALLS)
@pytest.mark.parametrize("who", ["alice", MINI_ADMIN, EMERGENCY])
def test_main_admin_calls_need_the_role(p: Protocol, op: str, who: str) -> None:
    err = refused(p, ADMIN_CALLS[op], p, who)
    assert (err.code, err.name) == ("21", "VL_CALLER_NOT_POOL_ADMIN")


@pytest.mark.parametrize("op", MINI_ADMIN_CALLS)
@pytest.mark.parametrize("who", ["alice", ADMIN])
def test_mini_pool_admin_calls_need_that_pool_admin(p: Protocol, op: str, who: str) -> None:
    err = refused(p, MINI_ADMIN_CALLS[op], p, who)
    assert (err.code, err.name) == ("21", "VL_CALLER_NOT_POOL_ADMIN")


@pytest.mark.parametrize("who", ["alice", ADMIN, MINI_ADMIN])
def test_pause_needs_the_emergency_admin(p: Protocol, who: str) -> None:
    err = refused(p, p.set_pause, who, "core", True)
    assert (err.code, err.name) == ("26", "VL_CALLER_NOT_EMERGENCY_ADMIN")


def test_role_holders_succeed(p: Protocol) -> None:
    """The positive control: the same calls with the right caller go through."""
    p.set_deposit_cap(ADMIN, "core", "USDC", 10**9)
    p.configure_reserve_as_collateral(MINI_ADMIN, 0, "EXO", 4000, 6000, 11000)
    p.set_pause(EMERGENCY, 0, True)
    assert refused(p, p.deposit, "carol", "EXO", 1, pool=0).code == "59"  # paused
    assert refused(p, p.set_pause, EMERGENCY, 0, True).code == "0"  # already paused
    p.set_pause(EMERGENCY, 0, False)
    supply(p, "carol", "EXO", 1, pool=0)


# ---- zero amounts -----------------------------------------------------------------------------------

ZERO_REFUSED: dict[str, Call] = {
    "deposit": lambda p, x: p.deposit("alice", "USDC", x),
    "withdraw": lambda p, x: p.withdraw("alice", "USDC", x),
    "borrow": lambda p, x: p.borrow("bob", "USDC", x),
    "repay": lambda p, x: p.repay("bob", "USDC", x),
    "repay_with_a_tokens": lambda p, x: p.repay_with_a_tokens("bob", "USDC", x),
    "deposit_mini": lambda p, x: p.deposit("carol", "EXO", x, pool=0),
    "withdraw_mini": lambda p, x: p.withdraw("carol", "EXO", x, pool=0),
    "borrow_mini": lambda p, x: p.borrow("carol", "aUSDC", x, pool=0),
    "repay_mini": lambda p, x: p.repay("carol", "aUSDC", x, pool=0),
}


@pytest.mark.parametrize("op", ZERO_REFUSED)
def test_zero_amounts_are_refused_with_1(p: Protocol, op: str) -> None:
    err = refused(p, ZERO_REFUSED[op], p, 0)
    assert (err.code, err.name) == ("1", "VL_INVALID_AMOUNT")
    assert not isinstance(err, InputError)  # a protocol rule, as in the contracts


# ---- protocol refusals half-way through -----------------------------------------------------------


def _core_usdc(p: Protocol) -> tuple[Any, ...]:
    r = p.core.reserve(("USDC", True))
    return (
        r.liquidity_index,
        r.variable_borrow_index,
        r.current_liquidity_rate,
        r.current_variable_borrow_rate,
        r.last_update_timestamp,
        r.cash,
        r.a_scaled_total,
        r.d_scaled_total,
        dict(r.d_scaled),
        dict(r.a_scaled),
    )


def test_flow_borrow_refused_after_the_core_lent_leaves_the_core_untouched(p: Protocol) -> None:
    """carol's second aUSDC borrow first flow-borrows from the Core, re-deposits, self-deposits,
    and only then fails the collateral check (9): all of it must be undone."""
    mp = p.mini_pools[0]
    core_before = _core_usdc(p)
    flow_before = p.core.current_flow("USDC", mp)
    limit = 10_000 * WETH * 5 // 10**12  # EXO collateral value ($50,000) in USDC units: far too much
    err = refused(p, p.borrow, "carol", "aUSDC", limit, pool=0)
    assert err.code == "9"
    assert _core_usdc(p) == core_before
    assert p.core.current_flow("USDC", mp) == flow_before
    # The same borrow, sized to the collateral, goes through and does move the Core.
    p.borrow("carol", "aUSDC", 1_000 * USDC, pool=0)
    assert p.core.current_flow("USDC", mp) > flow_before


def test_flow_borrow_over_the_limit_is_refused_with_10(p: Protocol) -> None:
    p.set_flow_limit(ADMIN, "USDC", 0, p.core.current_flow("USDC", p.mini_pools[0]) + 10 * USDC)
    core_before = _core_usdc(p)
    assert refused(p, p.borrow, "carol", "aUSDC", 100 * USDC, pool=0).code == "10"
    assert _core_usdc(p) == core_before


def test_mini_pool_repay_of_max_panics(p: Protocol) -> None:
    # The validation subtracts the amount sent from the reserve's total debt (FORMAT §3).
    assert refused(p, p.repay, "carol", "aUSDC", UINT256_MAX, pool=0).code == "panic:0x11"


def test_unwrapping_withdraw_refused_by_the_core_rolls_back_the_mini_pool(p: Protocol) -> None:
    """A tranche withdraw with ``unwrap`` burns Mini-Pool aTokens, then withdraws from the Core,
    which refuses (56) once the Core's USDC cash is gone."""
    supply(p, "dave", "USDC", 20_000 * USDC)
    p.deposit("dave", "aUSDC", p.wrapper_balance("dave", "USDC"), pool=0)  # repays the Core flow first
    supply(p, "bob", "WBTC", 10**10)
    usdc = p.core.reserve(("USDC", True))
    p.borrow("bob", "USDC", usdc.cash)  # drain the Core's USDC cash
    shares = p.mini_pools[0].reserve("aUSDC").a_scaled["dave"] // 2
    assert refused(p, p.withdraw, "dave", "aUSDC", shares, pool=0, unwrap=True).code == "56"
    p.withdraw("dave", "aUSDC", shares, pool=0)  # the shares themselves can leave


def _flash(p: Protocol, receiver_does: Callable[[], Any], amount: int = 1_000 * USDC) -> ProtocolError | None:
    def receiver(assets: Sequence[str], amounts: Sequence[int], premiums: Sequence[int], who: str) -> bool:
        return receiver_does()

    p.flash_loan("dave", "dave", receiver, ["USDC"], [amount], [0])
    return None


def test_flash_loan_receiver_that_does_not_pay_back(p: Protocol) -> None:
    steal = lambda: (p.wallet_transfer("USDC", "dave", "alice", 1_000 * USDC), True)[1]  # noqa: E731
    err = refused(p, _flash, p, steal)
    assert err.code == "error:ERC20InsufficientBalance"


def test_flash_loan_receiver_returning_false(p: Protocol) -> None:
    p.mint("dave", "USDC", 10 * USDC)  # enough for the premium
    assert refused(p, _flash, p, lambda: False).code == "61"


def test_flash_loan_receiver_raising_rolls_back(p: Protocol) -> None:
    def boom() -> bool:
        p.deposit("dave", "USDC", 500 * USDC)  # a nested, successful operation ...
        raise RuntimeError("receiver crashed")  # ... undone with the rest

    before = p.state_hash()
    with pytest.raises(RuntimeError):
        _flash(p, boom)
    assert p.state_hash() == before


def test_flash_loan_nested_operations_undone_on_refusal(p: Protocol) -> None:
    def deposit_then_refuse() -> bool:
        p.deposit("dave", "USDC", 1_000 * USDC)  # spends the loan: nothing left to pay back
        return True

    assert refused(p, _flash, p, deposit_then_refuse).code == "error:ERC20InsufficientBalance"


def test_flash_loan_parameter_refusals(p: Protocol) -> None:
    fl = p.flash_loan
    assert refused(p, fl, "dave", "dave", _noop_receiver, ["USDC", "WETH"], [1], [0]).code == "16"
    assert refused(p, fl, "dave", "dave", _noop_receiver, ["USDC"], [1], [2]).code == "28"
    assert refused(p, fl, "dave", "dave", _noop_receiver, ["aUSDC"], [1], [0], pool=0).code == "20"
    p.set_reserve_flags(ADMIN, "core", "USDC", flash_loan_enabled=False)
    assert refused(p, fl, "dave", "dave", _noop_receiver, ["USDC"], [1], [0]).code == "19"


def test_transaction_is_all_or_nothing(p: Protocol) -> None:
    p.mint("alice", "USDC", 100 * USDC)
    before = p.state_hash()
    with pytest.raises(ProtocolError) as exc, p.transaction():
        p.deposit("alice", "USDC", 100 * USDC)  # succeeds on its own ...
        p.borrow("alice", "WETH", 10**30)  # ... but this is far beyond alice's collateral
    assert exc.value.code == "9"
    assert p.state_hash() == before


# ---- gaps these tests found in the core (all fixed since) -----------------------------------------


def test_add_asset_with_a_bad_price_lists_nothing(p: Protocol) -> None:
    err = refused(p, p.add_asset, "NEW", 6, 1.5)
    assert err.code == "input:type"


@pytest.mark.parametrize(
    "call",
    [lambda p: p.deposit(["alice"], "USDC", 1), lambda p: p.deposit("alice", ["USDC"], 1)],
    ids=["user", "asset"],
)
def test_unhashable_names_are_input_errors(p: Protocol, call: Callable[[Protocol], Any]) -> None:
    err = refused(p, call, p)
    assert isinstance(err, InputError)
    assert err.code in ("input:unknown_user", "input:unknown_reserve")


def test_wallet_balances_stay_uint256(p: Protocol) -> None:
    p.mint("dave", "USDC", UINT256_MAX)
    assert refused(p, p.mint, "dave", "USDC", 1).code == "panic:0x11"  # as an ERC-20's totalSupply would


def test_core_flash_loan_beyond_cash_is_refused(p: Protocol) -> None:
    """AToken.transferUnderlyingTo does ``_underlyingAmount - amount`` (checked): panic 0x11."""
    cash = p.core.reserve(("USDC", True)).cash
    p.mint("dave", "USDC", cash)  # the receiver could even pay the loan and premium back
    err = refused(p, p.flash_loan, "dave", "dave", _noop_receiver, ["USDC"], [cash + 1], [0])
    assert err.code == "panic:0x11"


def test_flow_borrow_from_a_frozen_core_reserve_fails_at_the_redeposit(p: Protocol) -> None:
    """``miniPoolBorrow`` does not check frozen (§4.10); the Mini-Pool's re-deposit does (3),
    after the Core has already lent: everything is undone."""
    p.set_reserve_flags(ADMIN, "core", "USDC", frozen=True)
    core_before = _core_usdc(p)
    assert refused(p, p.borrow, "carol", "aUSDC", 1_000 * USDC, pool=0).code == "3"
    assert _core_usdc(p) == core_before


def test_frozen_and_inactive_reserves(p: Protocol) -> None:
    p.set_reserve_flags(ADMIN, "core", "WETH", frozen=True)
    p.mint("bob", "WETH", WETH)
    assert refused(p, p.deposit, "bob", "WETH", WETH).code == "3"
    assert refused(p, p.borrow, "alice", "WETH", 1).code == "3"
    p.withdraw("bob", "WETH", WETH)  # leaving a frozen reserve is allowed
    p.repay("bob", "USDC", 1_000 * USDC)  # and so is repaying
    assert refused(p, p.set_reserve_flags, ADMIN, "core", "WETH", active=False).code == "24"
