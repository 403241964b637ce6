"""The node's OpenAPI document types every answer, and the node answers what it declares.

An integrator generates a client from ``/openapi.json``: a success without a concrete schema
would come out as ``any``. So every 2xx response of the node's API (its own routes, the dry
run and replication: not the web app's, :mod:`astera.web`) must name a schema in which nothing
is left untyped, every refusal must be the one :class:`ErrorEnvelope`, and amounts must be the
named digit-string types. Then a node with a keeper, a Mini-Pool, a stale feed, refusals and a
dry run answers every route, and each answer, success or refusal, is validated against the
schema the document declares for its status (JSON Schema 2020-12, ``additionalProperties:
false`` included, so a field the views add and the schema lacks fails here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from astera.keeper import attach
from astera.node.api import create_app
from astera.node.chain import open_chain
from astera.node.node import Node
from astera.node.store import open_store
from astera.wire.tx import sign_tx

from .node_harness import START, key, make_genesis, schema_errors

ENVELOPE = {"$ref": "#/components/schemas/ErrorEnvelope"}
#: The node's clock in the answers' test: an hour after genesis.
NOW = START + 3600
#: Schema keywords that say what a value is; a schema with none of them accepts anything.
TYPED = {"type", "$ref", "anyOf", "oneOf", "allOf", "const", "enum"}
#: Objects whose fields depend on a name beside them, declared free-form on purpose: an event's
#: data (by its ``event``), a transaction's params (by its ``action``, see astera.actions) and the
#: genesis document's asset entries.
FREE_FORM = {"Event.data", "LoggedEvent.data", "Tx.params", "TxWithEvents.params", "Genesis.assets{}"}


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def untyped(schema: Any, where: str, spec: dict[str, Any], seen: set[str]) -> Iterator[str]:
    """Where in ``schema`` (components followed by ``$ref``) a value is left untyped."""
    if not isinstance(schema, dict) or not TYPED & schema.keys():
        yield where
        return
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            yield from untyped(spec["components"]["schemas"][name], name, spec, seen)
        return
    for key_ in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key_, ())):
            yield from untyped(sub, f"{where}.{key_}[{i}]", spec, seen)
    for name, sub in schema.get("properties", {}).items():
        yield from untyped(sub, f"{where}.{name}", spec, seen)
    if isinstance(schema.get("items"), dict):
        yield from untyped(schema["items"], f"{where}[]", spec, seen)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from untyped(schema["additionalProperties"], f"{where}{{}}", spec, seen)
    typed_values = isinstance(schema.get("additionalProperties"), dict)
    if (
        schema.get("type") == "object"
        and not schema.get("properties")
        and not typed_values
        and where not in FREE_FORM
    ):
        yield where + " (an object with no declared fields)"
    if schema.get("type") == "array" and not {"items", "prefixItems"} & schema.keys():
        yield where + " (an array of anything)"


@pytest.fixture(scope="module")
def node_spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The node API's OpenAPI document (generated, the node not started)."""
    data = tmp_path_factory.mktemp("spec")
    node = Node(open_chain(open_store(None, str(data)), make_genesis()), faucet_key=key("faucet"))
    try:
        return create_app(node).openapi()
    finally:
        node.store.close()


def test_every_success_has_a_concrete_schema(node_spec: dict[str, Any]) -> None:
    found = []
    for method, path, op in operations(node_spec):
        for status, response in op["responses"].items():
            content = response.get("content")
            if not status.startswith("2"):
                schemas = {m: c.get("schema") for m, c in (content or {}).items()}
                if schemas != {"application/json": ENVELOPE}:
                    found.append(f"{method} {path} {status}: {schemas} (not the ErrorEnvelope)")
                continue
            if not content:
                found.append(f"{method} {path} {status}: no content declared")
            for media, body in (content or {}).items():
                if "schema" not in body:
                    found.append(f"{method} {path} {status} {media}: no schema")
                    continue
                problems = list(untyped(body["schema"], "", node_spec, set()))
                found += [f"{method} {path} {status} {media}: untyped at {p or 'top'}" for p in problems]
    assert found == []
    assert len(list(operations(node_spec))) >= 18


def test_amounts_are_named_digit_strings(node_spec: dict[str, Any]) -> None:
    """Amounts, USD values, wads and rays are strings of digits an integrator parses as big
    integers (one named type each); no amount field is a JSON number."""
    schemas = node_spec["components"]["schemas"]
    for name in ("Amount", "Usd", "Wad", "Ray", "Bps", "DecimalInt"):
        assert schemas[name]["type"] == "string" and schemas[name]["pattern"] == "^[0-9]+$", name
        assert "2**53" in schemas[name]["description"], name
    fields = schemas["Reserve"]["properties"] | schemas["PoolAccount"]["properties"]
    for name, named in ("total_debt", "Amount"), ("variable_borrow_rate", "Ray"), ("health_factor", "Wad"):
        assert fields[name]["$ref"] == f"#/components/schemas/{named}"
    assert schemas["ErrorDetail"]["properties"]["code"]["enum"][:3] == [
        "bad_nonce",
        "bad_signature",
        "expired",
    ]


# ---- real answers -------------------------------------------------------------------------------


