"""The Core-Pool (spec §2, §4): blue-chip reserves keyed by (asset, reserve type), and the
credit lines it extends to Mini-Pools (§4.10, §7.5–§7.9).

On top of the shared lending logic the Core-Pool adds: the flow limiter (a per
(asset, Mini-Pool) credit line), ``mini_pool_borrow`` (unbacked debt minted to a
Mini-Pool, which never sets its borrowing bit so it can never be liquidated here),
``repay_with_a_tokens`` (how a Mini-Pool pays back), the set of Mini-Pools that owe each
asset, and the push of every Core rate change into those Mini-Pools (``syncState``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import errors as E
from . import validation
from .errors import ProtocolError, overflow
from .events import Event
from .pool import Pool
from .reserve import Reserve
from .wadray import ray_div, ray_mul

if TYPE_CHECKING:
    from .minipool import MiniPool
    from .world import World

#: Pool selector: ``"core"`` or a Mini-Pool id.
PoolRef = str | int

#: Default cap on (asset, Mini-Pool) pairs with a non-zero flow limit.
MAX_RESERVES_WITH_FLOW_BORROWING = 6

CORE_TREASURY = "treasury"


class CorePool(Pool):
    """The Core-Pool: a :class:`Pool` plus the Mini-Pool credit machinery."""

    __slots__ = (
        "flow_borrowers",
        "flow_limits",
        "max_reserves_with_flow_borrowing",
        "mini_pools",
        "by_address",
    )

    def __init__(self, world: World) -> None:
        super().__init__(world, "core", "core")
        #: asset -> {mini pool id: True}: Mini-Pools currently owing that asset (insertion order).
        self.flow_borrowers: dict[str, dict[int, bool]] = {}
        #: (asset, mini pool id) -> configured flow limit, in the asset's units.
        self.flow_limits: dict[tuple[str, int], int] = {}
        self.max_reserves_with_flow_borrowing = MAX_RESERVES_WITH_FLOW_BORROWING
        #: The Mini-Pools it lends to, by id, and by their address (their account name here).
        self.mini_pools: list[MiniPool] = []
        self.by_address: dict[str, MiniPool] = {}

    # ---- lookups ---------------------------------------------------------------------------

    def find(self, asset: object, reserve_type: bool = True) -> Reserve:
        """The reserve keyed by (asset, reserve type)."""
        return self.reserve((asset, reserve_type))

    def pool(self, ref: PoolRef) -> Pool:
        """The pool ``ref`` names: ``"core"`` (this pool) or a Mini-Pool id."""
        if ref == "core":
            return self
        if type(ref) is int and 0 <= ref < len(self.mini_pools):
            return self.mini_pools[ref]
        raise E.InputError("input:unknown_pool", repr(ref))

    def mini_pool(self, mp_id: int) -> MiniPool:
        """The Mini-Pool with id ``mp_id``."""
        if type(mp_id) is int and 0 <= mp_id < len(self.mini_pools):
            return self.mini_pools[mp_id]
        raise E.InputError("input:unknown_pool", repr(mp_id))

    # ---- hooks -----------------------------------------------------------------------------

    def after_rates(self, r: Reserve) -> None:
        """Push the new Core rates into every Mini-Pool that owes this asset (``syncState``)."""
        if not r.reserve_type:
            return
        borrowers = self.flow_borrowers.get(r.asset)
        if borrowers:
            mps = self.mini_pools
            for mp_id in list(borrowers):
                mps[mp_id].sync_tranche(r)

    def lends_to(self, target: str) -> bool:
        """Whether ``target`` is one of its Mini-Pools (which it never liquidates)."""
        return target in self.by_address

    # ---- wrapper shares (ATokenNonRebasing, §2.5) --------------------------------------------

    def transfer_shares(self, r: Reserve, sender: str, to: str, shares: int) -> None:
        """Move Core aToken *shares* (scaled units), as the non-rebasing wrapper does.

        The same health-factor check and collateral-bit updates as an aToken transfer apply.
        """
        index = r.normalized_income(self.world.now)
        from_before = ray_mul(r.a_scaled.get(sender, 0), index)
        to_before = ray_mul(r.a_scaled.get(to, 0), index)
        amount = ray_mul(shares, index)
        self.move_a_scaled(r, sender, to, shares, amount)
        self.finalize_transfer(r, sender, to, amount, from_before, to_before, True)

    # ---- flow limiter (§7.9) -------------------------------------------------------------------

    def current_flow(self, asset: str, mp: MiniPool) -> int:
        """The Mini-Pool's Core debt in ``asset``, interest included."""
        r = self.by_key.get((asset, True))
        return r.debt_balance(mp.address, self.world.now) if r is not None else 0

    def flow_limit(self, asset: str, mp: MiniPool, flow: int | None = None) -> int:
        """``max(current flow, configured limit)``: accrued interest may exceed the limit
        (``flow``: the current flow, when the caller has it)."""
        if flow is None:
            flow = self.current_flow(asset, mp)
        limit = self.flow_limits.get((asset, mp.id), 0)
        return flow if flow > limit else limit

    def _set_flow_limit(self, asset: str, mp: MiniPool, limit: int) -> list[Event]:
        if limit < self.current_flow(asset, mp):
            raise ProtocolError(E.INVALID_AMOUNT)
        key = (asset, mp.id)
        if limit and not self.flow_limits.get(key):
            enabled = sum(1 for v in self.flow_limits.values() if v)
            if enabled >= self.max_reserves_with_flow_borrowing:
                raise ProtocolError(E.MAX_FLOW_RESERVES)
        self.world.journal.set(self.flow_limits, key, limit)
        return [Event("FlowLimitUpdated", self.name, {"asset": asset, "mini_pool": mp.id, "limit": limit})]

    # ---- Mini-Pool credit (§4.10) -----------------------------------------------------------------

    def _mini_pool_borrow(self, mp: MiniPool, asset: str, amount: int) -> None:
        """Lend ``amount`` of ``asset`` to a Mini-Pool against its flow limit, without collateral."""
        r = self.reserve((asset, True))
        flow = self.current_flow(asset, mp)
        validation.credit_draw(r, flow, self.flow_limit(asset, mp, flow), amount)
        self.update_state(r)
        self.mint_debt(r, mp.address, mp.address, amount)  # no borrowing bit: never liquidatable
        self.update_rates(r, 0, amount)
        self.pay_out(r, mp.address, amount)
        borrowers = self.flow_borrowers.get(asset)
        if borrowers is None:
            borrowers = {}
            self.world.journal.set(self.flow_borrowers, asset, borrowers)
        if mp.id not in borrowers:
            self.world.journal.set(borrowers, mp.id, True)

    def _repay_with_a_tokens(self, user: str, r: Reserve, amount: int) -> list[Event]:
        """Repay the caller's own debt by burning its aTokens of the same reserve (§4.5).

        The rates are computed as if ``pay`` of new cash arrived although cash does not
        move (a quirk of the contracts, reproduced). The collateral bit is left alone.
        """
        pay = self.repay_debt(user, r, amount, user)
        index = r.liquidity_index
        # AToken.burn lowers the reserve's managed underlying by ``pay`` (checked arithmetic)
        # before handleRepayment adds it back: with less cash than that in the reserve, the
        # repayment panics. Its non-zero-burn check (``36``, in burn_a) comes first.
        if ray_div(pay, index) != 0 and r.cash < pay:
            raise overflow()
        self.burn_a(r, user, pay, index)
        mp = self.by_address.get(user)
        if mp is not None and r.reserve_type and r.d_scaled.get(user, 0) == 0:
            borrowers = self.flow_borrowers.get(r.asset)
            if borrowers is not None:
                self.world.journal.delete(borrowers, mp.id)
        return [
            Event(
                "Repay",
                self.name,
                {"reserve": r.asset, "user": user, "on_behalf_of": user, "amount": pay, "use_a_tokens": True},
            )
        ]

    def shares_to_assets(self, r: Reserve, shares: int) -> int:
        """``convertToAssets``: wrapper shares → underlying at the current Core income."""
        return ray_mul(shares, r.normalized_income(self.world.now))

    def assets_to_shares(self, r: Reserve, assets: int) -> int:
        """``convertToShares``: underlying → wrapper shares at the current Core income."""
        return ray_div(assets, r.normalized_income(self.world.now))
