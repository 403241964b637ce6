"""The deterministic shock ladder: each collateral asset's price down 0-90 %, and what follows.

For every collateral asset and every rung (a price cut in bps), on the protocol as it is now:

1. the asset's oracle price is cut by the rung (every other price stays);
2. the accounts with HF < 1 are found exactly (the keeper's :class:`~astera.keeper.Monitor`):
   that debt is *liquidatable*;
3. the project's keeper, unchanged, liquidates them into a constant-product model market of
   ``depth_usd`` per side (re-centred on the shocked prices: slippage comes from size alone),
   as far as it is profitable;
4. what is left is read back: debt no collateral covers, account by account (**bad debt**, as
   the lab counts it: Σ max(0, debt − collateral)), the part of it on accounts with no
   collateral left, debt still below HF 1 with collateral the keeper could not sell at a profit
   (**stuck**; its collateral may still cover it), the keeper's slippage (oracle value of what
   it sold minus what the sale returned). A deeper cut can leave less debt with no collateral
   (the keeper stops where selling stops paying) but never less bad debt.

Every rung runs inside a transaction that is then rolled back, so the protocol ends exactly
as it started (same state hash) and the cost is O(what the rung touches), not a copy of the
state. Call it while nothing else writes to the protocol (on the node: under the lock that
serialises blocks). Deterministic: same state, same arguments, same result.

The result is plain JSON-able data, every money figure an ``int`` (format
``astera-shock-ladder/1``)::

    {"format": "astera-shock-ladder/1", "timestamp": int, "state_hash": str,
     "rungs_bps": [0, 1000, ..., 9000],
     "market": {"model": "constant_product", "depth_usd": int, "fee_bps": int},
     "assets": {ASSET: [RUNG, ...]}}           # one RUNG per entry of rungs_bps, in order

    RUNG = {"shock_bps": int, "price": int,     # the shocked oracle price (USD, 8 decimals)
            "total": POOL,                      # the sums over every pool
            "pools": {"core" | "<mini-pool id>": POOL}}

    POOL = {"liquidatable_accounts": int,       # HF < 1 right after the shock
            "liquidatable_debt": int,           # their whole debt (USD, 8 decimals)
            "liquidations": int,                # liquidate calls the keeper made
            "debt_repaid": int,                 # USD value repaid by them
            "collateral_seized": int,           # oracle USD value of the collateral they took
            "slippage": int,                    # USD: oracle value sold minus sale proceeds
            "bad_debt": int,                    # USD: Σ max(0, debt − collateral) after the keeper
            "bad_debt_accounts": int,           # accounts left owing more than they hold
            "no_collateral_debt": int,          # USD: the part of it on accounts with no collateral left
            "stuck_debt": int,                  # USD: debt of accounts left with HF < 1 and collateral
            "reserves": {RESERVE: {             # per debt reserve, in its base units
                "liquidatable_debt": int, "debt_repaid": int, "bad_debt": int}}}

USD values use the shocked prices. A Mini-Pool's tranche of a Core asset is valued (and
shocked) through that asset's price, as the protocol does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from astera.core import Protocol
from astera.core.pool import Pool
from astera.keeper import InProcessSubmitter, KeeperEngine, KeeperReport, Monitor, PlannerConfig
from astera.keeper.engine import oracle_prices
from astera.keeper.scenario import DEFAULT_DEPTH_USD, fund, model_market
from astera.keeper.valuation import Valuation

LADDER_FORMAT = "astera-shock-ladder/1"
#: 0 %, 10 %, ..., 90 %.
DEFAULT_RUNGS_BPS = tuple(range(0, 10_000, 1_000))
#: The ladder's liquidator: an account name no user can hold (registered inside the rung only).
LIQUIDATOR = "shock-ladder-keeper"
#: What the liquidator is funded with per asset: far more than any book needs, so funding never binds.
BANKROLL_USD = 10**15 * 10**8

_POOL_FIELDS = (
    "liquidatable_accounts", "liquidatable_debt", "liquidations", "debt_repaid", "collateral_seized",
    "slippage", "bad_debt", "bad_debt_accounts", "no_collateral_debt", "stuck_debt",
)  # fmt: skip


class _Rollback(Exception):
    """Raised at the end of a rung to undo it."""


def collateral_assets(protocol: Protocol) -> list[str]:
    """Listed assets that back debt somewhere: collateral (threshold > 0) in some reserve of some
    pool, directly or as the underlying of a Mini-Pool tranche; in listing order."""
    found: set[str] = set()
    for pool in _pools(protocol):
        for r in pool.reserves:
            if r.liquidation_threshold:
                found.add(r.tranche_of.asset if r.tranche_of is not None else r.asset)
    return [a for a in protocol.decimals if a in found]


def _pools(protocol: Protocol) -> list[Pool]:
    return [protocol.core, *protocol.mini_pools]


def _empty_pool() -> dict[str, Any]:
    return {**dict.fromkeys(_POOL_FIELDS, 0), "reserves": {}}


def _reserve_entry(pool: dict[str, Any], reserve: str) -> dict[str, int]:
    entry: dict[str, int] = pool["reserves"].setdefault(
        reserve, {"liquidatable_debt": 0, "debt_repaid": 0, "bad_debt": 0}
    )
    return entry


def _rung(
    protocol: Protocol,
    monitor: Monitor,
    asset: str,
    base_price: int,
    shock_bps: int,
    depth_usd: int,
    fee_bps: int,
) -> dict[str, Any]:
    """One rung, measured inside a transaction that is rolled back."""
    out: dict[str, Any] = {}
    try:
        with monitor.tracking():
            price = base_price * (10_000 - shock_bps) // 10_000
            protocol.set_price(asset, price)
            pools: dict[str, dict[str, Any]] = {}
            queued: dict[str | int, list[str]] = {}
            for ref, users, _unpriced in monitor.queue():
                queued[ref] = list(users)
                entry = pools[str(ref)] = _empty_pool()
                pool = protocol.pool(ref)
                valuation = Valuation(pool)
                for user in users:
                    position = valuation.position(user)
                    entry["liquidatable_accounts"] += 1
                    entry["liquidatable_debt"] += position.account.total_debt_base
                    for leg in position.debt:
                        _reserve_entry(entry, leg.reserve.asset)["liquidatable_debt"] += leg.amount
            report = _liquidate(protocol, monitor, depth_usd, fee_bps)
            _account_report(protocol, report, pools)
            _underwater(protocol, queued, pools)
            out = {"shock_bps": shock_bps, "price": price, "total": _total(pools.values()), "pools": pools}
            raise _Rollback
    except _Rollback:
        pass
    return out


def _liquidate(protocol: Protocol, monitor: Monitor, depth_usd: int, fee_bps: int) -> KeeperReport:
    """The keeper's run on the shocked state, self-funded, selling into the model market."""
    protocol.register_user(LIQUIDATOR)
    fund(protocol, LIQUIDATOR, BANKROLL_USD)
    market = model_market(protocol, depth_usd, fee_bps)
    engine = KeeperEngine(
        protocol,
        market,
        InProcessSubmitter(protocol, LIQUIDATOR, market),
        PlannerConfig(margin_bps=0),
        monitor=monitor,
    )
    return engine.run()


