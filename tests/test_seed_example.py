"""The liquidation document's Example 1, on the Core-Pool, built through the Core API.

Seed text (spec/seeds, liquidation): "a user deposits $110,000 of ETH in the Core Pool and
borrows $80,000 of USDC (LTV ~72%). The liquidation threshold is 80%, so the user is safe,
and the liquidation penalty is 8%. If the value of ETH falls and the user's collateral is
worth $100,000, their position is at risk of liquidation. If liquidated, Astera's
liquidation engine will repay $40,000 of debt and receive (40,000 x 1.08 = $43,200) of
ETH. The user's position is healthy again with $56,800 of ETH and $40,000 of debt."

The public vector ``seed-example-1`` runs the same story on the audited contracts with
WETH at $2,750 (40 WETH = $110,000) falling to $2,499.75 (collateral $99,990, so that the
position is just under water); it leaves $56,790 of WETH. We rebuild that deployment by
hand and check the numbers the document states, then that our account data agree with
the reference trace at every step.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from astera.core import UINT256_MAX, WAD, Protocol
from strategies import ADMIN, T0, add_core_reserve, refused, stable_curve, volatile_curve

USD = 10**8
USDC = 10**6
WETH = 10**18


@pytest.fixture
def example() -> Protocol:
    """The deployment of seed-example-1: USDC $1 and WETH $2,750; alice supplies the USDC."""
    p = Protocol(start_timestamp=T0, admin=ADMIN)
    p.add_asset("USDC", decimals=6, price=USD)
    p.add_asset("WETH", decimals=18, price=2_750 * USD)
    add_core_reserve(p, "USDC", stable_curve(), 8000, 8500, 10500, 1500)
    add_core_reserve(p, "WETH", volatile_curve(), 7500, 8000, 10800, 1500)
    for user in ("alice", "bob", "dave"):
        p.register_user(user)
    p.mint("alice", "USDC", 200_000 * USDC)
    p.deposit("alice", "USDC", 200_000 * USDC)
    p.mint("bob", "WETH", 40 * WETH)
    p.deposit("bob", "WETH", 40 * WETH)
    p.borrow("bob", "USDC", 80_000 * USDC)
    return p


def test_health_factor_is_exactly_1_1(example: Protocol) -> None:
    a = example.account("bob")
    assert a.total_collateral_base == 110_000 * USD
    assert a.total_debt_base == 80_000 * USD
    assert a.current_liquidation_threshold == 8000
    # 110,000 * 0.80 / 80,000 = 1.1, exactly
    assert a.health_factor == 11 * WAD // 10
    # LTV ~72 %: 80,000 / 110,000
    assert a.total_debt_base * 10_000 // a.total_collateral_base == 7272
    assert example.wallet("USDC", "bob") == 80_000 * USDC


def test_price_fall_puts_the_position_at_risk(example: Protocol) -> None:
    example.set_price("WETH", 249_975_000_000)
    a = example.account("bob")
    assert a.total_collateral_base == 99_990 * USD
    assert a.health_factor == 9_999 * WAD // 10_000  # 99,990 * 0.8 / 80,000 = 0.9999


def test_one_liquidation_restores_health(example: Protocol) -> None:
    p = example
    p.set_price("WETH", 249_975_000_000)
    p.mint("dave", "USDC", 40_000 * USDC)
    (event,) = p.liquidate("dave", "bob", "WETH", "USDC", 40_000 * USDC)
    assert event.fields["debt_to_cover"] == 40_000 * USDC  # the 50 % close factor
    seized = event.fields["liquidated_collateral"]
    # $43,200 of WETH = 40,000 * 1.08 / 2,499.75 WETH, rounded down to the wei
    assert seized == 43_200 * WETH * USD // 249_975_000_000 == 17_281_728_172_817_281_728
    assert p.wallet("WETH", "dave") == seized
    assert p.wallet("USDC", "dave") == 0

    a = p.account("bob")
    assert a.total_collateral_base == 56_790 * USD  # $99,990 - $43,200
    assert a.total_debt_base == 40_000 * USD
    assert a.health_factor == 11_358 * WAD // 10_000  # 56,790 * 0.8 / 40,000 = 1.1358
    # Healthy again: a second liquidation is refused.
    p.mint("dave", "USDC", 20_000 * USDC)
    assert refused(p, p.liquidate, "dave", "bob", "WETH", "USDC", 20_000 * USDC).code == "73"


def test_agrees_with_the_reference_trace(example: Protocol, vectors_dir: Path) -> None:
    """bob's account data, built here by hand, equal the audited contracts' at every step."""
    with gzip.open(vectors_dir / "seed-example-1.trace.json.gz", "rt") as f:
        steps = json.load(f)["steps"]
    ours = [example.account("bob")._asdict()]  # after the borrow (step 2)
    example.set_price("WETH", 249_975_000_000)
    ours.append(example.account("bob")._asdict())  # step 3
    example.mint("dave", "USDC", 40_000 * USDC)
    example.liquidate("dave", "bob", "WETH", "USDC", 40_000 * USDC)
    ours.append(example.account("bob")._asdict())  # step 4
    assert ours == [steps[i]["state"]["users"]["bob"]["core_account"] for i in (2, 3, 4)]
    assert steps[5]["error"] == {"code": "73", "name": "LPCM_HEALTH_FACTOR_NOT_BELOW_THRESHOLD"}
    assert ours[-1]["health_factor"] != UINT256_MAX
