"""Checks of caller-supplied values at the core's public entry points.

A value of the wrong type or out of range is refused with a typed :class:`InputError`
(stable codes ``input:type`` and ``input:amount``) before anything is written.
"""

from __future__ import annotations

from .errors import InputError
from .wadray import INT256_MAX, INT256_MIN, UINT256_MAX

#: Largest timestamp or duration the clock accepts (40 bits, as the contracts store them).
MAX_TIME = (1 << 40) - 1

_LIMITS = {UINT256_MAX: "2**256-1", INT256_MAX: "2**255-1", INT256_MIN: "-2**255"}


def checked_int(value: object, what: str, low: int = 0, high: int = UINT256_MAX) -> int:
    """``value`` if it is an ``int`` (not a ``bool``) within ``[low, high]``."""
    if type(value) is not int:
        raise InputError("input:type", f"{what} must be an int, got {type(value).__name__}")
    if value < low or value > high:
        raise InputError("input:amount", f"{what} out of range [{_bound(low)}, {_bound(high)}]: {value}")
    return value


def _bound(n: int) -> str:
    """A range's end as a person reads it: the Solidity integer limits by name (``2**256-1``)."""
    return _LIMITS.get(n, str(n))


def checked_bool(value: object, what: str) -> bool:
    """``value`` if it is a ``bool``."""
    if type(value) is not bool:
        raise InputError("input:type", f"{what} must be a bool")
    return value
