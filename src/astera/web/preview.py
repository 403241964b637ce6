"""Exact previews: what one unsigned transaction would do, computed by the core on the live state.

The transaction goes through the same checks as a signed one (parameters, role, nonce, the
protocol) inside a transaction that is rolled back. The answer is the account as
``GET /accounts/{address}`` would show it after, the reserve's new rates, or the refusal.
"""

from __future__ import annotations

from typing import Any

from astera.node.blocks import jsonable
from astera.node.errors import NodeError
from astera.node.node import Node
from astera.node.transactions import decode_tx
from astera.node.views import account_view, reserve_view

from .dryrun import rolled_back


def preview(node: Node, sender: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
    ledger = node.chain.ledger
    p = ledger.protocol
    nonce = ledger.next_nonce(sender)
    body = {"chain_id": node.chain_id, "sender": sender, "nonce": nonce, "action": action, "params": params}
    tx = decode_tx({"tx": body, "signature": ""}, node.chain_id, check_signature=False)
    out: dict[str, Any] = {"action": action, "refused": None}
    with rolled_back(p):
        try:
            events = ledger.apply(tx)
        except NodeError as e:
            out["refused"] = e.body()["error"]
            return out
        finally:  # the ledger's nonces are not journaled
            if nonce:
                ledger.nonces[sender] = nonce
            else:
                ledger.nonces.pop(sender, None)
        out["events"] = [{"event": e.name, "pool": e.pool, "data": jsonable(e.fields)} for e in events]
        out["account"] = account_view(p, sender, nonce + 1)
        pool_ref = params.get("pool")
        if pool_ref is not None and "asset" in params:
            pool = p.pool(pool_ref)
            r = next(r for r in pool.reserves if r.asset == params["asset"])
            out["reserve"] = reserve_view(p, pool, r)
    return out
