"""Fixed-point arithmetic of spec §1, checked against hand-computed numbers.

Every expected value below is worked out by hand from the spec's integer formula (or
with exact rational arithmetic via :class:`fractions.Fraction`), never by calling the
function under test. The refusals matter as much as the results: the contracts revert
with ``34`` when a uint256 intermediate would overflow and ``33`` on division by zero,
and a model that silently computes with Python's big integers would diverge there.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from astera.core import RAY, UINT256_MAX, WAD, ProtocolError
from astera.core.wadray import (
    SECONDS_PER_YEAR,
    compounded_interest,
    div_up,
    linear_interest,
    percent_div,
    percent_div_up,
    percent_mul,
    ray_div,
    ray_div_int,
    ray_div_up,
    ray_mul,
    ray_mul_int,
    ray_pow_int,
    ray_to_wad,
    tdiv,
    wad_div,
    wad_div_up,
    wad_mul,
    wad_to_ray,
)

Y = 31_536_000  # 365 days, written out independently of the module's constant


def _code(fn, *args: int) -> str:
    with pytest.raises(ProtocolError) as exc:
        fn(*args)
    return exc.value.code


def _half_up(x: Fraction) -> int:
    """Round a non-negative rational half-up, the unsigned libraries' rounding."""
    return int(x + Fraction(1, 2))  # int() floors a non-negative Fraction


# ---- constants -------------------------------------------------------------------------------


def test_units() -> None:
    assert WAD == 10**18
    assert RAY == 10**27
    assert UINT256_MAX == 2**256 - 1
    assert SECONDS_PER_YEAR == 365 * 86_400 == Y


