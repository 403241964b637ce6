"""Undo log that makes every protocol operation atomic.

The contracts revert a whole transaction when any step fails, however deep. The core
reproduces that by recording the previous value of everything an operation mutates;
a refusal rolls the log back, so the state after a refused operation equals the state
before it, bit for bit. Recording is a tuple append, cheap enough for the hot path.

Every write to protocol state goes through one of the journal's writers: ``set`` and
``delete`` for map entries, ``setattr`` for configuration values (replaced whole),
``append`` for the lists of reserves and pools, and ``save`` for objects with a hot
mutable state (a reserve's indexes, rates and totals; a PI controller): such an object
calls ``save`` before it writes its fields and is snapshotted once per transaction level,
on its first write; later calls at the same level cost a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

#: The logged previous value of an entry that did not exist.
MISSING: Any = object()
_SNAPSHOT: Any = object()
_APPENDED: Any = object()

#: Called with the undo log of every committed outermost transaction (oldest entry first).
CommitObserver = Callable[[list[tuple[Any, Any, Any]]], None]


class Snapshottable(Protocol):
    def snapshot(self) -> object: ...
    def restore(self, saved: object) -> None: ...


class Journal:
    """A stack of undo records; ``mark``/``rollback`` nest for sub-transactions."""

    __slots__ = ("log", "observer", "_saved", "_floor")

    def __init__(self) -> None:
        self.log: list[tuple[Any, Any, Any]] = []
        #: Sees what each transaction wrote before the log is dropped (the state digest).
        self.observer: CommitObserver | None = None
        #: id(object) -> index in the log of its latest snapshot.
        self._saved: dict[int, int] = {}
        #: Snapshots at or above this index belong to the innermost open level.
        self._floor = 0

    def __getstate__(self) -> dict[str, Any]:
        """The log only: an observer is a hook of the process that set it, not state."""
        return {"log": self.log}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.log = state["log"]
        self.observer = None
        self._saved = {}
        self._floor = len(self.log)

    def set(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        """``mapping[key] = value``, remembering the old value (or its absence)."""
        self.log.append((mapping, key, mapping.get(key, MISSING)))
        mapping[key] = value

    def delete(self, mapping: dict[Any, Any], key: Any) -> None:
        if key in mapping:
            self.log.append((mapping, key, mapping.pop(key)))

    def setattr(self, obj: object, name: str, value: Any) -> None:
        self.log.append((obj, name, getattr(obj, name)))
        setattr(obj, name, value)

    def append(self, items: list[Any], value: Any) -> None:
        """``items.append(value)``, undone by removing it again."""
        self.log.append((items, _APPENDED, None))
        items.append(value)

    def save(self, obj: Snapshottable) -> None:
        """Remember an object's whole mutable state before its first write at this level."""
        log = self.log
        key = id(obj)
        if self._saved.get(key, -1) >= self._floor:
            return
        self._saved[key] = len(log)
        log.append((obj, _SNAPSHOT, obj.snapshot()))

    def mark(self) -> int:
        """Open a nested level; ``rollback(mark)`` undoes everything written since."""
        n = self._floor = len(self.log)
        return n

    def rollback(self, mark: int = 0) -> None:
        log = self.log
        saved = self._saved
        while len(log) > mark:
            target, key, old = log.pop()
            if key is _SNAPSHOT:
                target.restore(old)
                saved.pop(id(target), None)
            elif key is _APPENDED:
                target.pop()
            elif isinstance(key, str) and not isinstance(target, dict):
                setattr(target, key, old)
            elif old is MISSING:
                del target[key]
            else:
                target[key] = old
        self._floor = mark

    def commit(self) -> None:
        if self.observer is not None:
            self.observer(self.log)
        self.log.clear()
        self._saved.clear()
        self._floor = 0
