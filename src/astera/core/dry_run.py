"""Dry runs: what a list of actions would do to the current state, without doing it.

:meth:`astera.core.Protocol.simulate` opens one transaction, runs each step in a nested
one (a refused step is undone alone and recorded, as a block of a node would record a
refused transaction), inspects the accounts the steps wrote to, and then rolls the whole
transaction back. The affected accounts are read off the undo journal, so a dry run costs
what its steps touch, never a copy of the state.

Used by the node's ``POST /simulate`` (exact previews in the web app) and by anything that
wants to ask "what if" of the live state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from .account import AccountData, Position, account_data, positions
from .errors import ProtocolError
from .events import Event

if TYPE_CHECKING:
    from .pool import Pool
    from .protocol import Protocol

#: What one step of a dry run is: a call on the protocol returning its events (or None).
Step = Callable[["Protocol"], "list[Event] | None"]
#: What an inspection of one account returns.
V = TypeVar("V")


class PoolAccount(NamedTuple):
    """An account in one pool: its positions, and its account data (None when a price is
    refused, with the refusal in ``error``)."""

    positions: list[Position]
    data: AccountData | None
    error: ProtocolError | None


def pool_account(p: Protocol, pool: Pool, user: str) -> PoolAccount:
    held = positions(pool, user)
    try:
        return PoolAccount(held, account_data(pool, user), None)
    except ProtocolError as e:
        return PoolAccount(held, None, e)


def account_after(p: Protocol, user: str) -> dict[str, PoolAccount]:
    """The default inspection: the account in every pool (``"core"``, ``"0"``, ...)."""
    out = {"core": pool_account(p, p.core, user)}
    for mp in p.mini_pools:
        out[str(mp.id)] = pool_account(p, mp, user)
    return out


@dataclass
class Outcome:
    """One step's result: its events, or the refusal that undid it."""

    events: list[Event] = field(default_factory=list)
    refusal: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None


@dataclass
class DryRun(Generic[V]):
    """What the steps would do: one outcome per step, and each affected account after them."""

    timestamp: int
    outcomes: list[Outcome]
    accounts: dict[str, V]


def written_accounts(p: Protocol, mark: int) -> list[str]:
    """Registered accounts whose per-account entries (wallets, bitmaps, aToken and debt
    balances) the journal recorded since ``mark``, in the order first written."""
    per_account: set[int] = {id(w) for w in p.wallets.values()}
    for pool in (p.core, *p.mini_pools):
        per_account.add(id(pool.user_config))
        for r in pool.reserves:
            per_account.add(id(r.a_scaled))
            per_account.add(id(r.d_scaled))
    users = p.users
    seen: dict[str, None] = {}
    for target, key, _ in p.journal.log[mark:]:
        if id(target) in per_account and key in users:
            seen[key] = None
    return list(seen)


def run(
    p: Protocol,
    steps: Iterable[Step],
    inspect: Callable[[Protocol, str], V] | None,
    accounts: Iterable[str],
    refusals: tuple[type[BaseException], ...],
    at: int | None,
) -> DryRun[Any]:
    """The body of :meth:`Protocol.simulate` (see there)."""
    look: Callable[[Protocol, str], Any] = inspect if inspect is not None else account_after
    mark = p.world.begin()
    try:
        if at is not None:
            p.set_time(at)
        outcomes: list[Outcome] = []
        for step in steps:
            inner = p.world.begin()
            try:
                events = step(p) or []
            except refusals as e:
                p.world.end(inner, True)
                outcomes.append(Outcome(refusal=e))
            except BaseException:
                p.world.end(inner, True)
                raise
            else:
                p.world.end(inner, False)
                outcomes.append(Outcome(events))
        named = dict.fromkeys(accounts)
        named.update(dict.fromkeys(written_accounts(p, mark)))
        return DryRun(p.now, outcomes, {user: look(p, user) for user in named})
    finally:
        p.world.end(mark, True)
