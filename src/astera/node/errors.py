"""The node's refusals: a stable error code, its HTTP status, and a message.

Codes never change meaning; clients switch on ``code`` (and, for ``refused``, on the
protocol's own ``reason`` code such as ``"9"`` or ``"input:amount"``). A refusal
changes nothing: no state, no nonce, no log entry.
"""

from __future__ import annotations

from typing import Any, Final

#: code -> HTTP status.
STATUS: Final[dict[str, int]] = {
    "malformed_json": 400,  # the body is not UTF-8 JSON
    "bad_signature": 401,  # the signature does not verify against the sender's key
    "unauthorized": 403,  # the sender lacks the role the action needs
    "faucet_disabled": 403,  # this node holds no faucet key
    "not_found": 404,  # no such block, transaction, account, pool or route
    "method_not_allowed": 405,  # the route exists, not with this HTTP method
    "bad_nonce": 409,  # the nonce is not the sender's next one (replayed or skipped)
    "payload_too_large": 413,
    "invalid_tx": 422,  # well-formed JSON, but not a valid transaction (types, floats, huge numbers, ...)
    "wrong_chain": 422,  # signed for another network
    "expired": 422,  # the block time is past the transaction's ``expires_at``
    "invalid_request": 422,  # bad query, header or body outside a transaction (e.g. /faucet)
    "unknown_asset": 422,  # the faucet has no such asset
    "faucet_limit": 422,  # asks the faucet for more than one request may take
    "refused": 422,  # the protocol refused the action (``reason`` holds its code)
    "rate_limited": 429,  # this client (or address) used its allowance: faucet requests, open streams
    "internal_error": 500,  # a bug: the action was rolled back, the node keeps running
    "unavailable": 503,  # the node is stopping or its store failed, or a follower's leader does not answer
}


class NodeError(Exception):
    """A refusal with a stable ``code``; ``extra`` fields go into the JSON body."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        if code not in STATUS:
            raise ValueError(f"unknown node error code {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.extra = extra

    @property
    def status(self) -> int:
        return STATUS[self.code]

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}
