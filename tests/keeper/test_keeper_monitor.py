"""The monitor finds every account with HF < 1, exactly: compared with brute force."""

from __future__ import annotations

import random

import numpy as np
import pytest
from keeper_helpers import USD, USDC, WBTC, WETH, act, deploy

from astera.core import WAD, DefaultRateStrategy, Protocol, ProtocolError, account_data
from astera.keeper import Monitor
from astera.replay import run_action


def brute_force(p: Protocol) -> list[tuple[object, str]]:
    """Every (pool, user) with HF < 1, by the core's exact account data over every user."""
    pools = [("core", p.core), *((mp.id, mp) for mp in p.mini_pools)]
    return [
        (ref, user)
        for ref, pool in pools
        for user in sorted(pool.user_config)
        if account_data(pool, user).health_factor < WAD
    ]


def found(m: Monitor) -> list[tuple[object, str]]:
    return [(u.pool, u.user) for u in m.scan()]


def random_book(rng: random.Random, users: int) -> list[dict[str, object]]:
    """Random Core and Mini-Pool positions, most of them borrowing close to the limit."""
    actions: list[dict[str, object]] = []
    for i in range(users):
        u = f"u{i}"
        weth = rng.randint(1, 50) * WETH // 10
        wbtc = rng.randint(1, 20) * WBTC // 100 if rng.random() < 0.35 else 0
        actions += (
            [act("deposit", u, "WETH", weth), act("deposit", u, "WBTC", wbtc)]
            if wbtc
            else [act("deposit", u, "WETH", weth)]
        )
        limit = (weth * 2_750 * 75 // 100 // 10**12) + (wbtc * 60_000 * 70 // 100 // 100)
        actions.append(act("borrow", u, "USDC", limit * rng.randint(50, 99) // 100))
        if rng.random() < 0.4:
            coll = rng.randint(1, 30) * WETH // 10
            actions.append(act("deposit", u, "WETH", coll, pool="mini"))
            actions.append(
                act("borrow", u, "aUSDC", coll * 2_750 * rng.randint(40, 74) // 100 // 10**12, pool="mini")
            )
    return actions


@pytest.mark.parametrize("seed", range(6))
def test_scan_equals_brute_force_over_random_ticks(seed: int) -> None:
    rng = random.Random(seed)
    p = deploy(*random_book(rng, 40))
    m = Monitor(p)
    assert m.positions > 40
    unhealthy_seen = 0
    for _ in range(60):
        move = rng.random()
        if move < 0.5:
            asset = rng.choice(["WETH", "WBTC", "USDC"])
            p.set_price(asset, p.price(asset) * rng.randint(85, 112) // 100)
        elif move < 0.7:
            p.advance(rng.randint(60, 90 * 86_400))
        else:  # some user acts; the index follows through tracking()
            u = f"u{rng.randrange(40)}"
            a = rng.choice(
                [
                    act("repay", u, "USDC", rng.randint(1, 5_000) * USDC),
                    act("deposit", u, "WETH", WETH),
                    act("borrow", u, "USDC", rng.randint(1, 3_000) * USDC),
                ]
            )
            try:
                with m.tracking():
                    run_action(p, a)
            except ProtocolError:
                pass
        expected = brute_force(p)
        assert found(m) == expected
        unhealthy_seen += len(expected)
        if rng.random() < 0.3:  # keep the prices near where positions are on the edge
            p.set_price("WETH", 2_750 * USD)
            p.set_price("WBTC", 60_000 * USD)
            p.set_price("USDC", USD)
    assert unhealthy_seen > 20  # the walk really crossed the boundary


@pytest.mark.parametrize("seed", [7, 8])
def test_scan_is_exact_at_the_boundary(seed: int) -> None:
    """For each account, find the WETH price where HF crosses 1 and scan one unit either side."""
    rng = random.Random(seed)
    p = deploy(*random_book(rng, 40))
    m = Monitor(p)
    tested = 0
    for user in sorted(p.core.user_config):
        p.set_price("WETH", 1)
        if p.health_factor(user) >= WAD:
            continue  # WBTC alone keeps it healthy: no boundary on the WETH price
        lo, hi = 1, 2_750 * USD  # HF(lo) < 1 <= HF(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            p.set_price("WETH", mid)
            if p.health_factor(user) < WAD:
                lo = mid
            else:
                hi = mid
        for price in (lo - 1, lo, hi, hi + 1):
            p.set_price("WETH", price)
            assert found(m) == brute_force(p)
        p.set_price("WETH", lo)
        assert ("core", user) in found(m)
        p.set_price("WETH", hi)
        assert ("core", user) not in found(m)
        tested += 1
    assert tested >= 8


def test_prefilter_drops_the_safe_rows() -> None:
    p = deploy(*random_book(random.Random(3), 30))
    m = Monitor(p)
    p.set_price("WETH", 10_000 * USD)  # everyone far above 1
    assert m.candidates() == 0 and m.scan() == []
    p.set_price("WETH", 100 * USD)  # everyone far below 1
    p.set_price("WBTC", 100 * USD)
    # Only borrowers whose aUSDC loans sit in their Core wallet as USDC collateral stay healthy.
    assert m.candidates() == len(m.scan()) == len(brute_force(p)) > m.positions * 3 // 4


def _rows(m: Monitor) -> dict[tuple[object, str], tuple[list[float], list[float]]]:
    return {
        (index.ref, u): (index.collateral[i].tolist(), index.debt[i].tolist())
        for index in m.indexes
        for i, u in enumerate(index.users)
    }


def test_tracking_keeps_the_index_equal_to_a_rebuild() -> None:
    rng = random.Random(11)
    p = deploy(*random_book(rng, 20))
    m = Monitor(p)
    for step in range(120):
        u, v = f"u{rng.randrange(20)}", f"u{rng.randrange(20)}"
        a = rng.choice(
            [
                act("repay", u, "USDC", rng.choice([rng.randint(1, 10_000) * USDC, 10**15])),
                act("borrow", u, "USDC", rng.randint(1, 3_000) * USDC),
                act("deposit", u, "WETH", rng.randint(1, 10) * WETH) | {"onBehalfOf": v},
                act("withdraw", u, "WETH", rng.randint(1, 10) * WETH // 10),
                act("transfer", u, "WETH", WETH // 10) | {"to": v},
                act("repay", u, "aUSDC", rng.randint(1, 1_000) * USDC, pool="mini"),
                act("borrow", u, "aUSDC", rng.randint(1, 1_000) * USDC, pool="mini"),
            ]
        )
        if step % 10 == 0:
            a = act("repay", u, "USDC", 0) | {"amount": "max"}  # closes the position: the row goes
        try:
            with m.tracking():
                run_action(p, a)
        except ProtocolError:
            pass
        assert _rows(m) == _rows(Monitor(p))
    assert m.positions < 40


def test_touch_and_new_reserves() -> None:
    p = deploy()
    m = Monitor(p)
    assert m.positions == 0
    p.mint("bob", "WETH", 10 * WETH)
    p.deposit("bob", "WETH", 10 * WETH)
    p.borrow("bob", "USDC", 10_000 * USDC)
    assert m.positions == 0  # not told, not tracked
    m.touch("core", ["bob"])
    assert m.positions == 1
    p.add_asset("EXO", 18, 10 * USD)
    p.init_core_reserve("admin", "EXO", DefaultRateStrategy(8 * 10**26, 0, 4 * 10**25, 75 * 10**25))
    assert m.index("core").width == 4 and m.positions == 1  # rebuilt to the new width
    p.set_price("WETH", 1_000 * USD)
    assert found(m) == brute_force(p) == [("core", "bob")]


def test_monitor_on_columnar_rows_only() -> None:
    """Synthetic rows (the benchmark's format) score like real ones: bounds hold row by row."""
    p = deploy(*random_book(random.Random(5), 10))
    m = Monitor(p)
    index = m.index("core")
    p.set_price("WETH", 2_000 * USD)
    rows = set(index.candidates().tolist())
    exact = {i for i, u in enumerate(index.users) if account_data(p.core, u).health_factor < WAD}
    assert exact <= rows
    assert isinstance(index.collateral, np.ndarray) and index.collateral.shape == (len(index), 3)
