"""Opening a log: create it from a genesis, or restore it (snapshot + replay); verify it.

Replay runs the logged transactions through the same :meth:`Ledger.apply` the
sequencer used, block by block at each block's timestamp. Every logged transaction
must succeed again and every block must hash to what the log says; anything else
means the log or the code changed, and the node refuses to start on it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from . import genesis as genesis_mod
from . import snapshots
from .blocks import Header, block_hash
from .errors import NodeError
from .ledger import Ledger
from .store import SqlStore, StoreError
from .transactions import decode_tx


class ReplayError(StoreError):
    """The log does not replay to what it records."""


@dataclass
class Chain:
    """An opened log: its store, genesis, network id, ledger at the head, and the head."""

    store: SqlStore
    genesis: dict[str, Any]
    chain_id: str
    ledger: Ledger
    head: Header


def genesis_header(doc: dict[str, Any], ledger: Ledger) -> Header:
    state_hash = ledger.state_hash()
    prev = genesis_mod.genesis_hash(doc)
    ts = ledger.protocol.now
    return Header(0, ts, prev, state_hash, block_hash(0, ts, prev, state_hash, []), 0, 0, 0, 0)


def replay(
    ledger: Ledger,
    chain_id: str,
    prev: Header,
    log: Iterable[tuple[Header, list[tuple[Any, ...]]]],
    check_every_block: bool,
) -> tuple[Header, int]:
    """Apply logged blocks after ``prev``; the last header and the number of transactions.

    With ``check_every_block`` every signature and every block's state hash is checked
    (``astera verify``); otherwise (restart) only the final state hash is.
    """
    count = 0
    last = prev
    for header, txs in log:
        if (
            header.height != last.height + 1
            or header.prev_hash != last.hash
            or header.timestamp < last.timestamp
        ):
            raise ReplayError(f"block {header.height} does not follow block {last.height}")
        ledger.open_block(header.timestamp)
        hashes = []
        for tx_hash, body, signature in txs:
            try:
                tx = decode_tx({"tx": json.loads(body), "signature": signature}, chain_id, check_every_block)
                if tx.hash != tx_hash:
                    raise ReplayError(f"block {header.height}: transaction {tx_hash} hashes to {tx.hash}")
                ledger.apply(tx)
            except NodeError as e:
                raise ReplayError(
                    f"block {header.height}: logged transaction {tx_hash} fails on replay: {e}"
                ) from None
            hashes.append(tx_hash)
        if len(hashes) != header.tx_count:
            raise ReplayError(
                f"block {header.height}: {len(hashes)} transactions logged, header says {header.tx_count}"
            )
        state_hash = ledger.close_block(len(hashes), state_hash=check_every_block)
        if check_every_block and state_hash != header.state_hash:
            raise ReplayError(f"block {header.height}: state hash {state_hash} != logged {header.state_hash}")
        if (
            block_hash(header.height, header.timestamp, header.prev_hash, header.state_hash, hashes)
            != header.hash
        ):
            raise ReplayError(f"block {header.height}: block hash mismatch")
        count += len(hashes)
        last = header
    if not check_every_block and last.height != prev.height and ledger.state_hash() != last.state_hash:
        raise ReplayError(f"replay to block {last.height} does not reproduce its state hash")
    return last, count


def open_chain(store: SqlStore, genesis_doc: dict[str, Any] | None) -> Chain:
    """Create the log from ``genesis_doc`` if the store is empty, else restore it.

    A ``genesis_doc`` given for an existing log must be the one it was created with.
    """
    stored = store.genesis_json()
    if stored is None:
        if genesis_doc is None:
            raise StoreError("empty store and no genesis given")
        ledger = genesis_mod.build(genesis_doc)
        head = genesis_header(genesis_doc, ledger)
        store.initialize(genesis_mod.genesis_text(genesis_doc), head)
        return Chain(store, genesis_doc, genesis_mod.chain_id(genesis_doc), ledger, head)
    if genesis_doc is not None and genesis_mod.genesis_text(genesis_doc) != stored:
        raise StoreError("this store was created from a different genesis")
    return _restore(store, json.loads(stored))


def _restore(store: SqlStore, doc: dict[str, Any]) -> Chain:
    """The newest snapshot whose hash matches the log (else genesis), then replay the rest."""
    chain_id = genesis_mod.chain_id(doc)
    tip = store.head()
    if tip is None:
        raise StoreError("store has a genesis but no block 0")
    fresh = genesis_mod.build(doc)
    start, ledger = store.header(0), fresh
    if start is None or start != genesis_header(doc, fresh):
        raise ReplayError("block 0 does not match the genesis")
    snap = store.latest_snapshot(tip.height)
    if snap is not None:
        height, state_hash, data = snap
        at = store.header(height)
        if at is not None and at.state_hash == state_hash:
            try:
                start, ledger = at, snapshots.proved(data, fresh.roles, state_hash)
            except snapshots.BadSnapshot:
                pass  # an older format, or damaged: replay from genesis instead
    head, _ = replay(ledger, chain_id, start, store.log(start.height), check_every_block=False)
    if head != tip:
        raise ReplayError(f"replay stopped at block {head.height}, the log ends at {tip.height}")
    return Chain(store, doc, chain_id, ledger, head)


@dataclass(frozen=True)
class VerifyReport:
    height: int
    transactions: int
    state_hash: str
    seconds: float


def verify(store: SqlStore, on_block: Callable[[int, int], None] | None = None) -> VerifyReport:
    """Replay the whole log from genesis, checking every signature, block hash and state hash;
    ``on_block(height, head)`` is told of each block read (a progress display)."""
    t0 = time.perf_counter()
    stored = store.genesis_json()
    if stored is None:
        raise StoreError("the store is empty")
    base = store.base()
    if base:
        raise ReplayError(
            f"this log starts from a snapshot at block {base} (a follower started with "
            "--from-snapshot holds no earlier transactions): it cannot be replayed from genesis"
        )
    doc = json.loads(stored)
    fresh = genesis_mod.build(doc)
    start = store.header(0)
    if start is None or start != genesis_header(doc, fresh):
        raise ReplayError("block 0 does not match the genesis")
    log = store.log(0)
    if on_block is not None:
        last = store.head()
        log = _told(log, on_block, last.height if last is not None else 0)
    head, count = replay(fresh, genesis_mod.chain_id(doc), start, log, check_every_block=True)
    tip = store.head()
    if tip is None or head != tip:
        raise ReplayError("the log did not replay to its head")
    return VerifyReport(head.height, count, head.state_hash, time.perf_counter() - t0)


LogItem = tuple[Header, list[tuple[Any, ...]]]


def _told(log: Iterator[LogItem], on_block: Callable[[int, int], None], head: int) -> Iterator[LogItem]:
    """The log, telling ``on_block`` of each block as it is read."""
    for block in log:
        yield block
        on_block(block[0].height, head)