class Checked:
    """An API client that validates every answer against the schema the document declares for
    that route and status, and records which routes answered a success."""

    def __init__(self, api: TestClient, spec: dict[str, Any]) -> None:
        self.api = api
        self.spec = spec
        self.succeeded: set[tuple[str, str]] = set()

    def call(self, method: str, route: str, path: str | None = None, **kwargs: Any) -> httpx.Response:
        """``method`` on ``path`` (default: ``route``, the document's path template)."""
        path = path or route
        r = self.api.request(method, path, **kwargs)
        responses = self.spec["paths"][route][method.lower()]["responses"]
        assert str(r.status_code) in responses, (method, path, r.status_code, r.text)
        media = r.headers["content-type"].split(";")[0]
        assert media in responses[str(r.status_code)]["content"], (method, path, media)
        if media == "application/json":
            assert schema_errors(self.spec, method, route, r.status_code, r.json()) == [], (method, path)
        if r.is_success:
            self.succeeded.add((method, route))
        return r

    def tx(self, who: str, nonce: int, action: str, status: int = 200, **params: Any) -> dict[str, Any]:
        chain_id = self.api.node.chain_id  # type: ignore[attr-defined]
        r = self.call("POST", "/txs", json=sign_tx(key(who), chain_id, nonce, action, params))
        assert r.status_code == status, r.text
        return dict(r.json())


@pytest.fixture
def checked(tmp_path: Path) -> Iterator[Checked]:
    """A node with a faucet, a keeper and a feed gone stale: WBTC's price is an hour old
    with a 30 s timeout at the node's (fixed) clock."""
    doc = make_genesis(dave={"WBTC": 10**8})
    doc["assets"]["WBTC"]["timeout"] = 30
    chain = open_chain(open_store(None, str(tmp_path / "data")), doc)
    keeper = key("keeper")
    node = Node(chain, snapshot_every=2, faucet_key=key("faucet"), keeper_key=keeper, clock=lambda: NOW)
    attach(node)
    with TestClient(create_app(node)) as api:
        api.node = node  # type: ignore[attr-defined]
        yield Checked(api, api.app.openapi())  # type: ignore[attr-defined]


def test_every_answer_matches_its_declared_schema(checked: Checked) -> None:
    me, dave, alice = key("newcomer").address, key("dave").address, key("alice").address
    c = checked
    c.call("POST", "/faucet", json={"address": me, "asset": "WETH", "amount": str(5 * 10**18)})
    deposit = c.tx("newcomer", 0, "deposit", pool="core", asset="WETH", amount=str(5 * 10**18))
    c.tx("newcomer", 1, "borrow", pool="core", asset="USDC", amount=str(3_000 * 10**6))
    refused = c.tx("newcomer", 2, "borrow", status=422, pool="core", asset="USDC", amount=str(10**12))
    assert refused["error"]["code"] == "refused" and refused["error"]["max_amount"].isdigit()
    skipped = c.tx("newcomer", 9, "borrow", status=409, pool="core", asset="USDC", amount="1")
    assert skipped["error"]["expected"] == 2
    c.tx("alice", 0, "deposit", pool=0, asset="wstETH", amount=str(10**18))
    c.tx("dave", 0, "deposit", pool="core", asset="WBTC", amount=str(10**8))  # priced by a stale feed

    markets = c.call("GET", "/markets").json()
    assert {a: v["price"] for a, v in markets["assets"].items()}["WBTC"] is None
    assert markets["mini_pools"][0]["credit_lines"] and "credit_lines" not in markets["core"]
    assert "error" in c.call("GET", "/accounts/{address}", f"/accounts/{dave}").json()["pools"]["core"]
    assert c.call("GET", "/accounts/{address}", f"/accounts/{me}").json()["next_nonce"] == 2
    c.call("GET", "/accounts/{address}", f"/accounts/{key('nobody').address}")
    for pool in ("core", "0", "7"):
        c.call("GET", "/pools/{pool}", f"/pools/{pool}")
    c.call("GET", "/mini-pools")
    status = c.call("GET", "/status").json()
    assert status["keeper"]["address"] == key("keeper").address and status["replication"]["role"] == "leader"

    for route in ("/txs", "/blocks", "/events"):
        for params in ({}, {"after": -1, "limit": 2}, {"after": 10**6}, {"limit": 0}):
            c.call("GET", route, params=params)
    c.call("GET", "/txs", params={"sender": me})
    c.call("GET", "/events", params={"account": alice, "name": "Deposit"})
    for tx_hash in (deposit["hash"], "0" * 64):
        c.call("GET", "/txs/{tx_hash}", f"/txs/{tx_hash}")
    for height in (deposit["height"], 0, 10**6):
        c.call("GET", "/blocks/{height}", f"/blocks/{height}")

    dry = {
        "txs": [
            {"sender": me, "action": "borrow", "params": {"pool": "core", "asset": "USDC", "amount": amount}}
            for amount in ("1000000", str(10**13))
        ]
        + [{"sender": alice, "action": "borrow", "params": {"pool": 0, "asset": "was-USDC", "amount": "100"}}]
    }
    simulation = c.call("POST", "/simulate", json=dry).json()
    assert [r["ok"] for r in simulation["results"]] == [True, False, True]
    assert [r["pool"] for r in simulation["reserves"]] == ["core", 0]
    c.call("POST", "/simulate", json={"txs": "no"})

    log = c.call("GET", "/log", params={"after": 0, "limit": 3}).json()
    assert len(log["blocks"][0]["txs"][0]) == 3
    genesis = c.call("GET", "/genesis").json()
    assert genesis["format"] == "astera-genesis/1"
    snapshot = c.call("GET", "/snapshot")
    assert snapshot.status_code == 200 and int(snapshot.headers["X-Astera-Height"]) > 0
    c.call("GET", "/metrics")

    json_successes = {
        (method, path)
        for method, path, op in operations(c.spec)
        if "application/json" in op["responses"].get("200", {}).get("content", {})
    }
    assert json_successes - c.succeeded == set()  # a new route needs a sample here
    assert json.dumps(c.spec).count('"$ref": "#/components/schemas/ErrorEnvelope"') > 40
