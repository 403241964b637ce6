"""The oracle's feed rules (spec §9, vectors FORMAT §3.2), as the audited ``Oracle`` applies them.

A feed answer is used while it is positive, stamped at a non-zero time not in the future,
and not older than the asset's timeout (strictly; 0 = never stale). Otherwise the fallback
oracle answers; without one the oracle refuses (``78``), and once one is registered it
answers every asset, 0 for one it has no price for. A feed stamped by a price update ages
with time; one set with ``age`` reports its answer as that old at every read.
"""

from __future__ import annotations

import pytest

from astera.core import Protocol
from strategies import ADMIN, WETH_PRICE, mini_protocol, refused, supply

HOUR = 3_600
USDC = 10**6
WETH = 10**18


@pytest.fixture
def p() -> Protocol:
    p = mini_protocol()
    p.set_price_timeout(ADMIN, "WETH", HOUR)
    return p


def test_a_stamped_answer_ages_until_the_timeout_then_refuses_without_fallback(p: Protocol) -> None:
    p.advance(HOUR)
    assert p.price("WETH") == WETH_PRICE  # exactly the timeout old: still valid
    p.advance(1)
    assert refused(p, p.price, "WETH").code == "78"


def test_an_answer_with_a_constant_age_does_not_age_with_time(p: Protocol) -> None:
    p.set_price("WETH", WETH_PRICE, age=HOUR)
    p.advance(30 * 86_400)
    assert p.price("WETH") == WETH_PRICE
    p.set_price("WETH", WETH_PRICE, age=HOUR + 1)
    assert refused(p, p.price, "WETH").code == "78"
    p.set_price("WETH", WETH_PRICE)  # a plain update stamps the block time again
    assert p.price("WETH") == WETH_PRICE


def test_an_age_reaching_back_past_zero_reports_no_update_time(p: Protocol) -> None:
    p.set_price_timeout(ADMIN, "WETH", 0)  # never stale ...
    p.set_price("WETH", WETH_PRICE, age=p.now)
    assert refused(p, p.price, "WETH").code == "78"  # ... but updatedAt = 0 is invalid


def test_a_registered_fallback_answers_its_price_and_zero_for_assets_it_does_not_know(p: Protocol) -> None:
    p.set_price_timeout(ADMIN, "USDC", HOUR)
    p.advance(HOUR + 1)
    p.set_fallback_price(ADMIN, "WETH", 2_000 * 10**8)
    assert p.price("WETH") == 2_000 * 10**8
    assert p.price("USDC") == 0
    assert p.price("WBTC") > 0  # a valid feed is not asked of the fallback


def test_collateral_priced_zero_by_the_fallback_divides_by_zero_in_liquidation(p: Protocol) -> None:
    supply(p, "alice", "USDC", 1_000_000 * USDC)
    supply(p, "bob", "WETH", WETH)
    p.borrow("bob", "USDC", 2_000 * USDC)
    p.set_fallback_price(ADMIN, "USDC", 10**8)  # registers the fallback oracle; none for WETH
    p.set_price("WETH", WETH_PRICE, age=HOUR + 1)  # WETH's feed goes stale: fallback answers 0
    assert p.account("bob").total_collateral_base == 0
    p.mint("carol", "USDC", 1_000 * USDC)
    assert refused(p, p.liquidate, "carol", "bob", "WETH", "USDC", 100 * USDC).code == "panic:0x12"