def _account_report(protocol: Protocol, report: KeeperReport, pools: dict[str, dict[str, Any]]) -> None:
    """Fold the keeper's report into the per-pool figures."""
    prices = oracle_prices(protocol)
    for ex in report.liquidations:
        plan = ex.plan
        entry = pools[str(plan.pool)]
        pay_unit = 10 ** protocol.decimals[plan.pay_asset]
        pay_price = prices[plan.pay_asset]
        entry["liquidations"] += 1
        pool = protocol.pool(plan.pool)
        debt_r = pool.reserve((plan.debt, plan.debt_type) if plan.pool == "core" else plan.debt)
        entry["debt_repaid"] += ex.debt_repaid * pool.price(debt_r) // debt_r.unit
        entry["collateral_seized"] += plan.fair_value * pay_price // pay_unit
        entry["slippage"] += (plan.fair_value - ex.proceeds) * pay_price // pay_unit
        _reserve_entry(entry, debt_r.asset)["debt_repaid"] += ex.debt_repaid
    for b in report.bad_debt:
        pools[str(b.pool)]["no_collateral_debt"] += b.value
    for u in (*report.unprofitable, *report.unfinished):
        pools[str(u.pool)]["stuck_debt"] += u.account.total_debt_base


def _underwater(
    protocol: Protocol, queued: dict[str | int, list[str]], pools: dict[str, dict[str, Any]]
) -> None:
    """Bad debt as the lab counts it (:meth:`astera.lab.path.Path.outcome`): after the keeper,
    Σ max(0, debt − collateral) at the shocked prices over the accounts the shock made
    liquidatable (no other account can owe more than it holds), each debt reserve's share of an
    account's shortfall by value, in its base units."""
    for ref, users in queued.items():
        entry = pools[str(ref)]
        valuation = Valuation(protocol.pool(ref))
        for user in users:
            position = valuation.position(user)
            debt = position.account.total_debt_base
            short = debt - position.account.total_collateral_base
            if short <= 0:
                continue
            entry["bad_debt"] += short
            entry["bad_debt_accounts"] += 1
            for leg in position.debt:
                _reserve_entry(entry, leg.reserve.asset)["bad_debt"] += leg.amount * short // debt


