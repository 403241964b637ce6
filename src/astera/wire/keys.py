"""Accounts are Ed25519 keys: the address is the hex of the 32-byte public key.

Roles (admin, emergency admin, pool admins, oracle, faucet) are ordinary accounts
whose addresses the genesis names. A key file holds the 32-byte private seed in hex;
it is written with mode 0600 because whoever reads it can sign as the account.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from .public_keys import is_strict_signature, is_valid_public_key

KEY_FORMAT = "astera-key/1"
ADDRESS_RE = re.compile(r"^[0-9a-f]{64}$")
SIGNATURE_RE = re.compile(r"^[0-9a-f]{128}$")


def is_address(value: object) -> bool:
    """An account address: 64 lowercase hex digits encoding a valid Ed25519 public key.

    Small-order and non-canonical encodings are refused (see :mod:`.public_keys`): for
    them a fixed signature can verify for many messages, so nobody would own the account.
    """
    return (
        isinstance(value, str)
        and ADDRESS_RE.match(value) is not None
        and is_valid_public_key(bytes.fromhex(value))
    )


class Key:
    """An Ed25519 signing key and the account address it controls."""

    __slots__ = ("_private", "address")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.address = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    @classmethod
    def generate(cls) -> Key:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Key:
        """Deterministic key from a 32-byte seed (tests, reproducible fixtures)."""
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    def seed(self) -> bytes:
        return self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def sign(self, message: bytes) -> str:
        """Hex signature of ``message``."""
        return self._private.sign(message).hex()

    def save(self, path: Path) -> None:
        """Write the key file (mode 0600); refuses to overwrite an existing key."""
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {"format": KEY_FORMAT, "address": self.address, "private_key": self.seed().hex()}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")

    @classmethod
    def load(cls, path: Path) -> Key:
        doc = json.loads(Path(path).read_text())
        if doc.get("format") != KEY_FORMAT:
            raise ValueError(f"{path}: not an {KEY_FORMAT} file")
        key = cls.from_seed(bytes.fromhex(doc["private_key"]))
        if key.address != doc.get("address"):
            raise ValueError(f"{path}: address does not match the private key")
        return key


@lru_cache(maxsize=1 << 14)
def _public_key(address: str) -> Ed25519PublicKey:
    """The loaded key of a valid address (kept: senders repeat, and loading costs ~8 % of a check)."""
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(address))


def verify(address: str, signature_hex: str, message: bytes) -> bool:
    """Whether ``signature_hex`` is ``address``'s Ed25519 signature of ``message``, verified
    strictly: valid public key, R not of small order, S reduced, then RFC 8032."""
    if not is_address(address) or not isinstance(signature_hex, str) or not SIGNATURE_RE.match(signature_hex):
        return False
    signature = bytes.fromhex(signature_hex)
    if not is_strict_signature(signature):
        return False
    try:
        _public_key(address).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True
