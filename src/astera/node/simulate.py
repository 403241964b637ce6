"""``POST /simulate``: a dry run of unsigned transactions on the node's current state.

The body is ``{"txs": [BODY, ...]}`` (optionally ``"timestamp"``), each BODY a
transaction body as ``POST /txs`` takes it minus the signature: ``sender``, ``action``,
``params``, and optionally ``chain_id`` (checked when given) and ``nonce`` (checked, like
the ledger does, when given). The transactions run in order, as one block at the next
block's timestamp (``max(head, wall clock)``, or ``timestamp`` if given and not earlier),
through the same checks as a signed transaction (parameters, role, the protocol), then
everything is rolled back: nothing is logged, no nonce moves, the state hash is unchanged.

The answer has one result per transaction (its events, or the refusal exactly as
``POST /txs`` would answer it: ``{"code", "message", "reason", "name", ...}``) and every
account the transactions wrote to, plus every sender, as ``GET /accounts/{address}``
shows it after them, and every reserve they name (``pool`` and ``asset``) as ``GET /pools``
shows it after them (new rates, utilization: what a preview shows). A malformed body is
refused as a whole (``invalid_tx``).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from astera.core import Protocol, ProtocolError

from .blocks import events_json
from .errors import NodeError
from .ledger import Ledger
from .node import Node
from .transactions import SignedTx, decode_tx, parse_json
from .views import account_view, reserve_view

log = logging.getLogger("astera.node")

#: Most transactions one dry run may hold.
MAX_SIMULATED_TXS = 64
TIMESTAMP_LIMIT = (1 << 40) - 1

SIMULATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["txs"],
    "additionalProperties": False,
    "properties": {
        "txs": {
            "type": "array",
            "maxItems": MAX_SIMULATED_TXS,
            "items": {
                "type": "object",
                "required": ["sender", "action", "params"],
                "additionalProperties": False,
                "properties": {
                    "sender": {"type": "string", "description": "Ed25519 public key, hex."},
                    "action": {"type": "string"},
                    "params": {"type": "object"},
                    "chain_id": {"type": "string", "description": "Checked when given."},
                    "nonce": {"type": "integer", "description": "Checked when given."},
                },
            },
        },
        "timestamp": {"type": "integer", "description": "Run at this block time (not before the head)."},
    },
}


def _decode(item: object, chain_id: str, index: int) -> tuple[SignedTx, bool]:
    """An unsigned body as a checked transaction (all but the signature), and whether it named
    its nonce."""
    if not isinstance(item, dict):
        raise NodeError("invalid_tx", f"txs[{index}] must be an object", index=index)
    body = {"chain_id": chain_id, "nonce": 0, **item}
    try:
        return decode_tx({"tx": body, "signature": ""}, chain_id, check_signature=False), "nonce" in item
    except NodeError as e:
        raise NodeError(e.code, f"txs[{index}]: {e.message}", index=index, **e.extra) from None


def _step(ledger: Ledger, tx: SignedTx, checked_nonce: bool, nonces: dict[str, int]) -> Any:
    def run(p: Protocol) -> list[Any]:
        expected = nonces.get(tx.sender, ledger.next_nonce(tx.sender))
        if checked_nonce and tx.nonce != expected:
            raise NodeError("bad_nonce", f"nonce {tx.nonce}, expected {expected}", expected=expected)
        events = ledger.execute(tx.sender, tx.action, tx.args)
        nonces[tx.sender] = expected + 1
        return events

    return run


def simulate(node: Node, doc: object, wall_clock: int) -> dict[str, Any]:
    """The dry run itself (synchronous: nothing else touches the state meanwhile)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("txs"), list) or set(doc) - {"txs", "timestamp"}:
        raise NodeError("invalid_tx", 'expected {"txs": [{"sender", "action", "params"}, ...]}')
    items = doc["txs"]
    if len(items) > MAX_SIMULATED_TXS:
        raise NodeError("invalid_tx", f"at most {MAX_SIMULATED_TXS} transactions per dry run")
    head = node.sequencer.head.timestamp
    at = doc.get("timestamp", max(head, wall_clock))
    if type(at) is not int or not head <= at <= TIMESTAMP_LIMIT:
        raise NodeError("invalid_tx", f"timestamp must be an integer in [{head}, {TIMESTAMP_LIMIT}]")
    txs = [_decode(item, node.chain_id, i) for i, item in enumerate(items)]
    ledger = node.chain.ledger
    nonces: dict[str, int] = {}
    reserves: list[dict[str, Any]] = []

    def read_reserves(p: Protocol) -> None:
        """A last step that only reads: each reserve a transaction names, after them all (a pool
        that does not exist names none: the transaction's own result says it was refused)."""
        for key in dict.fromkeys((tx.args["pool"], tx.args["asset"]) for tx, _ in txs if _names_reserve(tx)):
            try:
                pool = p.pool(key[0])
            except ProtocolError:
                continue
            for r in pool.reserves:
                if r.asset == key[1]:
                    reserves.append({"pool": key[0], **reserve_view(p, pool, r)})

    try:
        run = ledger.protocol.simulate(
            [*(_step(ledger, tx, checked, nonces) for tx, checked in txs), read_reserves],
            inspect=lambda p, who: account_view(p, who, nonces.get(who, ledger.next_nonce(who))),
            accounts=[tx.sender for tx, _ in txs],
            refusals=(NodeError,),
            at=at,
        )
    except Exception:  # a bug in the core: the dry run was rolled back all the same
        log.exception("dry run raised unexpectedly")
        raise NodeError("internal_error", "the dry run failed unexpectedly; nothing changed") from None
    results = []
    for (tx, _), outcome in zip(txs, run.outcomes[:-1], strict=True):
        result: dict[str, Any] = {"sender": tx.sender, "action": tx.action, "ok": outcome.ok}
        if isinstance(outcome.refusal, NodeError):
            result["error"] = outcome.refusal.body()["error"]
        else:
            result["events"] = events_json(outcome.events)
        results.append(result)
    return {"timestamp": run.timestamp, "results": results, "accounts": run.accounts, "reserves": reserves}


def _names_reserve(tx: SignedTx) -> bool:
    return isinstance(tx.args.get("pool"), str | int) and isinstance(tx.args.get("asset"), str)


def router(node: Node, responses: dict[int | str, dict[str, Any]]) -> APIRouter:
    """The ``/simulate`` route over a node (included by :func:`astera.node.api.create_app`,
    which declares the error ``responses``)."""
    api = APIRouter()

    @api.post(
        "/simulate",
        tags=["transactions"],
        summary="Dry run: what unsigned transactions would do, with nothing changed",
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": SIMULATE_SCHEMA}}}
        },
        responses=responses,
    )
    async def simulate_route(request: Request) -> JSONResponse:
        doc = parse_json(await request.body())
        await node.ready()
        return JSONResponse(simulate(node, doc, int(node.sequencer.clock())))

    return api
