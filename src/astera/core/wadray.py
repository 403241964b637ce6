"""Fixed-point arithmetic of the protocol (spec §1): wad, ray, basis points, interest.

Each function reproduces the audited libraries to the wei, including their refusals:
a product that would not fit in a uint256 raises ``34`` (MATH_MULTIPLICATION_OVERFLOW),
a division by zero ``33``. Rounding is half-up unless the name says otherwise. The signed
variants used by the PI controller round half away from zero and truncate toward zero,
as Solidity's ``int256`` division does (Python's ``//`` floors, so it is not used there).
"""

from __future__ import annotations

from typing import Final

from .errors import DIVISION_BY_ZERO, MULTIPLICATION_OVERFLOW, ProtocolError, overflow

UINT256_MAX: Final = (1 << 256) - 1
UINT128_MAX: Final = (1 << 128) - 1
INT256_MAX: Final = (1 << 255) - 1
INT256_MIN: Final = -(1 << 255)

WAD: Final = 10**18
HALF_WAD: Final = WAD // 2
RAY: Final = 10**27
HALF_RAY: Final = RAY // 2
WAD_RAY_RATIO: Final = 10**9
PERCENTAGE_FACTOR: Final = 10_000
HALF_PERCENT: Final = PERCENTAGE_FACTOR // 2
SECONDS_PER_YEAR: Final = 365 * 24 * 3600

_MUL_OVERFLOW = MULTIPLICATION_OVERFLOW
_DIV_ZERO = DIVISION_BY_ZERO


def wad_mul(a: int, b: int) -> int:
    """``a·b / 1e18``, half-up."""
    if a == 0 or b == 0:
        return 0
    p = a * b + HALF_WAD
    if p > UINT256_MAX:
        raise ProtocolError(_MUL_OVERFLOW)
    return p // WAD


def wad_div(a: int, b: int) -> int:
    """``a·1e18 / b``, half-up."""
    if b == 0:
        raise ProtocolError(_DIV_ZERO)
    p = a * WAD + (b >> 1)
    if p > UINT256_MAX:
        raise ProtocolError(_MUL_OVERFLOW)
    return p // b


def ray_mul(a: int, b: int) -> int:
    """``a·b / 1e27``, half-up (the index and rate product)."""
    if a == 0 or b == 0:
        return 0
    p = a * b + HALF_RAY
    if p > UINT256_MAX:
        raise ProtocolError(_MUL_OVERFLOW)
    return p // RAY


def ray_div(a: int, b: int) -> int:
    """``a·1e27 / b``, half-up (amount → scaled amount)."""
    if b == 0:
        raise ProtocolError(_DIV_ZERO)
    p = a * RAY + (b >> 1)
    if p > UINT256_MAX:
        raise ProtocolError(_MUL_OVERFLOW)
    return p // b


def ray_div_up(a: int, b: int) -> int:
    """``floor(a·1e27 / b) + 1``: adds one even when the division is exact."""
    if b == 0:
        raise ProtocolError(_DIV_ZERO)
    p = a * RAY + b
    if p > UINT256_MAX:
        raise ProtocolError(_MUL_OVERFLOW)
    return p // b


def wad_div_up(a: int, b: int) -> int:
    """``floor(a·1e18 / b) + 1``: adds one even when the division is exact."""
    if b == 0:
        raise ProtocolError(_DIV_ZERO)
    p = a * WAD + b
    if p > UINT256_MAX:
        raise ProtocolError(_MUL_OVERFLOW)
    return p // b


def div_up(a: int, b: int) -> int:
    """True ceiling of ``a / b`` (0 when a is 0)."""
    if a == 0:
        return 0
    if b == 0:
        raise ProtocolError("panic:0x12")
    return (a - 1) // b + 1


def ray_to_wad(a: int) -> int:
    """Ray → wad, half-up."""
    return (a + WAD_RAY_RATIO // 2) // WAD_RAY_RATIO


def wad_to_ray(a: int) -> int:
    """Wad → ray, exact."""
    r = a * WAD_RAY_RATIO
    if r > UINT256_MAX:
        raise overflow()
    return r


def percent_mul(value: int, percentage: int) -> int:
    """``value · bps / 10000``, half-up."""
    if value == 0 or percentage == 0:
        return 0
    p = value * percentage + HALF_PERCENT
    if p > UINT256_MAX:
        raise ProtocolError(_MUL_OVERFLOW)
    return p // PERCENTAGE_FACTOR


def percent_div(value: int, percentage: int) -> int:
    """``value · 10000 / bps``, half-up."""
    if percentage == 0:
        raise ProtocolError(_DIV_ZERO)
    p = value * PERCENTAGE_FACTOR + (percentage >> 1)
    if p > UINT256_MAX:
        raise ProtocolError(_MUL_OVERFLOW)
    return p // percentage


def percent_div_up(value: int, percentage: int) -> int:
    """``floor(value · 10000 / bps) + 1``: adds one even when exact."""
    if percentage == 0:
        raise ProtocolError(_DIV_ZERO)
    p = value * PERCENTAGE_FACTOR + percentage
    if p > UINT256_MAX:
        raise ProtocolError(_MUL_OVERFLOW)
    return p // percentage


# ---- signed (PI controller) -------------------------------------------------------------


def tdiv(a: int, b: int) -> int:
    """Solidity ``int256`` division: truncates toward zero."""
    if b == 0:
        raise ProtocolError("panic:0x12")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _int_check(x: int) -> int:
    if x > INT256_MAX or x < INT256_MIN:
        raise overflow()
    return x


def ray_mul_int(a: int, b: int) -> int:
    """Signed ray product, rounded half away from zero."""
    p = _int_check(a * b)
    if p > 0:
        return tdiv(_int_check(p + HALF_RAY), RAY)
    if p < 0:
        return tdiv(_int_check(p - HALF_RAY), RAY)
    return 0


def ray_div_int(a: int, b: int) -> int:
    """Signed ray quotient, rounded half away from zero."""
    h = tdiv(b, 2)
    num = _int_check(a * RAY)
    if (a >= 0) == (b >= 0) or a == 0:
        return tdiv(_int_check(num + h), b)
    return tdiv(_int_check(num - h), b)


def ray_pow_int(base: int, n: int) -> int:
    """``base**n`` in signed ray, as a left fold of :func:`ray_mul_int`."""
    if n == 0:
        return RAY
    r = base
    for _ in range(n - 1):
        r = ray_mul_int(r, base)
    return r


# ---- interest accumulation (MathUtils) -------------------------------------------------


def linear_interest(rate: int, dt: int) -> int:
    """Supply-side growth factor over ``dt`` seconds: ``1 + rate·dt / year`` (ray)."""
    return RAY + rate * dt // SECONDS_PER_YEAR


def compounded_interest(rate: int, dt: int) -> int:
    """Debt-side growth factor over ``dt`` seconds: ``(1 + rate/year)^dt`` to the cubic term."""
    if dt == 0:
        return RAY
    b2 = ray_mul(rate, rate) // (SECONDS_PER_YEAR * SECONDS_PER_YEAR)
    b3 = ray_mul(b2, rate) // SECONDS_PER_YEAR
    t2 = dt * (dt - 1) * b2 // 2
    t3 = dt * (dt - 1) * (dt - 2 if dt > 2 else 0) * b3 // 6
    return RAY + rate * dt // SECONDS_PER_YEAR + t2 + t3
