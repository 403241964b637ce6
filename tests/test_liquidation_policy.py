"""The opt-in liquidation policies (issue 15, :mod:`astera.core.liquidation_policy`), each
rule with hand-worked figures.

Deployment: :func:`strategies.core_protocol` with WETH at LTV 75 %, threshold 80 %, bonus
5 %, and $1M of USDC supplied by alice. Carol borrows USDC against WETH at one time and
the liquidation runs in the same second, so no interest blurs the figures.
"""

from __future__ import annotations

import copy
from fractions import Fraction

import pytest

from astera.core import UINT256_MAX, WAD, Protocol
from astera.core.liquidation_policy import LiquidationPolicy
from strategies import ADMIN, MINI_ADMIN, core_protocol, mini_protocol, refused, supply

USD = 10**8
USDC = 10**6
WETH = 10**18
MAX = UINT256_MAX
DYNAMIC = LiquidationPolicy(dynamic_close_factor=True)


def book(weth: int, borrow: int) -> Protocol:
    """Carol: ``weth`` WETH supplied at $2,000, ``borrow`` USDC borrowed; dave funded to liquidate."""
    p = core_protocol()
    p.configure_reserve_as_collateral(ADMIN, "core", "WETH", 7500, 8000, 10500)
    p.set_price("WETH", 2_000 * USD)
    supply(p, "alice", "USDC", 1_000_000 * USDC)
    supply(p, "carol", "WETH", weth)
    p.borrow("carol", "USDC", borrow)
    p.mint("dave", "USDC", 1_000_000 * USDC)
    return p


def liquidate(p: Protocol, cover: int = MAX, **kw: object) -> tuple[int, int]:
    """Dave liquidates carol's WETH for USDC: (debt repaid, collateral seized)."""
    event = next(
        e for e in p.liquidate("dave", "carol", "WETH", "USDC", cover, **kw) if e.name == "LiquidationCall"
    )
    return event.fields["debt_to_cover"], event.fields["liquidated_collateral"]


