"""Genesis: the deployment a network starts from (assets, prices, pools, roles, balances).

A genesis is a JSON or TOML document (``format = "astera-genesis/1"``). Integers may be
written as JSON/TOML integers or as decimal strings (use strings beyond 2**63; floats
are refused). :func:`build` turns it into the block-0 :class:`Ledger` through the
core's own admin surface, so a genesis cannot express a state the protocol would refuse.

:func:`default_genesis` is the zero-configuration network: a Core-Pool with WETH, WBTC,
USDC and USDT at the deployed parameters of spec §13.1 (PI rate controllers), and one
Mini-Pool (§13.2) with an exotic token (wstETH) and a USDC tranche drawing on a
1,000,000 USDC credit line from the Core-Pool. Oracle timeouts are 0 (never stale)
because a test network has no price feed; set ``timeout`` per asset to model staleness.
Given the in-node keeper's address, it also funds the keeper (:data:`KEEPER_BANKROLL`):
the keeper liquidates with its own balances, so a test network gives it some.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Final

from astera.core import Protocol, ProtocolError
from astera.deployment import DeploymentError, deploy_markets, number, tranche_symbol
from astera.wire import is_address

from .ledger import Ledger, NodeRoles

GENESIS_FORMAT: Final = "astera-genesis/1"
ROLE_NAMES: Final = ("admin", "emergency_admin", "oracle", "faucet")


class GenesisError(ValueError):
    """The genesis document is malformed or describes a refused deployment."""


def load(path: Path) -> dict[str, Any]:
    """Read a genesis file (``.toml`` or JSON)."""
    text = Path(path).read_text()
    doc = tomllib.loads(text) if Path(path).suffix == ".toml" else json.loads(text, parse_float=_no_float)
    if not isinstance(doc, dict) or doc.get("format") != GENESIS_FORMAT:
        raise GenesisError(f"{path}: not an {GENESIS_FORMAT} document")
    return doc


def _no_float(text: str) -> Any:
    raise GenesisError(f"floats are not allowed in a genesis ({text}); write integers")


def genesis_text(doc: dict[str, Any]) -> str:
    """The stored form of a genesis: compact JSON in document order.

    Not sorted: the order of assets and reserves is the order they are listed in, which
    fixes the reserve ids, so it is part of what the genesis means.
    """
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def genesis_hash(doc: dict[str, Any]) -> str:
    return hashlib.sha256(genesis_text(doc).encode()).hexdigest()


def chain_id(doc: dict[str, Any]) -> str:
    """The network name transactions are signed for (default: derived from the genesis hash)."""
    return str(doc.get("chain_id") or f"astera-{genesis_hash(doc)[:12]}")


def _address(value: object, what: str) -> str:
    if not is_address(value):
        raise GenesisError(f"{what}: expected an account address (64 hex), got {value!r}")
    return value  # type: ignore[return-value]


def build(doc: dict[str, Any]) -> Ledger:
    """The ledger at block 0."""
    try:
        return _build(doc)
    except ProtocolError as e:
        raise GenesisError(f"the protocol refused the genesis deployment: {e}") from None
    except DeploymentError as e:
        raise GenesisError(str(e)) from None
    except (KeyError, TypeError) as e:
        raise GenesisError(f"malformed genesis: {e!r}") from None


def _build(doc: dict[str, Any]) -> Ledger:
    if doc.get("format") != GENESIS_FORMAT:
        raise GenesisError(f"not an {GENESIS_FORMAT} document")
    roles = {r: _address(doc["roles"][r], f"roles.{r}") for r in ROLE_NAMES}
    start = number(doc["start_timestamp"], "start_timestamp")
    p = Protocol(start, admin=roles["admin"], emergency_admin=roles["emergency_admin"])
    for address in roles.values():
        p.register_user(address)

    def pool_admin(i: int, mp_doc: dict[str, Any]) -> str:
        address = _address(mp_doc["admin"], f"mini_pools[{i}].admin")
        p.register_user(address)
        return address

    deploy_markets(p, doc, pool_admin)
    for holder, balances in doc.get("balances", {}).items():
        p.register_user(_address(holder, "balances"))
        for sym, amount in balances.items():
            p.mint(holder, sym, number(amount, f"balances.{sym}"))
    for dep in doc.get("deposits", []):
        who = _address(dep["account"], "deposits.account")
        p.register_user(who)
        ref = dep.get("pool", "core")
        amount = number(dep["amount"], "deposits.amount")
        p.deposit(who, dep["asset"], amount, pool=ref if ref == "core" else int(ref))
    return Ledger(p, NodeRoles(oracle=roles["oracle"], faucet=roles["faucet"]))


def faucet_limits(doc: dict[str, Any]) -> dict[str, int]:
    """Most one faucet request may mint, per asset (base units)."""
    try:
        return {sym: number(v, f"faucet_limits.{sym}") for sym, v in doc.get("faucet_limits", {}).items()}
    except DeploymentError as e:
        raise GenesisError(str(e)) from None


# ---- the built-in network ----------------------------------------------------------------------------

_RAY = 10**27
_PI = {"model": "pi", "kp": str(_RAY), "ki": str(13 * 10**19), "max_i_time_amp": "1728000"}


def _pi(u0_permille: int, min_ce_per10k: int) -> dict[str, str]:
    return {
        **_PI,
        "optimal_utilization": str(u0_permille * 10**24),
        "min_controller_error": str(min_ce_per10k * 10**23),
    }


def _reserve(strategy_name: str, ltv: int, lt: int, bonus: int, **extra: Any) -> dict[str, Any]:
    return {
        "rate_strategy": strategy_name,
        "ltv": ltv,
        "liquidation_threshold": lt,
        "liquidation_bonus": bonus,
        "reserve_factor": 2000,
        "borrowing_enabled": True,
        "flash_loan_enabled": True,
        **extra,
    }


#: What the built-in network gives the in-node keeper to liquidate with (base units): every
#: asset a position can owe, about $5M of each stablecoin and $1.8M-$3.4M of each other asset.
KEEPER_BANKROLL: Final = {
    "WETH": 500 * 10**18,
    "WBTC": 50 * 10**8,
    "USDC": 5_000_000 * 10**6,
    "USDT": 5_000_000 * 10**6,
    "wstETH": 500 * 10**18,
}


def default_genesis(
    roles: dict[str, str], pool_admin: str, start_timestamp: int, keeper: str | None = None
) -> dict[str, Any]:
    """The zero-configuration network (spec §13.1/§13.2 parameters), bootstrapped by the faucet;
    ``keeper``, if given, starts with :data:`KEEPER_BANKROLL`."""
    faucet = roles["faucet"]
    usd = 10**8
    assets = {
        "WETH": {"decimals": 18, "price": str(3_700 * usd), "timeout": 0},
        "WBTC": {"decimals": 8, "price": str(67_000 * usd), "timeout": 0},
        "USDC": {"decimals": 6, "price": str(1 * usd), "timeout": 0},
        "USDT": {"decimals": 6, "price": str(1 * usd), "timeout": 0},
        "wstETH": {"decimals": 18, "price": str(4_400 * usd), "timeout": 0},
    }
    liquidity = {
        "WETH": 1_000 * 10**18,
        "WBTC": 50 * 10**8,
        "USDC": 5_000_000 * 10**6,
        "USDT": 5_000_000 * 10**6,
    }
    balances = {faucet: {sym: str(v) for sym, v in liquidity.items()}}
    if keeper is not None:
        balances[keeper] = {sym: str(v) for sym, v in KEEPER_BANKROLL.items()}
    return {
        "format": GENESIS_FORMAT,
        "start_timestamp": start_timestamp,
        "roles": dict(roles),
        "assets": assets,
        "rate_strategies": {
            "pi-wbtc": _pi(700, -3675),
            "pi-weth": _pi(700, -3001),
            "pi-stable": _pi(800, -2479),
            "pi-lst": _pi(600, -3001),
        },
        "core_pool": {
            "reserves": {
                "WETH": _reserve("pi-weth", 7500, 8000, 10800),
                "WBTC": _reserve("pi-wbtc", 7500, 8000, 10800),
                "USDC": _reserve("pi-stable", 8500, 9000, 10800),
                "USDT": _reserve("pi-stable", 8500, 9000, 10800),
            }
        },
        "mini_pools": [
            {
                "admin": pool_admin,
                "min_debt_threshold": 100,
                "reserves": {
                    "wstETH": _reserve("pi-lst", 7000, 7500, 10800),
                    tranche_symbol("USDC"): _reserve("pi-stable", 8500, 9000, 10800, tranche_of="USDC"),
                },
                "flow_limits": {"USDC": str(1_000_000 * 10**6)},
            }
        ],
        "balances": balances,
        "deposits": [
            {"account": faucet, "pool": "core", "asset": sym, "amount": str(v)}
            for sym, v in liquidity.items()
        ],
        "faucet_limits": {
            "WETH": str(100 * 10**18),
            "WBTC": str(5 * 10**8),
            "USDC": str(1_000_000 * 10**6),
            "USDT": str(1_000_000 * 10**6),
            "wstETH": str(100 * 10**18),
        },
    }
