"""Keys, canonical encoding, signatures and strict parsing of transactions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astera.node.errors import NodeError
from astera.node.transactions import decode_tx, parse_json
from astera.wire.canonical import canonical_json
from astera.wire.keys import Key, verify
from astera.wire.tx import sign_tx, signing_message

from .node_harness import key

CHAIN = "astera-test"


def deposit(nonce: int = 0, amount: str = "1000000", who: str = "alice") -> dict:
    return sign_tx(key(who), CHAIN, nonce, "deposit", {"pool": "core", "asset": "USDC", "amount": amount})


def code_of(fn, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(NodeError) as e:
        fn(*args)
    return e.value.code


def test_sign_and_verify_roundtrip() -> None:
    k = Key.generate()
    sig = k.sign(b"hello")
    assert verify(k.address, sig, b"hello")
    assert not verify(k.address, sig, b"hellO")
    assert not verify(Key.generate().address, sig, b"hello")
    assert not verify(k.address, "zz" * 64, b"hello")


def test_key_file_roundtrip_and_permissions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    k = Key.generate()
    path = tmp_path / "k.key"
    k.save(path)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert Key.load(path).address == k.address
    with pytest.raises(FileExistsError):
        k.save(path)


def test_canonical_encoding_is_independent_of_key_order_and_whitespace() -> None:
    a = {"b": 1, "a": {"y": "2", "x": True}}
    b = json.loads('{ "a" : {"x": true, "y": "2"}, "b": 1 }')
    assert canonical_json(a) == canonical_json(b) == '{"a":{"x":true,"y":"2"},"b":1}'
    assert canonical_json({"s": "é"}) == '{"s":"\\u00e9"}'


def test_decode_verifies_and_hashes_the_body() -> None:
    env = deposit()
    tx = decode_tx(env, CHAIN)
    assert tx.sender == key("alice").address and tx.nonce == 0 and tx.args["amount"] == 1_000_000
    assert tx.body == canonical_json(env["tx"])
    # The same body with keys reordered is the same transaction.
    shuffled = {"signature": env["signature"], "tx": dict(reversed(list(env["tx"].items())))}
    assert decode_tx(shuffled, CHAIN).hash == tx.hash
    assert signing_message(env["tx"]).startswith(b"astera-tx/1\n")


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e["tx"]["params"].update(amount="1000001"),  # tampered amount
        lambda e: e["tx"].update(nonce=1),  # tampered nonce
        lambda e: e.update(signature=key("bob").sign(signing_message(e["tx"]))),  # signed by someone else
        lambda e: e.update(signature="00" * 64),
    ],
)
def test_tampering_breaks_the_signature(mutate) -> None:  # type: ignore[no-untyped-def]
    env = deposit()
    mutate(env)
    assert code_of(decode_tx, env, CHAIN) == "bad_signature"


def test_wrong_chain_is_refused() -> None:
    assert code_of(decode_tx, deposit(), "astera-other") == "wrong_chain"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"[" * 100_000, "payload_too_large"),
        (b'{"a": 1.5}', "invalid_tx"),  # floats never
        (b'{"a": 1e3}', "invalid_tx"),
        (b'{"a": NaN}', "invalid_tx"),
        (b'{"a": Infinity}', "invalid_tx"),
        (b'{"a": 1, "a": 2}', "invalid_tx"),  # duplicate keys
        (b'{"a": ' + b"9" * 5000 + b"}", "invalid_tx"),  # huge number literal
        (b"[" * 5000 + b"]" * 5000, "malformed_json"),  # nesting too deep
    ],
)
def test_strict_json(raw: bytes, code: str) -> None:
    assert code_of(parse_json, raw) == code


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"pool": "core", "asset": "USDC", "amount": 1000000}, "amount as a JSON number"),
        ({"pool": "core", "asset": "USDC", "amount": "1e6"}, "exponent"),
        ({"pool": "core", "asset": "USDC", "amount": "-1"}, "negative"),
        ({"pool": "core", "asset": "USDC", "amount": "007"}, "leading zeros"),
        ({"pool": "core", "asset": "USDC", "amount": str(2**256)}, "above uint256"),
        ({"pool": "core", "asset": "USDC", "amount": "1" * 100}, "huge"),
        ({"pool": "core", "asset": "USDC"}, "missing amount"),
        ({"pool": "core", "asset": "USDC", "amount": "1", "extra": "x"}, "unknown parameter"),
        ({"pool": "0", "asset": "USDC", "amount": "1"}, "pool id as a string"),
        ({"pool": True, "asset": "USDC", "amount": "1"}, "pool as a bool"),
        ({"pool": "core", "asset": "US DC", "amount": "1"}, "bad symbol"),
        ({"pool": "core", "asset": "USDC", "amount": "1", "on_behalf_of": "alice"}, "not an address"),
    ],
)
def test_invalid_params_are_refused_before_the_signature(params: dict, why: str) -> None:
    env = sign_tx(key("alice"), CHAIN, 0, "deposit", params)
    assert code_of(decode_tx, env, CHAIN) == "invalid_tx", why


@pytest.mark.parametrize(
    "body_change",
    [
        {"nonce": -1},
        {"nonce": 2**63},
        {"nonce": "0"},
        {"action": "steal"},
        {"sender": "ABC"},
        {"params": []},
    ],
)
def test_invalid_envelope_fields(body_change: dict) -> None:
    env = deposit()
    env["tx"].update(body_change)
    assert code_of(decode_tx, env, CHAIN) == "invalid_tx"


def test_envelope_shape() -> None:
    env = deposit()
    assert code_of(decode_tx, [env], CHAIN) == "invalid_tx"
    assert code_of(decode_tx, {**env, "extra": 1}, CHAIN) == "invalid_tx"
    assert code_of(decode_tx, {"tx": env["tx"]}, CHAIN) == "invalid_tx"


def test_max_amount_literal() -> None:
    env = sign_tx(key("alice"), CHAIN, 0, "withdraw", {"pool": "core", "asset": "USDC", "amount": "max"})
    assert decode_tx(env, CHAIN).args["amount"] == 2**256 - 1
    env = sign_tx(key("alice"), CHAIN, 0, "borrow", {"pool": "core", "asset": "USDC", "amount": "max"})
    assert code_of(decode_tx, env, CHAIN) == "invalid_tx"  # "max" only where the protocol defines it


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
tx_like = st.fixed_dictionaries(
    {
        "tx": st.fixed_dictionaries(
            {
                "chain_id": st.just(CHAIN) | json_values,
                "sender": st.just(key("alice").address) | json_values,
                "nonce": st.integers(-1, 2**64) | json_values,
                "action": st.sampled_from(["deposit", "borrow", "set_price", "liquidate"]) | json_values,
                "params": st.dictionaries(
                    st.sampled_from(["pool", "asset", "amount", "to", "target", "price", "x"]),
                    json_values,
                    max_size=5,
                ),
            }
        ),
        "signature": st.just("00" * 64) | json_values,
    },
)


@given(envelope=json_values | tx_like)
@settings(max_examples=300, deadline=None)
def test_any_json_is_a_transaction_or_a_stable_refusal(envelope: object) -> None:
    try:
        decode_tx(envelope, CHAIN)
    except NodeError as e:
        assert e.status < 500