def _total(pools: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total = _empty_pool()
    del total["reserves"]
    for entry in pools:
        for f in _POOL_FIELDS:
            total[f] += entry[f]
    return total


def shock_ladder(
    protocol: Protocol,
    *,
    assets: Sequence[str] | None = None,
    rungs_bps: Sequence[int] = DEFAULT_RUNGS_BPS,
    depth_usd: int = DEFAULT_DEPTH_USD,
    fee_bps: int = 30,
    monitor: Monitor | None = None,
) -> dict[str, Any]:
    """The shock ladder of ``protocol`` now (format in the module docstring); changes nothing.

    ``assets`` defaults to :func:`collateral_assets`; ``rungs_bps`` are price cuts in bps
    (each in ``[0, 10000)``); ``depth_usd`` (USD, 8 decimals) and ``fee_bps`` shape the model
    market the keeper sells into. Pass the node's keeper ``monitor`` to save building one.
    Raises :class:`ValueError` for an unknown asset or a rung out of range.
    """
    chosen = list(collateral_assets(protocol) if assets is None else assets)
    for a in chosen:
        if a not in protocol.decimals:
            raise ValueError(f"assets: unknown asset {a!r}")
    for r in rungs_bps:
        if not isinstance(r, int) or not 0 <= r < 10_000:
            raise ValueError(f"rungs_bps: {r!r} is not a price cut in [0, 10000) bps")
    if depth_usd <= 0 or not 0 <= fee_bps < 10_000:
        raise ValueError("depth_usd must be positive and fee_bps in [0, 10000)")
    monitor = monitor or Monitor(protocol)
    state_hash = protocol.state_hash()
    ladder: dict[str, list[dict[str, Any]]] = {}
    for asset in chosen:
        base = protocol.price(asset)
        ladder[asset] = [_rung(protocol, monitor, asset, base, r, depth_usd, fee_bps) for r in rungs_bps]
    return {
        "format": LADDER_FORMAT,
        "timestamp": protocol.now,
        "state_hash": state_hash,
        "rungs_bps": list(rungs_bps),
        "market": {"model": "constant_product", "depth_usd": depth_usd, "fee_bps": fee_bps},
        "assets": ladder,
    }
