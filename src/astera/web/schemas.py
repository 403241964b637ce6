"""What the web app's JSON endpoints answer, as Pydantic models for the OpenAPI document.

The same conventions as the node's API (:mod:`astera.node.schemas`, whose named integer types
and error envelope these reuse): the routes build plain JSON (:mod:`.curves`, :mod:`.health`,
:mod:`.risk`, :mod:`.feed`, :mod:`astera.lab.ladder`) and these models describe it for
``/openapi.json`` and the clients generated from it; answers are not re-validated on the way
out, and ``tests/web/test_web_schemas.py`` holds every route's real answers to its schema.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, RootModel
from pydantic.json_schema import SkipJsonSchema

from astera.node.schemas import (
    Account,
    AccountTotals,
    Amount,
    Answer,
    DecimalInt,
    ErrorDetail,
    Event,
    Hex64,
    KeeperStatus,
    PoolRef,
    ProtocolRefusal,
    Ray,
    SimulatedReserve,
    Usd,
    Wad,
    absent,
)

# ---- reserves ---------------------------------------------------------------------------------------


class RatePoint(Answer):
    utilization: Ray
    supply_rate: Ray
    borrow_rate: Ray


class RateController(Answer):
    """A PI rate strategy's state: its integral error and when it last moved."""

    err_i: Annotated[str, Field(pattern=r"^-?[0-9]+$", description="Ray, below 0 when below target.")]
    last_timestamp: int


class RateCurve(Answer):
    """A reserve's rate strategy run at 0-100 % utilization, and where the reserve is now."""

    asset: str
    floor: Ray | None = Field(
        description="A tranche's minimum supply rate while its Mini-Pool owes the Core."
    )
    model: str = Field(description='The strategy: "default" (two slopes) or "pi" (a PI controller).')
    params: dict[str, str] = Field(description="The strategy's parameters; integers as decimal strings.")
    controller: RateController | None = Field(description="A PI strategy's state; null for the others.")
    current: RatePoint
    points: list[RatePoint]


class HistorySample(Answer):
    height: int
    timestamp: int
    utilization: Ray
    supply_rate: Ray
    borrow_rate: Ray
    price: Usd | None = Field(description="Null when the feed was stale.")


class ReserveHistory(Answer):
    pool: str
    asset: str
    complete: bool = Field(description="False while the samples before the node started are rebuilt.")
    samples: list[HistorySample]


class OracleAnswer(Answer):
    answer: Usd | None = Field(description="The feed's last price; null if it never answered.")
    updated_at: int | None
    timeout: int = Field(description="Seconds after which the feed is stale (0: never).")
    fallback: Usd | None


class Oracle(RootModel[dict[str, OracleAnswer]]):
    """Every asset's feed, by asset."""


# ---- accounts ---------------------------------------------------------------------------------------


class Health(AccountTotals):
    """An account's health in one pool, or why the protocol cannot value it (``error``)."""

    liquidatable: bool | SkipJsonSchema[None] = absent()


class Refused(Answer):
    refused: ProtocolRefusal = Field(
        description="The protocol refused the change: nothing is shown after it."
    )


class SameValue(Health):
    """The health after repaying or depositing ``amount`` of ``asset``, or the refusal."""

    asset: str
    amount: Amount
    refused: ProtocolRefusal | SkipJsonSchema[None] = absent("The protocol refused the action.")


class ValueWhatIf(Answer):
    now: Health
    repay: list[SameValue]
    deposit: list[SameValue]


class WhatIfAnswer(Answer):
    address: Hex64
    timestamp: int
    prices: dict[str, Health] | Refused = Field(
        description="By pool the account is in, its health under the prices asked (or the refusal)."
    )
    value: dict[str, ValueWhatIf] | SkipJsonSchema[None] = absent(
        "With value_usd: by pool, the same USD value as a repayment of each debt or as a deposit "
        "of each collateral."
    )


class PreviewAnswer(Answer):
    """An unsigned transaction run on the next block and rolled back."""

    action: str
    refused: ErrorDetail | None = Field(description="As POST /txs would refuse it; null when it would pass.")
    events: list[Event] | SkipJsonSchema[None] = absent("When it would pass.")
    account: Account | SkipJsonSchema[None] = absent("When it would pass: the sender after it.")
    reserve: SimulatedReserve | None | SkipJsonSchema[None] = absent(
        "When it would pass: the reserve it names, after it."
    )


