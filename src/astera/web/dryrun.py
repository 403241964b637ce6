"""Hypotheticals on the live protocol: run changes, read the result, undo them all.

The protocol's journal makes every change reversible, so a what-if costs only what it
touches (no copy of the state). :func:`rolled_back` is the one way the web app does it;
the state, its hash included, is exactly as before when the block exits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from astera.core import Protocol


class _Undo(Exception):
    """Raised inside the transaction so that it rolls back."""


@contextmanager
def rolled_back(p: Protocol) -> Iterator[Protocol]:
    """``with rolled_back(p): p.set_price(...); hf = p.health_factor(u)`` leaves ``p`` untouched."""
    try:
        with p.transaction():
            yield p
            raise _Undo
    except _Undo:
        pass
