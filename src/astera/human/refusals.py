"""Protocol refusals in plain words, with the largest amount the protocol would accept now.

:func:`explain` turns a :class:`~astera.core.ProtocolError` raised by one action into a
sentence computed from the exact state the action was refused on, e.g. *borrowing
100,000 USDC needs $133,334 of collateral at your LTV of 75%; you have $17,000, so you
can borrow at most 12,750 USDC*. The maxima are exact: a closed-form estimate seeds a
search whose every step is a dry run of the real action on the real state (rolled back
through the core's journal), so the figure given is accepted and one base unit more is
not. The protocol's code stays available (:attr:`Explanation.message` ends with it).

The caller passes ``run``, a function that performs the action on the protocol with
given parameters (the node passes its action table's runner); parameters use the node's
names (``pool``, ``asset``, ``amount``, ``on_behalf_of``, ``to``, ``target``,
``collateral_asset``, ``debt_asset``, ``debt_to_cover``), amounts are base units and
``max`` is ``2**256 - 1``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final

from astera.core import BalanceExceeded, Protocol, ProtocolError
from astera.core import errors as E
from astera.core.account import (
    HEALTH_FACTOR_LIQUIDATION_THRESHOLD,
    collateral_needed,
    health_factor_after_decrease,
)
from astera.core.minipool import MiniPool
from astera.core.pool import Pool
from astera.core.reserve import Reserve
from astera.core.views import health_factor as health_factor_in
from astera.core.wadray import PERCENTAGE_FACTOR, UINT256_MAX

from .amounts import Rounding, bps, health_factor, tokens, usd

#: Performs one action on the protocol with these parameters (raising its refusal).
Runner = Callable[[dict[str, Any]], object]

#: Dry runs one explanation may spend searching for a maximum (a good estimate needs ~4).
MAX_TRIES: Final = 600


@dataclass(frozen=True)
class Explanation:
    """A refusal in plain words: ``text`` says what went wrong and what to do; ``max_amount``
    (base units) is the most the same action would take now, where such a figure applies."""

    text: str
    code: str
    name: str
    max_amount: int | None = None

    @property
    def message(self) -> str:
        """The text with the protocol's code, for those who need it."""
        if self.code.startswith("error:"):  # a custom error: its name is the code
            return f"{self.text} (protocol error {self.name})"
        if self.code.startswith("reason:"):  # a token's revert string
            return f"{self.text} (protocol revert {self.code.split(':', 1)[1]!r})"
        return f"{self.text} (protocol code {self.code} {self.name})"


class _Rollback(Exception):
    """Raised inside a dry run so the journal undoes it."""


def dry_run(p: Protocol, fn: Callable[[], object]) -> ProtocolError | None:
    """Run ``fn`` on ``p`` and undo everything it did; its refusal, or ``None`` if it would pass."""
    try:
        with p.transaction():
            fn()
            raise _Rollback
    except _Rollback:
        return None
    except ProtocolError as e:
        return e


def largest_accepted(ok: Callable[[int], bool], hi: int, guess: int) -> int | None:
    """The largest ``x`` in ``[1, hi]`` with ``ok(x)`` (``ok`` true up to a point, then false),
    searched outward from ``guess`` and then by bisection; ``None`` if ``ok(1)`` is false."""
    if hi < 1:
        return None
    tries = 0

    def check(x: int) -> bool:
        nonlocal tries
        tries += 1
        if tries > MAX_TRIES:
            raise RuntimeError("search did not converge")
        return ok(x)

    guess = min(max(guess, 1), hi)
    step = 1
    if check(guess):
        lo, top = guess, None
        while top is None:
            nxt = lo + step
            if nxt >= hi:
                if check(hi):
                    return hi
                top = hi
            elif check(nxt):
                lo, step = nxt, step * 2
            else:
                top = nxt
    else:
        top, lo_ = guess, None
        while lo_ is None:
            nxt = top - step
            if nxt <= 1:
                if not check(1):
                    return None
                lo_ = 1
            elif check(nxt):
                lo_ = nxt
            else:
                top, step = nxt, step * 2
        lo = lo_
    while top - lo > 1:
        mid = (lo + top) // 2
        if check(mid):
            lo = mid
        else:
            top = mid
    return lo


