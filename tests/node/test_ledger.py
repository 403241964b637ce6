"""The ledger: nonces, roles, refusals that change nothing, liquidations open to anyone."""

from __future__ import annotations

from typing import Any

import pytest

from astera.node import genesis
from astera.node.errors import NodeError
from astera.node.ledger import Ledger
from astera.node.transactions import decode_tx
from astera.wire.tx import sign_tx

from .node_harness import key, make_genesis

CHAIN = "t"


@pytest.fixture
def ledger() -> Ledger:
    led = genesis.build(make_genesis())
    led.open_block(genesis.build(make_genesis()).protocol.now + 60)
    return led


def tx(who: str, nonce: int, action: str, **params: Any) -> Any:
    return decode_tx(sign_tx(key(who), CHAIN, nonce, action, params), CHAIN)


def refused(ledger: Ledger, t: Any) -> NodeError:
    before = (ledger.protocol.state_hash(), dict(ledger.nonces))
    with pytest.raises(NodeError) as e:
        ledger.apply(t)
    assert (ledger.protocol.state_hash(), dict(ledger.nonces)) == before, "a refusal must change nothing"
    return e.value


def dep(who: str, nonce: int, amount: str = "1000000") -> Any:
    return tx(who, nonce, "deposit", pool="core", asset="USDC", amount=amount)


def test_nonces_are_strictly_sequential(ledger: Ledger) -> None:
    assert refused(ledger, dep("alice", 1)).code == "bad_nonce"  # skipped 0
    ledger.apply(dep("alice", 0))
    e = refused(ledger, dep("alice", 0, "2000000"))  # replayed nonce
    assert e.code == "bad_nonce" and e.extra["expected"] == 1
    ledger.apply(dep("alice", 1))
    assert ledger.next_nonce(key("alice").address) == 2
    assert ledger.next_nonce(key("bob").address) == 0  # nonces are per sender


def test_protocol_refusal_does_not_consume_the_nonce(ledger: Ledger) -> None:
    e = refused(ledger, tx("alice", 0, "borrow", pool="core", asset="USDC", amount="1000000"))
    assert e.code == "refused" and e.extra["reason"] == "7"  # no collateral
    ledger.apply(dep("alice", 0))  # the same nonce is still the next one


def test_unknown_names_are_refusals_with_the_core_code(ledger: Ledger) -> None:
    assert refused(ledger, tx("alice", 0, "deposit", pool="core", asset="DOGE", amount="1")).extra[
        "reason"
    ] == ("input:unknown_reserve")
    assert refused(ledger, tx("alice", 0, "deposit", pool=7, asset="USDC", amount="1")).extra["reason"] == (
        "input:unknown_pool"
    )


def test_new_accounts_are_registered_only_if_the_tx_succeeds(ledger: Ledger) -> None:
    fresh = key("erin").address
    refused(ledger, tx("erin", 0, "deposit", pool="core", asset="USDC", amount="1"))  # erin holds nothing
    assert fresh not in ledger.protocol.users
    ledger.apply(tx("alice", 0, "deposit", pool="core", asset="USDC", amount="5", on_behalf_of=fresh))
    assert fresh in ledger.protocol.users


@pytest.mark.parametrize(
    ("action", "params", "holder"),
    [
        ("set_price", {"asset": "WETH", "price": "100000000"}, "oracle"),
        ("mint", {"to": key("alice").address, "asset": "USDC", "amount": "1"}, "faucet"),
        ("set_flow_limit", {"asset": "USDC", "mini_pool": 0, "limit": "1"}, "admin"),
        ("set_reserve_factor", {"pool": "core", "asset": "USDC", "reserve_factor": 1000}, "admin"),
        ("set_pause", {"pool": "core", "paused": True}, "emergency_admin"),
        ("set_reserve_flags", {"pool": 0, "asset": "wstETH", "frozen": True}, "pool_admin"),
        (
            "configure_reserve_as_collateral",
            {
                "pool": "core",
                "asset": "USDC",
                "ltv": 8000,
                "liquidation_threshold": 8500,
                "liquidation_bonus": 10500,
            },
            "admin",
        ),
    ],
)
def test_roles(ledger: Ledger, action: str, params: dict[str, Any], holder: str) -> None:
    for intruder in ("alice", "admin" if holder != "admin" else "oracle"):
        e = refused(ledger, tx(intruder, 0, action, **params))
        assert e.code == "unauthorized"
    ledger.apply(tx(holder, 0, action, **params))


