"""The CLI's side of a node: keys on disk, the node's URL and assets, amounts, signed sends.

Amounts on the command line are whole tokens (``1.5`` WETH, ``12,750`` USDC), converted to
base units exactly with the asset's decimals read from the node (:mod:`astera.human`);
``--raw`` takes base units. Keys live in ``$ASTERA_HOME/keys`` (default ``~/.astera/keys``);
``--key`` takes a key name there or a path to a key file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from astera.client import Account, ApiError, Client, Key
from astera.human import Rounding, parse_amount, parse_amount_or_max, tokens

from .errors import CliError, api_error_text

console = Console(highlight=False)


# ---- keys --------------------------------------------------------------------------------------------


def key_dir() -> Path:
    return Path(os.environ.get("ASTERA_HOME", Path.home() / ".astera")) / "keys"


def key_path(name: str) -> Path:
    """A key name (``alice`` -> ``$ASTERA_HOME/keys/alice.key``) or a path to a key file."""
    if "/" in name or name.endswith(".key"):
        return Path(name)
    return key_dir() / f"{name}.key"


def new_key(name: str) -> Key:
    path = key_path(name)
    if path.exists():
        raise CliError(f"{path} exists; choose another name")
    key = Key.generate()
    try:
        key.save(path)
    except OSError as e:
        raise CliError(f"cannot write {path}: {e.strerror or e}") from None
    return key


def load_key(name: str) -> Key:
    path = key_path(name)
    if not path.exists():
        hint = f"astera key new {name}" if "/" not in name else "astera key new NAME"
        raise CliError(f"no key {path}; create one with `{hint}`")
    return read_key_file(path)


def read_key_file(path: Path) -> Key:
    """The key in a key file, or a :class:`CliError` saying why the file is not one."""
    key = _key_in(path)
    if isinstance(key, str):
        raise CliError(f"{path} is {key}")
    return key


def _key_in(path: Path) -> Key | str:
    """The key in a key file, or why the file is not one (``not a usable astera key file (...)``)."""
    if path.is_dir():
        return "a directory, not a key file"
    try:
        return Key.load(path)
    except (ValueError, KeyError, TypeError) as e:  # not JSON, wrong format, bad hex, wrong key
        return f"not a usable astera key file ({'not JSON' if isinstance(e, json.JSONDecodeError) else e})"


def local_keys(directory: Path) -> list[tuple[Path, Key | str]]:
    """Each ``*.key`` file in ``directory``, by name: its key, or why it is not a usable one."""
    return [(path, _key_in(path)) for path in sorted(directory.glob("*.key"))]


def address_of(who: str) -> str:
    """An address given as such (64 hex digits), or the address of a key name or file."""
    if re.fullmatch(r"[0-9a-f]{64}", who):
        return who
    return load_key(who).address


# ---- the node ------------------------------------------------------------------------------------------


def node_url(url: str) -> str:
    """A node's URL as given, once it has a scheme and a host (checked before anything is opened)."""
    if not re.match(r"^https?://[^/]", url):
        raise CliError(f"node URL {url!r} needs its scheme, e.g. http://127.0.0.1:8000")
    return url


class Session:
    """A node reached from the command line: its URL checked, its assets read once."""

    def __init__(self, url: str) -> None:
        self.url = node_url(url)
        self.client = Client(url)
        self._markets: dict[str, Any] | None = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def markets(self) -> dict[str, Any]:
        if self._markets is None:
            self._markets = self.client.markets()
        return self._markets

    def decimals(self, asset: str) -> int:
        """An asset's decimals: a listed token, or a reserve of some pool (a Mini-Pool tranche
        such as ``was-USDC``, which is no token of its own)."""
        doc = self.markets()
        known = {name: int(spec["decimals"]) for name, spec in doc["assets"].items()}
        for pool in (doc["core"], *doc["mini_pools"]):
            for r in pool["reserves"]:
                known.setdefault(r["asset"], int(r["config"]["decimals"]))
        if asset not in known:
            raise CliError(f"unknown asset {asset!r}; the node lists {', '.join(sorted(known))}")
        return known[asset]

    def units(self, asset: str, text: str, raw: bool, allow_max: bool = False) -> int | Literal["max"]:
        """A command-line amount in base units (``max`` where the action takes it)."""
        if allow_max and text.strip().lower() == "max":
            return "max"
        if raw:
            return parse_amount(text, 0, "base units")
        decimals = self.decimals(asset)
        return (
            parse_amount_or_max(text, decimals, asset) if allow_max else parse_amount(text, decimals, asset)
        )

    def fmt(self, asset: str, units: int | str, rounding: Rounding = "down") -> str:
        """Base units as whole tokens with the symbol."""
        return tokens(int(units), self.decimals(asset), asset, rounding)

    def fmt_amount(self, asset: str, amount: int | str) -> str:
        return "everything (max)" if amount == "max" else self.fmt(asset, amount, "exact")

    def account(self, key: str) -> Account:
        return Account(self.client, load_key(key))

    def send(self, key: str, action: str, **params: Any) -> dict[str, Any]:
        """Sign ``action`` with the key and submit it; the receipt, or a plain-words refusal."""
        try:
            return self.account(key).send(action, **params)
        except ApiError as e:
            raise CliError(api_error_text(e)) from None


def pool_ref(pool: str) -> str | int:
    if pool == "core":
        return "core"
    if not pool.isdigit():
        raise CliError(f'--pool is "core" or a Mini-Pool id (0, 1, ...), not {pool!r}')
    return int(pool)


def print_receipt(what: str, receipt: dict[str, Any]) -> None:
    """What was done, in which block; a follower's receipt says it forwarded the transaction."""
    leader = receipt.get("forwarded_to")
    via = f", forwarded to the leader {leader} and verified by this node" if leader else ""
    console.print(
        f"[green]{what}[/] in block {receipt['height']} (tx {receipt['hash'][:16]}…){via}", soft_wrap=True
    )
