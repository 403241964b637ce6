"""Amounts, prices, rates and health factors as a person reads and types them.

Parsing is exact: a whole-token amount such as ``"1,250.5"`` becomes base units by string
arithmetic on its digits (never a float), and anything that is not a plain non-negative
decimal with at most the asset's decimals is refused with an :class:`AmountError` saying
why (``1e3``, ``-1``, ``0.0000001`` USDC, ``1,5``). Formatting rounds in the direction
that is safe for the reader: a *most you can* figure rounds down (typing it back works),
a *needs* figure rounds up; ``exact`` keeps every digit.
"""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal, localcontext
from typing import Final, Literal

from astera.core.wadray import RAY, SECONDS_PER_YEAR, UINT256_MAX, ray_mul

#: How a displayed figure is rounded: ``down`` for maxima, ``up`` for requirements.
Rounding = Literal["down", "up", "exact"]

#: USD values in the protocol carry 8 decimals (the oracle's base currency unit).
USD_DECIMALS: Final = 8
#: Significant digits shown for a rounded token amount.
SIGNIFICANT: Final = 6

_AMOUNT_RE: Final = re.compile(r"^(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.(?P<frac>[0-9]+))?$")
_MODES: Final = {"down": ROUND_DOWN, "up": ROUND_UP}


