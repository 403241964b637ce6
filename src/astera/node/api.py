"""The HTTP API (FastAPI): submit signed transactions; read markets, accounts and the log.

OpenAPI is published at ``/openapi.json`` and browsable at ``/docs``. Every refusal
is ``{"error": {"code": ..., "message": ...}}`` with a 4xx status and a stable code
(see :mod:`astera.node.errors`). Amounts are decimal strings. Lists are paginated by
cursor: ``?after=N`` walks forward (oldest first), ``?before=N`` or no cursor walks
backward (newest first); each page says its ``next`` cursor.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field

from astera import __version__

from . import sse
from .actions import ACTIONS
from .blocks import Header, jsonable
from .errors import NodeError
from .node import Node, event_json
from .sequencer import Receipt
from .transactions import decode_tx, parse_json
from .views import account_view, markets_view, pool_view

ADDRESS = r"^[0-9a-f]{64}$"
HASH = r"^[0-9a-f]{64}$"
AMOUNT = r"^(0|[1-9][0-9]{0,77})$"
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
    address: str = Field(pattern=ADDRESS)
    asset: str = Field(min_length=1, max_length=32)
    amount: str = Field(pattern=AMOUNT, description="Base units (decimal string).")


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
        "events": [{"event": e.name, "pool": e.pool, "data": jsonable(e.fields)} for e in r.events],
    }


def tx_json(row: tuple[Any, ...]) -> dict[str, Any]:
    seq, tx_hash, height, idx, sender, nonce, action, body, signature, first_event, event_count = row
    return {
        "seq": seq,
        "hash": tx_hash,
        "height": height,
        "index": idx,
        "sender": sender,
        "nonce": nonce,
        "action": action,
        "params": json.loads(body)["params"],
        "signature": signature,
        "first_event": first_event,
        "event_count": event_count,
    }


def ev_json(row: tuple[Any, ...], tx_hash: str | None = None) -> dict[str, Any]:
    seq, height, tx_seq, name, pool, data = row
    out = event_json(seq, height, tx_hash or "", name, pool, json.loads(data))
    out["tx_seq"] = tx_seq
    if tx_hash is None:
        del out["tx"]
    return out


def _page(items: list[dict[str, Any]], key: str, forward: bool) -> dict[str, Any]:
    nxt = items[-1][key] if items else None
    return {
        "items": items,
        "order": "asc" if forward else "desc",
        "next": ({"after": nxt} if forward else {"before": nxt}) if nxt is not None else None,
    }


def create_app(node: Node) -> FastAPI:
    """The API over a :class:`Node`; the app's lifespan starts and stops the node."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await node.start()
        try:
            yield
        finally:
            await node.stop()

    app = FastAPI(title="Astera Lend node", version=__version__, lifespan=lifespan, description=__doc__)

    @app.exception_handler(NodeError)
    async def node_error(request: Request, e: NodeError) -> JSONResponse:
        return _error(e)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, e: RequestValidationError) -> JSONResponse:
        detail = [{"loc": list(err.get("loc", ())), "msg": str(err.get("msg", ""))} for err in e.errors()]
        return _error(NodeError("invalid_request", "invalid request parameters", detail=detail))

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    # ---- transactions -------------------------------------------------------------------------

    @app.post(
        "/txs",
        tags=["transactions"],
        summary="Submit a signed transaction",
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": SIGNED_TX_SCHEMA}}}
        },
        responses={
            400: {"description": "malformed_json"},
            401: {"description": "bad_signature"},
            403: {"description": "unauthorized"},
            409: {"description": "bad_nonce"},
            413: {"description": "payload_too_large"},
            422: {"description": "invalid_tx, wrong_chain or refused (protocol code in reason)"},
        },
    )
    async def submit(request: Request) -> JSONResponse:
        """Answers once the transaction is in a durable block, with its receipt and events."""
        tx = decode_tx(parse_json(await request.body()), node.chain_id)
        return JSONResponse(receipt_json(await node.submit(tx)))

    @app.get("/txs", tags=["log"], summary="Transactions, paginated by sequence number")
    async def list_txs(
        after: Cursor = None,
        before: Before = None,
        limit: Limit = 50,
        sender: Annotated[str | None, Query(pattern=ADDRESS)] = None,
    ) -> dict[str, Any]:
        rows = await node.read(node.store.txs, after, before, limit, sender)
        return _page([tx_json(r) for r in rows], "seq", after is not None)

    @app.get("/txs/{tx_hash}", tags=["log"], summary="One transaction with its events")
    async def get_tx(tx_hash: Annotated[str, Path(pattern=HASH)]) -> dict[str, Any]:
        row = await node.read(node.store.tx, tx_hash)
        if row is None:
            raise NodeError("not_found", f"no transaction {tx_hash}")
        out = tx_json(row)
        out["events"] = [ev_json(e) for e in await node.read(node.store.events_of, out["seq"])]
        return out

    # ---- blocks and events --------------------------------------------------------------------

    @app.get("/blocks", tags=["log"], summary="Block headers, paginated by height")
    async def list_blocks(after: Cursor = None, before: Before = None, limit: Limit = 50) -> dict[str, Any]:
        headers: list[Header] = await node.read(node.store.headers, after, before, limit)
        return _page([h.as_dict() for h in headers], "height", after is not None)

    @app.get("/blocks/{height}", tags=["log"], summary="One block with its transactions and events")
    async def get_block(height: Annotated[int, Path(ge=0, le=MAX_CURSOR)]) -> dict[str, Any]:
        return await _block(height)

    async def _block(height: int) -> dict[str, Any]:
        h = await node.read(node.store.header, height)
        if h is None:
            raise NodeError("not_found", f"no block {height}")
        txs = await node.read(node.store.txs_at, height)
        events = await node.read(node.store.events_at, height)
        hash_of = {r[0]: r[1] for r in txs}
        by_tx: dict[int, list[dict[str, Any]]] = {}
        for e in events:
            by_tx.setdefault(e[2], []).append(ev_json(e, hash_of.get(e[2], "")))
        items = []
        for r in txs:
            t = tx_json(r)
            t["events"] = by_tx.get(t["seq"], [])
            items.append(t)
        return {**h.as_dict(), "txs": items}

    @app.get("/events", tags=["log"], summary="Events, paginated by sequence number")
    async def list_events(
        after: Cursor = None,
        before: Before = None,
        limit: Limit = 50,
        name: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_]{1,64}$")] = None,
    ) -> dict[str, Any]:
        rows = await node.read(node.store.events, after, before, limit, name)
        return _page([ev_json(r) for r in rows], "seq", after is not None)

    @app.get(
        "/stream",
        tags=["log"],
        summary="Server-Sent Events: one `block` event per new block",
        response_class=StreamingResponse,
    )
    async def stream(
        request: Request,
        since: Annotated[
            int | None, Query(ge=0, le=MAX_CURSOR, description="Replay blocks after this height first.")
        ] = None,
    ) -> StreamingResponse:
        last_id = request.headers.get("last-event-id", "")
        after = int(last_id) if last_id.isdigit() and len(last_id) < 19 else since
        q = node.broadcaster.subscribe()
        backlog: list[dict[str, Any]] = []
        if after is not None:
            head = node.sequencer.head.height
            for height in range(after + 1, min(head, after + 1000) + 1):
                backlog.append(await _block(height))

        async def body() -> AsyncIterator[str]:
            try:
                async for chunk in sse.stream(
                    backlog, q, after if after is not None else node.sequencer.head.height
                ):
                    yield chunk
            finally:
                node.broadcaster.unsubscribe(q)

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    # ---- state --------------------------------------------------------------------------------

    @app.get("/status", tags=["node"], summary="Network, head block, store and durability")
    async def status() -> dict[str, Any]:
        await node.ready()
        head = node.sequencer.head
        ledger = node.chain.ledger
        p = ledger.protocol
        return {
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
            "roles": {
                "admin": p.admin,
                "emergency_admin": p.emergency_admin,
                "oracle": ledger.roles.oracle,
                "faucet": ledger.roles.faucet,
                "pool_admins": {str(mp.id): mp.admin for mp in p.mini_pools},
            },
        }

    @app.get("/metrics", tags=["node"], summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        text = node.metrics.render(node.sequencer.head.height, node.sequencer.queued, len(node.broadcaster))
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @app.get("/markets", tags=["markets"], summary="Every pool's reserves: prices, rates, utilization")
    async def markets() -> dict[str, Any]:
        await node.ready()
        return markets_view(node.chain.ledger.protocol)

    @app.get("/pools/{pool}", tags=["markets"], summary='One pool ("core" or a Mini-Pool id)')
    async def get_pool(pool: Annotated[str, Path(pattern=r"^(core|[0-9]{1,5})$")]) -> dict[str, Any]:
        await node.ready()
        p = node.chain.ledger.protocol
        if pool == "core":
            return pool_view(p, p.core)
        if int(pool) >= len(p.mini_pools):
            raise NodeError("not_found", f"no Mini-Pool {pool}")
        return pool_view(p, p.mini_pools[int(pool)])

    @app.get("/mini-pools", tags=["markets"], summary="Mini-Pools with their Core-Pool credit lines")
    async def mini_pools() -> list[dict[str, Any]]:
        await node.ready()
        p = node.chain.ledger.protocol
        return [pool_view(p, mp) for mp in p.mini_pools]

    @app.get(
        "/accounts/{address}",
        tags=["accounts"],
        summary="Wallet, positions, health factor and borrowing power in every pool; next nonce",
    )
    async def account(address: Annotated[str, Path(pattern=ADDRESS)]) -> dict[str, Any]:
        await node.ready()
        ledger = node.chain.ledger
        return account_view(ledger.protocol, address, ledger.next_nonce(address))

    @app.post(
        "/faucet",
        tags=["accounts"],
        summary="Test funds: the node's faucet key mints to an address",
        responses={403: {"description": "faucet_disabled"}, 422: {"description": "faucet_limit"}},
    )
    async def faucet(req: FaucetRequest) -> dict[str, Any]:
        return receipt_json(await node.mint_from_faucet(req.address, req.asset, int(req.amount)))

    return app
