"""Exact previews: what one unsigned transaction would do, from the node's dry run.

A thin shape over :func:`astera.node.simulate.simulate` (``POST /simulate``: the same checks
as a signed transaction, run by the core at the next block's time and rolled back) for one
transaction: the sender's account after it and the reserve it names, or the refusal as
``POST /txs`` would answer it (in plain words, with the most the action allows).
"""

from __future__ import annotations

from typing import Any

from astera.node.node import Node
from astera.node.simulate import simulate


def preview(node: Node, sender: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
    run = simulate(
        node, {"txs": [{"sender": sender, "action": action, "params": params}]}, int(node.sequencer.clock())
    )
    (result,) = run["results"]
    if not result["ok"]:
        return {"action": action, "refused": result["error"]}
    return {
        "action": action,
        "refused": None,
        "events": result["events"],
        "account": run["accounts"][sender],
        "reserve": run["reserves"][0] if run["reserves"] else None,
    }
