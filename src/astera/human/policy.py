"""A pool's liquidation policy (:mod:`astera.core.liquidation_policy`) in plain words, for a
borrower: what a liquidation of their account may take, and what happens to bad debt."""

from __future__ import annotations

from collections.abc import Iterable

from astera.core.liquidation_policy import LiquidationPolicy

from .amounts import bps, health_factor, usd


def policy_rules(policy: LiquidationPolicy, fees: Iterable[tuple[str, int]] = ()) -> list[str]:
    """One sentence per rule in force; ``fees`` are (asset, liquidation protocol fee bps)."""
    rules: list[str] = []
    if policy.dynamic_close_factor:
        rules.append(
            "a liquidation can close all of your debt in one asset below HF "
            f"{health_factor(policy.close_all_hf)} (or at it), or when that debt or the collateral "
            f"taken is worth less than {usd(policy.dust_base)}; otherwise at most half of it"
        )
        rules.append(
            f"a partial liquidation must leave at least {usd(policy.min_leftover_base)} of that debt "
            "and of that collateral"
        )
    else:
        rules.append("a liquidation can repay at most half of your debt in one asset at a time")
    if policy.target_health_factor:
        rules.append(
            "a liquidation repays no more than what brings your health factor back to "
            f"{health_factor(policy.target_health_factor)}"
        )
    if policy.deficit_accounting:
        rules.append(
            "if a liquidation takes all of your collateral, the debt left over is written off: you no "
            "longer owe it, and the pool records it as its deficit"
        )
    else:
        rules.append("debt left without collateral stays yours and keeps accruing interest")
    rules += [
        f"{bps(fee)} of the liquidation bonus on {asset} goes to the treasury" for asset, fee in fees if fee
    ]
    return rules
