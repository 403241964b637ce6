"""The web app's JSON endpoints are typed in the OpenAPI document as the node's are, and answer
what they declare: every 2xx names a schema with nothing left untyped, every refusal is the one
error envelope, and a node with a liquidation, bad debt, a Mini-Pool tranche and refusals
answers every web route in conformance with its declared schema (``additionalProperties:
false`` included, so a field a view adds and the schema lacks fails here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.node.node_harness import START, key, make_genesis
from tests.node.test_openapi_schemas import ENVELOPE, Checked, operations, untyped

from astera.compose import create_app
from astera.keeper import attach
from astera.node.chain import open_chain
from astera.node.node import Node
from astera.node.store import open_store

E18, E6, USD = 10**18, 10**6, 10**8


@pytest.fixture
def checked(tmp_path: Path) -> Iterator[Checked]:
    """The node and its web app, a keeper attached (it has no funds: it reports refusals)."""
    chain = open_chain(open_store(None, str(tmp_path / "data")), make_genesis())
    node = Node(chain, faucet_key=key("faucet"), keeper_key=key("keeper"), clock=lambda: START + 60)
    attach(node)
    with TestClient(create_app(node)) as api:
        api.node = node  # type: ignore[attr-defined]
        yield Checked(api, api.app.openapi())  # type: ignore[attr-defined]


def web_operations(spec: dict[str, object]) -> Iterator[tuple[str, str, dict[str, object]]]:
    for method, path, op in operations(spec):  # type: ignore[arg-type]
        if "web" in op.get("tags", ()):
            yield method, path, op


def test_every_web_success_has_a_concrete_schema(checked: Checked) -> None:
    spec = checked.spec
    found = []
    for method, path, op in web_operations(spec):
        for status, response in op["responses"].items():  # type: ignore[attr-defined]
            content = response.get("content") or {}
            if not status.startswith("2"):
                schemas = {m: c.get("schema") for m, c in content.items()}
                if schemas != {"application/json": ENVELOPE}:
                    found.append(f"{method} {path} {status}: {schemas} (not the ErrorEnvelope)")
                continue
            for media, body in content.items():
                if media == "application/json":
                    problems = list(untyped(body.get("schema"), "", spec, set()))
                    found += [f"{method} {path} {status}: untyped at {p or 'top'}" for p in problems]
    assert found == []
    assert len(list(web_operations(spec))) >= 11


def test_every_web_answer_matches_its_declared_schema(checked: Checked) -> None:
    c = checked
    alice, dave = key("alice").address, key("dave").address
    c.tx("alice", 0, "deposit", pool="core", asset="WETH", amount=str(10 * E18))
    c.tx("alice", 1, "borrow", pool="core", asset="USDC", amount=str(25_000 * E6))
    c.tx("carol", 0, "deposit", pool=0, asset="wstETH", amount=str(10 * E18))
    c.tx("carol", 1, "borrow", pool=0, asset="was-USDC", amount=str(1_000 * E6))

    for pool, asset in (("core", "USDC"), ("0", "was-USDC")):
        curve = c.call("GET", "/reserves/{pool}/{asset}/curve", f"/reserves/{pool}/{asset}/curve").json()
        assert curve["asset"] == asset and len(curve["points"]) > 2
        c.call("GET", "/reserves/{pool}/{asset}/history", f"/reserves/{pool}/{asset}/history")
    assert c.call("GET", "/reserves/{pool}/{asset}/curve", "/reserves/core/DOGE/curve").status_code == 404
    assert c.call("GET", "/reserves/{pool}/{asset}/history", "/reserves/9/USDC/history").status_code == 404
    assert c.call("GET", "/oracle").json()["USDC"]["answer"] == str(USD)

    body = {
        "sender": alice,
        "action": "borrow",
        "params": {"pool": "core", "asset": "USDC", "amount": "1000000"},
    }
    assert c.call("POST", "/preview", json=body).json()["refused"] is None
    over = {**body, "params": {**body["params"], "amount": str(10**13)}}
    assert c.call("POST", "/preview", json=over).json()["refused"]["code"] == "refused"
    assert c.call("POST", "/preview", json={**body, "action": "fly"}).status_code == 422
    for action in ("borrow", "repay", "withdraw", "deposit"):
        m = {"sender": alice, "action": action, "pool": "core", "asset": "USDC"}
        c.call("POST", "/max-amount", json=m)
    c.call("POST", "/max-amount", json={"sender": alice, "action": "borrow", "pool": 7, "asset": "USDC"})

    c.tx("oracle", 0, "set_price", asset="WETH", price=str(3_000 * USD))
    what_if = {"address": alice, "prices": {"WETH": str(2_000 * USD)}, "value_usd": str(1_000 * USD)}
    answer = c.call("POST", "/what-if", json=what_if).json()
    assert answer["prices"]["core"]["liquidatable"] is True and answer["value"]["core"]["repay"]
    assert c.call("POST", "/what-if", json={"address": dave, "prices": {"DOGE": "1"}}).status_code == 422
    c.call("POST", "/what-if", json={"address": dave})

    # WETH at $1,000: one liquidation takes all of alice's collateral and leaves bad debt.
    c.tx("oracle", 1, "set_price", asset="WETH", price=str(1_000 * USD))
    c.tx("bob", 0, "liquidate", pool="core", target=alice, collateral_asset="WETH", debt_asset="USDC",
         debt_to_cover=str(12_500 * E6))  # fmt: skip
    feed = c.call("GET", "/liquidations").json()
    assert feed["items"][0]["user"] == alice and feed["keeper"]["address"] == key("keeper").address
    risk = c.call("GET", "/risk").json()
    assert risk["pools"][0]["bad_debt"] == [
        {"asset": "USDC", "amount": risk["pools"][0]["bad_debt"][0]["amount"]}
    ]
    assert risk["exposure"][0]["lines"][0]["flow_debt"] != "0"
    ladder = c.call("GET", "/risk/shock-ladder").json()
    assert ladder["format"] == "astera-shock-ladder/1" and "WETH" in ladder["assets"]

    json_successes = {
        (method, path)
        for method, path, op in web_operations(c.spec)
        if "application/json" in op["responses"].get("200", {}).get("content", {})  # type: ignore[attr-defined]
    }
    assert json_successes - c.succeeded == set()  # a new web route needs a sample here
