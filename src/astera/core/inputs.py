"""Checks of caller-supplied values at the core's public entry points.

A value of the wrong type or out of range is refused with a typed :class:`InputError`
(stable codes ``input:type`` and ``input:amount``) before anything is written.
"""

from __future__ import annotations

from .errors import InputError
from .wadray import UINT256_MAX

#: Largest timestamp or duration the clock accepts (40 bits, as the contracts store them).
MAX_TIME = (1 << 40) - 1


def checked_int(value: object, what: str, low: int = 0, high: int = UINT256_MAX) -> int:
    """``value`` if it is an ``int`` (not a ``bool``) within ``[low, high]``."""
    if type(value) is not int:
        raise InputError("input:type", f"{what} must be an int, got {type(value).__name__}")
    if value < low or value > high:
        raise InputError("input:amount", f"{what} out of range [{low}, {high}]: {value}")
    return value


def checked_bool(value: object, what: str) -> bool:
    """``value`` if it is a ``bool``."""
    if type(value) is not bool:
        raise InputError("input:type", f"{what} must be a bool")
    return value
