"""The composition root: the one place that wires a node, its liquidation keeper and its
web app together, for ``astera serve``, the remote keeper and the tests.

Below it every layer points down only: the core knows nothing of the node, the node's API
(:mod:`astera.node.api`) knows nothing of the keeper or the web app, and the keeper and the
web app only read the node they are given. :func:`open_node` builds the node a
:class:`~astera.node.serve.ServeConfig` describes (a leader sequencing its own log, with
its keeper unless turned off, or a follower of a leader's log); :func:`create_app` puts the
web app beside the node's API; :func:`serve` runs both until interrupted.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

from astera.keeper import attach
from astera.node import genesis as genesis_mod
from astera.node.api import create_app as create_api
from astera.node.chain import open_chain
from astera.node.limits import Limits
from astera.node.lock import open_locked_store
from astera.node.node import Node
from astera.node.serve import KEEPER_KEY, NodeServer, ServeConfig, default_genesis_for, role_key
from astera.node.store import StoreError
from astera.web import create_router
from astera.wire import Key

log = logging.getLogger("astera.node")


def open_leader(config: ServeConfig) -> Node:
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
    keeper = role_key(config.data / "keys", KEEPER_KEY) if config.keeper else None
    limits = Limits(
        faucet_window_seconds=config.faucet_window, faucet_requests_per_client=config.faucet_requests
    )
    node = Node(
        chain, snapshot_every=config.snapshot_every, faucet_key=faucet, keeper_key=keeper, limits=limits
    )
    if keeper is not None:
        attach(node)
    return node


def open_node(config: ServeConfig) -> Node:
    """The node ``config`` describes: a follower of ``config.follow`` (every block verified by
    replay before it is served), or else a leader (:func:`open_leader`)."""
    if not config.follow:
        return open_leader(config)
    from astera.node.follower import open_follower  # noqa: PLC0415 - only a follower needs it

    return open_follower(
        config.follow,
        config.data,
        config.db,
        snapshot_every=config.snapshot_every,
        genesis=genesis_mod.load(config.genesis) if config.genesis else None,
        from_snapshot=config.from_snapshot,
    )


def create_app(node: Node) -> FastAPI:
    """The node's HTTP API with the web app at ``/`` (:mod:`astera.web`), included after every
    API route so that the hot routes (``POST /txs``) are matched first."""
    app = create_api(node)
    app.include_router(create_router(node))
    return app


def serve(config: ServeConfig) -> None:
    """``astera serve``: open the node, serve its API and web app until interrupted."""
    from astera.node.follower import LeaderUnreachable, VerificationFailed  # noqa: PLC0415

    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    if config.follow:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not every long poll
    try:
        node = open_node(config)
    except LeaderUnreachable as e:
        sys.exit(f"astera serve --follow {config.follow}: cannot follow it: {e}")
    except VerificationFailed as e:
        sys.exit(f"astera serve --follow {config.follow}: stopped, {e}")
    except (StoreError, genesis_mod.GenesisError) as e:
        sys.exit(f"astera serve: {e}")
    if config.follow:
        log.info("following %s: every block is verified by replay before it is served", config.follow)
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
