"""The keeper's plug: a hook sees every committed block and can act through a signed participant."""

from __future__ import annotations

import asyncio
from typing import Any

from astera.node.chain import open_chain, verify
from astera.node.node import Node, Participant
from astera.node.sequencer import CommittedBlock
from astera.node.transactions import decode_tx
from astera.wire.tx import sign_tx

from .node_harness import key


def test_block_hook_reacts_with_signed_transactions(
    open_test_store: Any, genesis_doc: dict[str, Any]
) -> None:
    chain = open_chain(open_test_store(), genesis_doc)
    node = Node(chain, snapshot_every=0)
    bot = Participant(key("bob"), node)  # an ordinary key: same signing, nonce and role checks
    seen: list[CommittedBlock] = []
    reactions: list[Any] = []

    async def on_block(block: CommittedBlock) -> None:
        seen.append(block)
        if any(tx.action == "set_price" for tx in block.txs):
            reactions.append(await bot.send("deposit", {"pool": "core", "asset": "USDC", "amount": "7"}))

    node.add_block_hook(on_block)

    async def go() -> None:
        await node.start()
        try:
            price = sign_tx(
                key("oracle"), chain.chain_id, 0, "set_price", {"asset": "WETH", "price": "350000000000"}
            )
            await node.submit(decode_tx(price, chain.chain_id))
            for _ in range(100):
                if reactions:
                    break
                await asyncio.sleep(0.01)
        finally:
            await node.stop()

    asyncio.run(go())
    assert [b.header.height for b in seen] == [1, 2]
    assert reactions[0].height == 2 and seen[1].txs[0].sender == key("bob").address
    assert verify(open_test_store()).height == 2
