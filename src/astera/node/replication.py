"""The log as followers read it: raw blocks with their signed transactions, and the genesis.

``GET /log?after=H`` answers the blocks after height ``H`` exactly as logged: each header
(height, timestamp, parent hash, state hash, block hash, counts) and each transaction's
hash, signed body (canonical JSON text) and signature, which is everything a follower
needs to verify the block by replaying it (:mod:`.follower`). With ``wait=S`` a request
that finds nothing new waits up to ``S`` seconds for the next block (a long poll: a
caught-up follower learns of a block one round trip after its commit). ``GET /genesis``
answers the genesis document the log starts from, and ``GET /snapshot`` the newest
snapshot the node stored (:mod:`.snapshots`; its height and state hash in the headers
``X-Astera-Height`` and ``X-Astera-State-Hash``), from which a new follower may start
instead of replaying the log from genesis: it proves the snapshot against the state hash
of that block and verifies every block after it. Every node serves all three, followers
too, so followers can follow followers.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any, Final

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from .blocks import Header
from .errors import NodeError
from .limits import client_of
from .schemas import Genesis, Log, answers
from .store import SqlStore

if TYPE_CHECKING:
    from .node import Node

#: Most blocks, and (softly: a block is never split) most transactions, in one answer.
MAX_BLOCKS: Final = 500
MAX_TXS: Final = 20_000
#: Longest long poll, in seconds.
MAX_WAIT: Final = 30.0


def block_wire(header: Header, txs: list[tuple[Any, ...]]) -> dict[str, Any]:
    """One logged block as ``/log`` sends it: the header's fields and ``txs`` as
    ``[hash, body, signature]`` triples."""
    return {
        **header.as_dict(),
        "first_tx": header.first_tx,
        "first_event": header.first_event,
        "txs": [[tx_hash, body, signature] for tx_hash, body, signature in txs],
    }


def read_log(store: SqlStore, after: int, limit: int, max_txs: int = MAX_TXS) -> list[dict[str, Any]]:
    """Up to ``limit`` blocks after height ``after`` (fewer once ``max_txs`` transactions are in)."""
    return [block_wire(header, txs) for header, txs in store.log_page(after, limit, max_txs)]


async def disconnected(request: Request) -> None:
    """Return once the client has gone: a GET's one ``http.request`` message is read, the next
    message the server gives is its disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def next_block(q: asyncio.Queue[Any], request: Request, wait: float) -> None:
    """Wait until a block is published (or ``None``: the node is stopping), the client
    disconnects, or ``wait`` seconds pass, whichever comes first. Without the disconnect, a
    killed client's poll would hold its stream slot until its wait ended."""
    waits = [asyncio.ensure_future(q.get()), asyncio.ensure_future(disconnected(request))]
    try:
        await asyncio.wait(waits, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def router(node: Node, responses: dict[int | str, dict[str, Any]]) -> APIRouter:
    """``/log`` and ``/genesis`` over ``node``; ``responses`` are the refusals they declare."""
    api = APIRouter(tags=["replication"], responses=responses)

    @api.get(
        "/log",
        summary="Raw blocks after a height, with signed transactions (for followers)",
        responses=answers(Log),
    )
    async def log(
        request: Request,
        after: Annotated[int, Query(ge=0, le=1 << 62, description="Blocks after this height.")] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_BLOCKS)] = 100,
        txs: Annotated[
            int, Query(ge=1, le=MAX_TXS, description="Stop once this many transactions are in.")
        ] = MAX_TXS,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT, include_in_schema=False)] = 0,
    ) -> Response:
        """Blocks after ``after``, oldest first: at most ``limit`` blocks, and no more once
        ``txs`` transactions are in (a block is never split). ``wait=S`` (seconds, at most 30):
        when nothing is new, wait that long for the next block (a long poll). A waiting
        request holds one of its client's stream slots, as an open ``/stream`` does
        (``rate_limited`` beyond), until it answers or its client disconnects. A follower
        that started from a snapshot at block ``B`` serves the log after ``B`` only
        (``not_found`` before: it holds no earlier transactions)."""
        if after < node.started_from:
            raise NodeError(
                "not_found",
                f"this node's log starts from a snapshot at block {node.started_from}: ask for blocks "
                "after it, start from its snapshot (--from-snapshot), or follow a node with the whole log",
                starts_at=node.started_from,
            )
        if wait > 0 and node.sequencer.head.height <= after:
            release = node.streams.acquire(client_of(request))
            q = node.broadcaster.subscribe()  # before looking again: no block falls in between
            try:
                if node.sequencer.head.height <= after:
                    await next_block(q, request, wait)
            finally:
                node.broadcaster.unsubscribe(q)
                release()
        head = node.sequencer.head.height
        blocks = await node.read(read_log, node.store, after, limit, txs) if head > after else []
        body = json.dumps({"head": head, "blocks": blocks}, separators=(",", ":"))
        return Response(body, media_type="application/json")

    @api.get(
        "/snapshot",
        summary="The newest stored snapshot (for followers starting from one)",
        response_class=Response,
        responses={
            200: {
                "description": "The snapshot's bytes",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                "headers": {
                    "X-Astera-Height": {"schema": {"type": "integer"}, "description": "Its block's height."},
                    "X-Astera-State-Hash": {
                        "schema": {"type": "string"},
                        "description": "The state hash of that block, which the snapshot proves against.",
                    },
                },
            }
        },
    )
    async def snapshot() -> Response:
        """The snapshot's bytes; its block in ``X-Astera-Height`` and ``X-Astera-State-Hash``.
        ``not_found`` when the node has stored none yet."""
        found = await node.read(node.store.latest_snapshot, node.sequencer.head.height)
        if found is None:
            raise NodeError("not_found", "this node has stored no snapshot yet; follow from genesis")
        height, state_hash, data = found
        headers = {"X-Astera-Height": str(height), "X-Astera-State-Hash": state_hash}
        return Response(data, media_type="application/octet-stream", headers=headers)

    @api.get("/genesis", summary="The genesis document the log starts from", responses=answers(Genesis))
    async def genesis() -> Response:
        return Response(await node.read(node.store.genesis_json), media_type="application/json")

    return api
