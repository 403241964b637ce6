"""One node per data directory and per log: a second node is refused with a clear message.

Two nodes on one log would both believe they are its only writer: the second serves a
stale height and stops accepting transactions at its first write. So a node holds an
exclusive lock on its data directory (``DATA/node.lock``, which also guards the role and
keeper keys) and on its log: a lock file beside a SQLite database, a session-level
advisory lock on a PostgreSQL database. The operating system (or the database server)
releases them when the process ends, however it ends, so a killed node leaves none
behind. ``astera verify`` reads a log without locking it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .store import SqlStore, StoreError, open_store


class Locked(StoreError):
    """Another process holds the lock."""


class FileLock:
    """An exclusive ``flock`` on a file, holding the owner's pid (for the refusal message)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self, what: str) -> FileLock:
        """Take the lock or raise :class:`Locked` naming ``what`` is in use and by which pid."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise Locked(f"another node is running on {what} (pid {owner}); stop it first") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def open_locked_store(data: Path, db: str | None) -> SqlStore:
    """The log for a node in ``data`` (SQLite there, or ``db``), with the data directory and the
    log locked for this process until the store is closed; :class:`Locked` if another node has them."""
    data.mkdir(parents=True, exist_ok=True)
    data_lock = FileLock(data / "node.lock").acquire(f"the data directory {data}")
    try:
        store = open_store(db, str(data))
    except BaseException:
        data_lock.release()
        raise
    store.on_close.append(data_lock.release)
    try:
        store.lock()
    except BaseException:
        store.close()
        raise
    return store
