"""What ``astera serve`` and ``astera verify`` run on: a data directory, its role keys, the
serving configuration and the HTTP server (the node, its keeper and its web app are wired
together by the composition root, :mod:`astera.compose`).

The data directory (default ``./astera-data``) holds the SQLite log (unless ``--db``
points at PostgreSQL), the genesis the network started from (``genesis.json``, for
reference; the authoritative copy is in the store) and, for the built-in network, the
role keys it generated (``keys/*.key``). The node signs with the faucet key it finds
there; the other role keys are for their holders (``astera ... --key DATA/keys/admin.key``).

The liquidation keeper runs inside the node unless ``--no-keeper`` is given
(:mod:`astera.keeper.in_node`). It signs with ``keys/keeper.key``, generated on first use
and kept, so it is the same account across restarts. It liquidates with its own balances:
the built-in network funds it at genesis; on a network from another genesis, send it
funds (its address is in ``/status``, e.g. through ``POST /faucet``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from astera.wire import Key

from . import genesis as genesis_mod
from .chain import VerifyReport, verify
from .limits import Limits
from .node import Node
from .store import SqlStore, StoreError, open_store

ROLE_KEYS = ("admin", "emergency_admin", "oracle", "faucet", "pool_admin_0")
#: The in-node keeper's key file (``keys/keeper.key``); liquidations need no role.
KEEPER_KEY = "keeper"
log = logging.getLogger("astera.node")


@dataclass
class ServeConfig:
    data: Path = Path("astera-data")
    db: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    genesis: Path | None = None
    snapshot_every: int = 1000
    keeper: bool = True
    log_level: str = "info"
    #: A leader's URL: follow its log (:mod:`.follower`) instead of sequencing one.
    follow: str | None = None
    #: The faucet's window and requests per client per window (see :mod:`astera.node.limits`).
    faucet_window: int = Limits.faucet_window_seconds
    faucet_requests: int = Limits.faucet_requests_per_client
    #: A new follower starts from the leader's newest snapshot, proved against its log.
    from_snapshot: bool = False


def role_key(keys_dir: Path, name: str) -> Key:
    path = keys_dir / f"{name}.key"
    if path.exists():
        return Key.load(path)
    key = Key.generate()
    key.save(path)
    return key


def default_genesis_for(data: Path) -> dict[str, Any]:
    """The built-in network, with role keys generated into ``data/keys`` (reused if present);
    the keeper's key too, which the network funds whether or not a keeper runs yet."""
    keys = {name: role_key(data / "keys", name).address for name in (*ROLE_KEYS, KEEPER_KEY)}
    roles = {r: keys[r] for r in genesis_mod.ROLE_NAMES}
    return genesis_mod.default_genesis(roles, keys["pool_admin_0"], int(time.time()), keys[KEEPER_KEY])


class NodeServer(uvicorn.Server):
    """uvicorn's server, ending the node's SSE streams as soon as a shutdown is asked for."""

    def __init__(self, config: uvicorn.Config, node: Node) -> None:
        super().__init__(config)
        self.node = node

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.node.end_streams()
        super().handle_exit(sig, frame)


def verify_store(
    data: Path, db: str | None, on_block: Callable[[int, int], None] | None = None
) -> VerifyReport:
    if db is None and not (data / "ledger.sqlite3").exists():
        raise StoreError(f"no log in {data} (use --data DIR or --db URL)")
    store: SqlStore = open_store(db, str(data))
    try:
        return verify(store, on_block)
    finally:
        store.close()
