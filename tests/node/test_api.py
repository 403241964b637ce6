"""The HTTP API in process (on SQLite and on PostgreSQL): the happy path, and every kind of
bad submission answered with a 4xx and a stable code, with nothing changed."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from astera.wire.tx import sign_tx

from .node_harness import key, metric


def env(api: TestClient, who: str, nonce: int, action: str, **params: Any) -> dict[str, Any]:
    return sign_tx(key(who), api.node.chain_id, nonce, action, params)  # type: ignore[attr-defined]


def state(api: TestClient) -> tuple[Any, ...]:
    s = api.get("/status").json()
    return s["height"], s["state_hash"], api.get(f"/accounts/{key('alice').address}").json()["next_nonce"]


def post(api: TestClient, body: Any) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.post("/txs", content=data, headers={"content-type": "application/json"})


def test_status_docs_and_openapi(api: TestClient) -> None:
    status = api.get("/status").json()
    assert status["height"] == 0 and status["faucet"] is True
    assert status["roles"]["oracle"] == key("oracle").address
    assert "WAL" in status["durability"] or "COMMIT" in status["durability"]
    spec = api.get("/openapi.json").json()
    for path in (
        "/txs",
        "/markets",
        "/accounts/{address}",
        "/blocks",
        "/events",
        "/stream",
        "/status",
        "/metrics",
    ):
        assert path in spec["paths"]
    # /docs renders descriptions as Markdown: no Sphinx roles (":mod:`...`" showed as written)
    assert not re.search(r":(mod|class|func|data|meth|attr):`", json.dumps(spec))
    assert api.get("/docs").status_code == 200


def test_newcomer_flow(api: TestClient) -> None:
    """Faucet, deposit, borrow, then read positions, health factor, markets, blocks and events."""
    me = key("newcomer").address
    r = api.post("/faucet", json={"address": me, "asset": "WETH", "amount": str(5 * 10**18)})
    assert r.status_code == 200, r.text
    r = post(api, env(api, "newcomer", 0, "deposit", pool="core", asset="WETH", amount=str(5 * 10**18)))
    assert r.status_code == 200, r.text
    receipt = r.json()
    assert receipt["events"][0]["event"] == "Deposit" and receipt["events"][0]["data"]["amount"] == str(
        5 * 10**18
    )
    r = post(api, env(api, "newcomer", 1, "borrow", pool="core", asset="USDC", amount=str(3_000 * 10**6)))
    assert r.status_code == 200, r.text

    acct = api.get(f"/accounts/{me}").json()
    core = acct["pools"]["core"]
    assert acct["next_nonce"] == 2
    assert {p["asset"]: (p["supplied"], p["debt"]) for p in core["positions"]} == {
        "WETH": (str(5 * 10**18), "0"),
        "USDC": ("0", str(3_000 * 10**6)),
    }
    # 5 WETH at $3,700, liquidation threshold 80 %: HF = 14,800 / 3,000
    assert int(core["health_factor"]) == 14_800 * 10**18 // 3_000
    assert int(core["borrowing_power_usd"]) == (5 * 3_700 * 75 // 100 - 3_000) * 10**8

    markets = api.get("/markets").json()
    usdc = next(r for r in markets["core"]["reserves"] if r["asset"] == "USDC")
    assert int(usdc["total_debt"]) == 3_000 * 10**6 and int(usdc["utilization"]) > 0
    assert isinstance(usdc["variable_borrow_rate"], str)
    line = markets["mini_pools"][0]["credit_lines"][0]
    assert line["asset"] == "USDC" and line["flow_limit"] == str(1_000_000 * 10**6)
    assert api.get("/pools/0").json()["credit_lines"] == [line]
    assert api.get("/mini-pools").json()[0]["pool"] == 0

    blocks = api.get("/blocks").json()
    assert [b["height"] for b in blocks["items"]] == [3, 2, 1, 0]
    block = api.get("/blocks/3").json()
    assert block["txs"][0]["action"] == "borrow" and block["txs"][0]["events"][0]["event"] == "Borrow"
    tx = api.get(f"/txs/{receipt['hash']}").json()
    assert (
        tx["sender"] == me
        and tx["params"]["amount"] == str(5 * 10**18)
        and tx["events"][0]["event"] == "Deposit"
    )
    events = api.get("/events", params={"after": -1}).json()
    assert [e["event"] for e in events["items"]] == ["Deposit", "Borrow"]
    assert api.get("/events", params={"after": -1, "name": "Borrow"}).json()["items"][0]["seq"] == 1
    txs = api.get("/txs", params={"sender": me}).json()
    assert [t["nonce"] for t in txs["items"]] == [1, 0]
    metrics = api.get("/metrics").text
    assert (
        metric(metrics, "astera_txs_accepted_total") == 3
        and metric(metrics, "astera_commit_seconds_count") == 3
    )


def test_deficits_and_policies_in_status_and_metrics(api: TestClient) -> None:
    """Under deficit accounting, a liquidation that takes all of alice's collateral writes off the
    rest of her debt: /status and /metrics report that deficit (USDC base units) and the policy."""
    alice = key("alice").address
    before = api.get("/status").json()["liquidation"]
    assert [p["pool"] for p in before] == ["core", 0]
    assert before[0]["liquidation_policy"]["deficit_accounting"] is False
    assert set(before[0]["deficits"].values()) == {"0"}
    for who, nonce, action, params in (
        ("admin", 0, "set_liquidation_policy", {"pool": "core", "deficit_accounting": True}),
        ("alice", 0, "deposit", {"pool": "core", "asset": "WETH", "amount": str(10**18)}),
        ("alice", 1, "borrow", {"pool": "core", "asset": "USDC", "amount": str(2_700 * 10**6)}),
        ("oracle", 0, "set_price", {"asset": "WETH", "price": str(1_000 * 10**8)}),
        ("bob", 0, "liquidate", {"pool": "core", "target": alice, "collateral_asset": "WETH",
                                 "debt_asset": "USDC", "debt_to_cover": "max"}),
    ):  # fmt: skip
        r = post(api, env(api, who, nonce, action, **params))
        assert r.status_code == 200, r.text
    usdc = api.node.chain.ledger.protocol.core.reserve(("USDC", True))  # type: ignore[attr-defined]
    assert usdc.deficit > 1_000 * 10**6  # $2,700 owed against $1,000 of WETH
    core = api.get("/status").json()["liquidation"][0]
    assert core["liquidation_policy"]["deficit_accounting"] is True
    assert core["deficits"]["USDC"] == str(usdc.deficit) and core["deficits"]["WETH"] == "0"
    metrics = api.get("/metrics").text
    assert metric(metrics, "astera_reserve_deficit", pool="core", asset="USDC") == usdc.deficit
    assert metric(metrics, "astera_reserve_deficit", pool="0", asset="was-USDC") == 0
    assert metric(metrics, "astera_liquidation_policy_info", pool="core", deficit_accounting="true") == 1
    assert metric(metrics, "astera_liquidation_policy_info", pool="0", deficit_accounting="false") == 1


def _bad_submissions(api: TestClient) -> list[tuple[str, bytes | dict[str, Any], int, str]]:
    alice = "alice"
    ok = env(api, alice, 0, "deposit", pool="core", asset="USDC", amount="1000000")
    tampered = json.loads(json.dumps(ok))
    tampered["tx"]["params"]["amount"] = "999999999"
    float_body = json.dumps(ok).replace('"nonce": 0', '"nonce": 0.0').encode()
    huge = json.dumps(ok).replace('"nonce": 0', '"nonce": ' + "9" * 200).encode()
    return [
        ("malformed json", b'{"tx": ', 400, "malformed_json"),
        ("not an object", b"[1, 2]", 422, "invalid_tx"),
        ("float", float_body, 422, "invalid_tx"),
        (
            "float amount",
            env(api, alice, 0, "deposit", pool="core", asset="USDC", amount=1.5),
            422,
            "invalid_tx",
        ),
        ("huge number", huge, 422, "invalid_tx"),
        (
            "huge amount",
            env(api, alice, 0, "deposit", pool="core", asset="USDC", amount=str(2**300)),
            422,
            "invalid_tx",
        ),
        ("oversized body", b" " * 70_000, 413, "payload_too_large"),
        ("bad signature", tampered, 401, "bad_signature"),
        (
            "skipped nonce",
            env(api, alice, 5, "deposit", pool="core", asset="USDC", amount="1"),
            409,
            "bad_nonce",
        ),
        ("no role", env(api, alice, 0, "set_price", asset="WETH", price="1"), 403, "unauthorized"),
        (
            "protocol refusal",
            env(api, alice, 0, "borrow", pool="core", asset="USDC", amount=str(10**12)),
            422,
            "refused",
        ),
        (
            "wrong chain",
            sign_tx(
                key(alice), "another-chain", 0, "deposit", {"pool": "core", "asset": "USDC", "amount": "1"}
            ),
            422,
            "wrong_chain",
        ),
        ("unknown action", env(api, alice, 0, "steal", asset="USDC"), 422, "invalid_tx"),
    ]


def test_bad_submissions_get_stable_4xx_and_change_nothing(api: TestClient) -> None:
    before = state(api)
    for why, body, status, code in _bad_submissions(api):
        r = post(api, body)
        assert r.status_code == status, (why, r.text)
        assert r.json()["error"]["code"] == code, why
        assert state(api) == before, why
    refusal = post(api, env(api, "alice", 0, "borrow", pool="core", asset="USDC", amount=str(10**12))).json()
    assert refusal["error"]["reason"] == "7" and refusal["error"]["name"] == "VL_COLLATERAL_BALANCE_IS_0"


def test_replayed_transaction_is_refused(api: TestClient) -> None:
    tx = env(api, "alice", 0, "deposit", pool="core", asset="USDC", amount="1000000")
    assert post(api, tx).status_code == 200
    before = state(api)
    r = post(api, tx)
    assert r.status_code == 409 and r.json()["error"] == {
        "code": "bad_nonce",
        "message": "nonce 0, expected 1",
        "expected": 1,
    }
    assert state(api) == before


def test_faucet_limits_and_lookups(api: TestClient) -> None:
    me = key("erin").address
    r = api.post("/faucet", json={"address": me, "asset": "WETH", "amount": str(10**30)})
    assert r.status_code == 422 and r.json()["error"]["code"] == "faucet_limit"
    r = api.post("/faucet", json={"address": me, "asset": "DOGE", "amount": "1"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_asset"
    r = api.post("/faucet", json={"address": "nope", "asset": "WETH", "amount": "1"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request"
    assert api.get("/txs/" + "0" * 64).json()["error"]["code"] == "not_found"
    assert api.get("/blocks/99").status_code == 404
    assert api.get("/pools/7").status_code == 404
    assert api.get("/blocks", params={"limit": 0}).status_code == 422
    assert api.get("/blocks", params={"after": 2**70}).status_code == 422
    assert api.get("/accounts/xyz").status_code == 422


@pytest.mark.parametrize("pool", ["core", 0])
def test_admin_actions_through_the_api(api: TestClient, pool: Any) -> None:
    """Pool configuration by the right key; the same call by the admin of another pool is refused."""
    asset = "USDC" if pool == "core" else "wstETH"
    holder = "admin" if pool == "core" else "pool_admin"
    wrong = "pool_admin" if pool == "core" else "oracle"
    params = {"pool": pool, "asset": asset, "frozen": True}
    r = post(api, env(api, wrong, 0, "set_reserve_flags", **params))
    assert r.status_code == 403
    r = post(api, env(api, holder, 0, "set_reserve_flags", **params))
    assert r.status_code == 200, r.text
    reserves = api.get(f"/pools/{pool}").json()["reserves"]
    assert next(x for x in reserves if x["asset"] == asset)["config"]["frozen"] is True


def test_refusal_in_plain_words_with_the_exact_max(api: TestClient) -> None:
    """A protocol refusal answers the plain-words explanation (code kept) and the most the same
    action would take now; sending that amount then succeeds."""
    assert post(api, env(api, "bob", 0, "deposit", pool="core", asset="WETH", amount=str(10**19))).is_success
    r = post(api, env(api, "bob", 1, "borrow", pool="core", asset="USDC", amount=str(100_000 * 10**6)))
    err = r.json()["error"]
    assert r.status_code == 422 and err["code"] == "refused" and err["reason"] == "9"
    assert err["explanation"].startswith("borrowing 100,000 USDC needs $133,334 of collateral at your LTV")
    assert err["message"] == err["explanation"] + " (protocol code 9 VL_COLLATERAL_CANNOT_COVER_NEW_BORROW)"
    best = err["max_amount"]
    assert (
        post(
            api, env(api, "bob", 1, "borrow", pool="core", asset="USDC", amount=str(int(best) + 1))
        ).status_code
        == 422
    )
    assert post(api, env(api, "bob", 1, "borrow", pool="core", asset="USDC", amount=best)).is_success


def test_liquidation_policy_by_admin_transaction_and_in_the_views(api: TestClient) -> None:
    """The admin sets the Core-Pool's liquidation policy and a reserve's protocol fee with signed
    transactions; /markets shows them and /accounts says what they mean for a borrower."""
    assert api.get("/markets").json()["core"]["liquidation_policy"]["rules"][0] == (
        "a liquidation can repay at most half of your debt in one asset at a time"
    )
    r = post(api, env(api, "admin", 0, "set_liquidation_policy", pool="core", dynamic_close_factor=True))
    assert r.status_code == 200, r.text
    r = post(api, env(api, "admin", 1, "set_liquidation_protocol_fee", pool="core", asset="WETH", fee=1000))
    assert r.status_code == 200, r.text
    r = post(api, env(api, "alice", 0, "set_liquidation_policy", pool="core", deficit_accounting=True))
    assert r.status_code != 200  # only the pool admin
    core = api.get("/markets").json()["core"]
    assert core["liquidation_policy"]["dynamic_close_factor"] is True
    assert core["liquidation_policy"]["close_all_hf"] == str(95 * 10**16)
    weth = next(r for r in core["reserves"] if r["asset"] == "WETH")
    assert weth["liquidation_protocol_fee"] == 1000 and weth["deficit"] == "0"
    r = post(api, env(api, "alice", 0, "deposit", pool="core", asset="WETH", amount=str(10**18)))
    assert r.status_code == 200, r.text
    rules = api.get(f"/accounts/{key('alice').address}").json()["pools"]["core"]["liquidation_rules"]
    assert rules[0].startswith("a liquidation can close all of your debt in one asset below HF 0.95")
    assert "10% of the liquidation bonus on WETH goes to the treasury" in rules
