"""Incremental state hash: the protocol's large keyed maps hashed as multisets.

:meth:`astera.core.Protocol.state_hash` commits to the whole state after every block of a
node. Most of the state is a handful of per-user maps (wallets, user bitmaps, scaled
balances, allowances) whose size grows with the number of users, while one block touches
a few entries of them. Hashing them from scratch costs O(users) per block (165 ms at 10^5
users); hashing only what changed costs O(changes).

Each large map gets a running *additive multiset hash* (AdHash, Bellare–Micciancio): the sum,
modulo 2^2048, of a 2048-bit SHAKE-256 hash of every non-empty entry ``(label, key,
value)``. Changing an entry subtracts its old hash and adds its new one, so the sum depends
only on the map's contents, never on the order of writes. The modulus is wide enough that
finding two different maps with the same sum (the generalized-birthday attack on AdHash)
is out of reach.

What changed comes from the core's undo journal: every write to these maps goes through
:meth:`~astera.core.journal.Journal.set` or ``delete``, which log the entry's previous
value. When the outermost transaction commits, :meth:`StateDigest.observe` keeps, for each
entry written, the value it had at the last hash (the first logged one); a rolled-back
transaction never reaches the commit and leaves nothing to do. :meth:`StateDigest.digests`
then re-hashes exactly those entries. A map seen for the first time (a new reserve, pool or
asset) is hashed whole once. A digest is not pickled with its protocol (map identities do
not survive pickling): an unpickled protocol builds a fresh one on its first state hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from .journal import MISSING

#: Width of each map's sum, in bytes.
DIGEST_BYTES = 256
_MODULUS_MASK = (1 << (8 * DIGEST_BYTES)) - 1

#: (label, map) pairs: a map's label names it stably ("core/USDC:True/a_scaled", ...).
Maps = Sequence[tuple[str, dict[Any, Any]]]


def entry_hash(label: str, key: Any, value: Any) -> int:
    """The entry's 2048-bit hash (0 for an empty entry: a zero amount, or an absent key)."""
    if value is MISSING or value == 0:
        return 0
    data = repr((label, key, value)).encode()
    return int.from_bytes(hashlib.shake_256(data).digest(DIGEST_BYTES), "little")


def map_sum(label: str, entries: Iterable[tuple[Any, Any]]) -> int:
    """The multiset hash of a whole map: the sum of :func:`entry_hash` over its entries. The
    label's part of each entry's text (the same bytes ``repr`` gives the entry's tuple) is
    absorbed once, and each entry's hash continues from a copy of that state (cheaper than a
    new hash object). A first state hash of a large state is mostly this loop."""
    head = hashlib.shake_256(f"({label!r}, ".encode())
    from_bytes = int.from_bytes
    total = 0
    for key, value in entries:
        if value != 0 and value is not MISSING:
            h = head.copy()
            h.update(f"{key!r}, {value!r})".encode())
            total += from_bytes(h.digest(DIGEST_BYTES), "little")
    return total & _MODULUS_MASK


class StateDigest:
    """Running multiset hashes of a protocol's large maps, kept current from its journal."""

    __slots__ = ("_maps", "_labels", "_sums", "_dirty")

    def __init__(self) -> None:
        #: label -> the map object hashed under it, and id(map) -> label.
        self._maps: dict[str, dict[Any, Any]] = {}
        self._labels: dict[int, str] = {}
        self._sums: dict[str, int] = {}
        #: (id(map), key) -> (label, key, value at the last hash), for entries written since.
        self._dirty: dict[tuple[int, Any], tuple[str, Any, Any]] = {}

    def observe(self, log: Iterable[tuple[Any, Any, Any]]) -> None:
        """Note the entries a committed transaction wrote (its undo log, oldest first)."""
        labels, dirty = self._labels, self._dirty
        for target, key, old in log:
            label = labels.get(id(target))
            if label is not None and (id(target), key) not in dirty:
                dirty[(id(target), key)] = (label, key, old)

    def digests(self, maps: Maps) -> dict[str, str]:
        """Each map's multiset hash (hex) as of now, re-hashing only what changed since the last call."""
        known = self._maps
        for label, key, old in self._dirty.values():
            current = known[label].get(key, MISSING)
            if current != old:
                self._sums[label] = (
                    self._sums[label] - entry_hash(label, key, old) + entry_hash(label, key, current)
                ) & _MODULUS_MASK
        self._dirty.clear()
        if len(maps) != len(known) or any(known.get(label) is not m for label, m in maps):
            self._sums = {
                label: self._sums[label] if known.get(label) is m else map_sum(label, m.items())
                for label, m in maps
            }
            self._maps = dict(maps)
            self._labels = {id(m): label for label, m in maps}
        return {label: f"{total:0{2 * DIGEST_BYTES}x}" for label, total in self._sums.items()}
