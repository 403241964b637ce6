"""Interest-rate strategies of spec §8, checked against hand-computed numbers.

``calculate(cash, added, taken, total_debt, reserve_factor, now)`` returns
``(liquidity_rate, borrow_rate, utilization)``. Utilization is ``debt / (available + debt)``
with ``available = cash + added - taken``; the inputs below are chosen so that it is an
exact decimal and every expected rate can be worked out by hand.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from astera.core import RAY, DefaultRateStrategy, FixedRateStrategy, PIRateStrategy, ProtocolError
from astera.core.rates import apply_flow_floor, min_liquidity_rate

PCT = RAY // 100  # one percent, in ray
T0 = 1_700_000_000
DAY = 86_400


def stable() -> DefaultRateStrategy:
    """tests/foundry/Common.sol stable curve: U0 0.80, base 0, slope1 0.04, slope2 0.75."""
    return DefaultRateStrategy(80 * PCT, 0, 4 * PCT, 75 * PCT)


def deployment_pi(now: int = T0, min_ce: int = -3675 * RAY // 10_000) -> PIRateStrategy:
    """Deployment PI parameters (spec §13.1, WBTC): U0 0.70, kp 1, ki 13e19/s, 20 days."""
    return PIRateStrategy(70 * PCT, RAY, 13 * 10**19, min_ce, 1_728_000, now)


# ---- default two-slope curve (§8.1) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("cash", "debt", "u", "borrow"),
    [
        (60, 40, 40 * PCT, 2 * PCT),  # U 0.4: 0.4 * 0.04 / 0.8 = 2 %
        (20, 80, 80 * PCT, 4 * PCT),  # U 0.8 (the kink): slope1 = 4 %
        (10, 90, 90 * PCT, 415 * PCT // 10),  # U 0.9: 4 % + 0.75 * (0.1 / 0.2) = 41.5 %
        (0, 90, RAY, 79 * PCT),  # U 1: base + slope1 + slope2 = 79 %
        (100, 0, 0, 0),  # no debt: U 0, the base rate (0)
    ],
)
def test_default_curve_examples(cash: int, debt: int, u: int, borrow: int) -> None:
    liquidity, b, util = stable().calculate(cash, 0, 0, debt, 0, T0)
    assert util == u
    assert b == borrow
    assert liquidity == borrow * u // RAY  # exact for these inputs; RF 0


def test_default_liquidity_rate_applies_the_reserve_factor() -> None:
    # U 0.9, borrow 41.5 %: 0.415 * 0.9 = 0.3735, times (1 - 15 %) = 0.317475
    liquidity, borrow, _ = stable().calculate(10, 0, 0, 90, 1500, T0)
    assert borrow == 415 * PCT // 10
    assert liquidity == 317_475 * RAY // 1_000_000


def test_base_rate_is_added() -> None:
    s = DefaultRateStrategy(80 * PCT, 1 * PCT, 4 * PCT, 75 * PCT)
    assert s.calculate(100, 0, 0, 0, 0, T0)[1] == 1 * PCT
    assert s.calculate(60, 0, 0, 40, 0, T0)[1] == 3 * PCT
    assert s.max_borrow_rate() == 80 * PCT


def test_volatile_curve_above_the_kink() -> None:
    # Common.sol volatile: U0 0.45, slope1 0.07, slope2 3.00. At U 0.725: 0.07 + 3 * (0.275 / 0.55) = 1.57
    s = DefaultRateStrategy(45 * PCT, 0, 7 * PCT, 300 * PCT)
    _, borrow, u = s.calculate(275, 0, 0, 725, 0, T0)
    assert u == 725 * RAY // 1000
    assert borrow == 157 * PCT


def test_pending_cash_movement_enters_utilization() -> None:
    s = stable()
    # A deposit of 40 on top of 60 cash with 100 debt: U = 100 / 200.
    assert s.calculate(60, 40, 0, 100, 0, T0)[2] == RAY // 2
    # A borrow of 50 out of 100 cash, debt already including it: U = 50 / 100.
    assert s.calculate(100, 0, 50, 50, 0, T0)[2] == RAY // 2
    # Taking all the cash is allowed (U = 100 %).
    assert s.calculate(100, 0, 100, 50, 0, T0)[2] == RAY


@pytest.mark.parametrize(
    "strategy", [stable(), FixedRateStrategy(10 * PCT), deployment_pi()], ids=["default", "fixed", "pi"]
)
def test_the_liquidity_check_56_lives_in_every_strategy(strategy) -> None:
    with pytest.raises(ProtocolError) as exc:
        strategy.calculate(100, 0, 101, 10, 0, T0)
    assert exc.value.code == "56"
    assert exc.value.name == "LP_NOT_ENOUGH_LIQUIDITY_TO_BORROW"
    with pytest.raises(ProtocolError):
        strategy.calculate(0, 5, 6, 0, 0, T0)


# ---- fixed rate (§8.2) ---------------------------------------------------------------------------


@pytest.mark.parametrize(("cash", "debt"), [(100, 0), (60, 40), (0, 10)])
def test_fixed_rate_ignores_utilization(cash: int, debt: int) -> None:
    liquidity, borrow, u = FixedRateStrategy(10 * PCT).calculate(cash, 0, 0, debt, 2000, T0)
    assert borrow == 10 * PCT
    # r_L = 10 % * U * (1 - 20 %)
    assert liquidity == 10 * PCT * u // RAY * 8 // 10


# ---- PI controller (§8.3) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ce", "rate"),
    [
        (-RAY, 0),  # 0.2 * (0 / 2)^2
        (0, 5 * PCT),  # 0.2 * (1 / 2)^2
        (RAY, 20 * PCT),  # 0.2 * (2 / 2)^2
        (2 * RAY, 45 * PCT),  # 0.2 * (3 / 2)^2
        (-RAY // 2, 125 * PCT // 100),  # 0.2 * (0.5 / 2)^2 = 1.25 %
    ],
)
def test_pi_transfer_function_landmarks(ce: int, rate: int) -> None:
    s = PIRateStrategy(70 * PCT, RAY, 13 * 10**19, -2 * RAY, 1_728_000, T0)  # floor out of the way
    assert s.transfer_function(ce) == rate


@pytest.mark.parametrize(
    ("min_ce", "base"),
    [
        # 0.2 * ((1 - 0.3675) / 2)^2 = 0.2 * 0.31625^2 = 0.0200028125  (WBTC: "2.00 %")
        (-3675 * RAY // 10_000, 200_028_125 * RAY // 10**10),
        # 0.2 * (0.69990 / 2)^2 = 0.2 * 0.34995^2 = 0.024493000500  (WETH: "2.45 %")
        (-3001 * RAY // 10_000, 24_493_000_500 * RAY // 10**12),
        # 0.2 * (0.7521 / 2)^2 = 0.2 * 0.37605^2 = 0.028282720500  (USDC: "2.83 %")
        (-2479 * RAY // 10_000, 28_282_720_500 * RAY // 10**12),
    ],
)
def test_pi_floor_is_the_min_controller_error(min_ce: int, base: int) -> None:
    s = deployment_pi(min_ce=min_ce)
    assert s.transfer_function(min_ce) == base
    assert s.transfer_function(-RAY) == base  # anything below the floor is raised to it


def test_pi_max_err_i_amp_for_deployment_params() -> None:
    # -ki * maxITimeAmp = -13e19 * 1,728,000 = -2.2464e26 = -0.22464 ray
    assert deployment_pi().max_err_i_amp == -224_640_000_000_000_000_000_000_000


def test_pi_at_optimal_utilization_without_history_is_five_percent() -> None:
    s = deployment_pi()
    liquidity, borrow, u = s.calculate(30, 0, 0, 70, 0, T0 + 100)  # U = 0.7 = U0, err = 0
    assert u == 70 * PCT
    assert borrow == 5 * PCT
    assert liquidity == 35 * PCT // 10  # 5 % * 0.7
    assert (s.err_i, s.last_timestamp) == (0, T0 + 100)


def test_pi_integral_uses_post_action_utilization_over_the_whole_interval() -> None:
    s = deployment_pi()
    s.calculate(30, 0, 0, 70, 0, T0 + 100)  # err 0 for the first 100 s
    # One day later the strategy is called with U = 1 (err = +1): the whole day counts at err = 1.
    _, borrow, _ = s.calculate(0, 0, 0, 70, 0, T0 + 100 + DAY)
    assert s.err_i == 13 * 10**19 * DAY == 11_232 * RAY // 10**6  # +0.011232 per day (spec §8.3)
    assert s.last_timestamp == T0 + 100 + DAY
    # ce = kp * 1 + 0.011232 = 1.011232; rate = 0.2 * (2.011232 / 2)^2 = 0.2 * 1.005616^2
    #    = 0.2 * 1.011263539456 = 0.2022527078912 (exact in ray)
    assert borrow == 2_022_527_078_912 * RAY // 10**13
    # Calling again in the same block adds nothing to the integral.
    s.calculate(0, 0, 0, 70, 0, T0 + 100 + DAY)
    assert s.err_i == 11_232 * RAY // 10**6


def test_pi_below_target_integrates_negative_error() -> None:
    s = deployment_pi(min_ce=-2 * RAY)
    # U = 0.35 = U0 / 2: err = (0.35 - 0.7) / 0.7 = -0.5; after 1000 s errI = -0.5 * 13e19 * 1000
    _, borrow, _ = s.calculate(65, 0, 0, 35, 0, T0 + 1000)
    assert s.err_i == -65 * 10**21
    ce = -RAY // 2 - 65 * 10**21  # kp * err + errI = -0.500065
    half = Fraction(ce + RAY, 2 * RAY)  # (ce + 1) / 2 = 0.2499675, exact
    assert borrow == int(Fraction(RAY) / 5 * half * half)  # 0.2 * 0.2499675^2: exact in ray


def test_pi_integral_is_clamped_from_below_only() -> None:
    low = deployment_pi()
    # 100 days at U = 0.35 (err = -0.5): -0.5 * 13e19 * 8.64e6 = -0.5616 < -0.22464 -> clamped
    low.calculate(65, 0, 0, 35, 0, T0 + 100 * DAY)
    assert low.err_i == low.max_err_i_amp == -224_640 * 10**21
    high = deployment_pi()
    # 100 days at U = 1 (err = +1): +1.1232, far above |maxErrIAmp|, and not clamped
    high.calculate(0, 0, 0, 35, 0, T0 + 100 * DAY)
    assert high.err_i == 13 * 10**19 * 100 * DAY == 11_232 * RAY // 10**4


def test_pi_zero_utilization_resets_the_integral_and_returns_zero() -> None:
    s = deployment_pi()
    s.calculate(0, 0, 0, 35, 0, T0 + DAY)
    assert s.err_i > 0
    liquidity, borrow, u = s.calculate(100, 0, 0, 0, 0, T0 + 2 * DAY)
    assert (liquidity, borrow, u) == (0, 0, 0)  # 0, not the base rate
    assert (s.err_i, s.last_timestamp) == (0, T0 + 2 * DAY)


def test_pi_fresh_instance_has_its_own_state() -> None:
    s = deployment_pi()
    s.calculate(0, 0, 0, 35, 0, T0 + DAY)
    f = s.fresh(T0 + 5 * DAY)
    assert (f.err_i, f.last_timestamp) == (0, T0 + 5 * DAY)
    assert f.params() == s.params()
    assert s.err_i != 0


@pytest.mark.parametrize("u0", [RAY, RAY + 1])
def test_pi_refuses_u0_of_ray_or_more(u0: int) -> None:
    with pytest.raises(ProtocolError) as exc:
        PIRateStrategy(u0, RAY, 13 * 10**19, -RAY // 4, 1_728_000, T0)
    assert exc.value.code == "22"


def test_u0_zero_deploys_as_in_the_contracts() -> None:
    """Only U0 >= RAY is refused (§8.7: "must be < RAY"). With U0 = 0 the PI controller's
    error is always the upper branch ``U / RAY``; the two-slope curve divides by U0 at zero
    utilization, which the contracts' rayDiv refuses with ``33``."""
    pi = PIRateStrategy(0, RAY, 0, -RAY, 0, T0)
    u = RAY // 2
    liquidity, borrow, utilization = pi.calculate(50, 0, 0, 50, 0, T0)
    assert utilization == u
    assert borrow == pi.transfer_function(u)  # kp·err with err = U/RAY = 0.5 ray
    curve = DefaultRateStrategy(0, 0, 4 * PCT, 75 * PCT)
    assert curve.calculate(50, 0, 0, 50, 0, T0)[1] == 4 * PCT + 75 * PCT // 2
    with pytest.raises(ProtocolError) as exc:
        curve.calculate(50, 0, 0, 0, 0, T0)
    assert exc.value.code == "33"


