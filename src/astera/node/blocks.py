"""Blocks: the unit of ordering, time and durability.

A block holds the transactions one group commit made durable, in order, with the
block's timestamp (the node's clock, never decreasing), the state hash after them,
and a hash that chains it to its parent. Block 0 is genesis: no transactions, the
genesis state hash, and ``prev_hash`` = the genesis document's hash.
"""

from __future__ import annotations

import hashlib
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
