"""``astera serve`` and ``astera verify``: a data directory, a store, a genesis, a running node.

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

import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from astera.wire import Key

from . import genesis as genesis_mod
from .chain import VerifyReport, open_chain, verify
from .limits import Limits
from .lock import open_locked_store
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


def _role_key(keys_dir: Path, name: str) -> Key:
    path = keys_dir / f"{name}.key"
    if path.exists():
        return Key.load(path)
    key = Key.generate()
    key.save(path)
    return key


def default_genesis_for(data: Path) -> dict[str, Any]:
    """The built-in network, with role keys generated into ``data/keys`` (reused if present);
    the keeper's key too, which the network funds whether or not a keeper runs yet."""
    keys = {name: _role_key(data / "keys", name).address for name in (*ROLE_KEYS, KEEPER_KEY)}
    roles = {r: keys[r] for r in genesis_mod.ROLE_NAMES}
    return genesis_mod.default_genesis(roles, keys["pool_admin_0"], int(time.time()), keys[KEEPER_KEY])


def open_node(config: ServeConfig) -> Node:
    """Open (or create) the log and build the node, with its keeper unless ``config.keeper`` is
    off; nothing is served yet."""
    store = open_locked_store(config.data, config.db)
    try:
        doc: dict[str, Any] | None = None
        if store.genesis_json() is None:
            doc = genesis_mod.load(config.genesis) if config.genesis else default_genesis_for(config.data)
            (config.data / "genesis.json").write_text(json.dumps(doc, indent=1) + "\n")
        elif config.genesis is not None:
            doc = genesis_mod.load(config.genesis)  # must match the stored one
        chain = open_chain(store, doc)
    except BaseException:
        store.close()
        raise
    faucet_path = config.data / "keys" / "faucet.key"
    faucet = Key.load(faucet_path) if faucet_path.exists() else None
    keeper = _role_key(config.data / "keys", KEEPER_KEY) if config.keeper else None
    limits = Limits(
        faucet_window_seconds=config.faucet_window, faucet_requests_per_client=config.faucet_requests
    )
    node = Node(
        chain, snapshot_every=config.snapshot_every, faucet_key=faucet, keeper_key=keeper, limits=limits
    )
    if keeper is not None:
        from astera.keeper import attach

        attach(node)
    return node


def serve(config: ServeConfig) -> None:
    from .api import create_app

    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    try:
        if config.follow:
            from .follower import LeaderUnreachable, VerificationFailed, open_follower

            logging.getLogger("httpx").setLevel(logging.WARNING)  # not every long poll
            genesis_doc = genesis_mod.load(config.genesis) if config.genesis else None
            try:
                node: Node = open_follower(
                    config.follow,
                    config.data,
                    config.db,
                    snapshot_every=config.snapshot_every,
                    genesis=genesis_doc,
                    from_snapshot=config.from_snapshot,
                )
            except (VerificationFailed, LeaderUnreachable) as e:
                sys.exit(f"astera serve --follow {config.follow}: stopped, {e}")
            log.info("following %s: every block is verified by replay before it is served", config.follow)
        else:
            node = open_node(config)
    except (StoreError, genesis_mod.GenesisError) as e:
        sys.exit(f"astera serve: {e}")
    head = node.chain.head
    log.info(
        "chain %s at block %d (state %s), store %s",
        node.chain_id,
        head.height,
        head.state_hash[:16],
        node.store.describe(),
    )
    if node.keeper is not None:
        log.info("keeper %s liquidates inside the node", node.keeper.address)
    uv_config = uvicorn.Config(
        create_app(node),
        host=config.host,
        port=config.port,
        log_level=config.log_level,
        access_log=False,
        timeout_graceful_shutdown=3,  # a backstop: a client that never reads must not hold a shutdown
    )
    server = NodeServer(uv_config, node)
    failures: list[Exception] = []
    follower = getattr(node, "follower", None)
    if follower is not None:

        def stop_on(failure: Exception) -> None:
            failures.append(failure)
            server.should_exit = True

        follower.on_failure.append(stop_on)
    server.run()
    if failures:
        raise SystemExit(f"astera serve --follow {config.follow}: stopped, {failures[0]}")


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
