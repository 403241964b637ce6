"""The signed-transaction wire format, below both the node and the client.

:mod:`.keys` (Ed25519 accounts and key files, strict verification with :mod:`.public_keys`),
:mod:`.canonical` (canonical JSON to sign, strict JSON to parse), :mod:`.tx` (the envelope,
its body, signing message and hash). Neither :mod:`astera.node` nor :mod:`astera.client`
is imported here; both import this.
"""

from .canonical import canonical_json, parse_json
from .errors import WireError
from .keys import Key, is_address, verify
from .tx import sign_tx, signing_message

__all__ = [
    "Key",
    "WireError",
    "canonical_json",
    "is_address",
    "parse_json",
    "sign_tx",
    "signing_message",
    "verify",
]
