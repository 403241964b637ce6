"""Liquidation arithmetic (spec §5.4): how much collateral a repayment buys.

The liquidator repays ``debt_to_cover`` of the debt asset and receives that value, plus
the collateral reserve's bonus, in collateral. When the position holds less collateral
than that, all of it is taken and the repayment shrinks to match.
"""

from __future__ import annotations

from .errors import ProtocolError
from .wadray import percent_div, percent_mul


def collateral_to_seize(
    collateral_price: int,
    debt_price: int,
    collateral_decimals: int,
    debt_decimals: int,
    bonus: int,
    debt_to_cover: int,
    user_collateral: int,
) -> tuple[int, int]:
    """``(collateral to seize, debt that buys it)``, in the two assets' base units.

    A collateral price of 0 (a fallback oracle without a price for it) divides by zero, as
    in the contracts: ``panic:0x12``.
    """
    if collateral_price == 0:
        raise ProtocolError("panic:0x12")
    max_collateral = percent_mul(debt_price * debt_to_cover * 10**collateral_decimals, bonus) // (
        collateral_price * 10**debt_decimals
    )
    if max_collateral > user_collateral:
        debt_needed = percent_div(
            collateral_price * user_collateral * 10**debt_decimals // (debt_price * 10**collateral_decimals),
            bonus,
        )
        return user_collateral, debt_needed
    return max_collateral, debt_to_cover
