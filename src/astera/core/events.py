"""Events returned by every operation, as the contracts emit them."""

from __future__ import annotations

from typing import Any


class Event:
    """One emitted event: a name, the pool that emitted it and its fields (amounts are ints).

    The fields come as one dict, not as keyword arguments: every operation returns events,
    and packing keywords into a dict in a Python ``__init__`` cost ~3x the construction.
    """

    __slots__ = ("name", "pool", "fields")

    def __init__(self, name: str, pool: str, fields: dict[str, Any]) -> None:
        self.name = name
        self.pool = pool
        self.fields = fields

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.name, "pool": self.pool, **self.fields}

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {self.pool!r}, {self.fields!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and self.as_dict() == other.as_dict()
