"""The API's edges: one error envelope on every route (unknown routes, wrong methods, bad
headers), bodies refused early on every route, and /docs served without a network."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from fastapi.testclient import TestClient

from astera.node.body_limit import BodyLimit

from .node_harness import key


def error(r: Any) -> tuple[int, str]:
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return r.status_code, body["error"]["code"]


def test_every_refusal_has_the_envelope(api: TestClient) -> None:
    assert error(api.get("/nowhere")) == (404, "not_found")
    assert error(api.delete("/txs")) == (405, "method_not_allowed")
    assert error(api.put("/faucet", json={})) == (405, "method_not_allowed")
    assert error(api.get("/blocks", params={"limit": "x"})) == (422, "invalid_request")
    assert error(api.get("/docs/assets/nothing.js")) == (404, "not_found")


def test_bodies_over_the_limit_are_refused_on_every_route(api: TestClient) -> None:
    big = b"x" * 70_000
    me = key("erin").address
    for method, path in (
        ("POST", "/txs"),
        ("POST", "/faucet"),
        ("GET", "/status"),
        ("GET", f"/accounts/{me}"),
    ):
        r = api.request(method, path, content=big, headers={"content-type": "application/json"})
        assert error(r) == (413, "payload_too_large"), (method, path)
    assert api.get("/status").json()["height"] == 0


def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    """No Content-Length: the body is counted as it arrives; the rest is never read."""
    chunks_read = 0

    async def receive() -> dict[str, Any]:
        nonlocal chunks_read
        chunks_read += 1
        return {"type": "http.request", "body": b"x" * 100, "more_body": chunks_read < 1000}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:  # reads its whole body, as /txs did
        while (await receive()).get("more_body"):
            pass

    from astera.node.errors import NodeError

    scope = {"type": "http", "headers": [(b"transfer-encoding", b"chunked")]}
    try:
        asyncio.run(BodyLimit(app, max_bytes=1000)(scope, receive, send))
    except NodeError as e:
        assert e.code == "payload_too_large"
    else:
        raise AssertionError("the body was read to its end")
    assert chunks_read == 11


def test_docs_are_served_from_the_package(api: TestClient) -> None:
    html = api.get("/docs").text
    assert "swagger-ui" in html and not re.search(r"(src|href)=['\"]https?://", html)
    for asset in re.findall(r"(?:src|href)=['\"](/docs/assets/[^'\"]+)['\"]", html):
        assert api.get(asset).status_code == 200, asset
    assert len(re.findall(r"/docs/assets/", html)) >= 2
    assert api.get("/redoc").status_code == 404  # ReDoc would come from a CDN: not offered


def test_every_operation_declares_the_body_limit(api: TestClient) -> None:
    """Any route may answer 413 (the limit runs before routing), the web app's and replication's too."""
    spec = api.get("/openapi.json").json()
    operations = [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items()]
    assert len(operations) > 20
    assert [(m, p) for m, p, op in operations if "413" not in op["responses"]] == []
    assert "ErrorEnvelope" in spec["components"]["schemas"]