def test_pool_admin_of_one_pool_cannot_configure_the_core(ledger: Ledger) -> None:
    e = refused(ledger, tx("pool_admin", 0, "set_reserve_flags", pool="core", asset="USDC", frozen=True))
    assert e.code == "unauthorized" and e.extra["role"] == "pool_admin"


def test_liquidation_is_open_to_anyone(ledger: Ledger) -> None:
    p = ledger.protocol
    ledger.apply(tx("alice", 0, "deposit", pool="core", asset="WETH", amount=str(10**18)))
    ledger.apply(tx("alice", 1, "borrow", pool="core", asset="USDC", amount=str(2_700 * 10**6)))
    assert (
        refused(
            ledger,
            tx(
                "bob",
                0,
                "liquidate",
                pool="core",
                target=key("alice").address,
                collateral_asset="WETH",
                debt_asset="USDC",
                debt_to_cover="max",
            ),
        ).extra["reason"]
        == "73"
    )
    ledger.apply(tx("oracle", 0, "set_price", asset="WETH", price=str(3_000 * 10**8)))
    assert p.health_factor(key("alice").address) < 10**18
    ledger.apply(
        tx(
            "bob",
            0,
            "liquidate",
            pool="core",
            target=key("alice").address,
            collateral_asset="WETH",
            debt_asset="USDC",
            debt_to_cover="max",
        )
    )
    assert p.debt(key("alice").address, "USDC") < 2_700 * 10**6


def test_empty_block_leaves_the_clock_alone(ledger: Ledger) -> None:
    now = ledger.protocol.now
    ledger.close_block(1)
    ledger.open_block(now + 100)
    assert ledger.close_block(0) is None
    assert ledger.protocol.now == now


def test_mini_pool_flow_borrow_through_the_log(ledger: Ledger) -> None:
    """A Mini-Pool tranche borrow beyond its own liquidity draws on the Core credit line."""
    ledger.apply(tx("alice", 0, "deposit", pool=0, asset="wstETH", amount=str(10 * 10**18)))
    receipt = ledger.apply(tx("alice", 1, "borrow", pool=0, asset="was-USDC", amount=str(1_000 * 10**6)))
    assert any(e.name == "Borrow" for e in receipt)
    core, mp = ledger.protocol.core, ledger.protocol.mini_pools[0]
    assert core.current_flow("USDC", mp) > 0


def test_listing_an_asset_with_a_bad_price_is_refused_before_the_core(ledger: Ledger) -> None:
    """The node checks the price range itself: a bad price is ``invalid_tx`` and nothing is listed."""
    for bad in ("0", str(2**255)):
        with pytest.raises(NodeError) as e:
            tx("admin", 0, "add_asset", asset="NEW", decimals=6, price=bad)
        assert e.value.code == "invalid_tx"
    ledger.apply(tx("admin", 0, "add_asset", asset="NEW", decimals=6, price="100000000"))
    assert ledger.protocol.price("NEW") == 10**8


def test_credit_delegation_by_any_user_up_to_max(ledger: Ledger) -> None:
    """``approve_delegation`` takes ``"max"`` as the contracts' 2**256 - 1, like the scenario format."""
    bob = key("bob").address
    ledger.apply(tx("alice", 0, "approve_delegation", pool="core", asset="USDC", delegatee=bob, amount="max"))
    r = ledger.protocol.core.reserve(("USDC", True))
    assert r.borrow_allowance[(key("alice").address, bob)] == 2**256 - 1
