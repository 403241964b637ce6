"""The state hash kept current from the journal (``astera.core.state_digest``).

``Protocol.state_hash()`` re-hashes only the entries of the large maps written since the
previous call. These tests hold it equal to a hash computed from scratch across the events
that could make the two drift: refusals, hashes taken inside a transaction, pickling,
structure that appears after the first hash, and admin writes (delegation allowances).
The Hypothesis machines (``tests/strategies.py``) check the same after every random step.
"""

from __future__ import annotations

import pickle

import pytest

from astera.core import Protocol
from astera.core.state_digest import entry_hash, map_sum
from strategies import ADMIN, MINI_ADMIN, USERS, mini_protocol, refused, supply, volatile_curve

USDC, WETH = 10**6, 10**18


def same(p: Protocol) -> str:
    """The incremental hash, checked against one from scratch."""
    h = p.state_hash()
    assert h == p.state_hash(incremental=False)
    return h


def test_a_map_hash_depends_on_contents_only() -> None:
    a = {"x": 1, "y": 2}
    b = {"y": 2, "x": 1, "z": 0}  # other order, and an empty entry
    assert map_sum("m", a.items()) == map_sum("m", b.items())
    assert entry_hash("m", "x", 0) == 0
    assert map_sum("m", a.items()) != map_sum("n", a.items())  # the label is part of each entry
    assert map_sum("m", a.items()) != map_sum("m", {"x": 2, "y": 1}.items())


def test_hashes_follow_operations_and_ignore_refusals() -> None:
    p = mini_protocol()
    same(p)
    supply(p, "alice", "USDC", 1_000_000 * USDC)
    supply(p, "bob", "WETH", 10 * WETH)
    p.borrow("bob", "USDC", 5_000 * USDC)
    before = same(p)
    refused(p, p.borrow, "bob", "USDC", 10**12 * USDC)
    assert same(p) == before
    p.approve_delegation("bob", "carol", "USDC", 1_000 * USDC)  # journaled like any write
    p.borrow("carol", "USDC", 400 * USDC, on_behalf_of="bob")
    p.advance(86_400)
    p.mint("bob", "USDC", 1_000 * USDC)
    p.repay("bob", "USDC", 10**30)
    assert same(p) != before


def test_equal_states_reached_in_other_orders_hash_equal() -> None:
    def build(order: list[str]) -> Protocol:
        p = mini_protocol()
        p.state_hash()  # the running digest exists from the start
        for user in order:
            supply(p, user, "WETH", WETH)
        return p

    first, second = build(list(USERS)), build(list(reversed(USERS)))
    assert first.state_hash() == second.state_hash()


def test_a_hash_inside_a_transaction_is_computed_from_scratch() -> None:
    p = mini_protocol()
    before = same(p)
    with pytest.raises(RuntimeError), p.transaction():
        supply(p, "alice", "USDC", 1_000 * USDC)
        inside = p.state_hash()
        assert inside != before and inside == p.state_hash(incremental=False)
        raise RuntimeError("undo")
    assert same(p) == before


def test_pickled_protocols_rebuild_their_digest() -> None:
    p = mini_protocol()
    supply(p, "alice", "USDC", 1_000 * USDC)
    h = same(p)
    copy = pickle.loads(pickle.dumps(p))
    assert same(copy) == h
    supply(copy, "bob", "USDC", 1_000 * USDC)
    supply(p, "bob", "USDC", 1_000 * USDC)
    assert same(copy) == same(p)


def test_structure_added_after_the_first_hash_is_hashed_whole() -> None:
    p = mini_protocol()
    same(p)
    p.add_asset("EXB", decimals=8, price=5 * 10**8)
    p.create_mini_pool(ADMIN, pool_admin=MINI_ADMIN)
    p.init_mini_reserve(ADMIN, 1, "EXB", volatile_curve())
    supply(p, "alice", "EXB", 10**8, pool=1)
    same(p)


def test_copies_carry_no_digest_until_they_hash() -> None:
    """Map identities do not survive pickling: a copy has neither the digest nor its journal
    hook (so its hot path pays nothing for them) until its own first state hash."""
    p = mini_protocol()
    same(p)
    assert p.journal.observer is not None
    copy = pickle.loads(pickle.dumps(p))
    assert copy.hasher._digest is None and copy.journal.observer is None
    supply(copy, "alice", "USDC", 1_000 * USDC)
    same(copy)
    assert copy.journal.observer is not None
