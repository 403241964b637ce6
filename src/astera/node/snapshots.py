"""Snapshots: the ledger at some height, so a restart need not replay the whole log.

A snapshot is a pickle of the protocol object graph and the nonces, behind a format
header. It is only a cache: it is trusted only if its state hash equals the hash the
log records for that height, and ``astera verify`` never uses it. Pickle is safe here
because the node reads only snapshots it wrote itself into its own store.
"""

from __future__ import annotations

import pickle
from typing import Final

from .ledger import Ledger, NodeRoles

#: Format 2: the state hash of the incremental digest (``astera.core.state_digest``); format-1
#: snapshots (and logs) come from nodes whose block state hashes were defined differently.
MAGIC: Final = b"astera-snapshot/2\n"


def encode(ledger: Ledger) -> bytes:
    return MAGIC + pickle.dumps((ledger.protocol, ledger.nonces), protocol=pickle.HIGHEST_PROTOCOL)


def decode(data: bytes, roles: NodeRoles) -> Ledger:
    if not data.startswith(MAGIC):
        raise ValueError("not an astera snapshot")
    protocol, nonces = pickle.loads(data[len(MAGIC) :])  # noqa: S301 - our own store's bytes
    return Ledger(protocol, roles, nonces)
