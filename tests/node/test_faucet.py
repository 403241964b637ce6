"""The faucet: limited per request, per address and window, per client and window; zero refused;
its body parsed like /txs (malformed JSON, extra fields, unknown assets get their own codes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from astera.node.limits import Limits

from .node_harness import key

WETH = 10**18
LIMIT = 100 * WETH  # the test genesis' faucet limit for WETH


def faucet(api: TestClient, who: str, amount: int, asset: str = "WETH") -> Any:
    return api.post("/faucet", json={"address": key(who).address, "asset": asset, "amount": str(amount)})


def height(api: TestClient) -> int:
    return int(api.get("/status").json()["height"])


def test_zero_is_refused_and_logs_nothing(api: TestClient) -> None:
    r = faucet(api, "erin", 0)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_request", r.text
    assert height(api) == 0


def test_an_address_gets_the_limit_per_window_not_per_request(api: TestClient) -> None:
    """Twenty requests in a row used to give twenty times the limit."""
    assert faucet(api, "erin", LIMIT // 2).status_code == 200
    assert faucet(api, "erin", LIMIT // 2).status_code == 200
    r = faucet(api, "erin", 1)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert r.json()["error"]["available"] == "0"
    assert "received 100 WETH of the 100 WETH" in r.json()["error"]["message"]  # whole tokens
    assert faucet(api, "frank", LIMIT).status_code == 200  # another address has its own allowance
    assert faucet(api, "erin", 1, "USDC").status_code == 200  # and so has another asset
    wallet = api.get(f"/accounts/{key('erin').address}").json()["wallet"]
    assert wallet["WETH"] == str(LIMIT)

    window = api.node.faucet_given  # type: ignore[attr-defined]
    now = window.clock()
    window.clock = lambda: now + Limits().faucet_window_seconds + 1  # the window passes
    assert faucet(api, "erin", LIMIT).status_code == 200


def test_over_the_limit_the_refusal_says_it_in_whole_tokens(api: TestClient) -> None:
    r = faucet(api, "erin", LIMIT + 1)
    error = r.json()["error"]
    assert (r.status_code, error["code"], error["limit"]) == (422, "faucet_limit", str(LIMIT))
    assert error["message"] == "the faucet gives at most 100 WETH per request"
    faucet(api, "erin", LIMIT // 4)
    error = faucet(api, "erin", LIMIT).json()["error"]
    assert error["available"] == str(LIMIT * 3 // 4)
    assert error["message"].endswith(
        "the faucet gives an address every 24 hours; it may ask for 75 WETH more now"
    )


def test_a_client_gets_a_number_of_requests_per_window(make_api: Callable[..., TestClient]) -> None:
    api = make_api(Limits(faucet_requests_per_client=3))
    for who in ("erin", "frank", "grace"):
        assert faucet(api, who, WETH).status_code == 200
    r = faucet(api, "heidi", WETH)
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    assert height(api) == 3


def test_faucet_bodies_get_the_same_codes_as_txs(api: TestClient) -> None:
    me = key("erin").address
    cases = [
        (b'{"address": ', 400, "malformed_json"),
        (b'{"address": "%s", "asset": "WETH", "amount": "1", "x": 1}' % me.encode(), 422, "invalid_request"),
        (b'{"address": "%s", "asset": "WETH", "amount": 1.5}' % me.encode(), 422, "invalid_request"),
        (b'{"address": "%s", "asset": "DOGE", "amount": "1"}' % me.encode(), 422, "unknown_asset"),
        (b"[]", 422, "invalid_request"),
        (b'{"address": "%s", "asset": "WETH", "amount": "1"}' % (b"0" * 64), 422, "invalid_request"),
    ]
    for body, status, code in cases:
        r = api.post("/faucet", content=body, headers={"content-type": "application/json"})
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), body
    assert height(api) == 0


def test_serve_options_set_the_faucet_limits(tmp_path: Any) -> None:
    import json

    from astera.compose import open_node
    from astera.node.serve import ServeConfig

    from .node_harness import make_genesis

    (tmp_path / "genesis.json").write_text(json.dumps(make_genesis()))
    config = ServeConfig(data=tmp_path / "data", genesis=tmp_path / "genesis.json", keeper=False)
    config.faucet_window, config.faucet_requests = 60, 1
    node = open_node(config)
    try:
        assert (node.limits.faucet_window_seconds, node.limits.faucet_requests_per_client) == (60, 1)
        assert node.faucet_given.seconds == 60
    finally:
        node.store.close()
