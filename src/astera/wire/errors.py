"""Why a message is not a valid signed transaction: a stable code and a message.

The codes are the node's own (:mod:`astera.node.errors` gives them their HTTP status):
``payload_too_large``, ``malformed_json``, ``invalid_tx``, ``wrong_chain``, ``bad_signature``.
"""

from __future__ import annotations

from typing import Any, Final

CODES: Final = frozenset(
    {"payload_too_large", "malformed_json", "invalid_tx", "wrong_chain", "bad_signature"}
)


class WireError(ValueError):
    """A refused message: ``code`` (one of :data:`CODES`), ``message``, and ``extra`` fields."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        if code not in CODES:
            raise ValueError(f"unknown wire error code {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.extra = extra