class MaxAmountAnswer(Answer):
    """The most an action takes at the next block's time, exact in base units."""

    action: str
    pool: PoolRef
    asset: str
    timestamp: int = Field(description="The next block's time: the figures are from it on.")
    until: int = Field(
        description="The amount is accepted by any block from timestamp to this time (interest moves it)."
    )
    amount: Amount | None = Field(description="Null: the action takes nothing now.")
    whole: bool = Field(
        description="The amount is all of the balance (withdraw) or debt (repay): send amount "
        '"max" to move all of it, interest accrued until the block included.'
    )
    limits: dict[str, Amount] = Field(
        description="What bounds the action, each as the base units it alone allows: borrowing_power, "
        "cash, credit_line, supplied, debt, wallet, core_shares, deposit_cap."
    )
    protocol_amount: Amount | None = Field(
        description="With keep_health_factor: the most the protocol itself accepts, where the health "
        "factor target cut the amount; null when it did not."
    )


# ---- liquidations and risk --------------------------------------------------------------------------


class Liquidation(Answer):
    seq: int
    height: int
    pool: PoolRef
    user: Hex64
    liquidator: Hex64
    debt_asset: str
    debt_repaid: Amount
    collateral_asset: str
    collateral_seized: Amount
    bonus: Amount | None = Field(
        description="The part of the seized collateral that is the liquidator's bonus."
    )


class LiquidationFeed(Answer):
    items: list[Liquidation] = Field(description="Newest first.")
    keeper: KeeperStatus | None = Field(description="The node's own keeper; null when it runs none.")


class Closest(Answer):
    address: Hex64
    health_factor: Wad
    collateral_usd: Usd
    debt_usd: Usd


class BadDebt(Answer):
    asset: str
    amount: Amount


class PoolRisk(Answer):
    pool: PoolRef
    borrowers: int
    unpriced: int = Field(description="Borrowers the protocol cannot value (a stale feed).")
    liquidatable: int
    closest: list[Closest] = Field(description="The borrowers closest to liquidation, lowest health first.")
    hf_buckets: list[Wad] = Field(description="The histogram's upper bounds.")
    hf_histogram: list[int]
    underwater_usd: Usd = Field(
        description="Debt beyond the collateral of accounts that owe more than they hold."
    )
    bad_debt: list[BadDebt] = Field(description="Debt left on accounts without collateral, per reserve.")


class CreditLineUse(Answer):
    asset: str
    flow_debt: Amount
    flow_debt_usd: Usd


class Exposure(Answer):
    """What the Core-Pool has lent a Mini-Pool, and the collateral behind that Mini-Pool."""

    mini_pool: int
    lines: list[CreditLineUse]
    flow_debt_usd: Usd
    collateral_usd: Usd


class Risk(Answer):
    height: int = Field(description="The block the view was computed at.")
    timestamp: int
    pools: list[PoolRisk]
    exposure: list[Exposure]


class LadderReserve(Answer):
    liquidatable_debt: Amount
    debt_repaid: Amount
    bad_debt: Amount


class LadderTotal(Answer):
    """USD with 8 decimals at the shocked prices, and counts."""

    liquidatable_accounts: DecimalInt
    liquidatable_debt: Usd
    liquidations: DecimalInt
    debt_repaid: Usd
    collateral_seized: Usd
    slippage: Usd
    bad_debt: Usd = Field(description="Σ max(0, debt − collateral) over the accounts after the keeper.")
    bad_debt_accounts: DecimalInt
    no_collateral_debt: Usd = Field(
        description="The part of the bad debt on accounts with no collateral left."
    )
    stuck_debt: Usd = Field(
        description="Debt still below HF 1 whose collateral the keeper could not sell at a profit."
    )


class LadderPool(LadderTotal):
    reserves: dict[str, LadderReserve] = Field(description="Per debt reserve, in its base units.")


class Rung(Answer):
    shock_bps: DecimalInt
    price: Usd = Field(description="The shocked oracle price.")
    total: LadderTotal
    pools: dict[str, LadderPool]


class LadderMarket(Answer):
    model: Literal["constant_product"]
    depth_usd: Usd
    fee_bps: DecimalInt


class ShockLadder(Answer):
    """Each collateral asset's price cut by each rung, liquidated by the keeper, what is left
    (format ``astera-shock-ladder/1``, every integer a decimal string; astera.lab.ladder)."""

    height: int = Field(description="The block the ladder was computed at (it may be up to 30 s old).")
    format: Literal["astera-shock-ladder/1"]
    timestamp: DecimalInt
    state_hash: Hex64
    rungs_bps: list[DecimalInt]
    market: LadderMarket
    assets: dict[str, list[Rung]] = Field(description="One rung per entry of rungs_bps, in order.")
