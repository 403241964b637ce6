"""The node: a durable, signed transaction log served over HTTP, on SQLite or PostgreSQL.

Layers, inside out: :mod:`.accounts` (Ed25519 keys), :mod:`.transactions` (canonical
encoding, signatures), :mod:`.actions` (what a transaction may do, and who may),
:mod:`.ledger` (protocol + nonces), :mod:`.genesis`, :mod:`.blocks`, :mod:`.store`
(SQLite / PostgreSQL), :mod:`.snapshots`, :mod:`.chain` (open, restore, verify),
:mod:`.sequencer` (group commit), :mod:`.node`, :mod:`.api` (FastAPI), :mod:`.sse`,
:mod:`.metrics`, :mod:`.serve` (``astera serve`` / ``astera verify``).
"""

from .accounts import Key
from .errors import NodeError
from .transactions import SignedTx, canonical_json, decode_tx, sign_tx

__all__ = ["Key", "NodeError", "SignedTx", "canonical_json", "decode_tx", "sign_tx"]
