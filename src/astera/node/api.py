"""The HTTP API (FastAPI): submit signed transactions; read markets, accounts and the log.

OpenAPI is published at ``/openapi.json`` and browsable at ``/docs`` (Swagger UI served
from the package: no network needed). Every refusal, on every route (unknown routes,
wrong methods and unparsable requests included), is ``{"error": {"code": ..., "message":
...}}`` with a stable code (listed in ``astera.node.errors``), and every status a route can
answer is declared in the OpenAPI document. Request bodies are limited in size on every
route; the faucet and ``/stream`` are rate-limited per client (``astera.node.limits``).
Amounts are decimal strings; every answer's schema is declared (``astera.node.schemas``;
routes answer their views' JSON as built, neither re-validated nor re-encoded).
Lists are paginated by cursor: ``?after=N`` walks forward (oldest first), ``?before=N`` or
no cursor walks backward (newest first); each page says its ``next`` cursor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import swagger_ui_bundle
from fastapi import FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sse_starlette import EventSourceResponse, JSONServerSentEvent
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from astera import __version__
from astera.actions import ACTIONS

from . import replication, schemas, simulate, sse
from .blocks import Header as BlockHeader
from .blocks import block_json, ev_json, events_json, tx_json
from .body_limit import BodyLimit
from .errors import STATUS, NodeError
from .limits import client_of
from .metrics import CONTENT_TYPE
from .node import Node
from .schemas import answers, refusals
from .sequencer import Receipt
from .transactions import decode_tx, parse_json
from .views import account_view, liquidation_status, markets_view, pool_view

ADDRESS = r"^[0-9a-f]{64}$"
HASH = r"^[0-9a-f]{64}$"
POSITIVE_AMOUNT = r"^[1-9][0-9]{0,77}$"
EVENT_ID = r"^[0-9]{1,18}$"
MAX_CURSOR = 1 << 62

Cursor = Annotated[int | None, Query(ge=-1, le=MAX_CURSOR, description="Page forward from this cursor.")]
Before = Annotated[int | None, Query(ge=0, le=MAX_CURSOR, description="Page backward from this cursor.")]
Limit = Annotated[int, Query(ge=1, le=500)]

SIGNED_TX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["tx", "signature"],
    "additionalProperties": False,
    "properties": {
        "tx": {
            "type": "object",
            "required": ["chain_id", "sender", "nonce", "action", "params"],
            "additionalProperties": False,
            "properties": {
                "chain_id": {"type": "string", "description": "From GET /status."},
                "sender": {"type": "string", "pattern": ADDRESS, "description": "Ed25519 public key, hex."},
                "nonce": {"type": "integer", "minimum": 0, "description": "The sender's next nonce."},
                "action": {"type": "string", "enum": sorted(ACTIONS)},
                "params": {"type": "object", "description": "Action parameters; amounts as decimal strings."},
                "expires_at": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Optional: block time (Unix seconds) after which it is refused (expired).",
                },
            },
        },
        "signature": {
            "type": "string",
            "pattern": r"^[0-9a-f]{128}$",
            "description": 'Ed25519 signature of b"astera-tx/1\\n" + canonical JSON of tx.',
        },
    },
}


class FaucetRequest(BaseModel):
    """``POST /faucet``: base units of one asset to one address."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(pattern=ADDRESS)
    asset: str = Field(min_length=1, max_length=32)
    amount: str = Field(pattern=POSITIVE_AMOUNT, description="Base units (decimal string), at least 1.")


def _error(e: NodeError) -> JSONResponse:
    return JSONResponse(e.body(), status_code=e.status)


def receipt_json(r: Receipt) -> dict[str, Any]:
    return {
        "hash": r.hash,
        "height": r.height,
        "index": r.index,
        "block_hash": r.block_hash,
        "timestamp": r.timestamp,
        "state_hash": r.state_hash,
        "events": events_json(r.events),
    }


def _page(items: list[dict[str, Any]], key: str, forward: bool) -> dict[str, Any]:
    nxt = items[-1][key] if items else None
    return {
        "items": items,
        "order": "asc" if forward else "desc",
        "next": ({"after": nxt} if forward else {"before": nxt}) if nxt is not None else None,
    }


def invalid_request(errors: Any) -> NodeError:
    """``invalid_request`` listing what failed validation, where (``loc``) and why (``msg``)."""
    detail = [{"loc": [str(x) for x in err.get("loc", ())], "msg": str(err.get("msg", ""))} for err in errors]
    return NodeError("invalid_request", "invalid request parameters", detail=detail)