# ---- Mini-Pool floor while flow-borrowing (§8.6) ----------------------------------------------------


def test_min_liquidity_rate_example() -> None:
    """Core rB 10 %, rL 6 % -> minLR = 4.0036 % (spec §8.6), worked out step by step.

    Δ = 432,000 s (5 days), Y = 31,536,000 s.
      common = rL·Δ // Y + RAY = 6e25 · 432,000 // Y + 1e27 = 1,000,821,917,808,219,178,082,191,780
      C = compounded(1e26, Δ): b2 = 10,055,109,076 and b3 = 31 as for a year (they do not depend on Δ),
          C = 1e27 + 1e26·Δ // Y + Δ(Δ-1)·b2 // 2 + Δ(Δ-1)(Δ-2)·b3 // 6
      minLR = rayDiv(C - common, common·Δ // Y)
    """
    delta, year = 432_000, 31_536_000
    common = 6 * 10**25 * delta // year + RAY
    assert common == 1_000_821_917_808_219_178_082_191_780
    c = RAY + 10**26 * delta // year + delta * (delta - 1) * 10_055_109_076 // 2
    c += delta * (delta - 1) * (delta - 2) * 31 // 6
    assert c == 1_001_370_801_690_406_701_621_034_301
    den = common * delta // year
    expected = ((c - common) * RAY + den // 2) // den
    assert min_liquidity_rate(6 * 10**25, 10**26) == expected == 40_035_617_412_774_609_067_777_093
    assert 40_035 * RAY // 10**6 < expected < 40_036 * RAY // 10**6  # ≈ 4.0036 %


def test_flow_floor_raises_both_rates() -> None:
    floor = min_liquidity_rate(6 * 10**25, 10**26)
    # Mini-Pool at U 0.8 with RF 20 %: borrow floor = minLR / (0.8 * 0.8) ≈ 6.256 %
    liquidity, borrow = apply_flow_floor(PCT, 2 * PCT, 80 * PCT, 2000, 6 * 10**25, 10**26)
    assert liquidity == floor
    assert borrow == (floor * RAY + 32 * 10**25) // (64 * 10**25)  # rayDiv(floor, 0.64)
    assert 6_255 * RAY // 10**5 < borrow < 6_256 * RAY // 10**5


def test_flow_floor_leaves_higher_rates_and_zero_utilization_alone() -> None:
    assert apply_flow_floor(10 * PCT, 20 * PCT, 80 * PCT, 0, 6 * 10**25, 10**26) == (10 * PCT, 20 * PCT)
    assert apply_flow_floor(0, 0, 0, 0, 6 * 10**25, 10**26) == (0, 0)


def test_min_liquidity_rate_without_core_rates_is_zero() -> None:
    assert min_liquidity_rate(0, 0) == 0


def test_pi_refuses_a_floor_whose_rate_overflows() -> None:
    """The constructor computes the transfer function at the error floor, as the contracts'
    does: a floor so high that the int256 arithmetic overflows panics at deployment."""
    with pytest.raises(ProtocolError) as exc:
        PIRateStrategy(RAY // 2, RAY, 0, 10**40, 0, T0)
    assert exc.value.code == "panic:0x11"


# ---- parameters the contracts cannot take (uint256 / int256 constructor arguments) ------------------


@pytest.mark.parametrize(
    ("make", "field"),
    [
        (lambda: DefaultRateStrategy(80 * PCT, -1, 4 * PCT, 75 * PCT), "base_rate"),
        (lambda: DefaultRateStrategy(80 * PCT, 0, -4 * PCT, 75 * PCT), "slope1"),
        (lambda: DefaultRateStrategy(80 * PCT, 0, 4 * PCT, 2**256), "slope2"),
        (lambda: DefaultRateStrategy(-1, 0, 4 * PCT, 75 * PCT), "optimal_utilization"),
        (lambda: FixedRateStrategy(-10 * PCT), "borrow_rate"),
        (lambda: PIRateStrategy(-1, RAY, 13 * 10**19, -RAY // 4, 1_728_000, T0), "optimal_utilization"),
        (lambda: PIRateStrategy(70 * PCT, -RAY, 13 * 10**19, -RAY // 4, 1_728_000, T0), "kp"),
        (lambda: PIRateStrategy(70 * PCT, RAY, -1, -RAY // 4, 1_728_000, T0), "ki"),
        (
            lambda: PIRateStrategy(70 * PCT, RAY, 13 * 10**19, -(2**255) - 1, 1_728_000, T0),
            "min_controller_error",
        ),
        (lambda: PIRateStrategy(70 * PCT, RAY, 13 * 10**19, -RAY // 4, 2**255, T0), "max_i_time_amp"),
    ],
)
def test_a_parameter_outside_its_solidity_type_is_refused_naming_it(make, field: str) -> None:
    """The constructors take uint256 (int256 for the PI error floor and time amplitude): a
    negative rate or slope cannot be deployed, so the core refuses it as bad input."""
    with pytest.raises(ProtocolError) as exc:
        make()
    assert exc.value.code == "input:amount"
    assert field in exc.value.detail


def test_the_pi_error_floor_is_signed() -> None:
    """``_minControllerError`` is signed: every deployed one is negative (ce = -1 is a 0 % floor)."""
    pi = PIRateStrategy(70 * PCT, RAY, 13 * 10**19, -RAY, 0, T0)
    assert pi.params()["min_controller_error"] == -RAY and pi.transfer_function(-RAY) == 0
