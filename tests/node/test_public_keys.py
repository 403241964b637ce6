"""Strict Ed25519: small-order and non-canonical public keys are not addresses, and a
signature is checked strictly, everywhere a key enters the node (issue 10, item 1).

The encodings below are the published small-order points of edwards25519 (RFC 8032
test literature, libsodium's blocklist) written out by hand, so the test does not trust
the module's own derivation of them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from astera.node import genesis
from astera.node.errors import NodeError
from astera.node.transactions import decode_tx
from astera.wire.keys import Key, is_address, verify
from astera.wire.public_keys import SMALL_ORDER_ENCODINGS, L, is_strict_signature
from astera.wire.tx import signing_message

from .node_harness import key, make_genesis

CHAIN = "astera-test"
SMALL_ORDER = {
    "identity": "01" + "00" * 31,
    "order 2": "ec" + "ff" * 30 + "7f",
    "order 4 (+)": "00" * 32,
    "order 4 (-)": "00" * 31 + "80",
    "order 8 a": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "order 8 b": "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
    "order 8 c": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "order 8 d": "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
}
NON_CANONICAL = {
    "y = p (zero, unreduced)": "ed" + "ff" * 30 + "7f",
    "y = p + 1 (identity, unreduced)": "ee" + "ff" * 30 + "7f",
    "identity with x sign bit": "01" + "00" * 30 + "80",
    "order 2 with x sign bit": "ec" + "ff" * 30 + "ff",
    "y = 2^255 - 1": "ff" * 32,
}
#: A y with no x on the curve (2 is a non-square case: (y^2 - 1)/(d y^2 + 1) has no root).
OFF_CURVE = (2).to_bytes(32, "little").hex()


@pytest.mark.parametrize("name", sorted(SMALL_ORDER) + sorted(NON_CANONICAL))
def test_small_order_and_non_canonical_keys_are_not_addresses(name: str) -> None:
    hex_key = SMALL_ORDER.get(name) or NON_CANONICAL[name]
    assert not is_address(hex_key)


def test_off_curve_keys_are_not_addresses() -> None:
    assert not is_address(OFF_CURVE)


def test_real_keys_are_addresses() -> None:
    for i in range(50):
        assert is_address(key(f"user{i}").address)


def test_every_small_order_encoding_is_blocked_for_r() -> None:
    for hex_key in SMALL_ORDER.values():
        assert bytes.fromhex(hex_key) in SMALL_ORDER_ENCODINGS
    for unreduced in ("ed" + "ff" * 30 + "7f", "ee" + "ff" * 30 + "7f"):
        assert bytes.fromhex(unreduced) in SMALL_ORDER_ENCODINGS


def test_signatures_are_strict() -> None:
    k = Key.generate()
    sig = bytes.fromhex(k.sign(b"m"))
    assert verify(k.address, sig.hex(), b"m") and is_strict_signature(sig)
    s = int.from_bytes(sig[32:], "little")
    unreduced = sig[:32] + (s + L).to_bytes(32, "little")  # the same S modulo L: malleated
    assert not is_strict_signature(unreduced) and not verify(k.address, unreduced.hex(), b"m")
    for r in SMALL_ORDER.values():
        assert not is_strict_signature(bytes.fromhex(r) + sig[32:])


def forged(
    action: str, params: dict[str, Any], sender: str = SMALL_ORDER["identity"], chain: str = CHAIN
) -> dict[str, Any]:
    """The forgery of the issue: identity key, signature (R = identity, S = 0)."""
    body = {"chain_id": chain, "sender": sender, "nonce": 0, "action": action, "params": params}
    return {"tx": body, "signature": "01" + "00" * 63}


def test_the_forged_signature_of_the_report_is_refused_before_the_key_is_used() -> None:
    env = forged("deposit", {"pool": "core", "asset": "USDC", "amount": "1"})
    # What made the attack work: the library's verification alone accepts it.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(bytes.fromhex(env["tx"]["sender"])).verify(
        bytes.fromhex(env["signature"]), signing_message(env["tx"])
    )
    with pytest.raises(NodeError) as e:
        decode_tx(env, CHAIN)
    assert e.value.code == "invalid_tx"


def test_forged_transactions_change_nothing_over_http(api: TestClient) -> None:
    before = api.get("/status").json()["state_hash"]
    chain = api.node.chain_id  # type: ignore[attr-defined]
    for name, sender in SMALL_ORDER.items():
        for action, params in (
            ("deposit", {"pool": "core", "asset": "USDC", "amount": "1"}),
            ("withdraw", {"pool": "core", "asset": "USDC", "amount": "max", "to": key("alice").address}),
            ("set_pause", {"pool": "core", "paused": True}),
        ):
            r = api.post("/txs", content=json.dumps(forged(action, params, sender, chain)))
            assert r.status_code in (401, 422), (name, action, r.text)
            assert r.json()["error"]["code"] in ("invalid_tx", "bad_signature"), r.text
    assert api.get("/status").json()["state_hash"] == before


def test_small_order_keys_are_refused_as_parameters_and_faucet_addresses(api: TestClient) -> None:
    alice = key("alice")
    for target in SMALL_ORDER.values():
        r = api.post("/faucet", json={"address": target, "asset": "USDC", "amount": "1000000"})
        assert r.status_code in (400, 422), r.text
        body = {
            "chain_id": api.node.chain_id,  # type: ignore[attr-defined]
            "sender": alice.address,
            "nonce": 0,
            "action": "approve_delegation",
            "params": {"pool": "core", "asset": "USDC", "delegatee": target, "amount": "1"},
        }
        env = {"tx": body, "signature": alice.sign(signing_message(body))}
        r = api.post("/txs", content=json.dumps(env))
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_tx", r.text


@pytest.mark.parametrize("role", ["admin", "emergency_admin", "oracle", "faucet"])
def test_genesis_refuses_small_order_role_keys(role: str) -> None:
    doc = make_genesis()
    doc["roles"][role] = "00" * 32
    with pytest.raises(genesis.GenesisError):
        genesis.build(doc)


def test_genesis_refuses_small_order_balance_holders() -> None:
    doc = make_genesis()
    doc["balances"][SMALL_ORDER["identity"]] = {"USDC": "1"}
    with pytest.raises(genesis.GenesisError):
        genesis.build(doc)
