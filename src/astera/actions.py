"""Every protocol action, declared once: its name, typed parameters, the role it needs, and
how it runs on the core.

This one table drives the node's transaction validation (strict types; amounts are decimal
strings) and role check (before the core sees the call), scenario replay, the Python
client and the CLI; adding an action is adding an entry. It sits below all of them and
depends only on the core (``account`` parameters are checked by the wire format's key
rules). Liquidations and every user action are open to anyone; admin actions need the
admin key, pool configuration the pool's admin key, pausing the emergency admin key, price
updates the oracle key and minting the faucet key.

Flash loans are not offered: their receiver is code, which a signed message cannot carry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from astera.core import (
    UINT256_MAX,
    DefaultRateStrategy,
    Event,
    FixedRateStrategy,
    LiquidationPolicy,
    PIRateStrategy,
    Protocol,
    RateStrategy,
)
from astera.core.wadray import INT256_MAX, INT256_MIN
from astera.wire import is_address

AMOUNT_RE: Final = re.compile(r"^(0|[1-9][0-9]{0,77})$")
SIGNED_RE: Final = re.compile(r"^-?(0|[1-9][0-9]{0,77})$")
SYMBOL_RE: Final = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
MAX_POOL_ID: Final = 1 << 16


class Role(Enum):
    ADMIN = "admin"
    EMERGENCY_ADMIN = "emergency_admin"
    POOL_ADMIN = "pool_admin"  # the admin of the pool named by ``pool`` (the main admin for the Core-Pool)
    ORACLE = "oracle"
    FAUCET = "faucet"


# ---- parameter types -------------------------------------------------------------------------------


def amount(value: object) -> int:
    """A token amount (or any uint256): a decimal-integer string in [0, 2**256 - 1]."""
    if isinstance(value, str) and SIGNED_RE.match(value) and value.startswith("-"):
        raise ValueError(f"must not be negative (got {value})")
    if not isinstance(value, str) or not AMOUNT_RE.match(value) or int(value) > UINT256_MAX:
        raise ValueError("must be a decimal-integer string in [0, 2**256-1]")
    return int(value)


def amount_or_max(value: object) -> int:
    """An amount, or ``"max"`` (2**256 - 1: everything, where the protocol allows it)."""
    return UINT256_MAX if value == "max" else amount(value)


def price(value: object) -> int:
    """An oracle price (USD, 8 decimals): a decimal string in [1, 2**255 - 1].

    Checked here like every parameter's shape, so a bad price is ``invalid_tx`` before the
    core is called (the core's ``add_asset`` once half-listed an asset on a bad price).
    """
    v = amount(value)
    if not 1 <= v < 1 << 255:
        raise ValueError("must be a decimal-integer string in [1, 2**255-1]")
    return v


def decimals(value: object) -> int:
    if type(value) is not int or not 0 <= value <= 255:
        raise ValueError("must be an integer in [0, 255]")
    return value


def signed(value: object) -> int:
    """An int256: a decimal-integer string in [-2**255, 2**255 - 1]."""
    if not isinstance(value, str) or not SIGNED_RE.match(value) or not INT256_MIN <= int(value) <= INT256_MAX:
        raise ValueError("must be a decimal-integer string in [-2**255, 2**255-1]")
    return int(value)


def pool(value: object) -> str | int:
    """``"core"`` or a Mini-Pool id (a JSON integer)."""
    if value == "core":
        return "core"
    return mini_pool(value)


def mini_pool(value: object) -> int:
    if type(value) is not int or not 0 <= value < MAX_POOL_ID:
        raise ValueError('must be "core" or a Mini-Pool id (integer)')
    return value


def symbol(value: object) -> str:
    if not isinstance(value, str) or not SYMBOL_RE.match(value):
        raise ValueError("must be an asset symbol (1-32 of A-Z a-z 0-9 . _ -)")
    return value


def account(value: object) -> str:
    if not is_address(value):
        raise ValueError("must be an account address (64 lowercase hex digits)")
    return value  # type: ignore[return-value]


def flag(value: object) -> bool:
    if type(value) is not bool:
        raise ValueError("must be true or false")
    return value


Parser = Callable[[object], Any]


def small_int(value: object) -> int:
    """A configuration integer (bps, decimals, seconds, counts): a JSON integer in [0, 2**63)."""
    if type(value) is not int or not 0 <= value < 1 << 63:
        raise ValueError("must be a non-negative integer")
    return value


class FieldError(ValueError):
    """A bad field of an object parameter (a strategy's ``slope1``); the message starts with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field} {message}")
        self.field = field


#: Each model's fields, as decimal strings: every one a uint256 in the contracts but the PI
#: controller's error floor, which is signed. A negative time amplitude (an int256 there) is
#: no duration, so it is refused here too; the core checks the contracts' own rules.
STRATEGY_FIELDS: Final[dict[str, dict[str, Parser]]] = {
    "default": {"optimal_utilization": amount, "base_rate": amount, "slope1": amount, "slope2": amount},
    "pi": {
        "optimal_utilization": amount,
        "kp": amount,
        "ki": amount,
        "min_controller_error": signed,
        "max_i_time_amp": amount,
    },
    "fixed": {"borrow_rate": amount},
}


def strategy(value: object) -> dict[str, Any]:
    """A rate strategy: ``{"model": "default"|"pi"|"fixed", <ray fields as decimal strings>}``."""
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("model"), str)
        or value["model"] not in STRATEGY_FIELDS
    ):
        raise ValueError(f"must be an object with model in {sorted(STRATEGY_FIELDS)}")
    fields = STRATEGY_FIELDS[value["model"]]
    if set(value) != {"model", *fields}:
        raise ValueError(f"{value['model']} strategy fields are {list(fields)}")
    parsed: dict[str, Any] = {"model": value["model"]}
    for name, parse in fields.items():
        try:
            parsed[name] = parse(value[name])
        except ValueError as e:
            raise FieldError(name, str(e)) from None
    return parsed