def max_amount(
    p: Protocol, args: dict[str, Any], run: Runner, hi: int, guess: int, field: str = "amount"
) -> int | None:
    """The largest ``args[field]`` in ``[1, hi]`` the action accepts on this state (dry runs)."""
    try:
        return largest_accepted(lambda x: dry_run(p, lambda: run({**args, field: x})) is None, hi, guess)
    except RuntimeError:
        return None


def pool_name(ref: str | int) -> str:
    return "the Core-Pool" if ref == "core" else f"Mini-Pool {ref}"


def event_pool(name: str) -> str | int:
    """The pool an event names, as the core names pools (``"core"``, ``"mini:0"``), as the
    reference actions take (``"core"``, ``0``)."""
    return "core" if name == "core" else int(name.removeprefix("mini:"))


def liquidation_price(p: Protocol, user: str, pool: str | int, asset: str) -> int | None:
    """The highest oracle price (USD, 8 decimals) of ``asset``'s underlying at which ``user``'s
    health factor in ``pool`` is below 1, other prices unchanged; ``None`` if no price of it
    alone can make the account liquidatable (no debt, or the asset is not its collateral).

    Exact: each candidate price is set on the oracle inside a rolled-back transaction and the
    account valued by the core."""
    pl = p.pool(pool)
    r = pl.reserve((asset, True) if pl is p.core else asset)  # a Mini-Pool keys reserves by name
    if not (pl.is_collateral(user, r) and r.liquidation_threshold and r.a_scaled.get(user)):
        return None
    underlying = r.tranche_of.asset if r.tranche_of is not None else r.asset
    now_price = p.price(underlying)

    def liquidatable(x: int) -> bool:
        hf = HEALTH_FACTOR_LIQUIDATION_THRESHOLD

        def value() -> None:
            nonlocal hf
            p.set_price(underlying, x)
            hf = p.health_factor(user, pool)

        return dry_run(p, value) is None and hf < HEALTH_FACTOR_LIQUIDATION_THRESHOLD

    data = p.account(user, pool)
    if data.total_debt_base == 0:
        return None
    # HF scales about linearly with this price: start from where it would reach 1.
    guess = now_price * HEALTH_FACTOR_LIQUIDATION_THRESHOLD // max(data.health_factor, 1)
    top = max(now_price, guess) * 2 + 1
    if not liquidatable(1):
        return None  # the account stays healthy however low the price goes
    try:
        return largest_accepted(liquidatable, top, guess)
    except RuntimeError:
        return None


# ---- the most an action takes ----------------------------------------------------------------------

#: The pool actions :func:`most_accepted` sizes.
SIZED_ACTIONS: Final = ("deposit", "withdraw", "borrow", "repay", "repay_with_a_tokens")
#: The health factor a "Max" borrow or withdrawal keeps (wad) where a person asks for the most
#: (the web app, ``astera borrow ... max``): Aave's app keeps 1.01, the protocol's own limit is 1.00.
KEEP_HEALTH_FACTOR: Final = 101 * 10**16


@dataclass(frozen=True)
class Most:
    """The largest ``amount`` (base units) a pool action of ``sender`` takes now, or ``None`` if
    it takes none. ``whole`` is true where that amount is everything (the whole supplied balance
    of a withdrawal, the whole debt of a repayment): then sending ``max`` moves it all, interest
    accrued until the block included, and leaves no dust. ``limits`` names what bounds the
    action, each as the base units it alone would allow (``borrowing_power``, ``cash``,
    ``credit_line`` (in the Core-Pool asset, the others in the reserve's), ``supplied``,
    ``debt``, ``wallet``, ``core_shares`` (what pays a tranche), ``deposit_cap``), for people
    to read;
    ``amount`` is the exact answer (the health factor, delegation or a Mini-Pool's minimum debt
    may bound it too)."""

    amount: int | None
    whole: bool
    limits: dict[str, int]
    #: With a health factor to keep (``keep_hf``): the most the protocol itself accepts, which
    #: ``amount`` stays below; ``None`` when the target did not cut it.
    protocol_amount: int | None = None


