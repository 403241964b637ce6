"""Spans of time for a person: the unit an axis or a sentence reads best in."""

from __future__ import annotations

from typing import Final

#: The units, largest first: (name, seconds).
UNITS: Final = (("days", 86_400), ("hours", 3_600), ("minutes", 60))


def time_unit(span: int) -> tuple[str, int]:
    """The unit a span of ``span`` seconds reads best in, as (name, seconds in it): the largest
    of which the span holds more than three (``259_201`` -> days, ``7_200`` -> minutes)."""
    for name, size in UNITS:
        if span > 3 * size:
            return name, size
    return "seconds", 1


def duration(seconds: int) -> str:
    """``86_400`` -> ``24 hours``, ``600`` -> ``10 minutes``; seconds when no unit divides it."""
    name, size = time_unit(seconds)
    return f"{seconds // size:,} {name}" if seconds % size == 0 else f"{seconds:,} seconds"