def make_strategy(spec: dict[str, Any], now: int) -> RateStrategy:
    """Instantiate a validated strategy spec (PI controllers start their clock at ``now``)."""
    model = spec["model"]
    if model == "default":
        return DefaultRateStrategy(
            spec["optimal_utilization"], spec["base_rate"], spec["slope1"], spec["slope2"]
        )
    if model == "pi":
        return PIRateStrategy(
            spec["optimal_utilization"],
            spec["kp"],
            spec["ki"],
            spec["min_controller_error"],
            spec["max_i_time_amp"],
            now,
        )
    return FixedRateStrategy(spec["borrow_rate"])


#: A liquidation policy's fields (astera.core.liquidation_policy), each optional (default: off).
POLICY_FIELDS: Final[dict[str, Parser]] = {
    "deficit_accounting": flag,
    "dynamic_close_factor": flag,
    "close_all_hf": amount,
    "dust_base": amount,
    "min_leftover_base": amount,
    "target_health_factor": amount,
}


def make_policy(spec: dict[str, Any]) -> LiquidationPolicy:
    """The liquidation policy of parsed fields (absent ones at their defaults)."""
    return LiquidationPolicy(**{k: v for k, v in spec.items() if k in POLICY_FIELDS})


def liquidation_policy(value: object) -> LiquidationPolicy:
    """A document's liquidation policy: an object of :data:`POLICY_FIELDS` (flags as booleans,
    the rest as decimal-integer strings)."""
    if not isinstance(value, dict) or not set(value) <= set(POLICY_FIELDS):
        raise ValueError(f"must be an object with fields among {list(POLICY_FIELDS)}")
    return make_policy({k: POLICY_FIELDS[k](v) for k, v in value.items()})


# ---- the table ---------------------------------------------------------------------------------------

Runner = Callable[[Protocol, str, dict[str, Any]], "list[Event] | None"]


@dataclass(frozen=True)
class Action:
    """One transaction kind: required and optional parameters, the role, the core call."""

    role: Role | None
    required: dict[str, Parser]
    optional: dict[str, Parser]
    run: Runner

    def accounts(self, args: dict[str, Any]) -> list[str]:
        """Addresses the action names besides its sender (registered with the core on first use)."""
        return [v for k, v in args.items() if self.required.get(k, self.optional.get(k)) is account]


USER_POOL = {"pool": pool, "asset": symbol}


def _obo(a: dict[str, Any]) -> str | None:
    return a.get("on_behalf_of")


def _strat(p: Protocol, a: dict[str, Any]) -> RateStrategy:
    return make_strategy(a["strategy"], p.now)


