"""Transaction expiry (``expires_at`` in the signed body) and the wire format's place: below
both the node and the client, neither of which imports the other."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from astera.client import DEFAULT_TTL, Account, Client
from astera.node import genesis
from astera.node.errors import NodeError
from astera.node.ledger import Ledger
from astera.node.transactions import decode_tx
from astera.wire.tx import sign_tx

from .node_harness import START, key, make_genesis

CHAIN = "t"
USDC = 10**6


def signed(who: str, nonce: int, action: str, expires_at: int | None = None, **params: Any) -> Any:
    return decode_tx(sign_tx(key(who), CHAIN, nonce, action, params, expires_at), CHAIN)


def at(ledger: Ledger, t: int) -> Ledger:
    ledger.close_block(1, state_hash=False)
    ledger.open_block(t)
    return ledger


def test_a_refused_transaction_cannot_go_through_after_it_expires() -> None:
    """The issue's case: a borrow refused for lack of collateral went through later, when
    someone deposited on the borrower's behalf and a third party resubmitted the signed body."""
    ledger = genesis.build(make_genesis(erin={"USDC": 0}))
    ledger.open_block(START + 60)
    borrow = signed("erin", 0, "borrow", START + 600, pool="core", asset="USDC", amount=str(1_000 * USDC))
    with pytest.raises(NodeError) as e:
        ledger.apply(borrow)
    assert e.value.code == "refused"
    ledger.apply(
        signed(
            "bob",
            0,
            "deposit",
            pool="core",
            asset="WETH",
            amount=str(10**18),
            on_behalf_of=key("erin").address,
        )
    )
    before = (ledger.protocol.state_hash(), dict(ledger.nonces))
    at(ledger, START + 601)
    with pytest.raises(NodeError) as e:
        ledger.apply(borrow)
    assert e.value.code == "expired" and e.value.extra == {
        "expires_at": START + 600,
        "block_time": START + 601,
    }
    assert dict(ledger.nonces) == before[1]
    # Up to and including its expiry block time it is valid:
    ledger = genesis.build(make_genesis())
    ledger.open_block(START + 600)
    ledger.apply(signed("alice", 0, "deposit", START + 600, pool="core", asset="USDC", amount="1"))


def test_expiry_is_signed_and_checked(api: TestClient) -> None:
    chain_id = api.node.chain_id  # type: ignore[attr-defined]
    params = {"pool": "core", "asset": "USDC", "amount": "1"}
    past = sign_tx(key("alice"), chain_id, 0, "deposit", params, int(time.time()) - 1)
    r = api.post("/txs", json=past)
    assert r.status_code == 422 and r.json()["error"]["code"] == "expired"
    later = sign_tx(key("alice"), chain_id, 0, "deposit", params, int(time.time()) + 60)
    stretched = {
        "tx": {**later["tx"], "expires_at": later["tx"]["expires_at"] + 3600},
        "signature": later["signature"],
    }
    assert api.post("/txs", json=stretched).json()["error"]["code"] == "bad_signature"
    for bad in (-1, "1", 1.5, True, 2**64):
        env = sign_tx(key("alice"), chain_id, 0, "deposit", params)
        env["tx"]["expires_at"] = bad
        assert api.post("/txs", json=env).json()["error"]["code"] == "invalid_tx", bad
    assert api.get("/status").json()["height"] == 0
    assert api.post("/txs", json=later).status_code == 200


def test_the_client_sets_an_expiry_by_default(api: TestClient) -> None:
    client = Client()
    client.http = api  # the in-process app, through the client's own code
    before = int(time.time())
    receipt = Account(client, key("alice")).deposit("USDC", 1)
    logged = api.get(f"/txs/{receipt['hash']}").json()
    assert before + DEFAULT_TTL <= logged["expires_at"] <= int(time.time()) + DEFAULT_TTL
    receipt = Account(client, key("bob"), ttl=None).deposit("USDC", 1)
    assert api.get(f"/txs/{receipt['hash']}").json()["expires_at"] is None


def test_the_wire_format_sits_below_node_and_client() -> None:
    code = (
        "import sys, astera.client, astera.wire; "
        "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('astera.')}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "node" not in out and "wire" in out, out
    code = "import sys, astera.wire; print(sorted(m for m in sys.modules if m.startswith('astera.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "astera.node" not in out and "astera.client" not in out and "astera.core" not in out, out
