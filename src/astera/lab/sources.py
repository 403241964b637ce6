"""Books from elsewhere: a node's genesis document, a running node, or a node's data directory.

* A **genesis** document (``astera-genesis/1``, what ``astera serve`` starts from) shares its
  deployment shape with scenario documents (:mod:`astera.deployment`): the lab turns its
  markets and opening deposits into an ``astera-scenario/1`` book, to which the study's
  parameters and populations apply as to any other, and whose paths export and replay.
* A **running node** (``book.node``, or ``astera lab run --from-node URL``) gives its state at
  the head: its genesis (``GET /genesis``), its newest snapshot proved against the block that
  records its state hash (``GET /snapshot``, as a follower starts), then every block after it
  (``GET /log``), each replayed with its signatures and state hash checked.
* A node's **data directory** (``book.data_dir``) gives the same from its log on disk: the
  newest snapshot whose hash the log records, then the blocks after it, as the node restores
  itself on start.

A live book is a protocol state, not a document: the study's parameters and synthetic
populations do not apply to it, and its paths cannot be exported as scenarios.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from astera.core import Protocol
from astera.node import genesis as genesis_mod
from astera.node.chain import ReplayError, genesis_header, open_chain, replay
from astera.node.follower import Leader, LeaderUnreachable, VerificationFailed, proved_snapshot
from astera.node.store import StoreError, open_store
from astera.scenario import SCENARIO_FORMAT

from .study import StudyError

#: The deployment parts of a genesis document a scenario document reads the same way.
DEPLOYMENT_KEYS = ("start_timestamp", "assets", "rate_strategies", "core_pool", "mini_pools")


def genesis_scenario(doc: object, name: str) -> dict[str, Any]:
    """A genesis document's markets and opening deposits as a scenario document."""
    if not isinstance(doc, dict) or doc.get("format") != genesis_mod.GENESIS_FORMAT:
        raise StudyError("book.genesis", f"not an {genesis_mod.GENESIS_FORMAT} document")
    missing = [k for k in DEPLOYMENT_KEYS if k not in doc and k != "mini_pools"]
    if missing:
        raise StudyError("book.genesis", f"the genesis has no {', '.join(missing)}")
    actions = []
    for i, dep in enumerate(doc.get("deposits", [])):
        try:
            ref = dep.get("pool", "core")
            where = {"pool": "core"} if ref == "core" else {"pool": "mini", "mini_pool": int(ref)}
            actions.append({"op": "deposit", **where, "user": dep["account"], "asset": dep["asset"],
                            "amount": str(dep["amount"])})  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError):
            raise StudyError(
                f"book.genesis.deposits.{i}", "a deposit names account, asset and amount"
            ) from None
    return {
        "format": SCENARIO_FORMAT,
        "name": name,
        **{k: doc[k] for k in DEPLOYMENT_KEYS if k in doc},
        "users": [],
        "actions": actions,
    }


def node_protocol(url: str) -> Protocol:
    """A running node's state at its head (module docstring), every block verified."""
    try:
        return asyncio.run(_from_node(url))
    except (LeaderUnreachable, VerificationFailed, ReplayError, genesis_mod.GenesisError) as e:
        raise StudyError("book.node", f"cannot read the node's state: {e}") from None


async def _from_node(url: str) -> Protocol:
    leader = Leader(url, timeout=60)
    try:
        doc = await leader.genesis()
        fresh = genesis_mod.build(doc)
        base = await proved_snapshot(leader, fresh.roles)
        ledger, prev = (base[2], base[0]) if base is not None else (fresh, genesis_header(doc, fresh))
        chain_id = genesis_mod.chain_id(doc)
        while True:
            head, blocks = await leader.log(prev.height, 0)
            if not blocks:
                if head > prev.height:
                    raise VerificationFailed(prev.height, "the node stopped serving its log")
                return ledger.protocol
            wire = [(b.header, b.txs) for b in blocks]
            prev, _ = replay(ledger, chain_id, prev, wire, check_every_block=True)
    finally:
        await leader.close()


def data_dir_protocol(path: Path) -> Protocol:
    """The state at the head of the log in a node's data directory (its SQLite store)."""
    if not (path / "ledger.sqlite3").exists():
        raise StudyError("book.data_dir", f"{path} holds no node log (ledger.sqlite3)")
    try:
        store = open_store(None, str(path))
    except StoreError as e:
        raise StudyError("book.data_dir", f"cannot open the node's log: {e}") from None
    try:
        return open_chain(store, None).ledger.protocol
    except (StoreError, genesis_mod.GenesisError) as e:
        raise StudyError("book.data_dir", f"the node's log does not restore: {e}") from None
    finally:
        store.close()
