"""The durable log: blocks, transactions, events and snapshots in SQL.

One schema and one set of queries serve SQLite (:mod:`.store_sqlite`) and PostgreSQL
(:mod:`.store_postgres`); the subclasses only open connections and name their types.
Writes come from one thread (the sequencer's commit thread) over one connection;
reads use one connection per reading thread. :meth:`SqlStore.append` returns only
after the database reports the transaction durable: that is when the node acknowledges.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

from .blocks import Block, Header, block_rows

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    height BIGINT PRIMARY KEY, timestamp BIGINT NOT NULL, prev_hash TEXT NOT NULL,
    state_hash TEXT NOT NULL, hash TEXT NOT NULL, tx_count INTEGER NOT NULL,
    first_tx BIGINT NOT NULL, first_event BIGINT NOT NULL, event_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS txs (
    seq BIGINT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, height BIGINT NOT NULL, idx INTEGER NOT NULL,
    sender TEXT NOT NULL, nonce BIGINT NOT NULL, action TEXT NOT NULL, body TEXT NOT NULL,
    signature TEXT NOT NULL, first_event BIGINT NOT NULL, event_count INTEGER NOT NULL,
    UNIQUE (sender, nonce));
CREATE TABLE IF NOT EXISTS events (
    seq BIGINT PRIMARY KEY, height BIGINT NOT NULL, tx_seq BIGINT NOT NULL,
    name TEXT NOT NULL, pool TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_name ON events (name, seq);
CREATE INDEX IF NOT EXISTS txs_height ON txs (height);
CREATE INDEX IF NOT EXISTS events_height ON events (height);
CREATE INDEX IF NOT EXISTS events_tx_seq ON events (tx_seq);
CREATE TABLE IF NOT EXISTS snapshots (
    height BIGINT PRIMARY KEY, state_hash TEXT NOT NULL, data {blob} NOT NULL);
"""

BLOCK_COLS = "height, timestamp, prev_hash, state_hash, hash, tx_count, first_tx, first_event, event_count"
TX_COLS = "seq, hash, height, idx, sender, nonce, action, body, signature, first_event, event_count"
EVENT_COLS = "seq, height, tx_seq, name, pool, data"
#: ``meta`` key of the height a follower's log starts from when it started from a snapshot.
BASE = "base"
#: Snapshots kept (older ones are pruned after a new one is written).
SNAPSHOTS_KEPT = 2
MAX_PAGE = 500


class StoreError(RuntimeError):
    """The store is unusable (corrupt, foreign, or belongs to another genesis)."""


def header_of(row: tuple[Any, ...]) -> Header:
    return Header(*row)


