"""The durable log on SQLite and on PostgreSQL (every test runs on both): group commit,
restart from a snapshot plus replay, ``verify``, tamper detection, pagination."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from astera.node import genesis
from astera.node.chain import ReplayError, open_chain, verify
from astera.node.errors import NodeError
from astera.node.node import Node
from astera.node.store import StoreError
from astera.node.transactions import decode_tx
from astera.wire.tx import sign_tx

from .node_harness import key


class Clock:
    """A deterministic node clock: one second per block."""

    def __init__(self, start: int) -> None:
        self.t = itertools.count(start)

    def __call__(self) -> float:
        return float(next(self.t))


def workload(chain_id: str) -> list[Any]:
    """Deposits and borrows from three users, in a fixed order."""
    txs = []
    for n in range(4):
        for who in ("alice", "bob", "carol"):
            txs.append(
                sign_tx(
                    key(who),
                    chain_id,
                    2 * n,
                    "deposit",
                    {"pool": "core", "asset": "WETH", "amount": str(10**18)},
                )
            )
            txs.append(
                sign_tx(
                    key(who),
                    chain_id,
                    2 * n + 1,
                    "borrow",
                    {"pool": "core", "asset": "USDC", "amount": str(500 * 10**6)},
                )
            )
    return [decode_tx(t, chain_id) for t in txs]


async def run_sequentially(node: Node, txs: list[Any]) -> list[Any]:
    await node.start()
    try:
        return [await node.submit(t) for t in txs]
    finally:
        await node.stop()


def test_log_replays_to_the_same_state_as_memory(open_test_store: Any, genesis_doc: dict[str, Any]) -> None:
    chain = open_chain(open_test_store(), genesis_doc)
    txs = workload(chain.chain_id)
    node = Node(chain, snapshot_every=4, clock=Clock(1_760_000_000))
    receipts = asyncio.run(run_sequentially(node, txs))
    assert [r.height for r in receipts] == list(range(1, len(txs) + 1))

    # The same transactions applied in memory at the same timestamps give the same hashes.
    expected = genesis.build(genesis_doc)
    for r, t in zip(receipts, txs, strict=True):
        expected.open_block(r.timestamp)
        expected.apply(t)
        assert expected.close_block(1) == r.state_hash

    # Restart: newest snapshot (block 24) + replay of nothing; then from an older snapshot.
    store = open_test_store()
    assert store.latest_snapshot(10**9)[0] == 24
    restored = open_chain(store, genesis_doc)
    assert restored.head == node.sequencer.head
    assert restored.ledger.state_hash() == receipts[-1].state_hash
    assert restored.ledger.nonces == expected.nonces
    report = verify(store)
    assert (report.height, report.transactions, report.state_hash) == (24, 24, receipts[-1].state_hash)


def test_restart_replays_blocks_after_the_snapshot(open_test_store: Any, genesis_doc: dict[str, Any]) -> None:
    chain = open_chain(open_test_store(), genesis_doc)
    txs = workload(chain.chain_id)[:11]
    asyncio.run(run_sequentially(Node(chain, snapshot_every=4, clock=Clock(1_760_000_000)), txs))
    store = open_test_store()
    assert store.latest_snapshot(10**9)[0] == 8  # blocks 9..11 must be replayed
    restored = open_chain(store, genesis_doc)
    assert restored.head.height == 11
    assert restored.ledger.state_hash() == restored.head.state_hash == verify(store).state_hash


def test_a_snapshot_that_does_not_match_the_log_is_ignored(
    open_test_store: Any, genesis_doc: dict[str, Any]
) -> None:
    chain = open_chain(open_test_store(), genesis_doc)
    txs = workload(chain.chain_id)[:6]
    asyncio.run(run_sequentially(Node(chain, snapshot_every=3, clock=Clock(1_760_000_000)), txs))
    store = open_test_store()
    conn = store._writer
    conn.cursor().execute(store._sql("UPDATE snapshots SET state_hash = ?"), ("0" * 64,))
    conn.commit()
    restored = open_chain(store, genesis_doc)  # falls back to a replay from genesis
    assert restored.ledger.state_hash() == restored.head.state_hash


@pytest.mark.parametrize(
    ("sql", "args"),
    [
        (
            "UPDATE txs SET body = REPLACE(body, '1000000000000000000', '2000000000000000000') WHERE seq = 2",
            (),
        ),
        ("UPDATE blocks SET state_hash = ? WHERE height = 3", ("ab" * 32,)),
        ("DELETE FROM txs WHERE seq = 4", ()),
    ],
)
def test_verify_detects_tampering(
    open_test_store: Any, genesis_doc: dict[str, Any], sql: str, args: tuple[Any, ...]
) -> None:
    chain = open_chain(open_test_store(), genesis_doc)
    asyncio.run(run_sequentially(Node(chain, snapshot_every=0), workload(chain.chain_id)[:6]))
    store = open_test_store()
    verify(store)
    store._writer.cursor().execute(store._sql(sql), args)
    store._writer.commit()
    with pytest.raises(ReplayError):
        verify(store)


def test_a_store_belongs_to_its_genesis(open_test_store: Any, genesis_doc: dict[str, Any]) -> None:
    open_chain(open_test_store(), genesis_doc)
    other = dict(genesis_doc, start_timestamp=genesis_doc["start_timestamp"] + 1)
    with pytest.raises(StoreError):
        open_chain(open_test_store(), other)


def test_group_commit_concurrent_submissions(open_test_store: Any, genesis_doc: dict[str, Any]) -> None:
    """Concurrent submitters share blocks; all are acknowledged, refusals are answered in the same round."""
    chain = open_chain(open_test_store(), genesis_doc)
    users = [f"user{i}" for i in range(40)]

    # The faucet funds 40 users, then they all deposit at once (plus one bad nonce).
    async def go() -> tuple[list[Any], list[Any]]:
        node = Node(chain, snapshot_every=0)
        await node.start()
        try:
            for i, u in enumerate(users):
                await node.submit(
                    decode_tx(
                        sign_tx(
                            key("faucet"),
                            chain.chain_id,
                            i,
                            "mint",
                            {"to": key(u).address, "asset": "USDC", "amount": "1000000"},
                        ),
                        chain.chain_id,
                    )
                )
            deposits = [
                decode_tx(
                    sign_tx(
                        key(u),
                        chain.chain_id,
                        0,
                        "deposit",
                        {"pool": "core", "asset": "USDC", "amount": "1000000"},
                    ),
                    chain.chain_id,
                )
                for u in users
            ]
            bad = decode_tx(
                sign_tx(
                    key("user0"),
                    chain.chain_id,
                    5,
                    "deposit",
                    {"pool": "core", "asset": "USDC", "amount": "1"},
                ),
                chain.chain_id,
            )
            results = await asyncio.gather(
                *(node.submit(t) for t in [*deposits, bad]), return_exceptions=True
            )
            return results, deposits
        finally:
            await node.stop()

    results, deposits = asyncio.run(go())
    receipts, errors = results[:-1], results[-1]
    assert isinstance(errors, NodeError) and errors.code == "bad_nonce"
    assert all(not isinstance(r, BaseException) for r in receipts)
    heights = {r.height for r in receipts}
    assert len(heights) < len(receipts), "concurrent submissions should share blocks"
    store = open_test_store()
    assert {t.hash for t in deposits} <= store.all_tx_hashes()
    assert verify(store).height == max(heights)


def test_pagination(open_test_store: Any, genesis_doc: dict[str, Any]) -> None:
    chain = open_chain(open_test_store(), genesis_doc)
    asyncio.run(run_sequentially(Node(chain, snapshot_every=0), workload(chain.chain_id)[:10]))
    store = open_test_store()
    newest = store.headers(None, None, 3)
    assert [h.height for h in newest] == [10, 9, 8]
    assert [h.height for h in store.headers(None, 8, 3)] == [7, 6, 5]
    assert [h.height for h in store.headers(-1, None, 2)] == [0, 1]
    assert [r[0] for r in store.txs(3, None, 2)] == [4, 5]
    alice = key("alice").address
    assert [r[5] for r in store.txs(-1, None, 50, alice)] == [0, 1, 2, 3]
    events = store.events(-1, None, 100)
    assert [e[0] for e in events] == list(range(len(events)))
    assert {e[3] for e in store.events(-1, None, 100, "Borrow")} == {"Borrow"}
    assert len(store.txs_at(5)) == 1 and store.events_of(0)[0][3] == "Deposit"


def test_block_time_never_goes_backwards(open_test_store: Any, genesis_doc: dict[str, Any]) -> None:
    """The node's clock is max(previous block, wall clock): a wall clock stepping back is ignored."""
    times = iter([1_760_000_100.9, 1_760_000_050.0, 1_760_000_200.0])
    chain = open_chain(open_test_store(), genesis_doc)
    receipts = asyncio.run(
        run_sequentially(
            Node(chain, snapshot_every=0, clock=lambda: next(times)), workload(chain.chain_id)[:3]
        )
    )
    assert [r.timestamp for r in receipts] == [1_760_000_100, 1_760_000_100, 1_760_000_200]
    assert verify(open_test_store()).height == 3