def most_accepted(
    p: Protocol, sender: str, action: str, args: dict[str, Any], run: Runner, keep_hf: int = 0
) -> Most:
    """The most ``action`` (one of :data:`SIZED_ACTIONS`) with ``args`` (``pool``, ``asset``;
    ``"core"`` for ``repay_with_a_tokens``) accepts from ``sender`` on ``p`` now: every
    candidate is a dry run of the real action, so the figure is accepted and one base unit more
    is not, whatever limits it (borrowing power, the reserve's cash, a credit line, a deposit
    cap, the health factor, the wallet).

    ``keep_hf`` (wad) makes a withdrawal or a borrow stop where the health factor after it is
    still at least that (Aave's app keeps 1.01): the protocol's own most leaves it at 1.00, where
    a minute of interest makes the account liquidatable. The protocol's figure is then
    ``protocol_amount``.

    The search starts from an estimate (the account's averages) and is bounded by what the
    sender holds or owes where that bounds the action. An unknown pool or reserve raises the
    protocol's :class:`~astera.core.ProtocolError`; an unknown ``sender`` must be registered."""
    if action not in SIZED_ACTIONS:
        raise ValueError(f"{action} is not one of {SIZED_ACTIONS}")
    pl = p.pool(args["pool"])
    r = pl.find(args["asset"])
    c = _Ctx(p, sender, action, args, run, pl, r)
    now = p.now
    cash = pl.cash(r)
    # What pays a deposit or a repayment: the wallet, or for a tranche (amounts in Core-Pool
    # shares) the sender's shares of the Core-Pool reserve (its scaled aToken balance).
    source, held = (
        ("core_shares", r.tranche_of.a_scaled.get(sender, 0))
        if r.tranche_of is not None
        else ("wallet", p.wallet(r.asset, sender))
    )
    if action == "borrow":
        power = _borrow_guess(c, sender)
        limits = {"borrowing_power": power, "cash": cash}
        if r.tranche_of is not None and isinstance(pl, MiniPool):
            flow = p.core.current_flow(r.tranche_of.asset, pl)
            limits["credit_line"] = max(0, p.core.flow_limit(r.tranche_of.asset, pl, flow) - flow)
        return _kept(c, Most(_search(c, UINT256_MAX - 1, power), False, limits), keep_hf)
    if action == "deposit":
        limits = {source: held}
        if r.deposit_cap:
            limits["deposit_cap"] = max(0, r.deposit_cap * r.unit - r.a_total_supply(now) - 1)
        return Most(_search(c, UINT256_MAX - 1, held), False, limits)
    if action == "withdraw":
        balance = r.a_balance(sender, now)
        best = _search(c, balance, min(balance, _removable_guess(c, sender)))
        kept = _kept(c, Most(best, False, {"supplied": balance, "cash": cash}), keep_hf)
        return replace(kept, whole=kept.amount == balance)
    debt = r.debt_balance(sender, now)
    # Repaying with aTokens (Core-Pool) burns the sender's supply of the same reserve.
    if action == "repay_with_a_tokens":
        source, held = "supplied", r.a_balance(sender, now)
    best = _search(c, debt, min(debt, held))
    return Most(best, best == debt, {"debt": debt, source: held})


