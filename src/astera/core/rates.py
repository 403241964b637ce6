"""Interest-rate strategies (spec §8): two-slope default, fixed, and the stateful PI controller.

A strategy turns a reserve's cash, pending cash movement, total debt and reserve factor
into ``(liquidity_rate, variable_borrow_rate)``, both ray per year. Every strategy first
refuses a movement that would take more cash than there is (``56``): that is the only
liquidity check borrows and withdrawals get. The PI controller carries state, so each
reserve gets its own instance and it must be called exactly once per rate update.

The constructors take what the contracts' constructors take: uint256 parameters (int256 for
the PI controller's error floor and time amplitude). A value no such type holds, a negative
rate or slope above all, is refused as bad input (``input:amount``, naming the parameter);
beyond that only the contracts' own checks apply (``22`` for U0, ``panic:0x11`` for a
floor whose rate overflows).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache
from typing import Final

from .errors import NOT_ENOUGH_LIQUIDITY, U0_GREATER_THAN_RAY, ProtocolError, overflow
from .inputs import checked_int
from .wadray import (
    INT256_MAX,
    INT256_MIN,
    PERCENTAGE_FACTOR,
    RAY,
    SECONDS_PER_YEAR,
    compounded_interest,
    percent_mul,
    ray_div,
    ray_div_int,
    ray_mul,
    ray_mul_int,
    ray_pow_int,
)

#: PI transfer-function constants (hard-coded in the contracts): r = M·((ce + 1)/2)^N.
PI_M: Final = 2 * 10**26
PI_N: Final = 2
#: Window over which the Mini-Pool rate floor compares Core debt growth with supply growth.
FLOOR_DELTA: Final = 5 * 24 * 3600


def _utilization(cash: int, added: int, taken: int, total_debt: int) -> int:
    available = cash + added - taken
    if available < 0:
        raise ProtocolError(NOT_ENOUGH_LIQUIDITY)
    if total_debt == 0:
        return 0
    return ray_div(total_debt, available + total_debt)


class RateStrategy(ABC):
    """Interface: ``calculate`` returns ``(liquidity_rate, borrow_rate, utilization)``."""

    __slots__ = ()
    model: str = ""
    stateful: bool = False

    @abstractmethod
    def calculate(
        self, cash: int, added: int, taken: int, total_debt: int, reserve_factor: int, now: int
    ) -> tuple[int, int, int]:
        """Rates for the reserve's state with the pending cash movement applied."""

    def fresh(self, now: int) -> RateStrategy:
        """The instance a newly bound reserve uses (stateless strategies share themselves)."""
        return self

    def snapshot(self) -> object:
        return None

    def restore(self, saved: object) -> None:
        return None

    @abstractmethod
    def params(self) -> dict[str, object]:
        """The strategy's parameters (part of the canonical state)."""


class DefaultRateStrategy(RateStrategy):
    """Two-slope curve: gentle up to the optimal utilization ``U0``, steep beyond it."""

    __slots__ = ("optimal_utilization", "excess_utilization", "base_rate", "slope1", "slope2")
    model = "default"

    def __init__(self, optimal_utilization: int, base_rate: int, slope1: int, slope2: int) -> None:
        optimal_utilization = checked_int(optimal_utilization, "optimal_utilization")
        base_rate = checked_int(base_rate, "base_rate")
        slope1 = checked_int(slope1, "slope1")
        slope2 = checked_int(slope2, "slope2")
        # Above RAY the contracts' constructor underflows (refused here with 22). U0 = 0 deploys,
        # and then a rate update at zero utilization divides by it (``33``), as theirs does.
        if optimal_utilization > RAY:
            raise ProtocolError(U0_GREATER_THAN_RAY)
        self.optimal_utilization = optimal_utilization
        self.excess_utilization = RAY - optimal_utilization
        self.base_rate = base_rate
        self.slope1 = slope1
        self.slope2 = slope2

    def calculate(
        self, cash: int, added: int, taken: int, total_debt: int, reserve_factor: int, now: int
    ) -> tuple[int, int, int]:
        u = _utilization(cash, added, taken, total_debt)
        u0 = self.optimal_utilization
        if u > u0:
            borrow = (
                self.base_rate + self.slope1 + ray_mul(self.slope2, ray_div(u - u0, self.excess_utilization))
            )
        else:
            borrow = self.base_rate + ray_div(ray_mul(u, self.slope1), u0)
        liquidity = percent_mul(ray_mul(borrow, u), PERCENTAGE_FACTOR - reserve_factor)
        return liquidity, borrow, u

    def max_borrow_rate(self) -> int:
        return self.base_rate + self.slope1 + self.slope2

    def params(self) -> dict[str, object]:
        return {
            "model": "default",
            "optimal_utilization": self.optimal_utilization,
            "base_rate": self.base_rate,
            "slope1": self.slope1,
            "slope2": self.slope2,
        }


class FixedRateStrategy(RateStrategy):
    """A constant borrow rate; suppliers earn it in proportion to utilization."""

    __slots__ = ("borrow_rate",)
    model = "fixed"

    def __init__(self, borrow_rate: int) -> None:
        self.borrow_rate = checked_int(borrow_rate, "borrow_rate")

    def calculate(
        self, cash: int, added: int, taken: int, total_debt: int, reserve_factor: int, now: int
    ) -> tuple[int, int, int]:
        u = _utilization(cash, added, taken, total_debt)
        borrow = self.borrow_rate
        return percent_mul(ray_mul(borrow, u), PERCENTAGE_FACTOR - reserve_factor), borrow, u

    def params(self) -> dict[str, object]:
        return {"model": "fixed", "borrow_rate": self.borrow_rate}