def test_a_failed_commit_stops_the_node_without_acknowledging(
    open_test_store: Any, genesis_doc: dict[str, Any]
) -> None:
    chain = open_chain(open_test_store(), genesis_doc)
    txs = workload(chain.chain_id)[:3]

    def broken(block: Any) -> None:
        raise OSError("disk full")

    async def go() -> list[Any]:
        node = Node(chain, snapshot_every=0)
        await node.start()
        try:
            ok = await node.submit(txs[0])
            chain.store.append = broken  # type: ignore[method-assign]
            results = await asyncio.gather(node.submit(txs[1]), return_exceptions=True)
            later = await asyncio.gather(node.submit(txs[2]), node.ready(), return_exceptions=True)
            return [ok, *results, *later]
        finally:
            await node.stop()

    ok, failed, refused_later, not_ready = asyncio.run(go())
    assert ok.height == 1
    for e in (failed, refused_later, not_ready):
        assert isinstance(e, NodeError) and e.code == "unavailable"
    restored = open_chain(open_test_store(), genesis_doc)  # the log is intact at block 1
    assert restored.head.height == 1


def indexed_columns(store: Any, table: str) -> set[str]:
    """The leading column of each index on ``table``."""
    if store.kind == "sqlite":
        names = [
            r[0]
            for r in store._query(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,)
            )
        ]
        return {store._query(f"PRAGMA index_info({name})")[0][2] for name in names}
    rows = store._query("SELECT indexdef FROM pg_indexes WHERE tablename = ?", (table,))
    return {r[0].split("(", 1)[1].split(")")[0].split(",")[0].strip() for r in rows}


def test_log_lookups_by_height_and_transaction_are_indexed(
    open_test_store: Any, genesis_doc: dict[str, Any]
) -> None:
    """/blocks/{h}, /txs/{hash} and the stream's backlog read txs and events by height and by
    transaction: indexed, also in a log created before the indexes existed."""
    store = open_test_store()
    open_chain(store, genesis_doc)
    for name in ("txs_height", "events_height", "events_tx_seq"):
        store._writer.execute(f"DROP INDEX {name}")  # a log from before
    store._writer.commit()
    store.close()
    store = open_test_store()
    assert "height" in indexed_columns(store, "txs")
    assert {"height", "tx_seq"} <= indexed_columns(store, "events")
