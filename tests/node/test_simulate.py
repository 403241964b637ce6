"""``POST /simulate``: unsigned transactions run as the next block would run them, results and
accounts equal to really sending them, and nothing changes (state hash, nonces, log)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from astera.actions import InvalidParams
from astera.client import ApiError, Client
from astera.compose import create_app
from astera.node.chain import open_chain
from astera.node.node import Node
from astera.node.store import open_store
from astera.wire import sign_tx

from .node_harness import START, key, make_genesis

#: The wall clock of the node under test: a dry run and the real block share it.
NOW = START + 3_600


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    store = open_store(None, str(tmp_path / "data"))
    node = Node(open_chain(store, make_genesis()), faucet_key=key("faucet"), clock=lambda: NOW)
    with TestClient(create_app(node)) as client:
        client.node = node  # type: ignore[attr-defined]
        yield client


def body(who: str, action: str, **params: Any) -> dict[str, Any]:
    return {"sender": key(who).address, "action": action, "params": params}


def observed(api: TestClient) -> tuple[Any, ...]:
    status = api.get("/status").json()
    alice = api.get(f"/accounts/{key('alice').address}").json()
    return status["height"], status["state_hash"], alice


def test_a_dry_run_equals_sending_and_changes_nothing(api: TestClient) -> None:
    node: Node = api.node  # type: ignore[attr-defined]
    txs = [
        body("alice", "deposit", pool="core", asset="WETH", amount=str(10 * 10**18)),
        body("alice", "borrow", pool="core", asset="USDC", amount=str(10**12)),  # refused: "9"
        body("alice", "borrow", pool="core", asset="USDC", amount=str(15_000 * 10**6)),
        body("alice", "set_pause", pool="core", paused=True),  # alice lacks the role
        body("emergency_admin", "set_pause", pool=0, paused=True),
    ]
    before = observed(api)
    r = api.post("/simulate", json={"txs": txs})
    assert r.status_code == 200, r.text
    dry = r.json()
    assert observed(api) == before
    assert node.chain.ledger.state_hash(incremental=False) == before[1]

    assert dry["timestamp"] == NOW
    assert [x["ok"] for x in dry["results"]] == [True, False, True, False, True]
    refused, unauthorized = dry["results"][1]["error"], dry["results"][3]["error"]
    assert (refused["code"], refused["reason"], refused["name"]) == (
        "refused",
        "9",
        "VL_COLLATERAL_CANNOT_COVER_NEW_BORROW",
    )
    assert unauthorized["code"] == "unauthorized"
    alice = key("alice").address
    assert set(dry["accounts"]) == {alice, key("emergency_admin").address}
    assert dry["accounts"][alice]["next_nonce"] == 2
    assert int(dry["accounts"][alice]["pools"]["core"]["health_factor"]) < 2**256 - 1

    # The same transactions, signed and sent: the same events, the same account after.
    chain_id, nonces = node.chain_id, {"alice": 0, "emergency_admin": 0}
    for who, tx, result in zip(("alice",) * 4 + ("emergency_admin",), txs, dry["results"], strict=True):
        envelope = sign_tx(key(who), chain_id, nonces[who], tx["action"], tx["params"])
        sent = api.post("/txs", json=envelope)
        if result["ok"]:
            assert sent.status_code == 200 and sent.json()["events"] == result["events"]
            nonces[who] += 1
        else:
            assert sent.json()["error"] == result["error"]
    assert api.get(f"/accounts/{alice}").json() == dry["accounts"][alice]


def test_an_unknown_pool_or_reserve_is_refused_as_sending_it_would_be(api: TestClient) -> None:
    """The dry run's last step reads back each reserve the transactions name: one that does not
    exist is left out, and the transaction's refusal is the one ``POST /txs`` gives (it was an
    internal error, HTTP 500)."""
    node: Node = api.node  # type: ignore[attr-defined]
    txs = [
        body("alice", "borrow", pool=9, asset="USDC", amount="1"),
        body("alice", "borrow", pool="core", asset="DOGE", amount="1"),
        body("alice", "deposit", pool=0, asset="USDC", amount="1"),
    ]
    r = api.post("/simulate", json={"txs": txs})
    assert r.status_code == 200, r.text
    dry = r.json()
    assert [x["ok"] for x in dry["results"]] == [False, False, False] and dry["reserves"] == []
    for tx, result in zip(txs, dry["results"], strict=True):
        sent = api.post("/txs", json=sign_tx(key("alice"), node.chain_id, 0, tx["action"], tx["params"]))
        assert sent.status_code == 422 and sent.json()["error"] == result["error"]
    assert dry["results"][0]["error"]["reason"] == "input:unknown_pool"
    preview = api.post("/preview", json=txs[0])
    assert preview.status_code == 200 and preview.json()["refused"]["reason"] == "input:unknown_pool"


def test_nonces_chain_ids_and_timestamps_are_checked_when_given(api: TestClient) -> None:
    deposit = body("bob", "deposit", pool="core", asset="WETH", amount=str(10**18))
    r = api.post("/simulate", json={"txs": [{**deposit, "nonce": 0}, {**deposit, "nonce": 0}]})
    results = r.json()["results"]
    assert results[0]["ok"] and results[1]["error"]["code"] == "bad_nonce"
    assert results[1]["error"]["expected"] == 1
    later = api.post("/simulate", json={"txs": [deposit], "timestamp": NOW + 86_400}).json()
    assert later["timestamp"] == NOW + 86_400


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"txs": {}},
        {"txs": [], "extra": 1},
        {"txs": [{"sender": "x", "action": "deposit", "params": {}}]},
        {"txs": [{**body("bob", "deposit", pool="core", asset="WETH", amount="1"), "chain_id": "other"}]},
        {"txs": [body("bob", "deposit", pool="core", asset="WETH", amount=1)]},
        {"txs": [body("bob", "fly", pool="core")]},
        {"txs": [body("bob", "deposit", pool="core", asset="WETH", amount="1")], "timestamp": 5},
        {"txs": [body("bob", "deposit", pool="core", asset="WETH", amount="1")] * 65},
    ],
)
def test_bad_dry_runs_are_refused_whole(api: TestClient, doc: Any) -> None:
    before = observed(api)
    r = api.post("/simulate", json=doc)
    assert r.status_code == 422 and r.json()["error"]["code"] in ("invalid_tx", "wrong_chain")
    assert observed(api) == before


def test_the_client_dry_runs_what_it_would_send(api: TestClient) -> None:
    """``Client.simulate`` and ``Account.simulate`` answer the node's dry run as it is (typed),
    refusals included as results; nothing is signed, sent or changed, and the nonce is not used."""
    client = Client()
    client.http = api  # the in-process app, through the client's own code
    alice = client.account_for(key("alice"))
    before = observed(api)
    ok = alice.simulate("deposit", pool="core", asset="WETH", amount=str(10 * 10**18))
    assert ok["timestamp"] == NOW and ok["results"][0]["ok"]
    assert [e["event"] for e in ok["results"][0]["events"]] == ["Deposit"]
    assert ok["accounts"][alice.address]["pools"]["core"]["positions"][0]["supplied"] == str(10 * 10**18)
    assert [(r["pool"], r["asset"]) for r in ok["reserves"]] == [("core", "WETH")]
    no = alice.simulate("borrow", pool="core", asset="USDC", amount=str(10**12), on_behalf_of=None)
    assert not no["results"][0]["ok"] and no["results"][0]["error"]["code"] == "refused"
    assert no["results"][0]["error"]["name"] == "VL_COLLATERAL_BALANCE_IS_0"  # alice has no collateral
    both = client.simulate(
        [body("alice", "deposit", pool="core", asset="WETH", amount=str(10 * 10**18)),
         body("alice", "borrow", pool="core", asset="USDC", amount=str(1_000 * 10**6))],
        timestamp=NOW + 60,
    )  # fmt: skip
    assert [r["ok"] for r in both["results"]] == [True, True] and both["timestamp"] == NOW + 60
    assert observed(api) == before
    with pytest.raises(InvalidParams, match="deposit.amount"):
        alice.simulate("deposit", pool="core", asset="WETH", amount="-1")
    with pytest.raises(ApiError) as refused:
        client.simulate([body("alice", "deposit", pool="core", asset="WETH", amount="1")], timestamp=5)
    assert refused.value.code == "invalid_tx"
    assert alice.deposit("WETH", 1)["height"] == 1  # its nonce was not used
