"""Undo log that makes every protocol operation atomic.

The contracts revert a whole transaction when any step fails, however deep. The core
reproduces that by recording the previous value of everything an operation mutates;
a refusal rolls the log back, so the state after a refused operation equals the state
before it, bit for bit. Recording is a tuple append, cheap enough for the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

#: The logged previous value of an entry that did not exist.
MISSING: Any = object()
_SNAPSHOT: Any = object()

#: Called with the undo log of every committed outermost transaction (oldest entry first).
CommitObserver = Callable[[list[tuple[Any, Any, Any]]], None]


class Snapshottable(Protocol):
    def snapshot(self) -> object: ...
    def restore(self, saved: object) -> None: ...


class Journal:
    """A stack of undo records; ``mark``/``rollback`` nest for sub-transactions."""

    __slots__ = ("log", "observer")

    def __init__(self) -> None:
        self.log: list[tuple[Any, Any, Any]] = []
        #: Sees what each transaction wrote before the log is dropped (the state digest).
        self.observer: CommitObserver | None = None

    def __getstate__(self) -> dict[str, Any]:
        """The log only: an observer is a hook of the process that set it, not state."""
        return {"log": self.log}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.log = state["log"]
        self.observer = None

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

    def save(self, obj: Snapshottable) -> None:
        """Remember an object's whole mutable state (reserve, PI controller)."""
        self.log.append((obj, _SNAPSHOT, obj.snapshot()))

    def mark(self) -> int:
        return len(self.log)

    def rollback(self, mark: int = 0) -> None:
        log = self.log
        while len(log) > mark:
            target, key, old = log.pop()
            if key is _SNAPSHOT:
                target.restore(old)
            elif isinstance(key, str) and not isinstance(target, dict):
                setattr(target, key, old)
            elif old is MISSING:
                del target[key]
            else:
                target[key] = old

    def commit(self) -> None:
        if self.observer is not None:
            self.observer(self.log)
        self.log.clear()
