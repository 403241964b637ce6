"""The node: a durable, signed transaction log served over HTTP, on SQLite or PostgreSQL.

Layers, inside out: the wire format (:mod:`astera.wire`: keys, canonical JSON,
signatures), :mod:`.transactions` (signed transactions checked against the action
table), :mod:`.actions` (what a transaction may do, and who may), :mod:`.ledger`
(protocol + nonces), :mod:`.genesis`, :mod:`.blocks`, :mod:`.store` (SQLite /
PostgreSQL), :mod:`.lock`, :mod:`.snapshots`, :mod:`.chain` (open, restore, verify),
:mod:`.sequencer` (group commit), :mod:`.node`, :mod:`.limits`, :mod:`.body_limit`,
:mod:`.api` (FastAPI), :mod:`.sse`, :mod:`.metrics`, :mod:`.serve` (``astera serve`` /
``astera verify``); for followers, :mod:`.replication` (``/log``, ``/genesis``,
``/snapshot``), :mod:`.verifier` (stateless checks on worker processes) and
:mod:`.follower` (``astera serve --follow``).
"""

from astera.wire import Key, canonical_json, sign_tx

from .errors import NodeError
from .transactions import SignedTx, decode_tx

__all__ = ["Key", "NodeError", "SignedTx", "canonical_json", "decode_tx", "sign_tx"]
