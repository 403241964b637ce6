"""The state's canonical form and its hash: what a node commits to after every block.

The canonical state is everything that defines the protocol, as plain JSON-ready data in a
fixed order. Its hash replaces each large map (the per-account maps that grow with the
number of users) by its running multiset hash (:mod:`astera.core.state_digest`), kept
current from the journal, so a hash costs what changed since the last one.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .configurator import Configurator
from .core_pool import CorePool
from .pool import Pool
from .reserve import Reserve
from .state_digest import StateDigest
from .world import World

#: Reserve slots of the opt-in liquidation policies: in the canonical state only when not 0, so
#: a state without policies hashes as it did before they existed.
_POLICY_FIELDS = ("liquidation_protocol_fee", "deficit")

#: Reserve slots that are not part of its scalar state (maps, objects, the key).
_RESERVE_NOT_SCALAR = frozenset(
    ("strategy", "tranche_of", "key", "a_scaled", "d_scaled", "borrow_allowance", *_POLICY_FIELDS)
)


def _entries(m: dict[Any, Any]) -> list[tuple[Any, Any]]:
    """A map's non-empty entries, sorted: its canonical form."""
    return sorted((k, v) for k, v in m.items() if v != 0)


def _reserve_state(r: Reserve) -> dict[str, Any]:
    d: dict[str, Any] = {s: getattr(r, s) for s in Reserve.__slots__ if s not in _RESERVE_NOT_SCALAR}
    d["key"] = list(r.key) if isinstance(r.key, tuple) else r.key
    d["tranche_of"] = r.tranche_of.asset if r.tranche_of is not None else None
    d["strategy"] = {**r.strategy.params(), "state": r.strategy.snapshot()}
    d.update((f, getattr(r, f)) for f in _POLICY_FIELDS if getattr(r, f))
    return d


def _pool_state(p: Pool) -> dict[str, Any]:
    return {
        "name": p.name,
        "paused": p.paused,
        "flash_premium": p.flash_premium,
        "reserves": [_reserve_state(r) for r in p.reserves],
        **(
            {"liquidation_policy": p.liquidation_policy.as_dict()} if p.liquidation_policy is not None else {}
        ),
    }


class StateHasher:
    """Canonical state and state hash of one protocol, with its running map digests."""

    __slots__ = ("world", "configurator", "core", "_digest")

    def __init__(self, world: World, configurator: Configurator, core: CorePool) -> None:
        self.world = world
        self.configurator = configurator
        self.core = core
        #: Running hashes of the large maps, made by the first state_hash() (see there).
        self._digest: StateDigest | None = None

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the running digest: map identities do not survive pickling, so a
        copy builds its own on its first :meth:`state_hash` (and pays no observer until then)."""
        return {"world": self.world, "configurator": self.configurator, "core": self.core}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._digest = None

    def large_maps(self) -> list[tuple[str, dict[Any, Any]]]:
        """The maps that grow with the number of users (users, wallets, bitmaps, scaled
        balances, allowances), each under a stable label."""
        w, core = self.world, self.core
        maps: list[tuple[str, dict[Any, Any]]] = [("users", w.users)]
        maps += [(f"wallet/{asset}", wallet) for asset, wallet in sorted(w.wallets.items())]
        for name, pool in (("core", core), *((f"mini/{mp.id}", mp) for mp in core.mini_pools)):
            maps.append((f"{name}/user_config", pool.user_config))
            for r in pool.reserves:
                maps.append((f"{name}/{r.key!r}/a_scaled", r.a_scaled))
                maps.append((f"{name}/{r.key!r}/d_scaled", r.d_scaled))
                maps.append((f"{name}/{r.key!r}/borrow_allowance", r.borrow_allowance))
        return maps

    def canonical_state(self) -> dict[str, Any]:
        """Everything that defines the state, as plain JSON-ready data in a fixed order.

        Zero balances and empty sets are left out, so a state reached by different paths
        (an entry written back to zero, or never written) has one canonical form. The maps
        that grow with the number of users are under ``"maps"``, each by its label.
        """
        return self._canonical({label: _entries(m) for label, m in self.large_maps()})

    def state_hash(self, incremental: bool = True) -> str:
        """SHA-256 of the canonical state with each large map replaced by its multiset hash:
        equal states hash equal on every machine.

        The multiset hashes are kept current from the journal, so a hash costs O(entries
        written since the last one) plus O(reserves). ``incremental=False`` recomputes them
        from scratch (to check the running ones). Inside a transaction the hash is always
        computed from scratch: what is pending may still be undone.
        """
        maps = self.large_maps()
        journal = self.world.journal
        if not incremental or self.world.depth or journal.log:
            digests = StateDigest().digests(maps)
        else:
            if self._digest is None:
                self._digest = StateDigest()
                journal.observer = self._digest.observe
            digests = self._digest.digests(maps)
        blob = json.dumps(self._canonical(digests), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _canonical(self, maps: dict[str, Any]) -> dict[str, Any]:
        """The state outside the large maps, with ``maps`` (each large map's entries or hash) added."""
        w, core, oracle = self.world, self.core, self.world.oracle
        return {
            "now": w.now,
            "oracle": {
                "answers": sorted(oracle.answers.items()),
                "updated_at": sorted(oracle.updated_at.items()),
                "timeouts": sorted(oracle.timeouts.items()),
                "fallback": sorted(oracle.fallback.items()),
                # Only when some feed reports a constant age, so states without one hash as before.
                **({"ages": sorted(oracle.ages.items())} if oracle.ages else {}),
            },
            "decimals": sorted(w.decimals.items()),
            "roles": [self.configurator.admin, self.configurator.emergency_admin],
            "core": {
                **_pool_state(core),
                "flow_borrowers": sorted((a, sorted(m)) for a, m in core.flow_borrowers.items() if m),
                "flow_limits": sorted([list(k), v] for k, v in core.flow_limits.items()),
                "max_reserves_with_flow_borrowing": core.max_reserves_with_flow_borrowing,
            },
            "mini_pools": [
                {**_pool_state(mp), "admin": mp.admin, "min_debt_threshold": mp.min_debt_threshold}
                for mp in core.mini_pools
            ],
            "maps": maps,
        }