def create_app(node: Node) -> FastAPI:
    """The API over a :class:`Node`; the app's lifespan starts and stops the node."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await node.start()
        try:
            yield
        finally:
            await node.stop()

    app = FastAPI(
        title="Astera Lend node",
        version=__version__,
        lifespan=lifespan,
        description=__doc__,
        docs_url=None,  # served below from the package's own Swagger UI assets
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.add_middleware(BodyLimit, max_bytes=node.limits.max_body_bytes)
    app.mount("/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.exception_handler(NodeError)
    async def node_error(request: Request, e: NodeError) -> JSONResponse:
        return _error(e)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, e: RequestValidationError) -> JSONResponse:
        return _error(invalid_request(e.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            e.status_code, "invalid_request"
        )
        detail = e.detail if e.status_code != 404 else f"no route {request.url.path}"
        return _error(NodeError(code, str(detail)))

    @app.exception_handler(Exception)
    async def server_error(request: Request, e: Exception) -> JSONResponse:
        return _error(NodeError("internal_error", "the request failed unexpectedly; nothing changed"))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Astera Lend node",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )

    # ---- transactions -------------------------------------------------------------------------

    @app.post(
        "/txs",
        tags=["transactions"],
        summary="Submit a signed transaction",
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": SIGNED_TX_SCHEMA}}}
        },
        responses=answers(
            schemas.Receipt,
            "malformed_json",
            "bad_signature",
            "unauthorized",
            "bad_nonce",
            "invalid_tx",
            "wrong_chain",
            "expired",
            "refused",
            "unavailable",
        ),
    )
    async def submit(request: Request) -> JSONResponse:
        """Answers once the transaction is in a durable block, with its receipt and events."""
        tx = decode_tx(parse_json(await request.body()), node.chain_id)
        answer = receipt_json(await node.submit(tx))
        if node.leader is not None:
            answer["forwarded_to"] = node.leader  # a follower: the leader ordered it, this node verified it
        return JSONResponse(answer)

    @app.get(
        "/txs",
        tags=["log"],
        summary="Transactions, paginated by sequence number",
        responses=answers(schemas.TxPage),
    )
    async def list_txs(
        after: Cursor = None,
        before: Before = None,
        limit: Limit = 50,
        sender: Annotated[str | None, Query(pattern=ADDRESS)] = None,
    ) -> JSONResponse:
        rows = await node.read(node.store.txs, after, before, limit, sender)
        return JSONResponse(_page([tx_json(r) for r in rows], "seq", after is not None))

    @app.get(
        "/txs/{tx_hash}",
        tags=["log"],
        summary="One transaction with its events",
        responses=answers(schemas.TxWithEvents, "not_found"),
    )
    async def get_tx(tx_hash: Annotated[str, Path(pattern=HASH)]) -> JSONResponse:
        row = await node.read(node.store.tx, tx_hash)
        if row is None:
            raise NodeError("not_found", f"no transaction {tx_hash}")
        out = tx_json(row)
        out["events"] = [ev_json(e) for e in await node.read(node.store.events_of, out["seq"])]
        return JSONResponse(out)

    # ---- blocks and events --------------------------------------------------------------------

    @app.get(
        "/blocks",
        tags=["log"],
        summary="Block headers, paginated by height",
        responses=answers(schemas.BlockPage),
    )
    async def list_blocks(after: Cursor = None, before: Before = None, limit: Limit = 50) -> JSONResponse:
        headers: list[BlockHeader] = await node.read(node.store.headers, after, before, limit)
        return JSONResponse(_page([h.as_dict() for h in headers], "height", after is not None))

    @app.get(
        "/blocks/{height}",
        tags=["log"],
        summary="One block with its transactions and events",
        responses=answers(schemas.Block, "not_found"),
    )
    async def get_block(height: Annotated[int, Path(ge=0, le=MAX_CURSOR)]) -> JSONResponse:
        h = await node.read(node.store.header, height)
        if h is None:
            raise NodeError("not_found", f"no block {height}")
        txs = await node.read(node.store.txs_at, height)
        events = await node.read(node.store.events_at, height)
        return JSONResponse(block_json(h, txs, events))

    async def blocks_after(after: int, limit: int) -> list[dict[str, Any]]:
        headers, txs, events = await node.read(node.store.blocks_after, after, limit)
        by_height_txs: dict[int, list[tuple[Any, ...]]] = {}
        for t in txs:
            by_height_txs.setdefault(t[2], []).append(t)
        by_height_events: dict[int, list[tuple[Any, ...]]] = {}
        for e in events:
            by_height_events.setdefault(e[1], []).append(e)
        return [
            block_json(h, by_height_txs.get(h.height, []), by_height_events.get(h.height, []))
            for h in headers
        ]

    @app.get(
        "/events",
        tags=["log"],
        summary="Events, paginated by sequence number",
        responses=answers(schemas.EventPage),
    )
    async def list_events(
        after: Cursor = None,
        before: Before = None,
        limit: Limit = 50,
        name: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_]{1,64}$")] = None,
        account: Annotated[
            str | None, Query(pattern=ADDRESS, description="Only events naming this address.")
        ] = None,
    ) -> JSONResponse:
        rows = await node.read(node.store.events, after, before, limit, name, account)
        return JSONResponse(_page([ev_json(r) for r in rows], "seq", after is not None))

    @app.get(
        "/stream",
        tags=["log"],
        summary="Server-Sent Events: one `block` event per new block",
        response_class=EventSourceResponse,
        responses={
            200: {
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
                "description": "`block` events (data: a block as `/blocks/{height}` shows it), then `end`",
            },
            **refusals("rate_limited"),
        },
    )
    async def stream(
        request: Request,
        since: Annotated[
            int | None, Query(ge=0, le=MAX_CURSOR, description="Replay blocks after this height first.")
        ] = None,
        last_event_id: Annotated[
            str | None,
            Header(
                alias="Last-Event-ID",
                pattern=EVENT_ID,
                description="Resume after this block height (what an EventSource sends on reconnect).",
            ),
        ] = None,
    ) -> EventSourceResponse:
        """Blocks after ``since`` (or ``Last-Event-ID``) first, at most ``stream_backlog_blocks`` per
        request (then ``event: end`` with ``resume_after``: reconnect), then each new block."""
        after = int(last_event_id) if last_event_id is not None else since
        release = node.streams.acquire(client_of(request))
        q = node.broadcaster.subscribe()

        def close() -> None:
            node.broadcaster.unsubscribe(q)
            release()

        async def body() -> AsyncIterator[JSONServerSentEvent]:
            try:
                limits = node.limits
                async for event in sse.stream(
                    blocks_after,
                    lambda: node.sequencer.head.height,
                    q,
                    after,
                    limits.stream_backlog_blocks,
                    limits.stream_page_blocks,
                ):
                    yield event
            finally:
                close()

        return EventSourceResponse(
            body(),
            ping=sse.PING_SECONDS,
            # A shutdown ends each stream with its own `event: end` (Node.end_streams) before
            # sse-starlette, which also sees it, would cancel the stream without one.
            shutdown_grace_period=1.0,
            background=BackgroundTask(close),  # also when the body never started (HEAD)
        )

    # ---- state --------------------------------------------------------------------------------

    @app.get(
        "/status",
        tags=["node"],
        summary="Network, head block, store and durability, pools' liquidation policies and deficits",
        responses=answers(schemas.Status, "unavailable"),
    )
    async def status() -> JSONResponse:
        await node.ready()
        head = node.sequencer.head
        ledger = node.chain.ledger
        p = ledger.protocol
        return JSONResponse(
            {
                "version": __version__,
                "chain_id": node.chain_id,
                "height": head.height,
                "timestamp": head.timestamp,
                "block_hash": head.hash,
                "state_hash": head.state_hash,
                "store": node.store.kind,
                "durability": node.store.durability(),
                "queued": node.sequencer.queued,
                "faucet": node.faucet is not None,
                "keeper": None if node.keeper is None else node.keeper.status(),
                "replication": node.replication(),
                "liquidation": liquidation_status(p),
                "roles": {
                    "admin": p.admin,
                    "emergency_admin": p.emergency_admin,
                    "oracle": ledger.roles.oracle,
                    "faucet": ledger.roles.faucet,
                    "pool_admins": {str(mp.id): mp.admin for mp in p.mini_pools},
                },
            }
        )

    @app.get(
        "/metrics",
        tags=["node"],
        summary="Prometheus metrics (text format 0.0.4)",
        response_class=PlainTextResponse,
        responses=refusals(),
    )
    async def metrics() -> PlainTextResponse:
        await node.sequencer.settled()  # durable state, but no refusal: a failed node still reports
        return PlainTextResponse(node.metrics.render(), media_type=CONTENT_TYPE)

    @app.get(
        "/markets",
        tags=["markets"],
        summary="Every pool's reserves: prices, rates, utilization",
        responses=answers(schemas.Markets, "unavailable"),
    )
    async def markets() -> JSONResponse:
        await node.ready()
        return JSONResponse(markets_view(node.chain.ledger.protocol))

    @app.get(
        "/pools/{pool}",
        tags=["markets"],
        summary='One pool ("core" or a Mini-Pool id)',
        responses=answers(schemas.Pool, "not_found", "unavailable"),
    )
    async def get_pool(pool: Annotated[str, Path(pattern=r"^(core|[0-9]{1,5})$")]) -> JSONResponse:
        await node.ready()
        p = node.chain.ledger.protocol
        if pool != "core" and int(pool) >= len(p.mini_pools):
            raise NodeError("not_found", f"no Mini-Pool {pool}")
        return JSONResponse(pool_view(p, p.core if pool == "core" else p.mini_pools[int(pool)]))

    @app.get(
        "/mini-pools",
        tags=["markets"],
        summary="Mini-Pools with their Core-Pool credit lines",
        responses=answers(schemas.MiniPools, "unavailable"),
    )
    async def mini_pools() -> JSONResponse:
        await node.ready()
        p = node.chain.ledger.protocol
        return JSONResponse([pool_view(p, mp) for mp in p.mini_pools])

    @app.get(
        "/accounts/{address}",
        tags=["accounts"],
        summary="Wallet, positions, health factor and borrowing power in every pool; next nonce",
        responses=answers(schemas.Account, "unavailable"),
    )
    async def account(address: Annotated[str, Path(pattern=ADDRESS)]) -> JSONResponse:
        await node.ready()
        ledger = node.chain.ledger
        return JSONResponse(account_view(ledger.protocol, address, ledger.next_nonce(address)))

    @app.post(
        "/faucet",
        tags=["accounts"],
        summary="Test funds: the node's faucet key mints to an address",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": FaucetRequest.model_json_schema()}},
            }
        },
        responses=answers(
            schemas.Receipt,
            "malformed_json",
            "faucet_disabled",
            "unknown_asset",
            "faucet_limit",
            "rate_limited",
            "unavailable",
        ),
    )
    async def faucet(request: Request) -> JSONResponse:
        """At most the genesis ``faucet_limits`` per request and per address and window; a client
        makes at most ``faucet_requests_per_client`` requests per window."""
        try:
            req = FaucetRequest.model_validate(parse_json(await request.body()))
        except NodeError as e:
            if e.code != "invalid_tx":  # the strict parser's word for a float, a duplicate key...
                raise
            raise NodeError("invalid_request", e.message) from None
        except ValidationError as e:
            raise invalid_request(e.errors()) from None
        receipt = await node.mint_from_faucet(req.address, req.asset, int(req.amount), client_of(request))
        return JSONResponse(receipt_json(receipt))

    app.include_router(
        simulate.router(
            node, answers(schemas.Simulation, "malformed_json", "invalid_tx", "wrong_chain", "unavailable")
        )
    )
    # Routers whose paths the hot routes never share come last: Starlette tries routes in
    # order, so POST /txs is matched before the log's routes (and the web app's, which the
    # composition root, astera.compose, includes after these) are looked at.
    app.include_router(replication.router(node, refusals("rate_limited", "not_found")))
    declare_refusals(app)
    return app


def declare_refusals(app: FastAPI) -> None:
    """Say in the OpenAPI document what every operation, whoever's router declared it, may
    refuse with: 413 ``payload_too_large`` (:class:`BodyLimit` runs before any route), and each
    refusal an :class:`ErrorEnvelope` in JSON, which the app's exception handlers answer on every
    route (FastAPI would declare a text route's refusals, ``/metrics``, as text, and a route's
    undeclared 422 as its own ``HTTPValidationError``, which this app never sends)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            too_large = str(STATUS["payload_too_large"])
            description = refusals()[STATUS["payload_too_large"]]["description"]
            content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
            for operations in schema["paths"].values():
                for operation in operations.values():
                    responses = operation.setdefault("responses", {})
                    responses.setdefault(too_large, {"description": description})
                    for status, response in responses.items():
                        if status[0] in "45":
                            response["content"] = content
            for unsent in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(unsent, None)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