class PIRateStrategy(RateStrategy):
    """Proportional-integral controller steering utilization toward ``U0``.

    State: the integral ``err_i`` (signed ray) and the time of the last call. The integral
    uses the post-action utilization over the whole interval since the last call, is
    clamped from below only (at ``-ki·max_i_time_amp``) and resets when utilization is 0.
    """

    __slots__ = (
        "optimal_utilization",
        "kp",
        "ki",
        "min_controller_error",
        "max_i_time_amp",
        "max_err_i_amp",
        "err_i",
        "last_timestamp",
    )
    model = "pi"
    stateful = True

    def __init__(
        self,
        optimal_utilization: int,
        kp: int,
        ki: int,
        min_controller_error: int,
        max_i_time_amp: int,
        now: int = 0,
    ) -> None:
        optimal_utilization = checked_int(optimal_utilization, "optimal_utilization")
        kp = checked_int(kp, "kp")
        ki = checked_int(ki, "ki")
        min_controller_error = checked_int(
            min_controller_error, "min_controller_error", INT256_MIN, INT256_MAX
        )
        max_i_time_amp = checked_int(max_i_time_amp, "max_i_time_amp", INT256_MIN, INT256_MAX)
        if optimal_utilization >= RAY:  # the contracts refuse U0 >= RAY only
            raise ProtocolError(U0_GREATER_THAN_RAY)
        self.optimal_utilization = optimal_utilization
        self.kp = kp
        self.ki = ki
        self.min_controller_error = min_controller_error
        self.max_i_time_amp = max_i_time_amp
        self.max_err_i_amp = ray_mul_int(ki, -RAY * max_i_time_amp)
        self.err_i = 0
        self.last_timestamp = now
        # As the contracts' constructor does: the lowest rate (at the error floor) must compute
        # (an int256 overflow panics) and not be negative.
        self.transfer_function(min_controller_error)

    def fresh(self, now: int) -> PIRateStrategy:
        return PIRateStrategy(
            self.optimal_utilization,
            self.kp,
            self.ki,
            self.min_controller_error,
            self.max_i_time_amp,
            now,
        )

    def snapshot(self) -> object:
        return (self.err_i, self.last_timestamp)

    def restore(self, saved: object) -> None:
        self.err_i, self.last_timestamp = saved  # type: ignore[misc]

    def transfer_function(self, controller_error: int) -> int:
        """Borrow rate for a controller error: ``M·((max(ce, minCE) + 1)/2)^N``."""
        ce = controller_error if controller_error > self.min_controller_error else self.min_controller_error
        rate = ray_mul_int(PI_M, ray_pow_int(ray_div_int(ce + RAY, 2 * RAY), PI_N))
        if rate < 0:
            raise overflow()
        return rate

    def calculate(
        self, cash: int, added: int, taken: int, total_debt: int, reserve_factor: int, now: int
    ) -> tuple[int, int, int]:
        u = _utilization(cash, added, taken, total_debt)
        if u == 0:
            self.err_i = 0
            self.last_timestamp = now
            return 0, 0, 0
        u0 = self.optimal_utilization
        if u < u0:
            err = ray_div_int(u - u0, u0)
        else:
            err = ray_div_int(u - u0, RAY - u0)
        err_i = self.err_i + ray_mul_int(self.ki, err * (now - self.last_timestamp))
        if err_i < self.max_err_i_amp:
            err_i = self.max_err_i_amp
        self.err_i = err_i
        self.last_timestamp = now
        borrow = self.transfer_function(ray_mul_int(self.kp, err) + err_i)
        liquidity = percent_mul(ray_mul(borrow, u), PERCENTAGE_FACTOR - reserve_factor)
        return liquidity, borrow, u

    def params(self) -> dict[str, object]:
        return {
            "model": "pi",
            "optimal_utilization": self.optimal_utilization,
            "kp": self.kp,
            "ki": self.ki,
            "min_controller_error": self.min_controller_error,
            "max_i_time_amp": self.max_i_time_amp,
        }


@lru_cache(maxsize=1024)
def min_liquidity_rate(core_liquidity_rate: int, core_borrow_rate: int) -> int:
    """The supply rate a Mini-Pool must pay while it owes the Core (spec §8.6).

    Over a 5-day window, Core debt compounds at the Core borrow rate while the Mini-Pool's
    re-deposit grows linearly at the Core supply rate; the floor covers the difference.
    Pure in its two inputs, and the Core rates change far less often than Mini-Pools ask,
    so results are memoised.
    """
    common = core_liquidity_rate * FLOOR_DELTA // SECONDS_PER_YEAR + RAY
    growth = compounded_interest(core_borrow_rate, FLOOR_DELTA)
    if growth < common:
        raise overflow()
    return ray_div(growth - common, common * FLOOR_DELTA // SECONDS_PER_YEAR)


def apply_flow_floor(
    liquidity: int,
    borrow: int,
    utilization: int,
    reserve_factor: int,
    core_liquidity_rate: int,
    core_borrow_rate: int,
) -> tuple[int, int]:
    """Raise a Mini-Pool reserve's rates to the floor while it flow-borrows from the Core."""
    floor = min_liquidity_rate(core_liquidity_rate, core_borrow_rate)
    if liquidity < floor and utilization != 0:
        return floor, ray_div(floor, percent_mul(utilization, PERCENTAGE_FACTOR - reserve_factor))
    return liquidity, borrow
