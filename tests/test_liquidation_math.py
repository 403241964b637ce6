"""Liquidation arithmetic (spec §5.4) and the liquidation rules around it (§4.8).

``collateral_to_seize`` is checked with hand-worked and rational (Fraction) expectations;
the rules (close factor, bonus, refusals) through :class:`Protocol`.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from astera.core import UINT256_MAX
from astera.core.liquidation import collateral_to_seize
from strategies import core_protocol, mini_protocol, refused, supply

USD = 10**8
USDC = 10**6
WETH = 10**18


def test_worked_example() -> None:
    """WETH at $3700 collateral, 1000 USDC of debt covered, bonus 8 %: $1080 of WETH = 0.291891… WETH."""
    seize, debt = collateral_to_seize(3_700 * USD, USD, 18, 6, 10_800, 1_000 * USDC, 100 * WETH)
    # percentMul(1e8 · 1e9 · 1e18, 10800) // (3700e8 · 1e6) = 1.08e35 // 3.7e17
    assert seize == 291_891_891_891_891_891
    assert debt == 1_000 * USDC
    assert Fraction(seize * 3_700, WETH) < 1_080 <= Fraction((seize + 1) * 3_700, WETH)


def test_not_enough_collateral_takes_all_of_it() -> None:
    # Only 0.1 WETH ($370) left: all of it is seized, and the debt shrinks to $370 / 1.08.
    seize, debt = collateral_to_seize(3_700 * USD, USD, 18, 6, 10_800, 1_000 * USDC, WETH // 10)
    assert seize == WETH // 10
    # percentDiv((3700e8 · 1e17 · 1e6) // (1e8 · 1e18), 10800) = percentDiv(370,000,000, 10800)
    #   = (370,000,000 · 10000 + 5400) // 10800 = 342,592,593   (342.592592… rounds half-up)
    assert debt == 342_592_593


def test_seed_example_seizure() -> None:
    # Liquidation document, Example 1: $40,000 of USDC repaid at WETH $2,499.75 buys $43,200 of WETH.
    seize, debt = collateral_to_seize(249_975_000_000, USD, 18, 6, 10_800, 40_000 * USDC, 40 * WETH)
    assert debt == 40_000 * USDC
    assert seize == 40_000 * 108 * WETH * USD // (100 * 249_975_000_000)
    assert seize == 17_281_728_172_817_281_728
    shortfall = 43_200 - Fraction(seize * 249_975_000_000, WETH * USD)  # USD lost to the floor
    assert 0 <= shortfall < Fraction(1, 10**12)


def test_same_decimals_and_same_price() -> None:
    # Same asset as collateral and debt: bonus only.
    assert collateral_to_seize(USD, USD, 6, 6, 10_500, 1_000, 10**9) == (1_050, 1_000)
    assert collateral_to_seize(USD, USD, 6, 6, 10_500, 1_000, 1_000) == (1_000, 952)  # 1000/1.05


@given(
    st.integers(1, 10**14),
    st.integers(1, 10**14),
    st.sampled_from([0, 6, 8, 18]),
    st.sampled_from([0, 6, 8, 18]),
    st.integers(10_001, 15_000),
    st.integers(0, 10**30),
    st.integers(0, 10**30),
)
def test_seize_matches_rationals(
    pc: int, pd: int, dc: int, dd: int, bonus: int, cover: int, balance: int
) -> None:
    seize, debt = collateral_to_seize(pc, pd, dc, dd, bonus, cover, balance)
    bonus_value = int(Fraction(pd * cover * 10**dc * bonus, 10_000) + Fraction(1, 2))  # percentMul
    max_coll = bonus_value // (pc * 10**dd)
    if max_coll > balance:
        assert seize == balance
        base = pc * balance * 10**dd // (pd * 10**dc)
        assert debt == int(Fraction(base * 10_000, bonus) + Fraction(1, 2))  # percentDiv
        assert debt <= cover
    else:
        assert (seize, debt) == (max_coll, cover)


# ---- liquidation rules through the protocol -------------------------------------------------------


def unhealthy(weth_price: int = 2_000 * USD):
    """bob: 10 WETH collateral, 25,000 USDC debt; WETH falls so that HF < 1. dave liquidates."""
    p = core_protocol()
    supply(p, "alice", "USDC", 1_000_000 * USDC)
    supply(p, "bob", "WETH", 10 * WETH)
    p.borrow("bob", "USDC", 25_000 * USDC)
    p.set_price("WETH", weth_price)
    p.mint("dave", "USDC", 1_000_000 * USDC)
    return p


def test_close_factor_caps_the_repayment_at_half_the_debt() -> None:
    p = unhealthy()  # 20,000 * 0.8 / 25,000 = 0.64
    assert p.health_factor("bob") == 640_000_000_000_000_000
    (event,) = p.liquidate("dave", "bob", "WETH", "USDC", UINT256_MAX)
    assert event.fields["debt_to_cover"] == 12_500 * USDC
    # 12,500 USD * 1.08 / 2,000 = 6.75 WETH
    assert event.fields["liquidated_collateral"] == 675 * WETH // 100
    assert p.core.reserve(("USDC", True)).debt_balance("bob", p.now) == 12_500 * USDC
    assert p.wallet("WETH", "dave") == 675 * WETH // 100
    assert p.wallet("USDC", "dave") == (1_000_000 - 12_500) * USDC


def test_receive_a_token_moves_collateral_without_cash() -> None:
    p = unhealthy()
    p.liquidate("dave", "bob", "WETH", "USDC", 1_000 * USDC, receive_a_token=True)
    weth = p.core.reserve(("WETH", True))
    assert weth.a_balance("dave", p.now) == 54 * WETH // 100  # 1000 * 1.08 / 2000
    assert p.core.is_collateral("dave", weth)  # first aTokens received: the bit is set
    assert weth.cash == 10 * WETH
    assert p.wallet("WETH", "dave") == 0


def test_healthy_positions_cannot_be_liquidated() -> None:
    p = unhealthy(weth_price=3_700 * USD)
    err = refused(p, p.liquidate, "dave", "bob", "WETH", "USDC", 1_000 * USDC)
    assert (err.code, err.name) == ("73", "LPCM_HEALTH_FACTOR_NOT_BELOW_THRESHOLD")


def test_collateral_and_debt_must_be_held() -> None:
    p = unhealthy()
    assert refused(p, p.liquidate, "dave", "bob", "USDC", "USDC", 1_000 * USDC).code == "74"
    supply(p, "bob", "WBTC", 10)  # WBTC held as collateral, but no WBTC debt
    assert refused(p, p.liquidate, "dave", "bob", "WETH", "WBTC", 1_000).code == "75"


def test_liquidation_paid_in_underlying_needs_cash() -> None:
    p = unhealthy()
    supply(p, "carol", "USDC", 100_000 * USDC)
    p.borrow("carol", "WETH", 10 * WETH)  # drains the WETH reserve's cash
    assert refused(p, p.liquidate, "dave", "bob", "WETH", "USDC", 1_000 * USDC).code == "76"
    p.liquidate("dave", "bob", "WETH", "USDC", 1_000 * USDC, receive_a_token=True)  # needs no cash


def test_whole_collateral_is_taken_when_short() -> None:
    p = unhealthy(weth_price=1_000 * USD)  # collateral $10,000 < debt $25,000
    (event,) = p.liquidate("dave", "bob", "WETH", "USDC", UINT256_MAX)
    assert event.fields["liquidated_collateral"] == 10 * WETH
    # $10,000 / 1.08 = 9,259.259259… USDC, rounded half-up
    assert event.fields["debt_to_cover"] == 9_259_259_259
    weth = p.core.reserve(("WETH", True))
    assert weth.a_balance("bob", p.now) == 0
    assert not p.core.is_collateral("bob", weth)  # cleared with the last collateral
    assert p.core.reserve(("USDC", True)).debt_balance("bob", p.now) == 25_000 * USDC - 9_259_259_259


def test_the_core_never_liquidates_a_mini_pool() -> None:
    p = mini_protocol()
    mp = p.mini_pools[0]
    # A Mini-Pool's Core debt is unbacked by design; the Core refuses to liquidate it (§4.8 step 1).
    err = refused(p, p.liquidate, "dave", mp.address, "USDC", "USDC", 1)
    assert (err.code, err.name) == ("11", "VL_MINIPOOL_CANNOT_BE_LIQUIDATED")
