"""SQLite store: the embedded default (``./astera-data/ledger.sqlite3``).

WAL journal with ``synchronous=FULL``: every commit fsyncs the write-ahead log before
returning, so an acknowledged block survives a process kill *and* a power loss (with
``NORMAL`` it would survive only the former). One commit carries a whole block (group
commit), which is what makes FULL affordable.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import ClassVar

from .lock import FileLock
from .store import SqlStore


class SqliteStore(SqlStore):
    kind: ClassVar[str] = "sqlite"
    blob: ClassVar[str] = "BLOB"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = FileLock(self.path.with_name(self.path.name + ".lock"))
        super().__init__()

    def lock(self) -> None:
        """A lock file beside the database (``ledger.sqlite3.lock``)."""
        self._lock_file.acquire(f"the log {self.path}")
        self.on_close.append(self._lock_file.release)

    def connect(self, reader: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level="DEFERRED", check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 30000")
        if not reader:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
        return conn

    def describe(self) -> str:
        return f"sqlite:///{self.path}"

    def durability(self) -> str:
        return "SQLite WAL, synchronous=FULL: the WAL is fsynced before a block is acknowledged"
