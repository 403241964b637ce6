"""The lending logic shared by the Core-Pool and every Mini-Pool (spec §4, §5, §7.4).

Each entry point reads top to bottom as the contracts do it: validate on the pre-action
state (with view-accrued balances; the rules are in :mod:`astera.core.validation`),
``update_state``, mint or burn scaled tokens, update the rates with the pending cash
movement, move the cash, update the user's bits. The order matters to the wei (the PI
controller is stateful, rates are computed before the cash moves), so it is kept exactly.

What differs between the two kinds of pool is a small set of hooks overridden by
:class:`astera.core.minipool.MiniPool`: where cash is read (:meth:`Pool.cash`), how the
reserve asset moves in and out (:meth:`Pool.pay_in`, :meth:`Pool.pay_out`), prices, the
rate post-processing, and what runs after a rate update.

Methods prefixed ``_`` run inside the caller's transaction and assume validated input;
:class:`astera.core.protocol.Protocol` wraps them atomically for the public API. A pool
reaches time, prices and token wallets through the :class:`~astera.core.world.World` it is
given, and writes only through that world's journal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import errors as E
from . import validation
from .account import (
    account_data,
)
from .errors import BalanceExceeded, ProtocolError, overflow
from .events import Event
from .liquidation import collateral_to_seize
from .liquidation_policy import (
    CLOSE_FACTOR,
    LiquidationPolicy,
    check_leftover,
    max_repay,
    other_collateral,
    protocol_fee,
    rate_with_deficit,
    record_deficit,
    write_off,
)
from .reserve import Reserve
from .wadray import (
    PERCENTAGE_FACTOR,
    UINT128_MAX,
    UINT256_MAX,
    percent_mul,
    ray_div,
    ray_mul,
)

if TYPE_CHECKING:
    from .world import World

#: Highest reserve id a user bitmap can hold.
MAX_RESERVES = 128

#: Flash-loan receiver: called with (assets, amounts, premiums, initiator); must return True
#: after paying ``amount + premium`` back into its own wallet.
FlashReceiver = Callable[[Sequence[str], Sequence[int], Sequence[int], str], bool]


class Pool:
    """One pool: its reserves, its users' bitmaps, and the lending actions."""

    __slots__ = (
        "world",
        "name",
        "address",
        "reserves",
        "by_key",
        "user_config",
        "paused",
        "flash_premium",
        "liquidation_policy",
    )

    def __init__(self, world: World, name: str, address: str) -> None:
        self.world = world
        self.name = name
        self.address = address
        self.reserves: list[Reserve] = []
        self.by_key: dict[Any, Reserve] = {}
        self.user_config: dict[str, int] = {}
        self.paused = False
        self.flash_premium = 9
        #: Opt-in liquidation rules (None: the contracts' own, see liquidation_policy).
        self.liquidation_policy: LiquidationPolicy | None = None

    # ---- hooks (Core behaviour; the Mini-Pool overrides) ----------------------------------

    def price(self, r: Reserve) -> int:
        """Oracle price of one whole unit of the reserve's asset (USD, 8 decimals)."""
        return self.world.oracle.price(r.asset, self.world.now)

    def cash(self, r: Reserve) -> int:
        """Liquidity the rate strategy sees. Core: the aToken's tracked managed assets."""
        return r.cash

    def pay_in(self, r: Reserve, payer: str, amount: int) -> None:
        """Move ``amount`` of the reserve asset from ``payer`` into the reserve."""
        self.world.wallet_debit(r.asset, payer, amount)
        self.world.journal.setattr(r, "cash", r.cash + amount)

    def pay_out(self, r: Reserve, to: str, amount: int, unwrap: bool = False) -> None:
        """Move ``amount`` of the reserve asset out of the reserve to ``to``.

        Borrows and withdrawals were already checked by the rate strategy (``56``); a flash
        loan was not, and the aToken's checked ``_underlyingAmount -= amount`` underflows.
        """
        if amount > r.cash:
            raise overflow()
        self.world.journal.setattr(r, "cash", r.cash - amount)
        self.world.wallet_credit(r.asset, to, amount)

    def rate_adjust(self, r: Reserve, liquidity: int, borrow: int, utilization: int) -> tuple[int, int]:
        return liquidity, borrow

    def total_reserve_factor(self, r: Reserve) -> int:
        return r.reserve_factor

    def after_rates(self, r: Reserve) -> None:
        """Called once a reserve's new rates are stored."""

    # ---- user configuration bitmap (§2.4) -------------------------------------------------

    def is_collateral(self, user: str, r: Reserve) -> bool:
        return bool((self.user_config.get(user, 0) >> (2 * r.id + 1)) & 1)

    def is_borrowing(self, user: str, r: Reserve) -> bool:
        return bool((self.user_config.get(user, 0) >> (2 * r.id)) & 1)

    def _set_bit(self, user: str, bit: int, on: bool) -> None:
        cfg = self.user_config.get(user, 0)
        new = cfg | (1 << bit) if on else cfg & ~(1 << bit)
        if new != cfg:
            self.world.journal.set(self.user_config, user, new)

    def set_collateral_bit(self, user: str, r: Reserve, on: bool) -> None:
        self._set_bit(user, 2 * r.id + 1, on)

    def set_borrowing_bit(self, user: str, r: Reserve, on: bool) -> None:
        self._set_bit(user, 2 * r.id, on)

    # ---- reserve machinery -----------------------------------------------------------------

    def reserve(self, key: Any) -> Reserve:
        try:
            r = self.by_key.get(key)
        except TypeError:  # an unhashable key names no reserve
            r = None
        if r is None:
            raise E.InputError("input:unknown_reserve", f"{self.name}: {key!r}")
        return r

    def find(self, asset: object, reserve_type: bool = True) -> Reserve:
        """The reserve an action names: a Mini-Pool keys its reserves by name alone (the
        Core-Pool by asset and reserve type, see there)."""
        return self.reserve(asset)

    def update_state(self, r: Reserve) -> None:
        r.update_state(self.world.now, self.world.journal)

    def update_rates(self, r: Reserve, added: int, taken: int) -> None:
        """Recompute and store the reserve's rates for the pending cash movement (§3.3)."""
        strategy = r.strategy
        if strategy.stateful:
            self.world.journal.save(strategy)
        total_debt = ray_mul(r.d_scaled_total, r.variable_borrow_index)
        liquidity, borrow, u = strategy.calculate(
            self.cash(r), added, taken, total_debt, self.total_reserve_factor(r), self.world.now
        )
        liquidity, borrow = self.rate_adjust(r, liquidity, borrow, u)
        if r.deficit:
            liquidity = rate_with_deficit(liquidity, self.cash(r) + added - taken + total_debt, r.deficit)
        if liquidity > UINT128_MAX:
            raise ProtocolError(E.LIQUIDITY_RATE_OVERFLOW)
        if borrow > UINT128_MAX:
            raise ProtocolError(E.BORROW_RATE_OVERFLOW)
        self.world.journal.save(r)
        r.current_liquidity_rate = liquidity
        r.current_variable_borrow_rate = borrow
        self.after_rates(r)

    # ---- token primitives -------------------------------------------------------------------

    def _mint_scaled(self, balances: dict[str, int], holder: str, amount: int, index: int) -> tuple[int, int]:
        """Credit ``amount`` at ``index`` to a scaled balance (aToken or debt token): the
        scaled amount minted, and the holder's balance before. A mint of 0 scaled refuses."""
        scaled = ray_div(amount, index)
        if scaled == 0:
            raise ProtocolError(E.INVALID_MINT_AMOUNT)
        prev = balances.get(holder, 0)
        self.world.journal.set(balances, holder, prev + scaled)
        return scaled, prev

    def _burn_scaled(
        self, r: Reserve, balances: dict[str, int], total: int, holder: str, amount: int, index: int
    ) -> int:
        """Debit ``amount`` at ``index`` from a scaled balance of ``r``'s aToken or debt token
        (``total`` is that token's scaled supply); the scaled amount burnt. A burn of 0 scaled
        refuses (``36``); one beyond the balance is refused by the token (:meth:`over_burn`)."""
        scaled = ray_div(amount, index)
        if scaled == 0:
            raise ProtocolError(E.INVALID_BURN_AMOUNT)
        prev = balances.get(holder, 0)
        if scaled > prev:
            token = f"{r.asset} debt" if balances is r.d_scaled else f"a{r.asset}"
            raise self.over_burn(r, holder, token, scaled > total, ray_mul(prev, index), amount)
        self.world.journal.set(balances, holder, prev - scaled)
        return scaled

    def mint_a(self, r: Reserve, holder: str, amount: int, index: int) -> bool:
        """Mint aTokens worth ``amount``; returns whether the holder had none before."""
        scaled, prev = self._mint_scaled(r.a_scaled, holder, amount, index)
        self.world.journal.save(r)
        r.a_scaled_total += scaled
        return prev == 0

    def burn_a(self, r: Reserve, holder: str, amount: int, index: int) -> None:
        scaled = self._burn_scaled(r, r.a_scaled, r.a_scaled_total, holder, amount, index)
        self.world.journal.save(r)
        r.a_scaled_total -= scaled

    def mint_debt(self, r: Reserve, user: str, on_behalf_of: str, amount: int) -> bool:
        """Mint variable debt; a delegated borrow spends the delegator's allowance."""
        if user != on_behalf_of:
            allowance = r.borrow_allowance.get((on_behalf_of, user), 0)
            if allowance < amount:
                raise ProtocolError(E.BORROW_ALLOWANCE_NOT_ENOUGH)
            self.world.journal.set(r.borrow_allowance, (on_behalf_of, user), allowance - amount)
        scaled, prev = self._mint_scaled(r.d_scaled, on_behalf_of, amount, r.variable_borrow_index)
        self.world.journal.save(r)
        r.d_scaled_total += scaled
        return prev == 0

    def burn_debt(self, r: Reserve, user: str, amount: int) -> None:
        scaled = self._burn_scaled(r, r.d_scaled, r.d_scaled_total, user, amount, r.variable_borrow_index)
        self.world.journal.save(r)
        r.d_scaled_total -= scaled

    def move_a_scaled(self, r: Reserve, sender: str, to: str, scaled: int, amount: int) -> None:
        """Move ``scaled`` aToken units (``amount`` of underlying) from ``sender`` to ``to``;
        beyond the sender's balance the token refuses (:meth:`over_balance`)."""
        a = r.a_scaled
        prev = a.get(sender, 0)
        if scaled > prev:
            raise self.over_balance(r, sender, ray_mul(prev, r.normalized_income(self.world.now)), amount)
        j = self.world.journal
        j.set(a, sender, prev - scaled)
        j.set(a, to, a.get(to, 0) + scaled)

    def over_balance(self, r: Reserve, holder: str, held: int, amount: int) -> ProtocolError:
        """What the Core aToken's transfer raises when ``holder`` moves more than it holds:
        IncentivizedERC20's balance check, a reason string (vectors FORMAT §4.6)."""
        return BalanceExceeded(E.TRANSFER_EXCEEDS_BALANCE, holder, f"a{r.asset}", held, amount, r.decimals)

    def over_burn(
        self, r: Reserve, holder: str, token: str, over_supply: bool, held: int, amount: int
    ) -> ProtocolError:
        """What a Core aToken or debt-token burn raises beyond the holder's balance.

        IncentivizedERC20's ``_burn`` lowers the total supply (checked) before it checks the
        balance, so a burn beyond the whole supply panics and one beyond only the holder's
        balance reverts with the reason string.
        """
        if over_supply:
            return overflow()
        return BalanceExceeded(E.BURN_EXCEEDS_BALANCE, holder, token, held, amount, r.decimals, burn=True)

    def check_no_liquidity(self, r: Reserve) -> None:
        """The configurator's ``_checkNoLiquidity`` before a reserve is deactivated or stops
        being collateral: no cash in the aToken and no liquidity rate (``24``)."""
        if r.cash or r.current_liquidity_rate:
            raise ProtocolError(E.RESERVE_LIQUIDITY_NOT_0)

    def check_not_paused(self) -> None:
        if self.paused:
            raise ProtocolError(E.POOL_PAUSED)

    # ---- deposit (§4.1) -----------------------------------------------------------------------

    def _deposit(self, user: str, r: Reserve, amount: int, on_behalf_of: str) -> list[Event]:
        validation.deposit(self, r, amount)
        self.update_state(r)
        self.update_rates(r, amount, 0)
        self.pay_in(r, user, amount)
        if self.mint_a(r, on_behalf_of, amount, r.liquidity_index):
            self.set_collateral_bit(on_behalf_of, r, True)
        return [
            Event(
                "Deposit",
                self.name,
                {"reserve": r.asset, "user": user, "on_behalf_of": on_behalf_of, "amount": amount},
            )
        ]

    # ---- withdraw (§4.2) ------------------------------------------------------------------------

    def _withdraw(self, user: str, r: Reserve, amount: int, to: str, unwrap: bool = False) -> list[Event]:
        balance = r.a_balance(user, self.world.now)
        if amount == UINT256_MAX:
            amount = balance
        validation.withdraw(self, r, user, amount, balance)
        self.update_state(r)
        self.update_rates(r, 0, amount)
        if amount == balance:
            self.set_collateral_bit(user, r, False)
        self.burn_a(r, user, amount, r.liquidity_index)
        self.pay_out(r, to, amount, unwrap)
        return [Event("Withdraw", self.name, {"reserve": r.asset, "user": user, "to": to, "amount": amount})]

    # ---- borrow (§4.3) ---------------------------------------------------------------------------

    def min_debt(self, decimals: int) -> int | None:
        """Smallest total debt a reserve may carry once it has debt; None: no such rule (the
        Core-Pool). Read by the borrow and repay rules (:mod:`astera.core.validation`)."""
        return None

    def _borrow(
        self, user: str, r: Reserve, amount: int, on_behalf_of: str, unwrap: bool = False
    ) -> list[Event]:
        validation.borrow(self, r, on_behalf_of, amount)
        self.update_state(r)
        if self.mint_debt(r, user, on_behalf_of, amount):
            self.set_borrowing_bit(on_behalf_of, r, True)
        self.update_rates(r, 0, amount)
        self.pay_out(r, user, amount, unwrap)
        return [
            Event(
                "Borrow",
                self.name,
                {"reserve": r.asset, "user": user, "on_behalf_of": on_behalf_of, "amount": amount},
            )
        ]

    # ---- repay (§4.4) -------------------------------------------------------------------------------

    def repay_debt(self, user: str, r: Reserve, amount: int, on_behalf_of: str) -> int:
        """Burn up to ``amount`` of ``on_behalf_of``'s debt; returns what must be paid.

        Rates are computed as if that payment already arrived (``liquidity_added``).
        """
        debt = r.debt_balance(on_behalf_of, self.world.now)
        validation.repay(self, r, user, amount, on_behalf_of, debt)
        pay = amount if amount < debt else debt
        self.update_state(r)
        self.burn_debt(r, on_behalf_of, pay)
        self.update_rates(r, pay, 0)
        if debt == pay:
            self.set_borrowing_bit(on_behalf_of, r, False)
        return pay

    def _repay(self, user: str, r: Reserve, amount: int, on_behalf_of: str) -> list[Event]:
        pay = self.repay_debt(user, r, amount, on_behalf_of)
        self.pay_in(r, user, pay)
        return [
            Event(
                "Repay",
                self.name,
                {"reserve": r.asset, "user": user, "on_behalf_of": on_behalf_of, "amount": pay},
            )
        ]

    # ---- collateral toggle (§4.6) -------------------------------------------------------------------

    def _set_collateral(self, user: str, r: Reserve, enabled: bool) -> list[Event]:
        balance = r.a_balance(user, self.world.now)
        validation.set_collateral(self, r, user, enabled, balance)
        self.set_collateral_bit(user, r, enabled)
        name = "ReserveUsedAsCollateralEnabled" if enabled else "ReserveUsedAsCollateralDisabled"
        return [Event(name, self.name, {"reserve": r.asset, "user": user})]

    # ---- aToken transfer (§4.7) ------------------------------------------------------------------------

    def _transfer(self, sender: str, r: Reserve, to: str, amount: int, validate: bool = True) -> list[Event]:
        """Move aTokens worth ``amount``; the sender's HF must stay >= 1 after the move."""
        index = r.normalized_income(self.world.now)
        from_before = ray_mul(r.a_scaled.get(sender, 0), index)
        to_before = ray_mul(r.a_scaled.get(to, 0), index)
        self.move_a_scaled(r, sender, to, ray_div(amount, index), amount)
        self.finalize_transfer(r, sender, to, amount, from_before, to_before, validate)
        return [
            Event("Transfer", self.name, {"reserve": r.asset, "sender": sender, "to": to, "amount": amount})
        ]

    def finalize_transfer(
        self, r: Reserve, sender: str, to: str, amount: int, from_before: int, to_before: int, validate: bool
    ) -> None:
        """The pool's side of an aToken transfer, called by the token after it moved the
        balance (so its balance check comes first): refused while the pool is paused (``59``),
        then the sender's health factor, then the collateral bits."""
        validation.transfer(self, sender, validate)
        if sender != to:
            if from_before < amount:
                raise overflow()
            if from_before == amount:
                self.set_collateral_bit(sender, r, False)
            if to_before == 0 and amount != 0:
                self.set_collateral_bit(to, r, True)

    # ---- liquidation (§4.8, §5.4) ----------------------------------------------------------------------

    def lends_to(self, target: str) -> bool:
        """Whether ``target`` is a Mini-Pool this pool lends to (the Core-Pool's, see there)."""
        return False

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
        validation.liquidation_target(self, target)
        now = self.world.now
        data = account_data(self, target)
        user_debt = debt_r.debt_balance(target, now)
        validation.liquidation(self, coll, debt_r, target, data, user_debt)
        policy = self.liquidation_policy
        user_coll = coll.a_balance(target, now)
        if policy is None:
            max_liquidatable = percent_mul(user_debt, CLOSE_FACTOR)
        else:
            max_liquidatable = max_repay(
                self, policy, target, data.health_factor, coll, debt_r, user_debt, user_coll
            )
        actual = debt_to_cover if debt_to_cover < max_liquidatable else max_liquidatable
        seize, debt_needed = collateral_to_seize(
            self.price(coll),
            self.price(debt_r),
            coll.decimals,
            debt_r.decimals,
            coll.liquidation_bonus,
            actual,
            user_coll,
        )
        if debt_needed < actual:
            actual = debt_needed
        fee = protocol_fee(coll, seize) if coll.liquidation_protocol_fee else 0
        to_liquidator = seize - fee
        writes_off = False
        if policy is not None:
            if policy.dynamic_close_factor:
                check_leftover(self, policy, coll, debt_r, user_debt, actual, user_coll, seize)
            # With the collateral bit on over an empty balance (§4.5) this holds at 0 == 0: the
            # account's debt is written off, as Aave v3.3's hasNoCollateralLeft (rule 1).
            writes_off = (
                policy.deficit_accounting and seize == user_coll and not other_collateral(self, target, coll)
            )
        if not receive_a_token and self.cash(coll) < to_liquidator:
            raise ProtocolError(E.NOT_ENOUGH_LIQUIDITY_TO_LIQUIDATE)
        self.update_state(debt_r)
        burnt = user_debt if writes_off or actual >= user_debt else actual
        self.burn_debt(debt_r, target, burnt)
        # The remainder is a deficit before the reserve is re-rated (suppliers earn nothing on it).
        deficit = record_deficit(self, target, debt_r, burnt - actual) if burnt > actual else None
        self.update_rates(debt_r, actual, 0)
        if policy is not None and burnt == user_debt:
            self.set_borrowing_bit(target, debt_r, False)
        index = coll.normalized_income(now)
        if receive_a_token:
            liquidator_before = ray_mul(coll.a_scaled.get(liquidator, 0), index)
            self.move_a_scaled(coll, target, liquidator, ray_div(to_liquidator, index), to_liquidator)
            if liquidator_before == 0:
                self.set_collateral_bit(liquidator, coll, True)
        else:
            self.update_state(coll)
            self.update_rates(coll, 0, to_liquidator)
            self.burn_a(coll, target, to_liquidator, coll.liquidity_index)
            self.pay_out(coll, liquidator, to_liquidator, unwrap)
        if fee:
            left = coll.a_scaled.get(target, 0)
            fee_scaled = ray_div(fee, index)
            if seize == user_coll or fee_scaled > left:
                fee_scaled = left
            self.move_a_scaled(coll, target, coll.treasury, fee_scaled, fee)
        if coll.a_scaled.get(target, 0) == 0:
            self.set_collateral_bit(target, coll, False)
        events = [
            Event(
                "LiquidationCall",
                self.name,
                {
                    "collateral": coll.asset,
                    "debt": debt_r.asset,
                    "user": target,
                    "debt_to_cover": actual,
                    "liquidated_collateral": seize,
                    "liquidator": liquidator,
                    "receive_a_token": receive_a_token,
                    **({"protocol_fee": fee} if coll.liquidation_protocol_fee else {}),
                },
            )
        ]
        if writes_off:
            if deficit is not None:
                events.append(deficit)
            events += [write_off(self, target, r) for r in self.reserves if r.d_scaled.get(target, 0)]
        self.pay_in(debt_r, liquidator, actual)
        return events

    # ---- flash loan (§4.9) -----------------------------------------------------------------------------

    def _flash_loan(
        self,
        initiator: str,
        receiver: str,
        callback: FlashReceiver,
        reserves: Sequence[Reserve],
        amounts: Sequence[int],
        modes: Sequence[int],
        on_behalf_of: str,
    ) -> list[Event]:
        """Lend without collateral for the span of ``callback``; mode 1 turns the unpaid loan into debt."""
        validation.flash_loan(reserves, amounts, modes)
        premiums: list[int] = []
        for r, amount, mode in zip(reserves, amounts, modes, strict=True):
            # Asset by asset, as the contracts do: the mode's check, its premium, the loan out.
            validation.flash_mode(mode)
            premiums.append(0 if mode == 1 else amount * self.flash_premium // PERCENTAGE_FACTOR)
            self.pay_out(r, receiver, amount)
        if callback([r.asset for r in reserves], list(amounts), premiums, initiator) is not True:
            raise ProtocolError(E.FLASH_EXECUTOR_RETURN)
        events: list[Event] = []
        for r, amount, premium, mode in zip(reserves, amounts, premiums, modes, strict=True):
            if mode == 0:
                self.update_state(r)
                r.cumulate_to_liquidity_index(r.a_total_supply(self.world.now), premium, self.world.journal)
                self.update_rates(r, amount + premium, 0)
                self.pay_in(r, receiver, amount + premium)
            else:
                validation.borrow(self, r, on_behalf_of, amount)
                self.update_state(r)
                if self.mint_debt(r, initiator, on_behalf_of, amount):
                    self.set_borrowing_bit(on_behalf_of, r, True)
                self.update_rates(r, 0, 0)  # the funds already left in the loan
            events.append(
                Event(
                    "FlashLoan",
                    self.name,
                    {
                        "reserve": r.asset,
                        "receiver": receiver,
                        "initiator": initiator,
                        "amount": amount,
                        "premium": premium,
                        "mode": mode,
                    },
                )
            )
        return events