ACTIONS: Final[dict[str, Action]] = {
    # -- users (anyone) --
    "deposit": Action(
        None,
        {**USER_POOL, "amount": amount},
        {"on_behalf_of": account},
        lambda p, s, a: p.deposit(s, a["asset"], a["amount"], _obo(a), pool=a["pool"]),
    ),
    "withdraw": Action(
        None,
        {**USER_POOL, "amount": amount_or_max},
        {"to": account, "unwrap": flag},
        lambda p, s, a: p.withdraw(
            s, a["asset"], a["amount"], a.get("to"), pool=a["pool"], unwrap=a.get("unwrap", False)
        ),
    ),
    "borrow": Action(
        None,
        {**USER_POOL, "amount": amount},
        {"on_behalf_of": account, "unwrap": flag},
        lambda p, s, a: p.borrow(
            s, a["asset"], a["amount"], _obo(a), pool=a["pool"], unwrap=a.get("unwrap", False)
        ),
    ),
    "repay": Action(
        None,
        {**USER_POOL, "amount": amount_or_max},
        {"on_behalf_of": account},
        lambda p, s, a: p.repay(s, a["asset"], a["amount"], _obo(a), pool=a["pool"]),
    ),
    "repay_with_a_tokens": Action(
        None,
        {"asset": symbol, "amount": amount_or_max},
        {},
        lambda p, s, a: p.repay_with_a_tokens(s, a["asset"], a["amount"]),
    ),
    "set_collateral": Action(
        None,
        {**USER_POOL, "enabled": flag},
        {},
        lambda p, s, a: p.set_collateral(s, a["asset"], a["enabled"], pool=a["pool"]),
    ),
    "transfer": Action(
        None,
        {**USER_POOL, "to": account, "amount": amount},
        {},
        lambda p, s, a: p.transfer(s, a["to"], a["asset"], a["amount"], pool=a["pool"]),
    ),
    "transfer_shares": Action(
        None,
        {"asset": symbol, "to": account, "shares": amount},
        {},
        lambda p, s, a: p.transfer_shares(s, a["to"], a["asset"], a["shares"]),
    ),
    "approve_delegation": Action(
        None,
        {**USER_POOL, "delegatee": account, "amount": amount_or_max},
        {},
        lambda p, s, a: p.approve_delegation(s, a["delegatee"], a["asset"], a["amount"], pool=a["pool"]),
    ),
    "liquidate": Action(
        None,
        {
            "pool": pool,
            "target": account,
            "collateral_asset": symbol,
            "debt_asset": symbol,
            "debt_to_cover": amount_or_max,
        },
        {"receive_a_token": flag, "unwrap": flag},
        lambda p, s, a: p.liquidate(
            s,
            a["target"],
            a["collateral_asset"],
            a["debt_asset"],
            a["debt_to_cover"],
            receive_a_token=a.get("receive_a_token", False),
            pool=a["pool"],
            unwrap=a.get("unwrap", False),
        ),
    ),
    # -- faucet and oracle --
    "mint": Action(
        Role.FAUCET,
        {"to": account, "asset": symbol, "amount": amount},
        {},
        lambda p, s, a: p.mint(a["to"], a["asset"], a["amount"]),
    ),
    "set_price": Action(
        Role.ORACLE,
        {"asset": symbol, "price": price},
        {"age": small_int},
        lambda p, s, a: p.set_price(a["asset"], a["price"], age=a.get("age")),
    ),
    # -- admin --
    "add_asset": Action(
        Role.ADMIN,
        {"asset": symbol, "decimals": decimals, "price": price},
        {"timeout": small_int},
        lambda p, s, a: p.add_asset(a["asset"], a["decimals"], a["price"], a.get("timeout", 0)),
    ),
    "set_price_timeout": Action(
        Role.ADMIN,
        {"asset": symbol, "timeout": small_int},
        {},
        lambda p, s, a: p.set_price_timeout(s, a["asset"], a["timeout"]),
    ),
    "set_fallback_price": Action(
        Role.ADMIN,
        {"asset": symbol, "price": price},
        {},
        lambda p, s, a: p.set_fallback_price(s, a["asset"], a["price"]),
    ),
    "init_core_reserve": Action(
        Role.ADMIN,
        {"asset": symbol, "strategy": strategy},
        {},
        lambda p, s, a: (p.init_core_reserve(s, a["asset"], _strat(p, a)), None)[1],
    ),
    "create_mini_pool": Action(
        Role.ADMIN,
        {"pool_admin": account},
        {},
        lambda p, s, a: (p.create_mini_pool(s, a["pool_admin"]), None)[1],
    ),
    "init_mini_reserve": Action(
        Role.ADMIN,
        {"mini_pool": mini_pool, "asset": symbol, "strategy": strategy},
        {"tranche_of": symbol},
        lambda p, s, a: (
            p.init_mini_reserve(s, a["mini_pool"], a["asset"], _strat(p, a), a.get("tranche_of")),
            None,
        )[1],
    ),
    "set_reserve_factor": Action(
        Role.ADMIN,
        {**USER_POOL, "reserve_factor": small_int},
        {},
        lambda p, s, a: p.set_reserve_factor(s, a["pool"], a["asset"], a["reserve_factor"]),
    ),
    "set_rate_strategy": Action(
        Role.ADMIN,
        {**USER_POOL, "strategy": strategy},
        {},
        lambda p, s, a: p.set_rate_strategy(s, a["pool"], a["asset"], _strat(p, a)),
    ),
    "set_deposit_cap": Action(
        Role.ADMIN,
        {**USER_POOL, "cap": amount},
        {},
        lambda p, s, a: p.set_deposit_cap(s, a["pool"], a["asset"], a["cap"]),
    ),
    "set_flash_premium": Action(
        Role.ADMIN,
        {"pool": pool, "premium": small_int},
        {},
        lambda p, s, a: p.set_flash_premium(s, a["pool"], a["premium"]),
    ),
    "set_min_debt_threshold": Action(
        Role.ADMIN,
        {"mini_pool": mini_pool, "threshold": amount},
        {},
        lambda p, s, a: p.set_min_debt_threshold(s, a["mini_pool"], a["threshold"]),
    ),
    "set_flow_limit": Action(
        Role.ADMIN,
        {"asset": symbol, "mini_pool": mini_pool, "limit": amount},
        {},
        lambda p, s, a: p.set_flow_limit(s, a["asset"], a["mini_pool"], a["limit"]),
    ),
    "set_max_reserves_with_flow_borrowing": Action(
        Role.ADMIN,
        {"count": small_int},
        {},
        lambda p, s, a: p.set_max_reserves_with_flow_borrowing(s, a["count"]),
    ),
    "set_liquidation_protocol_fee": Action(
        Role.ADMIN,
        {**USER_POOL, "fee": small_int},
        {},
        lambda p, s, a: p.set_liquidation_protocol_fee(s, a["pool"], a["asset"], a["fee"]),
    ),
    "cover_deficit": Action(
        Role.ADMIN,
        {**USER_POOL, "amount": amount_or_max},
        {},
        lambda p, s, a: p.cover_deficit(s, a["pool"], a["asset"], a["amount"]),
    ),
    # -- pool admin (the main admin for the Core-Pool) --
    "set_liquidation_policy": Action(
        Role.POOL_ADMIN,
        {"pool": pool},
        dict(POLICY_FIELDS),
        lambda p, s, a: p.set_liquidation_policy(s, a["pool"], make_policy(a)),
    ),
    "configure_reserve_as_collateral": Action(
        Role.POOL_ADMIN,
        {**USER_POOL, "ltv": small_int, "liquidation_threshold": small_int, "liquidation_bonus": small_int},
        {},
        lambda p, s, a: p.configure_reserve_as_collateral(
            s, a["pool"], a["asset"], a["ltv"], a["liquidation_threshold"], a["liquidation_bonus"]
        ),
    ),
    "set_reserve_flags": Action(
        Role.POOL_ADMIN,
        dict(USER_POOL),
        {"borrowing_enabled": flag, "active": flag, "frozen": flag, "flash_loan_enabled": flag},
        lambda p, s, a: p.set_reserve_flags(
            s,
            a["pool"],
            a["asset"],
            borrowing_enabled=a.get("borrowing_enabled"),
            active=a.get("active"),
            frozen=a.get("frozen"),
            flash_loan_enabled=a.get("flash_loan_enabled"),
        ),
    ),
    "set_owner_reserve_factor": Action(
        Role.POOL_ADMIN,
        {"pool": mini_pool, "asset": symbol, "reserve_factor": small_int},
        {},
        lambda p, s, a: p.set_reserve_factor(s, a["pool"], a["asset"], a["reserve_factor"], owner=True),
    ),
    "set_pool_admin": Action(
        Role.POOL_ADMIN,
        {"pool": mini_pool, "new_admin": account},
        {},
        lambda p, s, a: p.set_pool_admin(s, a["pool"], a["new_admin"]),
    ),
    # -- emergency admin --
    "set_pause": Action(
        Role.EMERGENCY_ADMIN,
        {"pool": pool, "paused": flag},
        {},
        lambda p, s, a: p.set_pause(s, a["pool"], a["paused"]),
    ),
}


class InvalidParams(ValueError):
    """Parameters that do not fit the action's declaration; ``extra`` says which and why."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


def parse_params(action: str, params: object) -> dict[str, Any]:
    """Check an action's parameters against the table; the parsed values, or :class:`InvalidParams`."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise InvalidParams(f"unknown action {action!r}", actions=sorted(ACTIONS))
    if not isinstance(params, dict):
        raise InvalidParams("params must be an object")
    missing = [k for k in spec.required if k not in params]
    unknown = [k for k in params if k not in spec.required and k not in spec.optional]
    if missing or unknown:
        raise InvalidParams(
            f"{action}: missing {missing}, unexpected {unknown}",
            required=sorted(spec.required),
            optional=sorted(spec.optional),
        )
    args: dict[str, Any] = {}
    for name, value in params.items():
        parser = spec.required.get(name) or spec.optional[name]
        try:
            args[name] = parser(value)
        except ValueError as e:
            where = f"{name}.{e}" if isinstance(e, FieldError) else f"{name} {e}"
            raise InvalidParams(f"{action}.{where}", param=name) from None
    return args
