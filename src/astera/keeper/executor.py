"""Carry out a planned liquidation: pay, liquidate, sell the collateral, all or nothing.

:class:`Submitter` is the seam between the keeper and whatever runs the protocol. The
in-process implementation, :class:`InProcessSubmitter`, calls
:meth:`astera.core.Protocol.liquidate` directly; the node (a later issue) implements the
same protocol by signing and sending the transaction. Liquidation is permissionless: the
liquidator is any registered account.

Two ways to fund the repayment:

* **own balances**: the liquidator holds the debt asset (or its underlying, for a tranche);
* **flash loan**: the pool lends the repayment for the span of a callback
  (:meth:`astera.core.Protocol.flash_loan`, mode 0) in which the keeper liquidates and sells;
  the loan plus its premium is pulled back afterwards. The premium is a cost the planner
  prices in (:meth:`InProcessSubmitter.premium_bps`).

The sale goes through the :class:`~astera.keeper.market.Market`. The market is outside the
protocol's token ledger, so a sale debits what was sold from the liquidator's wallet and
credits what was bought. A sale that would return less than the plan's cost is refused by
the venue (:class:`~astera.keeper.market.SlippageExceeded`), and the whole liquidation is
rolled back with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple
from typing import Protocol as Interface

from astera.core import Protocol
from astera.core.minipool import MiniPool

from .market import Market
from .monitor import PoolRef
from .planner import LiquidationPlan, deposit_for_shares


class FlashLiquidityShort(Exception):
    """The lending pool holds less cash than the flash loan would take."""


class HeldBack(Exception):
    """The submitter declines, unsent, a plan it has already reported it cannot carry out, for a
    reason that still holds (the keeper holds as little of the debt asset as when it said so):
    the account waits; nothing is reported or counted again."""


class Outcome(NamedTuple):
    """What a submitted liquidation did, as the submitter saw it."""

    #: Debt repaid and collateral seized, in the reserves' units (from the ``LiquidationCall`` event).
    debt_repaid: int
    collateral_taken: int
    #: What reached the liquidator's wallet (``receive_asset``), and what its sale returned (``pay_asset``).
    received: int
    proceeds: int


class Execution(NamedTuple):
    """A liquidation the engine carried out: the plan, its :class:`Outcome`'s figures, and the
    liquidated account's health factor right after it (the engine values it exactly)."""

    plan: LiquidationPlan
    debt_repaid: int
    collateral_taken: int
    received: int
    proceeds: int
    health_factor_after: int

    @property
    def profit(self) -> int:
        """Proceeds left after paying the repayment and the funding premium, in ``pay_asset`` units."""
        return self.proceeds - self.plan.cost


class Submitter(Interface):
    """Executes planned liquidations on behalf of one liquidator."""

    liquidator: str

    def premium_bps(self, pool: PoolRef, pay_asset: str) -> int:
        """Funding cost of paying ``pay_asset`` for a liquidation in ``pool``, in bps."""
        ...

    def submit(self, plan: LiquidationPlan) -> Outcome:
        """Execute ``plan`` atomically; raises (and changes nothing) if it cannot."""
        ...


class InProcessSubmitter:
    """Liquidates against an in-process :class:`~astera.core.Protocol`."""

    def __init__(
        self, protocol: Protocol, liquidator: str, market: Market, *, flash_loan: bool = False
    ) -> None:
        self.protocol = protocol
        self.liquidator = liquidator
        self.market = market
        self.flash_loan = flash_loan

    def _lender(self, pool: PoolRef, pay_asset: str) -> PoolRef:
        """Which pool flash-lends ``pay_asset``: the Mini-Pool for its own unique assets, else the Core."""
        if pool != "core" and pay_asset in self.protocol.pool(pool).by_key:
            mp = self.protocol.pool(pool)
            assert isinstance(mp, MiniPool)
            if mp.by_key[pay_asset].tranche_of is None:
                return pool
        return "core"

    def premium_bps(self, pool: PoolRef, pay_asset: str) -> int:
        return self.protocol.pool(self._lender(pool, pay_asset)).flash_premium if self.flash_loan else 0

    def submit(self, plan: LiquidationPlan) -> Outcome:
        if self.flash_loan and plan.pay_amount:  # a write-off pays nothing: nothing to borrow
            return self._flash_liquidate(plan)
        return self.protocol.atomic(self._liquidate_and_sell, plan)

    def _flash_liquidate(self, plan: LiquidationPlan) -> Outcome:
        """Liquidate and sell inside a flash loan of the repayment (repaid with its premium after)."""
        p = self.protocol
        lender = p.pool(self._lender(plan.pool, plan.pay_asset))
        cash = lender.cash(lender.reserve((plan.pay_asset, True) if lender is p.core else plan.pay_asset))
        if cash < plan.pay_amount:  # the core lets a flash loan exceed the cash
            raise FlashLiquidityShort(f"{lender.name} lends at most {cash} {plan.pay_asset}")
        outcomes: list[Outcome] = []

        def receive(
            assets: Sequence[str], amounts: Sequence[int], premiums: Sequence[int], initiator: str
        ) -> bool:
            outcomes.append(self._liquidate_and_sell(plan))
            return True

        p.flash_loan(
            self.liquidator,
            self.liquidator,
            receive,
            [plan.pay_asset],
            [plan.pay_amount],
            [0],
            pool=self._lender(plan.pool, plan.pay_asset),
        )
        return outcomes[0]

    def _liquidate_and_sell(self, plan: LiquidationPlan) -> Outcome:
        """Inside a transaction: liquidate, then sell what was received."""
        p, me = self.protocol, self.liquidator
        if plan.mints_shares:
            # Tranche debt is repaid in Core aToken shares: mint them by depositing the underlying.
            tranche = p.pool(plan.pool).reserve(plan.debt).tranche_of
            assert tranche is not None
            p.deposit(
                me, plan.pay_asset, deposit_for_shares(tranche.normalized_income(p.now), plan.debt_repaid)
            )
        before = p.wallet(plan.receive_asset, me)
        events = p.liquidate(
            me,
            plan.user,
            plan.collateral,
            plan.debt,
            plan.debt_to_cover,
            receive_a_token=plan.write_off,
            pool=plan.pool,
            unwrap=plan.unwrap,
            collateral_type=plan.collateral_type,
            debt_type=plan.debt_type,
        )
        for call in events:
            if call.name == "LiquidationCall":
                break
        else:
            raise AssertionError("a liquidation without a LiquidationCall event")
        if plan.write_off:  # nothing received, nothing to sell
            return Outcome(call.fields["debt_to_cover"], call.fields["liquidated_collateral"], 0, 0)
        received = p.wallet(plan.receive_asset, me) - before
        # A sale below the cost is refused before the venue moves, and the liquidation rolls back.
        proceeds = self.market.swap(plan.receive_asset, received, plan.pay_asset, min_out=plan.cost)
        if plan.receive_asset != plan.pay_asset:
            p.wallet_debit(plan.receive_asset, me, received)
            p.wallet_credit(plan.pay_asset, me, proceeds)
        return Outcome(call.fields["debt_to_cover"], call.fields["liquidated_collateral"], received, proceeds)
