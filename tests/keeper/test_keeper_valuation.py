"""A valuation reads prices and indexes once and values accounts exactly as the core does."""

from __future__ import annotations

import random

import pytest
from keeper_helpers import COARSE, WETH, coarse_book, deploy, random_book

from astera.core import Protocol, ProtocolError, account_data
from astera.core.pool import Pool
from astera.keeper.valuation import Valuation


def pools(p: Protocol) -> list[Pool]:
    return [p.core, *p.mini_pools]


def assert_equal_to_core(p: Protocol) -> int:
    """Every user of every pool: same account data as the core, legs equal to the balances."""
    checked = 0
    for pool in pools(p):
        valuation = Valuation(pool)
        for user in pool.user_config:
            position = valuation.position(user)
            assert position.account == account_data(pool, user), (pool.name, user)
            assert valuation.health_factor(user) == position.account.health_factor
            assert sum(leg.value for leg in position.collateral) == position.account.total_collateral_base
            assert sum(leg.value for leg in position.debt) == position.account.total_debt_base
            for leg in position.collateral:
                assert leg.amount == leg.reserve.a_balance(user, p.now) > 0
                assert pool.is_collateral(user, leg.reserve) and leg.reserve.liquidation_threshold
            for leg in position.debt:
                assert leg.amount == leg.reserve.debt_balance(user, p.now) > 0
            checked += 1
    return checked


@pytest.mark.parametrize("seed", range(3))
def test_valuation_equals_account_data_on_random_states(seed: int) -> None:
    rng = random.Random(seed)
    p = deploy(*random_book(rng, 30))
    checked = 0
    for _ in range(15):
        asset = rng.choice(["WETH", "WBTC", "USDC"])
        p.set_price(asset, p.price(asset) * rng.randint(80, 120) // 100)
        p.advance(rng.randint(0, 120 * 86_400))
        checked += assert_equal_to_core(p)
    assert checked >= 15 * 40  # users valued over the walk, every pool


def test_valuation_equals_account_data_with_coarse_units() -> None:
    rng = random.Random(4)
    p = coarse_book(rng, 40)
    for _ in range(15):
        asset = rng.choice(sorted(COARSE))
        p.set_price(asset, max(1, p.price(asset) * rng.randint(80, 120) // 100))
        p.advance(rng.randint(0, 120 * 86_400))
        assert_equal_to_core(p)


def test_valuation_is_a_snapshot() -> None:
    """Prices and indexes are read when the valuation is made; balances when an account is valued."""
    p = deploy()
    p.mint("bob", "WETH", 10 * WETH)
    p.deposit("bob", "WETH", 10 * WETH)
    valuation = Valuation(p.core)
    before = valuation.position("bob").account
    p.set_price("WETH", p.price("WETH") // 2)
    assert valuation.position("bob").account == before != account_data(p.core, "bob")
    assert Valuation(p.core).position("bob").account == account_data(p.core, "bob")
    assert valuation.position("nobody").account == account_data(p.core, "nobody")


def test_overflow_is_refused_like_the_core() -> None:
    """A balance whose index product overflows uint256 raises the core's error, not a wrong number."""
    p = deploy()
    p.mint("bob", "WETH", WETH)
    p.deposit("bob", "WETH", WETH)
    weth = p.core.reserve(("WETH", True))
    weth.a_scaled["bob"] = 1 << 200  # beyond any real supply: rayMul(scaled, index) overflows
    with pytest.raises(ProtocolError) as core:
        account_data(p.core, "bob")
    with pytest.raises(ProtocolError) as ours:
        Valuation(p.core).position("bob")
    assert ours.value.code == core.value.code