def _kept(c: _Ctx, most: Most, keep_hf: int) -> Most:
    """``most`` cut down to where the sender's health factor after the action stays at
    ``keep_hf`` or more (dry runs of the action followed by a reading of the health factor)."""
    if not keep_hf or most.amount is None:
        return most
    assert c.pool is not None
    pool = c.pool

    def kept(x: int) -> bool:
        def act() -> None:
            c.run({**c.args, "amount": x})
            if health_factor_in(pool, c.sender) < keep_hf:
                raise ProtocolError(E.HF_BELOW_THRESHOLD)  # below the target: not kept (rolled back)

        return dry_run(c.p, act) is None

    if kept(most.amount):
        return most
    try:
        safe = largest_accepted(kept, most.amount - 1, most.amount * 99 // 100)
    except RuntimeError:
        safe = None
    return replace(most, amount=safe, protocol_amount=most.amount)


# ---- explanations ---------------------------------------------------------------------------------


@dataclass
class _Ctx:
    p: Protocol
    sender: str
    action: str
    args: dict[str, Any]
    run: Runner
    pool: Pool | None
    reserve: Reserve | None

    @property
    def where(self) -> str:
        return pool_name(self.args.get("pool", "core"))

    @property
    def asset(self) -> str:
        return str(self.args.get("asset") or self.args.get("debt_asset") or "")

    def amt(self, units: int, asset: str | None = None, rounding: str = "down") -> str:
        a = asset or self.asset
        r = self.reserve  # a Mini-Pool tranche (was-USDC) is no token: its reserve has the decimals
        decimals = r.decimals if r is not None and r.asset == a else self.p.decimals.get(a, 0)
        return tokens(units, decimals, a, rounding)  # type: ignore[arg-type]

    @property
    def requested(self) -> int:
        return int(self.args.get("amount", self.args.get("debt_to_cover", 0)))

    def you(self, address: str) -> str:
        return "you" if address == self.sender else f"account {address[:12]}…"


def _reserve_of(p: Protocol, args: dict[str, Any]) -> tuple[Pool | None, Reserve | None]:
    try:
        pl = p.pool(args.get("pool", "core"))
    except ProtocolError:
        return None, None
    asset = args.get("asset") or args.get("debt_asset")
    try:
        return pl, pl.find(asset)  # a Mini-Pool keys reserves by name, the Core-Pool by (name, type)
    except ProtocolError:
        return pl, None


def _max_text(c: _Ctx, best: int | None, verb: str, rounding: Rounding = "down") -> str:
    if best is None:
        return f"you cannot {verb} any {c.asset} now"
    return f"the most you can {verb} now is {c.amt(best, rounding=rounding)}"


def _alike(c: _Ctx, requested: int, best: int | None) -> Rounding:
    """How to show a refused amount beside the most accepted: exactly where rounding would show
    the two alike ('borrowing 17,749.99 USDC ...; the most you can borrow now is 17,749.99 USDC')."""
    return "exact" if best is not None and c.amt(requested) == c.amt(best) else "down"


def _search(c: _Ctx, hi: int, guess: int, field: str = "amount") -> int | None:
    return max_amount(c.p, c.args, c.run, hi, guess, field)


def _borrow_guess(c: _Ctx, borrower: str) -> int:
    assert c.pool is not None and c.reserve is not None
    data = c.p.account(borrower, c.args.get("pool", "core"))
    price = c.pool.price(c.reserve)
    unit: int = c.reserve.unit
    return data.available_borrows_base * unit // max(price, 1)


def _explain_borrow(c: _Ctx, e: ProtocolError) -> tuple[str, int | None] | None:
    assert c.pool is not None and c.reserve is not None
    borrower = c.args.get("on_behalf_of") or c.sender
    ref = c.args.get("pool", "core")
    data = c.p.account(borrower, ref)
    amount = c.requested
    if e.code == E.COLLATERAL_BALANCE_IS_0:
        return (
            f"{c.you(borrower)} {'have' if borrower == c.sender else 'has'} no collateral in {c.where}: "
            "deposit an asset that counts as collateral first",
            None,
        )
    if e.code == E.HF_BELOW_THRESHOLD:
        return (
            f"the health factor is {health_factor(data.health_factor)}, below 1: repay debt or add "
            "collateral before borrowing more",
            None,
        )
    best = _search(c, amount - 1, _borrow_guess(c, borrower))
    if e.code == E.COLLATERAL_CANNOT_COVER:
        if data.ltv == 0:
            return (f"your collateral in {c.where} has an LTV of 0%: it cannot back a borrow", best)
        amount_base = c.pool.price(c.reserve) * amount // c.reserve.unit
        needed = collateral_needed(data, amount_base)
        shown = _alike(c, amount, best)
        return (
            f"borrowing {c.amt(amount, rounding=shown)} needs {usd(needed, 'up')} of collateral at your "
            f"LTV of {bps(data.ltv)}; you have {usd(data.total_collateral_base)}, so "
            + _max_text(c, best, "borrow", shown),
            best,
        )
    if e.code == E.FLOW_LIMIT_REACHED:
        return (
            f"the Core-Pool's credit line to {c.where} cannot lend that much {c.asset}; "
            + _max_text(c, best, "borrow"),
            best,
        )
    if e.code == E.DEBT_TOO_SMALL and isinstance(c.pool, MiniPool):
        minimum = c.pool.min_debt(c.reserve.decimals)
        return (
            f"{c.where} keeps each reserve's total debt at {c.amt(minimum)} or more; borrow at least "
            f"{c.amt(max(0, minimum - c.reserve.debt_total_supply(c.p.now)), rounding='up')}",
            None,
        )
    if e.code == E.BORROW_ALLOWANCE_NOT_ENOUGH:
        allowance = c.reserve.borrow_allowance.get((borrower, c.sender), 0)
        return (
            f"{c.you(borrower)} delegated you {c.amt(allowance)} of {c.asset} credit; "
            + _max_text(c, best, "borrow"),
            best,
        )
    if e.code in (E.NOT_ENOUGH_LIQUIDITY, E.INSUFFICIENT_BALANCE, "panic:0x11"):
        return (
            f"{c.where}'s {c.asset} reserve has only {c.amt(c.pool.cash(c.reserve))} available to lend; "
            + _max_text(c, best, "borrow"),
            best,
        )
    return None


def _removable_guess(c: _Ctx, user: str) -> int:
    """Collateral that can leave before HF reaches 1, from the averages (an estimate)."""
    assert c.pool is not None and c.reserve is not None
    data = c.p.account(user, c.args.get("pool", "core"))
    lt = c.reserve.liquidation_threshold
    if data.total_debt_base == 0 or not lt:
        return c.reserve.a_balance(user, c.p.now)
    spare = (
        data.total_collateral_base * data.current_liquidation_threshold
        - data.total_debt_base * PERCENTAGE_FACTOR
    )
    unit: int = c.reserve.unit
    return max(0, spare // lt) * unit // max(c.pool.price(c.reserve), 1)


def _explain_decrease(c: _Ctx, e: ProtocolError, verb: str, noun: str) -> tuple[str, int | None] | None:
    """Withdraw and aToken transfer: both take collateral away from the sender."""
    assert c.pool is not None and c.reserve is not None
    balance = c.reserve.a_balance(c.sender, c.p.now)
    amount = balance if c.requested == UINT256_MAX else c.requested
    hi = min(balance, amount - 1)
    if e.code == E.INVALID_AMOUNT and balance == 0 and c.requested == UINT256_MAX:  # all of nothing
        return (f"you have no {c.asset} supplied in {c.where}", None)
    if e.code == E.NOT_ENOUGH_USER_BALANCE or (
        amount > balance and (e.code == "panic:0x11" or isinstance(e, BalanceExceeded))
    ):
        return (f"you have {c.amt(balance)} supplied in {c.where}; {verb} at most that", balance or None)
    if e.code == E.TRANSFER_NOT_ALLOWED:
        best = _search(c, hi, _removable_guess(c, c.sender))
        hf = health_factor_after_decrease(c.pool, c.reserve, c.sender, amount)
        after = f" at {health_factor(hf)}" if hf is not None else " below 1"
        shown = _alike(c, amount, best)
        return (
            f"{noun} {c.amt(amount, rounding=shown)} would leave your health factor{after}; "
            + _max_text(c, best, verb, shown),
            best,
        )
    if e.code in (E.NOT_ENOUGH_LIQUIDITY, E.INSUFFICIENT_BALANCE, "panic:0x11"):
        best = _search(c, hi, c.pool.cash(c.reserve))
        return (
            f"{c.where}'s {c.asset} reserve holds only {c.amt(c.pool.cash(c.reserve))} in cash (the rest "
            "is lent out); " + _max_text(c, best, verb),
            best,
        )
    return None


def _wallet_shortfall(
    c: _Ctx, paying: int, asset: str, what: str, field: str = "amount"
) -> tuple[str, int | None]:
    held = c.p.wallet(asset, c.sender)
    best = _search(c, c.requested - 1 if c.requested != UINT256_MAX else held, held, field) if held else None
    text = (
        f"{what} needs {c.amt(paying - held, asset, 'up')} more than your wallet holds ({c.amt(held, asset)})"
    )
    if best is not None:
        text += f"; the most you can {c.action.replace('_', ' ')} now is {c.amt(best, asset)}"
    return text, best


def _shares_shortfall(c: _Ctx, e: ProtocolError, paying: int, what: str) -> tuple[str, int | None] | None:
    """A tranche's deposit or repayment is paid in the sender's shares of the Core-Pool reserve
    (its scaled aToken balance): the Core aToken refuses to move more than the sender has."""
    assert c.reserve is not None
    core_r = c.reserve.tranche_of
    if core_r is None or not isinstance(e, BalanceExceeded):
        return None
    held = core_r.a_scaled.get(c.sender, 0)
    if held >= paying:
        return None
    best = _search(c, min(c.requested - 1, held), held) if held else None
    text = (
        f"{what} is paid from your {core_r.asset} supply in the Core-Pool ({c.amt(held)} in its "
        f"shares): {c.amt(paying - held, rounding='up')} short; deposit {core_r.asset} in the Core-Pool first"
    )
    if best is not None:
        text += f", or {c.action} at most {c.amt(best)} now"
    return text, best


def _explain_repay(c: _Ctx, e: ProtocolError) -> tuple[str, int | None] | None:
    assert c.pool is not None and c.reserve is not None
    owner = c.args.get("on_behalf_of") or c.sender
    debt = c.reserve.debt_balance(owner, c.p.now)
    if e.code == E.NO_DEBT:
        return (
            f"{c.you(owner)} {'have' if owner == c.sender else 'has'} no {c.asset} debt in {c.where}",
            None,
        )
    if e.code == E.NO_EXPLICIT_AMOUNT_ON_BEHALF:
        return ("repaying someone else's debt needs an amount, not max", None)
    paying = min(c.requested, debt)
    what = "repay max" if c.requested == UINT256_MAX else f"repaying {c.amt(paying)}"
    if e.code == E.INSUFFICIENT_BALANCE:
        return _wallet_shortfall(c, paying, c.asset, what)
    shares = _shares_shortfall(c, e, paying, what)
    if shares is not None:
        return shares
    total = c.reserve.debt_total_supply(c.p.now)
    if e.code == "panic:0x11" and isinstance(c.pool, MiniPool) and total < c.requested < UINT256_MAX:
        # A Mini-Pool subtracts the amount sent (not the amount owed) from the reserve's whole debt.
        return (
            f"{c.where} refuses a repayment above all of its {c.asset} debt ({c.amt(total, rounding='up')}): "
            f"send max to repay all of {'your' if owner == c.sender else 'its'} debt "
            f"({c.amt(debt, rounding='up')})",
            None,
        )
    if e.code == E.DEBT_TOO_SMALL and isinstance(c.pool, MiniPool):
        minimum = c.pool.min_debt(c.reserve.decimals)
        return (
            f"{c.where} keeps each reserve's total debt at {c.amt(minimum)} or more: repay all of the "
            f"debt ({c.amt(debt, rounding='up')}, or max) or leave at least that much",
            None,
        )
    return None


def _explain_deposit(c: _Ctx, e: ProtocolError) -> tuple[str, int | None] | None:
    assert c.pool is not None and c.reserve is not None
    r = c.reserve
    if e.code == E.DEPOSIT_CAP_REACHED:
        room = r.deposit_cap * r.unit - r.a_total_supply(c.p.now) - 1
        best = _search(c, min(room, c.requested - 1), room)
        return (
            f"{c.where}'s {c.asset} reserve is capped at {c.amt(r.deposit_cap * r.unit)} supplied; "
            + _max_text(c, best, "deposit"),
            best,
        )
    if e.code == E.INSUFFICIENT_BALANCE:
        return _wallet_shortfall(c, c.requested, c.asset, f"depositing {c.amt(c.requested)}")
    return _shares_shortfall(c, e, c.requested, f"depositing {c.amt(c.requested)}")


def _explain_set_collateral(c: _Ctx, e: ProtocolError) -> tuple[str, int | None] | None:
    assert c.pool is not None and c.reserve is not None
    if e.code == E.UNDERLYING_BALANCE_ZERO:
        return (f"you have no {c.asset} supplied in {c.where}", None)
    if e.code == E.DEPOSIT_IN_USE:
        balance = c.reserve.a_balance(c.sender, c.p.now)
        hf = health_factor_after_decrease(c.pool, c.reserve, c.sender, balance)
        after = f" would fall to {health_factor(hf)}" if hf is not None else " would fall below 1"
        return (
            f"your {c.asset} backs your debt: without it your health factor{after}; repay debt or "
            "add other collateral first",
            None,
        )
    return None


def _explain_liquidate(c: _Ctx, e: ProtocolError) -> tuple[str, int | None] | None:
    target = str(c.args.get("target", ""))
    ref = c.args.get("pool", "core")
    coll, debt_asset = c.args.get("collateral_asset"), c.args.get("debt_asset")
    if e.code == E.HF_NOT_BELOW_THRESHOLD:
        hf = c.p.health_factor(target, ref)
        return (
            f"that account's health factor is {health_factor(hf)}: only accounts below 1 can be liquidated",
            None,
        )
    if e.code == E.COLLATERAL_CANNOT_BE_LIQUIDATED:
        return (f"that account has no {coll} collateral in {c.where}", None)
    if e.code == E.CURRENCY_NOT_BORROWED:
        return (f"that account has no {debt_asset} debt in {c.where}", None)
    if e.code == E.MINIPOOL_CANNOT_BE_LIQUIDATED:
        return ("a Mini-Pool's credit line from the Core-Pool cannot be liquidated", None)
    if e.code == E.NOT_ENOUGH_LIQUIDITY_TO_LIQUIDATE:
        return (
            f"{c.where}'s {coll} reserve lacks the cash to pay the collateral out: receive aTokens instead",
            None,
        )
    if e.code == E.INSUFFICIENT_BALANCE and debt_asset:
        return _wallet_shortfall(c, c.requested, str(debt_asset), "covering that debt", "debt_to_cover")
    if e.code == E.MUST_NOT_LEAVE_DUST:
        left = usd(c.p.liquidation_policy(ref).min_leftover_base)
        return (
            f"{c.where}'s liquidation policy refuses a partial liquidation that leaves less than {left} of "
            f"the {debt_asset} debt or of the {coll} collateral: cover less, or all of it",
            None,
        )
    return None


_BY_ACTION: Final = {
    "borrow": _explain_borrow,
    "withdraw": lambda c, e: _explain_decrease(c, e, "withdraw", "withdrawing"),
    "transfer": lambda c, e: _explain_decrease(c, e, "transfer", "transferring"),
    "repay": _explain_repay,
    "deposit": _explain_deposit,
    "set_collateral": _explain_set_collateral,
    "liquidate": _explain_liquidate,
}

#: Refusals that read the same whatever the action.
_GENERAL: Final[dict[str, str]] = {
    E.POOL_PAUSED: "{where} is paused by its emergency admin: nothing moves in it until it is unpaused",
    E.NO_ACTIVE_RESERVE: "the {asset} reserve of {where} is not active",
    E.RESERVE_INACTIVE: "the {asset} reserve of {where} is not active",
    E.RESERVE_FROZEN: "the {asset} reserve of {where} is frozen: no new deposits or borrows "
    "(withdrawals and repayments still work)",
    E.INVALID_AMOUNT: "the amount must be more than 0",
    E.BORROWING_NOT_ENABLED: "borrowing {asset} is not enabled in {where}",
    E.PRICE_FEED_INCONSISTENCY: "the oracle has no current price for an asset involved (stale feed, no "
    "fallback): actions that value an account wait until a price returns",
    "input:unknown_asset": "this network has no asset {asset}",
    "input:unknown_reserve": "{where} has no {asset} reserve",
    "input:unknown_pool": "there is no such Mini-Pool",
    "input:unknown_user": "that account is unknown to the protocol",
    "input:role": "this action needs a role key the sender does not hold",
}


def _reserves_hint(c: _Ctx, error: ProtocolError) -> str:
    """For an unknown reserve: what the pool does list, naming the tranche that stands for a Core
    asset (``borrow USDC`` in a Mini-Pool means its ``was-USDC``)."""
    if error.code != "input:unknown_reserve" or c.pool is None:
        return ""
    tranche = next((r.asset for r in c.pool.reserves if r.tranche_of and r.tranche_of.asset == c.asset), None)
    if tranche is not None:
        return f": its {c.asset} is the tranche {tranche}, lent from the Core-Pool"
    return ": it lists " + ", ".join(r.asset for r in c.pool.reserves)


def explain(
    p: Protocol, sender: str, action: str, args: dict[str, Any], error: ProtocolError, run: Runner
) -> Explanation:
    """``error`` (raised by ``action`` with ``args`` from ``sender`` on ``p``, now as it was
    before) in plain words, with the largest accepted amount where one applies. Any
    failure to explain falls back to the error's name: this never raises."""
    pl, r = _reserve_of(p, args)
    c = _Ctx(p, sender, action, args, run, pl, r)
    try:
        specific = _BY_ACTION.get(action)
        found = (
            specific(c, error)
            if specific is not None and pl is not None and (r is not None or action == "liquidate")
            else None
        )
    except ProtocolError:
        found = None  # the state cannot be valued (e.g. a stale price): say what we know
    if found is not None:
        return Explanation(found[0], error.code, error.name, found[1])
    general = _GENERAL.get(error.code)
    if general is not None:
        text = general.format(where=c.where, asset=c.asset) + _reserves_hint(c, error)
    elif error.detail and not error.code.startswith("panic:"):
        text = f"the protocol refused: {error.detail}"
    else:
        text = f"the protocol refused: {error.name.replace('_', ' ').lower()}"
    return Explanation(text, error.code, error.name)
