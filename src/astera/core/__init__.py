"""Astera Lend's protocol core: pure, deterministic, integer-only.

No I/O, no clock, no randomness, no floats. Time and prices are inputs; every
operation validates, runs atomically, and returns its events or raises a
:class:`ProtocolError` with the contracts' stable code.
"""

from .account import AccountData, account_data
from .errors import ERROR_NAMES, BalanceExceeded, InputError, ProtocolError
from .events import Event
from .liquidation_policy import LiquidationPolicy
from .minipool import MiniPool
from .pool import Pool
from .protocol import Protocol
from .rates import DefaultRateStrategy, FixedRateStrategy, PIRateStrategy, RateStrategy
from .reserve import Reserve
from .wadray import PERCENTAGE_FACTOR, RAY, UINT256_MAX, WAD

__all__ = [
    "ERROR_NAMES",
    "PERCENTAGE_FACTOR",
    "RAY",
    "UINT256_MAX",
    "WAD",
    "AccountData",
    "BalanceExceeded",
    "DefaultRateStrategy",
    "Event",
    "FixedRateStrategy",
    "InputError",
    "LiquidationPolicy",
    "MiniPool",
    "PIRateStrategy",
    "Pool",
    "Protocol",
    "ProtocolError",
    "RateStrategy",
    "Reserve",
    "account_data",
]
