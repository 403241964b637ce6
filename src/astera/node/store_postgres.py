"""PostgreSQL store (psycopg 3), selected with ``--db postgresql://user@host:port/dbname``.

A block is one SQL transaction; ``COMMIT`` returns after the WAL record is flushed
(``synchronous_commit`` on, the server default), and only then is the block
acknowledged. If the server is configured with ``synchronous_commit = off`` the node
refuses to start, because acknowledgements would then lie.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import psycopg

from .lock import Locked
from .store import SqlStore, StoreError

#: The advisory-lock key a node holds on its database (advisory locks are per database).
NODE_LOCK_KEY = 0x61737465726121  # "astera!"


class PostgresStore(SqlStore):
    kind: ClassVar[str] = "postgresql"
    blob: ClassVar[str] = "BYTEA"
    placeholder: ClassVar[str] = "%s"

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__()
        cur = self._writer.cursor()
        cur.execute("SHOW synchronous_commit")
        setting = cur.fetchone()[0]
        self._writer.commit()
        if setting == "off":
            raise StoreError(
                "PostgreSQL has synchronous_commit=off: commits would not be durable when acknowledged"
            )

    def lock(self) -> None:
        """A session-level advisory lock on the writer's connection: the server releases it when
        that connection ends, also when the node is killed."""
        cur = self._writer.cursor()
        cur.execute("SELECT pg_try_advisory_lock(%s)", (NODE_LOCK_KEY,))
        held = cur.fetchone()[0]
        self._writer.commit()
        cur.close()
        if not held:
            raise Locked(f"another node is running on the database {self.describe()}; stop it first")

    def connect(self, reader: bool) -> Any:
        return psycopg.connect(self.url, autocommit=reader, application_name="astera-node")

    def describe(self) -> str:
        return re.sub(r"//[^@/]*@", "//", self.url)

    def durability(self) -> str:
        return (
            "PostgreSQL COMMIT with synchronous_commit on: the WAL is flushed before a block is acknowledged"
        )