class AmountError(ValueError):
    """A typed amount that cannot be turned into base units; ``code`` is stable, the message
    says why and what to type instead."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_amount(text: str, decimals: int, symbol: str = "") -> int:
    """Whole tokens (``"1.5"``, ``"12,750"``) to base units, exactly.

    Codes: ``amount:empty``, ``amount:negative``, ``amount:exponent``, ``amount:not_a_number``,
    ``amount:too_many_decimals``, ``amount:too_large``.
    """
    s = text.strip()
    unit = f" {symbol}" if symbol else ""
    if not s:
        raise AmountError("amount:empty", "no amount given")
    if s[0] in "-−":
        raise AmountError("amount:negative", f"{text!r} is negative: amounts are 0 or more")
    if s[0] == "+":
        s = s[1:]
    m = _AMOUNT_RE.match(s)
    if m is None or not (m["int"] or m["frac"]):
        if re.fullmatch(r"[0-9.,]*[eE][+-]?[0-9]+", s):
            raise AmountError(
                "amount:exponent", f"{text!r} uses an exponent: write the number out (e.g. 1000, not 1e3)"
            )
        raise AmountError(
            "amount:not_a_number",
            f"{text!r} is not an amount: use digits with an optional decimal point (e.g. 1250.5)",
        )
    whole, frac = m["int"].replace(",", ""), (m["frac"] or "").rstrip("0")
    if len(frac) > decimals:
        raise AmountError(
            "amount:too_many_decimals",
            f"{text}{unit} has {len(frac)} decimals; the asset has {decimals}"
            f" (smallest step {tokens(1, decimals, symbol, 'exact')})",
        )
    units: int = int(whole or "0") * 10**decimals + int(frac.ljust(decimals, "0") or "0")
    if units > UINT256_MAX:
        raise AmountError("amount:too_large", f"{text}{unit} is larger than any balance can be")
    return units


def parse_amount_or_max(text: str, decimals: int, symbol: str = "") -> int | Literal["max"]:
    """:func:`parse_amount`, or ``"max"`` passed through (everything, where the action allows it)."""
    return "max" if text.strip().lower() == "max" else parse_amount(text, decimals, symbol)


def _decimal(units: int, decimals: int) -> Decimal:
    return Decimal(units).scaleb(-decimals)


def _show(value: Decimal, places: int, rounding: Rounding) -> str:
    if rounding != "exact":
        with localcontext() as ctx:
            ctx.prec = 200
            value = value.quantize(Decimal(1).scaleb(-places), rounding=_MODES[rounding])
    text = f"{value:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def tokens(units: int, decimals: int, symbol: str = "", rounding: Rounding = "down") -> str:
    """Base units as whole tokens: ``12,750 USDC``, ``3.41415 WETH``, ``0.001265 USDC``.

    Rounded figures keep :data:`SIGNIFICANT` significant digits (at least two decimals, never
    more than the asset has); ``exact`` keeps them all.
    """
    value = _decimal(units, decimals)
    if rounding == "exact" or value == 0:
        text = _show(value, decimals, "exact")
    else:
        magnitude = value.copy_abs().adjusted()  # 4 for 12,750; -3 for 0.001265
        places = max(2, SIGNIFICANT - 1 - magnitude)
        text = _show(value, min(places, decimals), rounding)
    return f"{text} {symbol}" if symbol else text


def usd(value: int, rounding: Rounding = "down") -> str:
    """A USD value with 8 decimals: whole dollars from $1,000 (``$133,334``), else cents."""
    d = _decimal(value, USD_DECIMALS)
    if rounding == "exact":
        text = _show(d, USD_DECIMALS, "exact")
    else:
        places = 0 if d.copy_abs() >= 1000 else 2
        text = f"{d.quantize(Decimal(1).scaleb(-places), rounding=_MODES[rounding]):,f}"
    return f"-${text[1:]}" if text.startswith("-") else f"${text}"


#: Suffixes :func:`usd_short` scales by, largest first.
_SCALES: Final = ((10**12, "T"), (10**9, "B"), (10**6, "M"))


def usd_short(value: int) -> str:
    """A USD value (8 decimals) in at most eight characters, for narrow tables: :func:`usd`
    below $1M (``$94,597``), above it three significant digits and M, B or T, cut toward
    zero (``$1.23M``, ``$456B``)."""
    d = _decimal(value, USD_DECIMALS)
    for scale, suffix in _SCALES:
        if d.copy_abs() >= scale:
            scaled = d.scaleb(-len(str(scale)) + 1)
            places = max(0, 2 - scaled.copy_abs().adjusted())
            text = f"{scaled.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):f}{suffix}"
            return f"-${text[1:]}" if text.startswith("-") else f"${text}"
    return usd(value)


def price(value: int) -> str:
    """An oracle price (USD, 8 decimals): cents from $1 (``$3,700.00``), every digit below."""
    d = _decimal(value, USD_DECIMALS)
    if d >= 1:
        return f"${d.quantize(Decimal('0.01'), rounding=ROUND_DOWN):,f}"
    text = _show(d, USD_DECIMALS, "exact")
    return "$" + (text + "0" if len(text) == 3 else text)


#: Health factors above this read as "above 1,000": only a dust debt gives them, and a figure
#: like 170,114,942.52 tells a person nothing the words do not.
HF_SHOWN_MAX: Final = 1_000


def health_factor(wad: int, places: int = 2) -> str:
    """A health factor (wad) to two decimals (or ``places``), rounded down (so below 1 never
    reads as 1.00); ``∞`` without debt, ``above 1,000`` beyond :data:`HF_SHOWN_MAX`."""
    if wad >= UINT256_MAX:
        return "∞"
    if wad > HF_SHOWN_MAX * 10**18:
        return f"above {HF_SHOWN_MAX:,}"
    return f"{_decimal(wad, 18).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN):,f}"


def bps(value: int) -> str:
    """Basis points as a percentage: ``7500`` -> ``75%``, ``10800`` -> ``108%``."""
    return _show(_decimal(value, 2), 2, "exact") + "%"


def percent_ray(value: int, places: int = 2) -> str:
    """A ray fraction (rate per year, utilization) as a percentage with two decimals (or
    ``places``)."""
    d = _decimal(value, 25)
    return f"{d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN):,f}%"


def supply_apy(liquidity_rate: int) -> int:
    """Supply APY (ray): aTokens accrue linearly at the liquidity rate, so APY = the rate."""
    return liquidity_rate


def borrow_apy(variable_borrow_rate: int) -> int:
    """Borrow APY (ray): debt compounds every second, ``(1 + rate/year)^year - 1``, computed
    with ray multiplication by squaring."""
    base, n, result = RAY + variable_borrow_rate // SECONDS_PER_YEAR, SECONDS_PER_YEAR, RAY
    while n:
        if n & 1:
            result = ray_mul(result, base)
        base = ray_mul(base, base)
        n >>= 1
    return result - RAY
