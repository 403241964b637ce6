"""Snapshots: the ledger at some height, so a restart or a new follower need not replay the
whole log.

A snapshot is a pickle of the protocol object graph and the nonces, behind a format
header. It is trusted only once the ledger it decodes to hashes (from scratch) to the state
hash the log records for its height, and ``astera verify`` never uses one. Because a
follower also takes snapshots from its leader (``GET /snapshot``), decoding never runs
code the bytes name: the unpickler resolves only classes of the protocol core
(``astera.core``), whose constructors only build values; anything else (a function, a
class from another module) is refused, as are objects of the wrong shape.
"""

from __future__ import annotations

import io
import pickle
from typing import Any, Final

from astera.core import Protocol
from astera.wire import is_address

from .ledger import Ledger, NodeRoles

#: Format 4: the protocol object graph as split into its world, pools, configurator and
#: hasher. Format 3 (block state hashes commit to the nonces, :meth:`Ledger.state_hash`) had
#: the same hashes but the older object layout; older formats hashed blocks differently.
MAGIC: Final = b"astera-snapshot/4\n"
#: The only modules whose names a snapshot may resolve (the core's own classes).
CORE: Final = "astera.core."


class BadSnapshot(ValueError):
    """The bytes are not a snapshot of this format, or do not prove against the log."""


class _CoreUnpickler(pickle.Unpickler):
    """Resolves classes of :mod:`astera.core` only: never a function, never another module."""

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith(CORE):
            found = super().find_class(module, name)
            if isinstance(found, type) and found.__module__.startswith(CORE):
                return found
        raise BadSnapshot(f"a snapshot may not name {module}.{name}")


def encode(ledger: Ledger) -> bytes:
    return MAGIC + pickle.dumps((ledger.protocol, ledger.nonces), protocol=pickle.HIGHEST_PROTOCOL)


def decode(data: bytes, roles: NodeRoles) -> Ledger:
    """The ledger in ``data`` (not yet proved: see :func:`proved`)."""
    if not data.startswith(MAGIC):
        raise BadSnapshot("not an astera snapshot of this format")
    try:
        protocol, nonces = _CoreUnpickler(io.BytesIO(data[len(MAGIC) :])).load()
    except BadSnapshot:
        raise
    except Exception as e:  # noqa: BLE001 - any malformed pickle is a bad snapshot
        raise BadSnapshot(f"the snapshot does not decode ({e!r})") from None
    if type(protocol) is not Protocol or protocol.journal.log:
        raise BadSnapshot("the snapshot does not hold a protocol at rest")
    if type(nonces) is not dict or not all(
        is_address(k) and type(v) is int and v > 0 for k, v in nonces.items()
    ):
        raise BadSnapshot("the snapshot's nonces are not addresses with positive counts")
    return Ledger(protocol, roles, nonces)


def proved(data: bytes, roles: NodeRoles, state_hash: str) -> Ledger:
    """The ledger in ``data``, if it hashes to ``state_hash`` (the log's, at its height)."""
    ledger = decode(data, roles)
    ours = ledger.state_hash(incremental=False)  # from the state itself, whatever the bytes say
    if ours != state_hash:
        raise BadSnapshot(f"the snapshot hashes to {ours}, the log says {state_hash}")
    return ledger
