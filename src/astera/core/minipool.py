"""Mini-Pools (spec §7): isolated markets that draw on the Core-Pool under a credit line.

A Mini-Pool runs the same lending logic as the Core (:class:`Pool`); this module holds
only what differs:

* reserves are keyed by name and tokenised as ERC-6909 ids (§7.2);
* a *tranche* reserve's asset is the Core aToken wrapper: its amounts are Core aToken
  shares, its cash is the shares the Mini-Pool's ERC-6909 contract holds in the Core,
  and its price is the underlying price times the Core income index (§7.3);
* a borrow beyond a tranche's liquidity flow-borrows the shortfall from the Core (§7.5);
* deposits, repays and liquidations first pay the Core back (§7.6), then sweep the
  surplus to the Astera treasury;
* while the Mini-Pool owes the Core, its tranche rates are floored against the Core's (§8.6);
* two reserve factors (Astera and owner) and a minimum reserve debt (§7.10).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import errors as E
from . import validation
from .errors import BalanceExceeded, ProtocolError
from .events import Event
from .pool import Pool
from .rates import apply_flow_floor
from .reserve import Reserve
from .wadray import ray_mul

if TYPE_CHECKING:
    from .core_pool import CorePool
    from .world import World

#: Self-deposit (wei of shares) the surplus sweep leaves behind.
ERROR_REMAINDER_MARGIN = 100_000
#: ``minDebtThreshold`` is expressed with this many decimals.
THRESHOLD_SCALING_DECIMALS = 6
#: The one Astera treasury all Mini-Pools pay their Astera reserve factor (and sweeps) to.
MINI_POOL_TREASURY = "minipool_treasury"
#: ERC-6909 id offsets (§7.2).
A_TOKEN_ID_BASE = 1000
DEBT_TOKEN_ID_BASE = 2000
UNIQUE_ID_OFFSET = 128


class MiniPool(Pool):
    """One Mini-Pool, with its admin, owner treasury and minimum-debt threshold."""

    __slots__ = ("core", "id", "erc6909", "owner_treasury", "min_debt_threshold", "admin", "unique_count")

    def __init__(self, world: World, core: CorePool, mp_id: int, admin: str) -> None:
        super().__init__(world, f"mini:{mp_id}", f"minipool:{mp_id}")
        #: The Core-Pool it borrows from and pays back.
        self.core = core
        self.id = mp_id
        self.erc6909 = f"erc6909:{mp_id}"
        self.owner_treasury = f"owner_treasury:{mp_id}"
        self.min_debt_threshold = 100
        self.admin = admin
        self.unique_count = 0

    # ---- hooks -------------------------------------------------------------------------------

    def price(self, r: Reserve) -> int:
        cr = r.tranche_of
        if cr is None:
            return self.world.oracle.price(r.asset, self.world.now)
        now = self.world.now
        return ray_mul(self.world.oracle.price(cr.asset, now), cr.normalized_income(now))

    def cash(self, r: Reserve) -> int:
        """The real balance of the reserve asset held by the ERC-6909 contract."""
        cr = r.tranche_of
        if cr is None:
            return self.world.wallet(r.asset, self.erc6909)
        return cr.a_scaled.get(self.erc6909, 0)

    def pay_in(self, r: Reserve, payer: str, amount: int) -> None:
        cr = r.tranche_of
        if cr is None:
            self.world.wallet_transfer(r.asset, payer, self.erc6909, amount)
        else:
            self.core.transfer_shares(cr, payer, self.erc6909, amount)

    def pay_out(self, r: Reserve, to: str, amount: int, unwrap: bool = False) -> None:
        cr = r.tranche_of
        if cr is None:
            self.world.wallet_transfer(r.asset, self.erc6909, to, amount)
        elif unwrap:
            core = self.core
            core._withdraw(self.erc6909, cr, core.shares_to_assets(cr, amount), to)
        else:
            self.core.transfer_shares(cr, self.erc6909, to, amount)

    def over_balance(self, r: Reserve, holder: str, held: int, amount: int) -> ProtocolError:
        """The ERC-6909 token (Solady) refuses an over-balance move with a custom error."""
        return BalanceExceeded(
            E.ERC6909_INSUFFICIENT_BALANCE, holder, f"a{r.asset} ({self.name})", held, amount, r.decimals
        )

    def over_burn(
        self, r: Reserve, holder: str, token: str, over_supply: bool, held: int, amount: int
    ) -> ProtocolError:
        """Solady's ``_burn`` checks the balance first (the supply is lowered after the move)."""
        return BalanceExceeded(
            E.ERC6909_INSUFFICIENT_BALANCE,
            holder,
            f"{token} ({self.name})",
            held,
            amount,
            r.decimals,
            burn=True,
        )

    def total_reserve_factor(self, r: Reserve) -> int:
        return r.reserve_factor + r.owner_reserve_factor

    def rate_adjust(self, r: Reserve, liquidity: int, borrow: int, utilization: int) -> tuple[int, int]:
        cr = r.tranche_of
        if cr is None or not cr.d_scaled.get(self.address):  # no Core debt: no current flow
            return liquidity, borrow
        return apply_flow_floor(
            liquidity,
            borrow,
            utilization,
            self.total_reserve_factor(r),
            cr.current_liquidity_rate,
            cr.current_variable_borrow_rate,
        )

    def min_debt(self, decimals: int) -> int:
        """Smallest total debt a reserve may carry once it has debt (§7.10): ``min_debt_threshold``
        whole units of a 6-decimal asset, scaled to the reserve's decimals; 0 below 6."""
        if decimals < THRESHOLD_SCALING_DECIMALS:
            return 0
        return int(self.min_debt_threshold * 10 ** (decimals - THRESHOLD_SCALING_DECIMALS))

    def check_no_liquidity(self, r: Reserve) -> None:
        """The Mini-Pool configurator looks at shares instead of cash: no aToken or debt-token
        supply, and no liquidity rate (``24``)."""
        if r.a_scaled_total or r.d_scaled_total or r.current_liquidity_rate:
            raise ProtocolError(E.RESERVE_LIQUIDITY_NOT_0)

    # ---- Core synchronisation -------------------------------------------------------------------

    def tranche_for(self, core_reserve: Reserve) -> Reserve | None:
        for r in self.reserves:
            if r.tranche_of is core_reserve:
                return r
        return None

    def sync_tranche(self, core_reserve: Reserve) -> None:
        """``syncState``: re-accrue and re-rate the tranche after a Core rate change."""
        r = self.tranche_for(core_reserve)
        if r is not None:
            self.update_state(r)
            self.update_rates(r, 0, 0)

    # ---- actions that differ -----------------------------------------------------------------------

    def _deposit(self, user: str, r: Reserve, amount: int, on_behalf_of: str) -> list[Event]:
        events = super()._deposit(user, r, amount, on_behalf_of)
        self._repay_core(r)
        return events

    def _repay(self, user: str, r: Reserve, amount: int, on_behalf_of: str) -> list[Event]:
        events = super()._repay(user, r, amount, on_behalf_of)
        self._repay_core(r)
        return events

    def _liquidate(
        self,
        liquidator: str,
        coll: Reserve,
        debt_r: Reserve,
        target: str,
        debt_to_cover: int,
        receive_a_token: bool,
        unwrap: bool = False,
    ) -> list[Event]:
        events = super()._liquidate(
            liquidator, coll, debt_r, target, debt_to_cover, receive_a_token, unwrap and not receive_a_token
        )
        self._repay_core(debt_r)
        return events

    def _borrow(
        self, user: str, r: Reserve, amount: int, on_behalf_of: str, unwrap: bool = False
    ) -> list[Event]:
        available = self.cash(r)
        events: list[Event] = []
        if amount > available and r.tranche_of is not None:
            events.append(self._flow_borrow(r, r.tranche_of, amount - available))
        events += super()._borrow(user, r, amount, on_behalf_of, unwrap)
        return events

    def _flow_borrow(self, r: Reserve, cr: Reserve, shortfall: int) -> Event:
        """Borrow the shortfall from the Core, re-deposit it there, self-deposit the shares (§7.5)."""
        core = self.core
        assets = core.shares_to_assets(cr, shortfall)
        core._mini_pool_borrow(self, cr.asset, assets)
        received = self.world.wallet(cr.asset, self.address)
        core._deposit(self.address, cr, received, self.address)
        shares = cr.a_scaled.get(self.address, 0)
        if shares < shortfall:
            raise ProtocolError(E.ASSERTION_FAILED)
        validation.deposit(self, r, shares)
        self.update_state(r)
        self.update_rates(r, shares, 0)
        self.pay_in(r, self.address, shares)
        self.mint_a(r, self.address, shares, r.liquidity_index)  # self-deposit: no collateral bit
        return Event(
            "FlowBorrow",
            self.name,
            {"reserve": r.asset, "core_asset": cr.asset, "assets": assets, "shares": shares},
        )

    def _repay_core(self, r: Reserve) -> None:
        """``_repayLendingPool``: pay the Core back from returned liquidity, then sweep the surplus."""
        cr = r.tranche_of
        if cr is None:
            return
        core = self.core
        now = self.world.now
        debt_shares = core.assets_to_shares(cr, core.current_flow(cr.asset, self))
        if debt_shares != 0:
            amount = debt_shares
            available = self.cash(r)
            if amount > available:
                amount = available
            validation.withdraw_amount(r, amount, r.a_balance(self.address, now))
            self.update_state(r)
            self.update_rates(r, 0, amount)
            self.burn_a(r, self.address, amount, r.liquidity_index)
            self.pay_out(r, self.address, amount)
            core.check_not_paused()
            core._repay_with_a_tokens(self.address, cr, cr.a_balance(self.address, now))
        remainder = r.a_balance(self.address, now)
        if (
            core.current_flow(cr.asset, self) == 0
            and remainder > ERROR_REMAINDER_MARGIN
            and self.cash(r) > remainder - ERROR_REMAINDER_MARGIN
        ):
            self.check_not_paused()
            self._withdraw(self.address, r, remainder - ERROR_REMAINDER_MARGIN, MINI_POOL_TREASURY)
