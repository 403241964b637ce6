"""The monitor finds every account with HF < 1, exactly: compared with brute force.

Its float bounds sort rows into proved unhealthy, proved healthy and unsure; every test
here also checks that sorting row by row against the core's integer health factor
(:func:`assert_triage_sound`), in ordinary deployments and in one with coarse units where
the per-asset rounding is large next to the values.
"""

from __future__ import annotations

import random

import pytest
from keeper_helpers import COARSE, USD, USDC, WETH, act, coarse_book, deploy, random_book

from astera.core import WAD, DefaultRateStrategy, Protocol, ProtocolError, account_data
from astera.keeper import Monitor
from astera.scenario import run_action


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
    """The scan's accounts; the detection (no account data) must name the same ones."""
    scanned: list[tuple[object, str]] = [(u.pool, u.user) for u in m.scan()]
    detected = [(ref, user) for ref, users in m.detect().items() for user in users]
    assert len(detected) == len(scanned) and set(detected) == set(scanned)
    return scanned


def assert_triage_sound(m: Monitor) -> tuple[int, int]:
    """Rows proved unhealthy have HF < 1 and rows proved healthy HF >= 1, exactly.

    Returns how many rows were proved unhealthy and how many were unsure.
    """
    proved = unsure = 0
    for index, triage in zip(m.indexes, m.triage(), strict=True):
        bad, undecided = set(triage.unhealthy.tolist()), set(triage.unsure.tolist())
        assert not bad & undecided
        for i, user in enumerate(index.users):
            hf = account_data(index.pool, user).health_factor
            if i in bad:
                assert hf < WAD, (index.ref, user, "proved unhealthy, but HF >= 1")
            elif i not in undecided:
                assert hf >= WAD, (index.ref, user, "proved healthy, but HF < 1")
        proved += len(bad)
        unsure += len(undecided)
    return proved, unsure


@pytest.mark.parametrize("seed", range(6))
def test_scan_equals_brute_force_over_random_ticks(seed: int) -> None:
    rng = random.Random(seed)
    p = deploy(*random_book(rng, 40))
    m = Monitor(p)
    assert m.positions > 40
    unhealthy_seen = proved = 0
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
        proved += assert_triage_sound(m)[0]
        unhealthy_seen += len(expected)
        if rng.random() < 0.3:  # keep the prices near where positions are on the edge
            p.set_price("WETH", 2_750 * USD)
            p.set_price("WBTC", 60_000 * USD)
            p.set_price("USDC", USD)
    assert unhealthy_seen > 20  # the walk really crossed the boundary
    assert proved > 0  # the bounds alone proved some (the boundary tests cover the unsure rows)


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
            assert_triage_sound(m)
        row = m.index("core").rows[user]
        p.set_price("WETH", lo)
        assert ("core", user) in found(m)
        assert row in m.triage()[0].unsure  # a hair below 1: only the exact check can tell
        p.set_price("WETH", lo // 2)
        assert row in m.triage()[0].unhealthy  # well below 1 the bounds prove it
        p.set_price("WETH", hi)
        assert ("core", user) not in found(m)
        assert row in m.triage()[0].unsure
        p.set_price("WETH", hi + hi // 100)
        triage = m.triage()[0]
        assert row not in triage.unsure and row not in triage.unhealthy  # 1% higher: proved healthy
        tested += 1
    assert tested >= 8


def test_prefilter_drops_the_safe_rows() -> None:
    p = deploy(*random_book(random.Random(3), 30))
    m = Monitor(p)
    p.set_price("WETH", 10_000 * USD)  # everyone far above 1
    assert m.candidates() == 0 and m.scan() == []
    p.set_price("WETH", 100 * USD)  # everyone far below 1
    p.set_price("WBTC", 100 * USD)
    # Only borrowers whose was-USDC loans sit in their Core wallet as USDC collateral stay healthy.
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
                act("repay", u, "was-USDC", rng.randint(1, 1_000) * USDC, pool="mini"),
                act("borrow", u, "was-USDC", rng.randint(1, 1_000) * USDC, pool="mini"),
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


def test_one_touch_of_many_users_rewrites_adds_and_drops_rows() -> None:
    """Untracked changes to many users at once (rows that stay, appear and go), named in one
    touch with repeats and with users that never borrowed: the index equals a rebuild."""
    rng = random.Random(5)
    p = deploy(*random_book(rng, 30))
    m = Monitor(p)
    before = m.positions
    for k in range(30):
        u = f"u{k}"
        if k % 3 == 0:
            run_action(p, act("repay", u, "USDC", 0) | {"amount": "max"})  # the row goes
        elif k % 3 == 1:
            run_action(p, act("borrow", u, "USDC", rng.randint(1, 100) * USDC))  # the row stays, rewritten
    p.register_user("newcomer")
    p.mint("newcomer", "WETH", 10 * WETH)
    p.deposit("newcomer", "WETH", 10 * WETH)
    p.borrow("newcomer", "USDC", 1_000 * USDC)  # a row appears
    users = [f"u{k}" for k in range(30)] + ["newcomer", "u1", "newcomer", "nobody"]
    m.touch("core", rng.sample(users, len(users)))
    assert _rows(m) == _rows(Monitor(p))
    assert m.positions != before


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


@pytest.mark.parametrize("seed", range(3))
def test_bounds_hold_with_coarse_units(seed: int) -> None:
    """Rounding per asset is dollars here: the bounds still never prove a wrong answer."""
    rng = random.Random(seed)
    p = coarse_book(rng, 60)
    m = Monitor(p)
    assert m.positions > 30
    proved = unsure = unhealthy = 0
    for _ in range(40):
        if rng.random() < 0.7:
            asset = rng.choice(sorted(COARSE))
            p.set_price(asset, max(1, p.price(asset) * rng.randint(93, 106) // 100))
        else:
            p.advance(rng.randint(1, 60 * 86_400))
        expected = brute_force(p)
        assert found(m) == expected
        a, b = assert_triage_sound(m)
        proved, unsure, unhealthy = proved + a, unsure + b, unhealthy + len(expected)
    assert proved > 0 and unsure > 0 and unhealthy > proved


def test_triage_on_a_crash_proves_most_rows() -> None:
    """After a deep crash nearly every row is proved one way or the other, without integers."""
    p = deploy(*random_book(random.Random(5), 30))
    m = Monitor(p)
    p.set_price("WETH", 1_500 * USD)
    proved, unsure = assert_triage_sound(m)
    assert proved == len(brute_force(p)) > 10 and unsure == 0


def test_queue_is_the_scan_by_pool_and_largest_debt() -> None:
    p = deploy(*random_book(random.Random(9), 40))
    p.set_price("WETH", 2_150 * USD)
    m = Monitor(p)
    queue = m.queue()
    assert [q.ref for q in queue] == ["core", 0] and not any(q.unpriced for q in queue)
    assert [(q.ref, user) for q in queue for user in sorted(q.unhealthy)] == found(m) == brute_force(p)
    for ref, users, _ in queue:
        debts = [account_data(p.pool(ref), user).total_debt_base for user in users]
        assert debts == sorted(debts, reverse=True) and len(debts) > 3