def test_policies_off_is_the_contracts_close_factor() -> None:
    p = book(3 * WETH // 2, 2_000 * USDC)
    p.set_price("WETH", 1_000 * USD)  # HF 0.6: the contracts still repay half
    assert p.liquidation_policy() == LiquidationPolicy()
    assert liquidate(p)[0] == 1_000 * USDC
    assert "liquidation_policy" not in p.canonical_state()["core"]


def test_dust_edge() -> None:
    """1.5 WETH at $1,650 ($2,475) against $2,000 of USDC: HF 0.99. Debt worth exactly the dust
    value ($2,000) keeps the 50 % close factor; one micro-USDC less is dust and closes in full."""
    at_edge = book(3 * WETH // 2, 2_000 * USDC)
    below = book(3 * WETH // 2, 2_000 * USDC - 1)
    for p in (at_edge, below):
        p.set_liquidation_policy(ADMIN, "core", DYNAMIC)
        p.set_price("WETH", 1_650 * USD)
        assert 95 * WAD // 100 < p.health_factor("carol") < WAD
    assert liquidate(at_edge)[0] == 1_000 * USDC
    assert liquidate(below)[0] == 2_000 * USDC - 1
    assert below.debt("carol", "USDC") == 0
    assert not below.core.is_borrowing("carol", below.core.reserve(("USDC", True)))


def test_hf_edge() -> None:
    """10 WETH at $1,187.50 against 10,000 USDC: HF 11,875 · 0.8 / 10,000 = 0.95 exactly, so the
    whole debt may go; a price one base unit higher (HF just above 0.95) keeps 50 %."""
    at_edge, above = book(10 * WETH, 10_000 * USDC), book(10 * WETH, 10_000 * USDC)
    for p, price in ((at_edge, 118_750_000_000), (above, 118_750_000_001)):
        p.set_liquidation_policy(ADMIN, "core", DYNAMIC)
        p.set_price("WETH", price)
    assert at_edge.health_factor("carol") == 95 * WAD // 100
    assert above.health_factor("carol") > 95 * WAD // 100
    assert liquidate(at_edge)[0] == 10_000 * USDC
    assert liquidate(above)[0] == 5_000 * USDC


def test_partial_liquidation_may_not_leave_dust() -> None:
    """10 WETH at $1,125 against 10,000 USDC: HF 0.9, so all of the debt may go. Repaying
    9,000.000001 USDC would leave $999.999999 of debt and is refused with the policy's own code;
    9,000 USDC leaves $1,000 of debt and 1.6 WETH ($1,800): allowed."""
    p = book(10 * WETH, 10_000 * USDC)
    p.set_liquidation_policy(ADMIN, "core", DYNAMIC)
    p.set_price("WETH", 1_125 * USD)
    err = refused(p, p.liquidate, "dave", "carol", "WETH", "USDC", 9_000 * USDC + 1)
    assert (err.code, err.name) == ("policy:must_not_leave_dust", "PL_MUST_NOT_LEAVE_DUST")
    assert liquidate(copy.deepcopy(p), 9_000 * USDC) == (9_000 * USDC, 84 * WETH // 10)
    assert liquidate(p)[0] == 10_000 * USDC  # or all of it


def test_partial_liquidation_may_not_leave_dust_collateral() -> None:
    """After half of 10,000 USDC is repaid at WETH $1,200, 5.625 WETH back 5,000 USDC. At $900
    (HF 0.81, all may go) a further 3,900 USDC would leave $1,100 of debt but only $967.50 of
    WETH: refused; 3,800 USDC leaves $1,200 of debt and $1,072.50 of WETH."""
    p = book(10 * WETH, 10_000 * USDC)
    p.set_liquidation_policy(ADMIN, "core", DYNAMIC)
    p.set_price("WETH", 1_200 * USD)  # HF 0.96: half
    assert liquidate(p) == (5_000 * USDC, 4_375 * WETH // 1_000)
    p.set_price("WETH", 900 * USD)
    assert refused(p, p.liquidate, "dave", "carol", "WETH", "USDC", 3_900 * USDC).code == (
        "policy:must_not_leave_dust"
    )
    assert liquidate(p, 3_800 * USDC) == (3_800 * USDC, 4_433_333_333_333_333_333)


def test_target_health_factor() -> None:
    """10 WETH at $1,200 against 10,000 USDC (HF 0.96), target 1.05, bonus 5 %, threshold 80 %:
    x = (1.05 · 10,000 − 0.8 · 12,000) / (1.05 − 1.05 · 0.8) = 900 / 0.21 = $4,285.714285…,
    rounded up to 4,285.714286 USDC. The health factor after equals the target up to the
    protocol's own rounding of values; one micro-USDC less stays below it."""
    target = 105 * WAD // 100
    p = book(10 * WETH, 10_000 * USDC)
    p.set_liquidation_policy(ADMIN, "core", LiquidationPolicy(target_health_factor=target))
    p.set_price("WETH", 1_200 * USD)
    one_less = copy.deepcopy(p)
    repaid, _ = liquidate(p)
    assert repaid == 4_285_714_286 == -(-Fraction(900, 21) * 100 * USDC // 1)
    hf = p.health_factor("carol")
    assert target <= hf < target + 10**9  # 1e-9 relative: the rounding of the debt to micro-USDC
    liquidate(one_less, repaid - 1)
    assert one_less.health_factor("carol") < target


def test_target_never_beyond_the_close_factor() -> None:
    """At HF 0.6 the target would need more than half of the debt: the close factor caps it."""
    p = book(10 * WETH, 10_000 * USDC)
    p.set_liquidation_policy(ADMIN, "core", LiquidationPolicy(target_health_factor=105 * WAD // 100))
    p.set_price("WETH", 750 * USD)
    assert liquidate(p)[0] == 5_000 * USDC


def test_protocol_fee_split() -> None:
    """1,000 USDC repaid at WETH $1,000 seizes 1.05 WETH: 0.05 WETH of bonus, 10 % of it (0.005
    WETH) to the treasury as aWETH, 1.045 WETH to the liquidator."""
    p = book(10 * WETH, 10_000 * USDC)
    p.set_liquidation_protocol_fee(ADMIN, "core", "WETH", 1_000)
    p.set_price("WETH", 1_000 * USD)
    treasury_before = p.supplied("treasury", "WETH")
    events = p.liquidate("dave", "carol", "WETH", "USDC", 1_000 * USDC)
    assert events[0].fields["liquidated_collateral"] == 105 * WETH // 100
    assert events[0].fields["protocol_fee"] == 5 * WETH // 1_000
    assert p.wallet("WETH", "dave") == 1_045 * WETH // 1_000
    assert p.supplied("treasury", "WETH") - treasury_before == 5 * WETH // 1_000
    assert p.supplied("carol", "WETH") == 10 * WETH - 105 * WETH // 100
    # receiving aTokens splits the same way
    events = p.liquidate("dave", "carol", "WETH", "USDC", 1_000 * USDC, receive_a_token=True)
    assert p.supplied("dave", "WETH") == 1_045 * WETH // 1_000
    assert p.supplied("treasury", "WETH") - treasury_before == 10 * WETH // 1_000


def test_deficit_written_off_recorded_and_covered() -> None:
    """10 WETH at $800 ($8,000) against 10,000 USDC: all the WETH buys 8,000 / 1.05 =
    7,619.047619 USDC of debt; the other 2,380.952381 USDC become the reserve's deficit."""
    p = book(10 * WETH, 10_000 * USDC)
    p.set_liquidation_policy(
        ADMIN, "core", LiquidationPolicy(deficit_accounting=True, dynamic_close_factor=True)
    )
    p.set_price("WETH", 800 * USD)
    events = p.liquidate("dave", "carol", "WETH", "USDC", MAX)
    assert [e.name for e in events] == ["LiquidationCall", "DeficitCreated"]
    assert events[0].fields["debt_to_cover"] == 7_619_047_619
    assert events[1].fields == {"reserve": "USDC", "user": "carol", "amount": 2_380_952_381}
    usdc = p.core.reserve(("USDC", True))
    assert p.deficit("USDC") == 2_380_952_381 and p.debt("carol", "USDC") == 0
    assert p.account("carol").total_debt_base == 0
    assert usdc.a_total_supply(p.now) == usdc.cash + usdc.debt_total_supply(p.now) + usdc.deficit
    assert p.canonical_state()["core"]["reserves"][0]["deficit"] == 2_380_952_381
    # A year of someone else's borrowing: the deficit does not accrue; the treasury earns.
    supply(p, "bob", "WETH", 2_000 * WETH)
    p.borrow("bob", "USDC", 800_000 * USDC)
    p.advance(365 * 86_400)
    supply(p, "alice", "USDC", USDC)  # accrues the reserve: the treasury's share is minted
    # Suppliers were paid on cash + debt only, so the deficit still covers the gap a year on.
    assert usdc.a_total_supply(p.now) <= usdc.cash + usdc.debt_total_supply(p.now) + usdc.deficit
    assert (
        usdc.current_liquidity_rate
        < usdc.strategy.calculate(usdc.cash, 0, 0, usdc.debt_total_supply(p.now), usdc.reserve_factor, p.now)[
            0
        ]
    )
    assert p.deficit("USDC") == 2_380_952_381
    treasury = p.supplied("treasury", "USDC")
    assert treasury > p.deficit("USDC")
    err = refused(p, p.cover_deficit, "carol", "core", "USDC", MAX)
    assert err.code == "21"
    p.cover_deficit(ADMIN, "core", "USDC", 1_000 * USDC)
    assert p.deficit("USDC") == 1_380_952_381
    (event,) = p.cover_deficit(ADMIN, "core", "USDC", MAX)
    assert event.fields["amount"] == 1_380_952_381 and p.deficit("USDC") == 0
    assert abs(treasury - p.supplied("treasury", "USDC") - 2_380_952_381) <= 2
    assert refused(p, p.cover_deficit, ADMIN, "core", "USDC", MAX).code == "policy:no_deficit"
    assert "deficit" not in p.canonical_state()["core"]["reserves"][0]


def test_no_write_off_while_other_collateral_remains() -> None:
    p = book(10 * WETH, 10_000 * USDC)
    supply(p, "carol", "WBTC", 1_000)  # $670 of WBTC
    p.set_liquidation_policy(
        ADMIN, "core", LiquidationPolicy(deficit_accounting=True, dynamic_close_factor=True)
    )
    p.set_price("WETH", 800 * USD)
    events = p.liquidate("dave", "carol", "WETH", "USDC", MAX)
    assert [e.name for e in events] == ["LiquidationCall"]
    assert p.deficit("USDC") == 0 and p.debt("carol", "USDC") == 10_000 * USDC - 7_619_047_619


def test_mini_pool_tranche_write_off() -> None:
    """A tranche borrower's bad debt in Mini-Pool 0 becomes the tranche's deficit (in Core aUSDC
    shares); the Mini-Pool's debt to the Core-Pool is exactly what it would be without the
    policy, and the tranche's supply stays covered by cash + debt + deficit."""
    p = mini_protocol()
    supply(p, "alice", "USDC", 1_000_000 * USDC)
    supply(p, "carol", "EXO", 10_000 * WETH, pool=0)  # $50,000 of EXO
    p.borrow("carol", "aUSDC", 20_000 * USDC, pool=0)  # flow-borrowed from the Core
    supply(p, "dave", "USDC", 100_000 * USDC)  # Core aUSDC shares to liquidate with
    p.set_price("EXO", USD)  # $10,000 of EXO
    without = copy.deepcopy(p)
    p.set_liquidation_policy(
        MINI_ADMIN, 0, LiquidationPolicy(deficit_accounting=True, dynamic_close_factor=True)
    )
    events = p.liquidate("dave", "carol", "EXO", "aUSDC", MAX, pool=0)
    repaid = events[0].fields["debt_to_cover"]
    assert [e.name for e in events] == ["LiquidationCall", "DeficitCreated"]
    tranche = p.mini_pool(0).reserve("aUSDC")
    assert tranche.deficit == events[1].fields["amount"] > 0
    assert p.debt("carol", "aUSDC", pool=0) == 0
    without.liquidate("dave", "carol", "EXO", "aUSDC", repaid, pool=0)
    usdc = p.core.reserve(("USDC", True))
    assert p.core.current_flow("USDC", p.mini_pool(0)) == without.core.current_flow(
        "USDC", without.mini_pool(0)
    )
    assert usdc.debt_balance("minipool:0", p.now) > 0  # still owed to the Core
    mp = p.mini_pool(0)
    supply_now = tranche.a_total_supply(p.now)
    assert supply_now <= mp.cash(tranche) + tranche.debt_total_supply(p.now) + tranche.deficit + 1


def test_policy_validation_and_roles() -> None:
    p = core_protocol()
    with pytest.raises(Exception) as exc:
        LiquidationPolicy(target_health_factor=WAD)
    assert getattr(exc.value, "code", None) == "25"
    with pytest.raises(Exception) as exc:
        LiquidationPolicy(min_leftover_base=3_000 * USD)
    assert getattr(exc.value, "code", None) == "25"
    with pytest.raises(Exception) as exc:
        LiquidationPolicy(dust_base=-1)
    assert getattr(exc.value, "code", None) == "input:amount"
    assert refused(p, p.set_liquidation_policy, "carol", "core", DYNAMIC).code == "21"
    assert refused(p, p.set_liquidation_protocol_fee, ADMIN, "core", "WETH", 10_001).code == "25"
    before = p.state_hash()
    p.set_liquidation_policy(ADMIN, "core", DYNAMIC)
    assert p.state_hash() != before
    p.set_liquidation_policy(ADMIN, "core", LiquidationPolicy())  # the default removes it
    assert p.state_hash() == before


def test_a_dust_refusal_in_plain_words() -> None:
    from astera.actions import ACTIONS
    from astera.human import explain

    p = book(10 * WETH, 10_000 * USDC)
    p.set_liquidation_policy(ADMIN, "core", DYNAMIC)
    p.set_price("WETH", 1_125 * USD)
    args = {"pool": "core", "target": "carol", "collateral_asset": "WETH", "debt_asset": "USDC"}
    args["debt_to_cover"] = 9_000 * USDC + 1
    err = refused(p, ACTIONS["liquidate"].run, p, "dave", args)
    why = explain(p, "dave", "liquidate", args, err, lambda a: ACTIONS["liquidate"].run(p, "dave", a))
    assert why.code == "policy:must_not_leave_dust"
    assert "leaves less than $1,000 of the USDC debt or of the WETH collateral" in why.text


def test_write_off_of_an_account_whose_collateral_bit_covers_nothing() -> None:
    """Carol's last collateral, 1,000 USDC, repays her USDC debt as aTokens: the bit stays on over
    a zero balance (spec §4.5, as the contracts) and 4,238.095238 USDC are owed against nothing.
    Naming that reserve, a liquidation seizes 0, all of it: under deficit accounting it writes the
    debt off (Aave v3.3's ``hasNoCollateralLeft``, 0 == 0) when the liquidator takes aTokens; the
    other form burns 0 aTokens and, without the policy, 0 debt is burnt: both refused (``36``)."""
    p = book(10 * WETH, 10_000 * USDC)
    supply(p, "carol", "USDC", 1_000 * USDC)
    p.set_liquidation_policy(ADMIN, "core", LiquidationPolicy(deficit_accounting=True))
    p.set_price("WETH", 500 * USD)
    # All the WETH for 4,761.904762 USDC; her USDC is still collateral, so no write-off yet.
    assert [e.name for e in p.liquidate("dave", "carol", "WETH", "USDC", MAX)] == ["LiquidationCall"]
    p.repay_with_a_tokens("carol", "USDC", 1_000 * USDC)
    usdc = p.core.reserve(("USDC", True))
    assert p.supplied("carol", "USDC") == 0 and p.core.is_collateral("carol", usdc)
    assert p.debt("carol", "USDC") == 4_238_095_238 and p.health_factor("carol") == 0
    assert refused(p, p.liquidate, "dave", "carol", "USDC", "USDC", MAX).code == "36"
    without = copy.deepcopy(p)
    without.set_liquidation_policy(ADMIN, "core", LiquidationPolicy())
    err = refused(without, without.liquidate, "dave", "carol", "USDC", "USDC", MAX, receive_a_token=True)
    assert err.code == "36"
    events = p.liquidate("dave", "carol", "USDC", "USDC", MAX, receive_a_token=True)
    assert [e.name for e in events] == ["LiquidationCall", "DeficitCreated"]
    assert (events[0].fields["debt_to_cover"], events[0].fields["liquidated_collateral"]) == (0, 0)
    assert events[1].fields == {"reserve": "USDC", "user": "carol", "amount": 4_238_095_238}
    assert p.debt("carol", "USDC") == 0 and p.deficit("USDC") == 4_238_095_238
    assert not p.core.is_collateral("carol", usdc) and not p.core.is_borrowing("carol", usdc)