# ---- multiplication: half-up ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (0, 5 * WAD, 0),
        (5 * WAD, 0, 0),
        (3 * WAD, 2 * WAD, 6 * WAD),
        (3 * WAD // 2, 3 * WAD // 2, 9 * WAD // 4),  # 1.5 * 1.5 = 2.25
        (1, WAD // 2, 1),  # exactly 0.5 wei rounds up
        (1, WAD // 2 - 1, 0),  # just under a half rounds down
        (7, WAD // 7, 1),  # 0.999999999999999999 -> 1
    ],
)
def test_wad_mul(a: int, b: int, expected: int) -> None:
    assert wad_mul(a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (0, RAY, 0),
        (RAY, 0, 0),
        (2 * RAY, 3 * RAY, 6 * RAY),
        (RAY // 10, RAY // 10, RAY // 100),  # 10% of 10% = 1%
        (1, RAY // 2, 1),  # 0.5 -> 1
        (1, RAY // 2 - 1, 0),
        (3, RAY // 2, 2),  # 1.5 -> 2
        (5, RAY // 2, 3),  # 2.5 -> 3 (half-up, not banker's)
    ],
)
def test_ray_mul(a: int, b: int, expected: int) -> None:
    assert ray_mul(a, b) == expected


@pytest.mark.parametrize(
    ("value", "bps", "expected"),
    [
        (0, 5000, 0),
        (100, 0, 0),
        (10_000, 5000, 5000),
        (1, 5000, 1),  # 0.5 -> 1
        (1, 4999, 0),  # 0.4999 -> 0
        (3, 5000, 2),  # 1.5 -> 2
        (37_000, 8000, 29_600),
        (25_000_000_000, 10_800, 27_000_000_000),
    ],
)
def test_percent_mul(value: int, bps: int, expected: int) -> None:
    assert percent_mul(value, bps) == expected


# ---- division: half-up, and the "Up" variants ------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (6 * WAD, 3 * WAD, 2 * WAD),
        (1, 2 * WAD, 1),  # 0.5 wei -> 1
        (1, 2 * WAD + 1, 0),  # just under a half -> 0
        (2, 3, 666_666_666_666_666_667),  # 0.666... rounds up
        (1, 3, 333_333_333_333_333_333),  # 0.333... rounds down
        (0, 7, 0),
    ],
)
def test_wad_div(a: int, b: int, expected: int) -> None:
    assert wad_div(a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (RAY, 2 * RAY, RAY // 2),
        (40, 100, 4 * 10**26),  # utilization 40 / (60 + 40) = 0.4
        (1, 2 * RAY, 1),  # 0.5 -> 1
        (1, 2 * RAY + 1, 0),
        (2, 3, 666_666_666_666_666_666_666_666_667),
        (0, 9, 0),
    ],
)
def test_ray_div(a: int, b: int, expected: int) -> None:
    assert ray_div(a, b) == expected


@pytest.mark.parametrize(
    ("value", "bps", "expected"),
    [
        (100, 5000, 200),  # exact
        (1, 20_000, 1),  # 0.5 -> 1
        (1, 20_001, 0),
        (1, 3, 3333),  # 3333.33 -> 3333
        (2, 3, 6667),  # 6666.67 -> 6667
    ],
)
def test_percent_div(value: int, bps: int, expected: int) -> None:
    assert percent_div(value, bps) == expected


def test_up_variants_add_one_even_when_exact() -> None:
    # spec §1.1 and §14.1: floor + 1, always.
    assert percent_div_up(100, 5000) == 201
    assert percent_div_up(1, 3) == 3334  # floor(3333.33) + 1
    assert percent_div_up(0, 7) == 1
    assert ray_div_up(RAY, RAY) == RAY + 1
    assert ray_div_up(1, 3) == 333_333_333_333_333_333_333_333_334
    assert ray_div_up(0, 5) == 1
    assert wad_div_up(WAD, WAD) == WAD + 1
    assert wad_div_up(1, 3) == 333_333_333_333_333_334
    assert wad_div_up(6, 3) == 2 * WAD + 1


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (0, 5, 0),
        (10, 5, 2),  # exact: a true ceiling adds nothing
        (11, 5, 3),
        (1, 10**8, 1),
        (10**8, 10**8, 1),
        (10**8 + 1, 10**8, 2),
    ],
)
def test_div_up_is_a_true_ceiling(a: int, b: int, expected: int) -> None:
    assert div_up(a, b) == expected


def test_ray_wad_conversions() -> None:
    assert ray_to_wad(RAY) == WAD
    assert ray_to_wad(5 * 10**8) == 1  # half-up
    assert ray_to_wad(5 * 10**8 - 1) == 0
    assert ray_to_wad(15 * 10**8) == 2
    assert wad_to_ray(WAD) == RAY
    assert wad_to_ray(3) == 3 * 10**9


# ---- refusals: "33" division by zero, "34" multiplication overflow ---------------------------


@pytest.mark.parametrize("fn", [wad_div, ray_div, ray_div_up, wad_div_up, percent_div, percent_div_up])
def test_division_by_zero_is_33(fn) -> None:
    assert _code(fn, 1, 0) == "33"
    assert _code(fn, 0, 0) == "33"


def test_div_up_by_zero_is_a_solidity_panic() -> None:
    # divUp is plain Solidity `(a - 1) / b + 1`: no library guard, so the EVM panics (0x12).
    assert _code(div_up, 1, 0) == "panic:0x12"


# (function, multiplier m, added constant c for a given b): the product a*m + c must fit in uint256.
_MUL_GUARDS = [
    (wad_mul, lambda b: (b, WAD // 2)),
    (ray_mul, lambda b: (b, RAY // 2)),
    (percent_mul, lambda b: (b, 5000)),
    (wad_div, lambda b: (WAD, b // 2)),
    (ray_div, lambda b: (RAY, b // 2)),
    (ray_div_up, lambda b: (RAY, b)),
    (wad_div_up, lambda b: (WAD, b)),
    (percent_div, lambda b: (10_000, b // 2)),
    (percent_div_up, lambda b: (10_000, b)),
]


@pytest.mark.parametrize(("fn", "guard"), _MUL_GUARDS, ids=[g[0].__name__ for g in _MUL_GUARDS])
@pytest.mark.parametrize("b", [1, 3, 10_000, WAD, RAY, 2**128 + 7])
def test_overflow_boundary_is_34(fn, guard, b: int) -> None:
    m, c = guard(b)
    largest = (2**256 - 1 - c) // m  # the largest `a` whose intermediate a*m + c fits
    fn(largest, b)  # does not raise
    assert _code(fn, largest + 1, b) == "34"


def test_overflow_from_a_huge_second_operand() -> None:
    assert _code(wad_mul, 2, UINT256_MAX) == "34"
    assert _code(ray_mul, UINT256_MAX, UINT256_MAX) == "34"
    assert _code(percent_mul, UINT256_MAX, 2) == "34"


# ---- exact agreement with rational arithmetic --------------------------------------------------

_u127 = st.integers(0, 2**127)  # products of two stay below 2**256


@given(_u127, _u127)
def test_ray_mul_matches_rational_half_up(a: int, b: int) -> None:
    assert ray_mul(a, b) == _half_up(Fraction(a * b, RAY))


@given(_u127, st.integers(1, 2**127))
def test_ray_div_and_div_up_match_rationals(a: int, b: int) -> None:
    assert ray_div(a, b) == _half_up(Fraction(a * RAY, b))
    assert ray_div_up(a, b) == int(Fraction(a * RAY, b)) + 1


@given(st.integers(0, 2**190), st.integers(1, 2**200))
def test_wad_div_matches_rational_half_up(a: int, b: int) -> None:
    assert wad_div(a, b) == _half_up(Fraction(a * WAD, b))


@given(st.integers(0, 2**200), st.integers(0, 65_535))
def test_percent_mul_matches_rational_half_up(v: int, p: int) -> None:
    assert percent_mul(v, p) == _half_up(Fraction(v * p, 10_000))


@given(st.integers(0, 2**200), st.integers(1, 65_535))
def test_percent_div_variants_match_rationals(v: int, p: int) -> None:
    assert percent_div(v, p) == _half_up(Fraction(v * 10_000, p))
    assert percent_div_up(v, p) == int(Fraction(v * 10_000, p)) + 1


@given(st.integers(0, 2**200), st.integers(1, 2**100))
def test_div_up_matches_rational_ceiling(a: int, b: int) -> None:
    q = Fraction(a, b)
    assert div_up(a, b) == (int(q) if q.denominator == 1 else int(q) + 1)


# ---- signed operations (PI controller, spec §1.2) ----------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(7, 2, 3), (-7, 2, -3), (7, -2, -3), (-7, -2, 3), (-1, 3, 0), (6, -3, -2)],
)
def test_tdiv_truncates_toward_zero(a: int, b: int, expected: int) -> None:
    assert tdiv(a, b) == expected
    if a % b and (a < 0) != (b < 0):
        assert expected != a // b  # Python floors: the naive model would be wrong here


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (1, RAY // 2, 1),  # +0.5 -> +1
        (-1, RAY // 2, -1),  # -0.5 -> -1: half away from zero
        (1, -(RAY // 2), -1),
        (-1, RAY // 2 - 1, 0),  # -0.4999... truncates to 0 (a floor would give -1)
        (-3, RAY // 2, -2),  # -1.5 -> -2
        (0, -RAY, 0),
        (-RAY // 2, RAY // 2, -RAY // 4),  # exact
        (13 * 10**19, -RAY * 1_728_000, -224_640_000 * 10**18),  # -ki * maxITimeAmp
    ],
)
def test_ray_mul_int_rounds_half_away_from_zero(a: int, b: int, expected: int) -> None:
    assert ray_mul_int(a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (1, 2 * RAY, 1),  # +0.5 -> 1
        (-1, 2 * RAY, -1),  # -0.5 -> -1
        (1, -2 * RAY, -1),
        (-1, -2 * RAY, 1),
        (-1, 2 * RAY + 1, 0),  # -0.4999... -> 0
        (0, -5, 0),  # a = 0 counts as "same sign": trunc((0 + trunc(-5/2)) / -5) = trunc(0.4) = 0
        (-4 * 10**26, 8 * 10**26, -RAY // 2),  # (U - U0)/U0 for U = 0.4, U0 = 0.8
        (10**27 + 10**27, 2 * 10**27, RAY),
    ],
)
def test_ray_div_int_rounds_half_away_from_zero(a: int, b: int, expected: int) -> None:
    assert ray_div_int(a, b) == expected


def test_ray_pow_int_is_a_left_fold() -> None:
    assert ray_pow_int(-123, 0) == RAY
    assert ray_pow_int(7 * RAY, 1) == 7 * RAY
    assert ray_pow_int(RAY // 2, 2) == RAY // 4
    assert ray_pow_int(-RAY // 2, 3) == -RAY // 8
    # 1e-27 squared is 1e-54: rounds to 0 at the first multiplication.
    assert ray_pow_int(1, 2) == 0
    # A value whose rounding differs between (b*b)*b and b*(b*b) is still a plain left fold:
    b = 3 * RAY // 7  # 0.428571428571428571428571428
    sq = int(Fraction(b * b, RAY) + Fraction(1, 2))
    cube = int(Fraction(sq * b, RAY) + Fraction(1, 2))
    assert ray_pow_int(b, 3) == cube


# ---- interest (spec §1.3) -----------------------------------------------------------------------


def test_linear_interest() -> None:
    assert linear_interest(10**26, Y) == 11 * 10**26  # 10 % for a year: exactly 1.1
    assert linear_interest(10**26, 0) == RAY
    assert linear_interest(5 * 10**25, Y // 2) == RAY + 25 * 10**24  # 5 % for half a year
    # 1 second at 10 %: floor(1e26 / 31,536,000) = 3,170,979,198,376,458,650
    assert linear_interest(10**26, 1) == RAY + 3_170_979_198_376_458_650


def test_compounded_interest_ten_percent_for_a_year() -> None:
    """The cubic binomial expansion: 1.105162 for 10 % over 365 days (spec §1.3).

    By hand, with r = 1e26 and dt = Y:
      b2 = rayMul(r, r) // Y^2 = 1e25 // 994,519,296,000,000 = 10,055,109,076
      b3 = rayMul(b2, r) // Y  = 1,005,510,908 // 31,536,000 = 31     (floor loses ~3 %)
      t2 = Y (Y-1) b2 // 2     = 4,999,999,841,184,405,337,632,000
      t3 = Y (Y-1) (Y-2) b3 // 6 = 162,042,980,598,007,237,872,000
    """
    t2 = Y * (Y - 1) * 10_055_109_076 // 2
    t3 = Y * (Y - 1) * (Y - 2) * 31 // 6
    assert t2 == 4_999_999_841_184_405_337_632_000
    assert t3 == 162_042_980_598_007_237_872_000
    expected = RAY + 10**26 + t2 + t3
    assert compounded_interest(10**26, Y) == expected == 1_105_162_042_821_782_412_575_504_000
    assert round(expected / RAY, 6) == 1.105162  # float only to show the documented figure
    # It under-accrues compared with continuous compounding (e^0.1 = 1.10517...).
    assert expected < 1_105_170_918 * 10**18


def test_compounded_interest_small_dt() -> None:
    r = 10**26
    assert compounded_interest(r, 0) == RAY
    assert compounded_interest(r, 1) == RAY + r // Y  # dt - 1 = 0 kills t2 and t3
    b2 = 10_055_109_076
    assert compounded_interest(r, 2) == RAY + 2 * r // Y + 2 * 1 * b2 // 2  # t3 = 0 for dt <= 2
    assert compounded_interest(0, 10**6) == RAY


@given(st.integers(0, 10 * RAY), st.integers(0, 10 * Y))
def test_compounding_never_below_linear(rate: int, dt: int) -> None:
    # The expansion adds non-negative terms to the linear one.
    assert compounded_interest(rate, dt) >= linear_interest(rate, dt)