class SqlStore(ABC):
    """SQL shared by both backends. Subclasses set :attr:`kind`, :attr:`blob` and :meth:`connect`."""

    kind: ClassVar[str]
    blob: ClassVar[str]
    placeholder: ClassVar[str] = "?"

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[Any] = []
        #: Called by :meth:`close` after the connections (releasing the node's locks).
        self.on_close: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._writer = self.connect(reader=False)
        self._all.append(self._writer)
        self._create_schema()

    # ---- backend hooks ---------------------------------------------------------------------------

    @abstractmethod
    def connect(self, reader: bool) -> Any:
        """A new database connection (readers may be configured read-only)."""

    @abstractmethod
    def lock(self) -> None:
        """Make this store the only node's: refuse (:class:`astera.node.lock.Locked`) if another
        node holds it; held until :meth:`close` or the process ends."""

    @abstractmethod
    def describe(self) -> str:
        """Where the log lives, for /status (no credentials)."""

    @abstractmethod
    def durability(self) -> str:
        """How an acknowledged transaction is made durable, in words (for /status and docs)."""

    # ---- plumbing --------------------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)

    def _reader(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self.connect(reader=True)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = self._reader()
        cur = conn.cursor()
        try:
            cur.execute(self._sql(sql), args)
            rows: list[tuple[Any, ...]] = cur.fetchall()
        finally:
            cur.close()
        if not getattr(conn, "autocommit", True):
            conn.rollback()
        return rows

    def _create_schema(self) -> None:
        with self._writing() as cur:
            for stmt in SCHEMA.format(blob=self.blob).split(";"):
                if stmt.strip():
                    cur.execute(stmt)

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - closing is best effort at shutdown
                    pass
            self._all.clear()
        while self.on_close:
            self.on_close.pop()()

    # ---- writes (commit thread only) -------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        """One database transaction on the writer connection: committed (durably) when the
        block ends, rolled back if it raises."""
        conn = self._writer
        cur = conn.cursor()
        try:
            yield cur
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            cur.close()

    def initialize(self, genesis_json: str, genesis: Header) -> None:
        """Record the genesis document and block 0 in one transaction."""
        with self._writing() as cur:
            cur.execute(self._sql("INSERT INTO meta (key, value) VALUES (?, ?)"), ("genesis", genesis_json))
            cur.execute(
                self._sql(f"INSERT INTO blocks ({BLOCK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                _header_row(genesis),
            )

    def start_at_snapshot(self, header: Header, state_hash: str, data: bytes) -> None:
        """Make a new log (genesis and block 0 only) go on from a proved snapshot: block
        ``header``'s header (its transactions are not held) and the snapshot, in one
        transaction; ``meta`` records the height the log starts from."""
        with self._writing() as cur:
            cur.execute(
                self._sql(f"INSERT INTO blocks ({BLOCK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                _header_row(header),
            )
            cur.execute(
                self._sql("INSERT INTO snapshots (height, state_hash, data) VALUES (?, ?, ?)"),
                (header.height, state_hash, data),
            )
            cur.execute(self._sql("INSERT INTO meta (key, value) VALUES (?, ?)"), (BASE, str(header.height)))

    def base(self) -> int:
        """The height whose snapshot the log starts from (0: the log is whole from genesis)."""
        rows = self._query("SELECT value FROM meta WHERE key = ?", (BASE,))
        return int(rows[0][0]) if rows else 0

    def append(self, block: Block) -> None:
        """Write one block with its transactions and events; returns once durable."""
        self.append_all([block])

    def append_all(self, blocks: list[Block]) -> None:
        """Write consecutive blocks in one database transaction (a follower catching up);
        returns once durable."""
        with self._writing() as cur:
            for block in blocks:
                self._insert(cur, block)

    def _insert(self, cur: Any, block: Block) -> None:
        h = block.header
        tx_rows, event_rows = block_rows(h, block.txs, block.events)
        cur.execute(
            self._sql(f"INSERT INTO blocks ({BLOCK_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"), _header_row(h)
        )
        cur.executemany(
            self._sql(f"INSERT INTO txs ({TX_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"), tx_rows
        )
        if event_rows:
            cur.executemany(
                self._sql(f"INSERT INTO events ({EVENT_COLS}) VALUES (?, ?, ?, ?, ?, ?)"), event_rows
            )

    def save_snapshot(self, height: int, state_hash: str, data: bytes) -> None:
        """Store a snapshot and prune all but the newest :data:`SNAPSHOTS_KEPT`."""
        with self._writing() as cur:
            cur.execute(
                self._sql("INSERT INTO snapshots (height, state_hash, data) VALUES (?, ?, ?)"),
                (height, state_hash, data),
            )
            cur.execute(
                self._sql(
                    "DELETE FROM snapshots WHERE height NOT IN "
                    f"(SELECT height FROM snapshots ORDER BY height DESC LIMIT {SNAPSHOTS_KEPT})"
                )
            )

    # ---- reads -----------------------------------------------------------------------------------

    def genesis_json(self) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", ("genesis",))
        return rows[0][0] if rows else None

    def head(self) -> Header | None:
        rows = self._query(f"SELECT {BLOCK_COLS} FROM blocks ORDER BY height DESC LIMIT 1")
        return header_of(rows[0]) if rows else None

    def header(self, height: int) -> Header | None:
        rows = self._query(f"SELECT {BLOCK_COLS} FROM blocks WHERE height = ?", (height,))
        return header_of(rows[0]) if rows else None

    def latest_snapshot(self, max_height: int) -> tuple[int, str, bytes] | None:
        rows = self._query(
            "SELECT height, state_hash, data FROM snapshots WHERE height <= ? ORDER BY height DESC LIMIT 1",
            (max_height,),
        )
        return (rows[0][0], rows[0][1], bytes(rows[0][2])) if rows else None

    def log(self, after_height: int, chunk: int = 200) -> Iterator[tuple[Header, list[tuple[Any, ...]]]]:
        """Blocks after ``after_height`` in order, each with its transactions (hash, body, signature)."""
        while True:
            page = self.log_page(after_height, chunk)
            if not page:
                return
            yield from page
            after_height = page[-1][0].height

    def log_page(
        self, after_height: int, limit: int, max_txs: int | None = None
    ) -> list[tuple[Header, list[tuple[Any, ...]]]]:
        """Up to ``limit`` blocks after ``after_height``, each with its transactions (hash, body,
        signature); with ``max_txs``, none after the block that brings them to that many (a
        block is never split). Two indexed reads: the headers, then the transactions' range of
        sequence numbers, which the headers give."""
        headers = [
            header_of(r)
            for r in self._query(
                f"SELECT {BLOCK_COLS} FROM blocks WHERE height > ? ORDER BY height LIMIT ?",
                (after_height, limit),
            )
        ]
        if max_txs is not None:
            count = 0
            for i, h in enumerate(headers):
                count += h.tx_count
                if count >= max_txs:
                    del headers[i + 1 :]
                    break
        if not headers:
            return []
        first, last = headers[0], headers[-1]
        by_height: dict[int, list[tuple[Any, ...]]] = {}
        for row in self._query(
            "SELECT height, hash, body, signature FROM txs WHERE seq >= ? AND seq < ? ORDER BY seq",
            (first.first_tx, last.first_tx + last.tx_count),
        ):
            by_height.setdefault(row[0], []).append(row[1:])
        return [(h, by_height.get(h.height, [])) for h in headers]

    def _page(
        self,
        table: str,
        cols: str,
        key: str,
        where: list[str],
        args: list[Any],
        after: int | None,
        before: int | None,
        limit: int,
    ) -> list[tuple[Any, ...]]:
        """Keyset pagination: ascending after a cursor, else descending before one (newest first)."""
        clauses = list(where)
        if after is not None:
            clauses.append(f"{key} > ?")
            args = [*args, after]
            order = "ASC"
        else:
            if before is not None:
                clauses.append(f"{key} < ?")
                args = [*args, before]
            order = "DESC"
        sql = f"SELECT {cols} FROM {table}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY {key} {order} LIMIT ?"
        return self._query(sql, (*args, max(1, min(limit, MAX_PAGE))))

    def headers(self, after: int | None, before: int | None, limit: int) -> list[Header]:
        return [
            header_of(r) for r in self._page("blocks", BLOCK_COLS, "height", [], [], after, before, limit)
        ]

    def txs(
        self, after: int | None, before: int | None, limit: int, sender: str | None = None
    ) -> list[tuple[Any, ...]]:
        where, args = [], []
        if sender is not None:
            where.append("sender = ?")
            args.append(sender)
        return self._page("txs", TX_COLS, "seq", where, args, after, before, limit)

    def tx(self, tx_hash: str) -> tuple[Any, ...] | None:
        rows = self._query(f"SELECT {TX_COLS} FROM txs WHERE hash = ?", (tx_hash,))
        return rows[0] if rows else None

    def events(
        self,
        after: int | None,
        before: int | None,
        limit: int,
        name: str | None = None,
        account: str | None = None,
    ) -> list[tuple[Any, ...]]:
        """A page of events, optionally of one name and/or naming one account (address) in
        any field (matched on the stored JSON: an address is 64 hex digits, quoted)."""
        where, args = [], []
        if name is not None:
            where.append("name = ?")
            args.append(name)
        if account is not None:
            where.append("data LIKE ?")
            args.append(f'%"{account}"%')
        return self._page("events", EVENT_COLS, "seq", where, args, after, before, limit)

    def txs_at(self, height: int) -> list[tuple[Any, ...]]:
        """Every transaction of one block, in order."""
        return self._query(f"SELECT {TX_COLS} FROM txs WHERE height = ? ORDER BY seq", (height,))

    def events_at(self, height: int) -> list[tuple[Any, ...]]:
        """Every event of one block, in order."""
        return self._query(f"SELECT {EVENT_COLS} FROM events WHERE height = ? ORDER BY seq", (height,))

    def blocks_after(
        self, after: int, limit: int
    ) -> tuple[list[Header], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        """Up to ``limit`` blocks after height ``after``: headers, their transactions and their events
        (three indexed range reads; a page of the SSE backlog)."""
        headers = [
            header_of(r)
            for r in self._query(
                f"SELECT {BLOCK_COLS} FROM blocks WHERE height > ? ORDER BY height LIMIT ?", (after, limit)
            )
        ]
        if not headers:
            return [], [], []
        last = headers[-1].height
        txs = self._query(
            f"SELECT {TX_COLS} FROM txs WHERE height > ? AND height <= ? ORDER BY seq", (after, last)
        )
        events = self._query(
            f"SELECT {EVENT_COLS} FROM events WHERE height > ? AND height <= ? ORDER BY seq", (after, last)
        )
        return headers, txs, events

    def events_of(self, tx_seq: int) -> list[tuple[Any, ...]]:
        return self._query(f"SELECT {EVENT_COLS} FROM events WHERE tx_seq = ? ORDER BY seq", (tx_seq,))

    def all_tx_hashes(self) -> set[str]:
        return {r[0] for r in self._query("SELECT hash FROM txs")}


def _header_row(h: Header) -> tuple[Any, ...]:
    return (
        h.height,
        h.timestamp,
        h.prev_hash,
        h.state_hash,
        h.hash,
        h.tx_count,
        h.first_tx,
        h.first_event,
        h.event_count,
    )


def open_store(db: str | None, data_dir: str) -> SqlStore:
    """``postgresql://...`` (or ``postgres://``) selects PostgreSQL; otherwise SQLite in ``data_dir``
    (or at ``sqlite:///path``)."""
    if db and db.startswith(("postgresql://", "postgres://")):
        from .store_postgres import PostgresStore

        return PostgresStore(db)
    from pathlib import Path

    from .store_sqlite import SqliteStore

    if db and db.startswith("sqlite:///"):
        return SqliteStore(Path(db[len("sqlite:///") :]))
    if db:
        raise StoreError(f"unsupported database URL {db!r} (use postgresql://... or sqlite:///path)")
    return SqliteStore(Path(data_dir) / "ledger.sqlite3")
