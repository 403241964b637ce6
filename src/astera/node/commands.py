"""Bodies of the node's CLI commands (``astera key``, ``astera deposit``, ``astera account``, ...).

Amounts on the command line are in whole tokens and may have decimals (``1.5`` WETH);
they are converted to base units exactly with the asset's decimals read from the
node, and refused if they have more decimals than the asset. ``--raw`` takes base
units as they are. Keys live in ``$ASTERA_HOME/keys`` (default ``~/.astera/keys``);
``--key`` takes a key name there or a path to a key file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from astera.client import Account, ApiError, Client

from .accounts import Key

UINT256_MAX = 2**256 - 1
console = Console()
console_err = Console(stderr=True)


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
        raise FileExistsError(f"{path} exists; choose another name")
    key = Key.generate()
    key.save(path)
    return key


def load_key(name: str) -> Key:
    path = key_path(name)
    if not path.exists():
        raise FileNotFoundError(f"no key {path}; create one with `astera key new {name}`")
    return Key.load(path)


def base_units(client: Client, asset: str, amount: str, raw: bool) -> int | str:
    """Whole tokens (or base units with ``raw``) to base units; ``max`` passes through."""
    if amount == "max":
        return "max"
    if raw:
        if not amount.isdigit():
            raise ValueError(f"--raw amounts are non-negative integers, got {amount!r}")
        return int(amount)
    assets = client.markets()["assets"]
    if asset not in assets:
        raise ValueError(f"unknown asset {asset!r}; the node lists {', '.join(sorted(assets))}")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise ValueError(f"not a number: {amount!r}") from None
    scaled = value.scaleb(int(assets[asset]["decimals"]))
    if not value.is_finite() or value < 0 or scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {asset} is not a whole number of base units")
    return int(scaled)


def pool_ref(pool: str) -> str | int:
    return "core" if pool == "core" else int(pool)


def act(node: str, key: str, action: str, asset: str, amount: str, pool: str, raw: bool) -> dict[str, Any]:
    """Sign and submit deposit/withdraw/borrow/repay; print and return the receipt."""
    with Client(node) as client:
        account = Account(client, load_key(key))
        units = base_units(client, asset, amount, raw)
        receipt = account.send(action, pool=pool_ref(pool), asset=asset, amount=str(units))
    console.print(
        f"[green]{action}[/] {amount} {asset} in block {receipt['height']} (tx {receipt['hash'][:16]}…)"
    )
    return receipt


def faucet(node: str, key: str, asset: str, amount: str, raw: bool) -> None:
    with Client(node) as client:
        address = load_key(key).address
        receipt = client.faucet(address, asset, int(base_units(client, asset, amount, raw)))
    console.print(f"[green]faucet[/] {amount} {asset} to {address[:16]}… in block {receipt['height']}")


def _wad(value: str, decimals: int = 18) -> str:
    if int(value) == UINT256_MAX:
        return "∞ (no debt)"
    return f"{Decimal(int(value)).scaleb(-decimals):.4f}"


def _tokens(value: str, decimals: int) -> str:
    return f"{Decimal(int(value)).scaleb(-decimals):f}"


def show_account(node: str, address_or_key: str) -> dict[str, Any]:
    """Print wallet, positions, health factor and borrowing power in every pool."""
    with Client(node) as client:
        address = address_or_key if len(address_or_key) == 64 else load_key(address_or_key).address
        view = client.account(address)
        decimals = {a: int(v["decimals"]) for a, v in client.markets()["assets"].items()}
    console.print(f"account [bold]{address}[/]  next nonce {view['next_nonce']}")
    wallet = Table("asset", "wallet", title="wallet")
    for asset, bal in view["wallet"].items():
        if int(bal):
            wallet.add_row(asset, _tokens(bal, decimals[asset]))
    console.print(wallet)
    for pool, pv in view["pools"].items():
        if not pv["positions"]:
            continue
        t = Table("asset", "supplied", "debt", "collateral", title=f"pool {pool}")
        for pos in pv["positions"]:
            dec = int(pos["decimals"])
            t.add_row(
                pos["asset"],
                _tokens(pos["supplied"], dec),
                _tokens(pos["debt"], dec),
                "yes" if pos["collateral"] else "no",
            )
        console.print(t)
        if "health_factor" in pv:
            console.print(
                f"  health factor [bold]{_wad(pv['health_factor'])}[/]   collateral "
                f"${_tokens(pv['total_collateral_usd'], 8)}   debt ${_tokens(pv['total_debt_usd'], 8)}"
                f"   borrowing power ${_tokens(pv['borrowing_power_usd'], 8)}"
            )
    return view


def report_api_error(e: ApiError) -> str:
    reason = f" (protocol code {e.reason})" if e.reason else ""
    return f"refused: {e}{reason}"


def run(fn: Callable[..., Any], *args: Any) -> int:
    """Run a command body; a refusal or a usage problem is one line on stderr and exit code 1."""
    try:
        fn(*args)
    except ApiError as e:
        console_err.print(report_api_error(e))
        return 1
    except (ValueError, OSError) as e:
        console_err.print(f"error: {e}")
        return 1
    except httpx.HTTPError as e:
        console_err.print(f"cannot reach the node: {e}")
        return 1
    return 0
