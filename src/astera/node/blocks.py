"""Blocks: the unit of ordering, time and durability.

A block holds the transactions one group commit made durable, in order, with the
block's timestamp (the node's clock, never decreasing), the state hash after them,
and a hash that chains it to its parent. Block 0 is genesis: no transactions, the
genesis state hash, and ``prev_hash`` = the genesis document's hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from astera.core import Event
from astera.wire import canonical_json

from .transactions import SignedTx


def block_hash(height: int, timestamp: int, prev_hash: str, state_hash: str, tx_hashes: list[str]) -> str:
    header = {
        "height": height,
        "timestamp": timestamp,
        "prev_hash": prev_hash,
        "state_hash": state_hash,
        "txs": tx_hashes,
    }
    return hashlib.sha256(canonical_json(header).encode()).hexdigest()


@dataclass(frozen=True)
class Header:
    height: int
    timestamp: int
    prev_hash: str
    state_hash: str
    hash: str
    tx_count: int
    first_tx: int  # sequence number of the block's first transaction
    first_event: int  # sequence number of the block's first event
    event_count: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "height": self.height,
            "timestamp": self.timestamp,
            "prev_hash": self.prev_hash,
            "state_hash": self.state_hash,
            "hash": self.hash,
            "tx_count": self.tx_count,
            "event_count": self.event_count,
        }


@dataclass
class Block:
    """A block about to be written: header plus its transactions and their events."""

    header: Header
    txs: list[SignedTx]
    events: list[list[Event]] = field(default_factory=list)


def jsonable(value: Any) -> Any:
    """Ints as decimal strings (amounts never travel as JSON numbers); bools and strings as they are."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def events_json(events: list[Event]) -> list[dict[str, Any]]:
    """Events as a receipt or a dry run shows them: name, pool and JSON data."""
    return [{"event": e.name, "pool": e.pool, "data": jsonable(e.fields)} for e in events]


def event_data(event: Event) -> str:
    """An event's fields as stored JSON (ints as strings)."""
    return canonical_json(jsonable(event.fields))


TxRow = tuple[int, str, int, int, str, int, str, str, str, int, int]
EventRow = tuple[int, int, int, str, str, str]


def block_rows(
    header: Header, txs: list[SignedTx], events: list[list[Event]]
) -> tuple[list[TxRow], list[EventRow]]:
    """A block's transactions and events as the store keeps them (``TX_COLS``, ``EVENT_COLS``)."""
    tx_rows: list[TxRow] = []
    event_rows: list[EventRow] = []
    tx_seq, ev_seq = header.first_tx, header.first_event
    for idx, (tx, evs) in enumerate(zip(txs, events, strict=True)):
        tx_rows.append(
            (
                tx_seq,
                tx.hash,
                header.height,
                idx,
                tx.sender,
                tx.nonce,
                tx.action,
                tx.body,
                tx.signature,
                ev_seq,
                len(evs),
            )
        )
        for ev in evs:
            event_rows.append((ev_seq, header.height, tx_seq, ev.name, ev.pool, event_data(ev)))
            ev_seq += 1
        tx_seq += 1
    return tx_rows, event_rows


def tx_json(row: tuple[Any, ...]) -> dict[str, Any]:
    """A stored transaction as the API shows it (``/txs``, ``/blocks/{height}``, ``/stream``)."""
    seq, tx_hash, height, idx, sender, nonce, action, body, signature, first_event, event_count = row
    signed = json.loads(body)
    return {
        "seq": seq,
        "hash": tx_hash,
        "height": height,
        "index": idx,
        "sender": sender,
        "nonce": nonce,
        "action": action,
        "params": signed["params"],
        "expires_at": signed.get("expires_at"),
        "signature": signature,
        "first_event": first_event,
        "event_count": event_count,
    }


def ev_json(row: tuple[Any, ...], tx_hash: str | None = None) -> dict[str, Any]:
    """A stored event as the API shows it; with ``tx_hash``, the hash of its transaction too."""
    seq, height, tx_seq, name, pool, data = row
    out: dict[str, Any] = {"seq": seq, "height": height}
    if tx_hash is not None:
        out["tx"] = tx_hash
    out.update(event=name, pool=pool, data=json.loads(data), tx_seq=tx_seq)
    return out


def block_json(header: Header, txs: list[tuple[Any, ...]], events: list[tuple[Any, ...]]) -> dict[str, Any]:
    """One block with its transactions and their events, as ``/blocks/{height}`` and every
    ``/stream`` event (backlog or live) show it."""
    hash_of = {r[0]: r[1] for r in txs}
    by_tx: dict[int, list[dict[str, Any]]] = {}
    for e in events:
        by_tx.setdefault(e[2], []).append(ev_json(e, hash_of.get(e[2], "")))
    items = []
    for r in txs:
        t = tx_json(r)
        t["events"] = by_tx.get(t["seq"], [])
        items.append(t)
    return {**header.as_dict(), "txs": items}
