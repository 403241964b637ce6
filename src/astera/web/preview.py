"""Exact previews: what one unsigned transaction would do, computed by the core on the live state.

The transaction goes through the same checks as a signed one (parameters, role, nonce, the
protocol) at the time the next block would have, inside a dry run (:func:`astera.human.dry_run`,
always rolled back). The answer is
the account as ``GET /accounts/{address}`` would show it after and the reserve's new rates, or
the refusal as ``POST /txs`` would answer it (in plain words, with the most the action allows).
"""

from __future__ import annotations

from typing import Any

from astera.human import dry_run
from astera.node.blocks import jsonable
from astera.node.errors import NodeError
from astera.node.node import Node
from astera.node.transactions import decode_tx
from astera.node.views import account_view, reserve_view


def preview(node: Node, sender: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
    ledger = node.chain.ledger
    p = ledger.protocol
    nonce = ledger.next_nonce(sender)
    body = {"chain_id": node.chain_id, "sender": sender, "nonce": nonce, "action": action, "params": params}
    tx = decode_tx({"tx": body, "signature": ""}, node.chain_id, check_signature=False)
    out: dict[str, Any] = {"action": action, "refused": None}

    def run() -> None:
        p.set_time(max(p.now, int(node.sequencer.clock())))  # where the next block would run it
        events = ledger.apply(tx)
        out["events"] = [{"event": e.name, "pool": e.pool, "data": jsonable(e.fields)} for e in events]
        out["account"] = account_view(p, sender, nonce + 1)
        if "pool" in tx.args and "asset" in tx.args:
            pool = p.pool(tx.args["pool"])
            r = next(r for r in pool.reserves if r.asset == tx.args["asset"])
            out["reserve"] = reserve_view(p, pool, r)

    try:
        dry_run(p, run)
    except NodeError as e:  # the ledger's refusal (protocol refusals are explained there)
        out = {"action": action, "refused": e.body()["error"]}
    finally:  # the ledger's nonces are outside the protocol's journal
        if nonce:
            ledger.nonces[sender] = nonce
        else:
            ledger.nonces.pop(sender, None)
    return out
