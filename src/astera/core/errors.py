"""Typed protocol errors with the stable codes of the audited contracts' `Errors.sol`.

Every refusal the protocol can produce is a :class:`ProtocolError`. Its ``code`` is the
string the contracts revert with (``"9"``), a Solidity panic (``"panic:0x11"``), a custom
error (``"error:ERC20InsufficientBalance"``), a revert reason string that is not an
``Errors.sol`` number (``"reason:ERC20: transfer amount exceeds balance"``), a refusal of
an opt-in liquidation policy the contracts do not have (``"policy:..."``) or an input
error of this library (``"input:..."``); ``name`` is the matching constant. Codes never
change meaning.
"""

from __future__ import annotations

from typing import Final

#: Errors.sol at the audited commit: revert string -> constant name.
ERROR_NAMES: Final[dict[str, str]] = {
    "0": "VL_INVALID_INPUT",
    "1": "VL_INVALID_AMOUNT",
    "2": "VL_NO_ACTIVE_RESERVE",
    "3": "VL_RESERVE_FROZEN",
    "4": "VL_NOT_ENOUGH_AVAILABLE_USER_BALANCE",
    "5": "VL_TRANSFER_NOT_ALLOWED",
    "6": "VL_BORROWING_NOT_ENABLED",
    "7": "VL_COLLATERAL_BALANCE_IS_0",
    "8": "VL_HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD",
    "9": "VL_COLLATERAL_CANNOT_COVER_NEW_BORROW",
    "10": "VL_BORROW_FLOW_LIMIT_REACHED",
    "11": "VL_MINIPOOL_CANNOT_BE_LIQUIDATED",
    "12": "VL_NO_DEBT_OF_SELECTED_TYPE",
    "13": "VL_NO_EXPLICIT_AMOUNT_TO_REPAY_ON_BEHALF",
    "14": "VL_UNDERLYING_BALANCE_NOT_GREATER_THAN_0",
    "15": "VL_DEPOSIT_ALREADY_IN_USE",
    "16": "VL_INCONSISTENT_FLASHLOAN_PARAMS",
    "17": "VL_DEPOSIT_CAP_REACHED",
    "18": "VL_RESERVE_INACTIVE",
    "19": "VL_FLASHLOAN_DISABLED",
    "20": "VL_TRANCHED_ASSET_CANNOT_BE_FLASHLOAN",
    "21": "VL_CALLER_NOT_POOL_ADMIN",
    "22": "VL_U0_GREATER_THAN_RAY",
    "23": "VL_ACCESS_RESTRICTED_TO_LENDING_POOL",
    "24": "VL_RESERVE_LIQUIDITY_NOT_0",
    "25": "VL_INVALID_CONFIGURATION",
    "26": "VL_CALLER_NOT_EMERGENCY_ADMIN",
    "27": "VL_FLASHLOAN_PREMIUM_INVALID",
    "28": "VL_INVALID_INTEREST_RATE_MODE",
    "29": "VL_MAX_RESERVES_WITH_FLOW_BORROWING_REACHED",
    "30": "VL_DEBT_TOO_SMALL",
    "31": "VL_TRANCHED_ASSETS_NOT_SUPPORTED_WITH_FIX_RATE",
    "32": "VL_INVALID_BORROW_RATE",
    "33": "MATH_DIVISION_BY_ZERO",
    "34": "MATH_MULTIPLICATION_OVERFLOW",
    "35": "AT_INVALID_MINT_AMOUNT",
    "36": "AT_INVALID_BURN_AMOUNT",
    "37": "AT_CALLER_MUST_BE_LENDING_POOL",
    "38": "AT_VAULT_NOT_INITIALIZED",
    "39": "AT_INVALID_ADDRESS",
    "40": "AT_INVALID_AMOUNT",
    "41": "AT_INVALID_ATOKEN_ID",
    "42": "AT_INVALID_ATOKEN_ADDRESS",
    "43": "AT_VAULT_NOT_EMPTY",
    "44": "AT_INVALID_CONTROLLER",
    "45": "AT_CALLER_NOT_WRAPPER",
    "46": "AT_BORROW_ALLOWANCE_NOT_ENOUGH",
    "47": "AT_INVALID_EXPIRATION",
    "48": "AT_INVALID_SIGNATURE",
    "49": "AT_PROFIT_HANDLER_SET",
    "50": "AT_CALLER_NOT_ATOKEN",
    "51": "AT_ATOKEN_ALREADY_SET",
    "52": "AT_DEBT_TOKEN_ALREADY_SET",
    "53": "AT_CALLER_NOT_KEEPER",
    "54": "AT_RELIQUARY_ALLOCATION_MORE_THAN_100",
    "55": "AT_TREASURY_NOT_SET",
    "56": "LP_NOT_ENOUGH_LIQUIDITY_TO_BORROW",
    "57": "LP_CALLER_NOT_LENDING_POOL_CONFIGURATOR",
    "58": "LP_CALLER_MUST_BE_AN_ATOKEN",
    "59": "LP_IS_PAUSED",
    "60": "LP_NO_MORE_RESERVES_ALLOWED",
    "61": "LP_INVALID_FLASH_LOAN_EXECUTOR_RETURN",
    "62": "LP_NOT_CONTRACT",
    "63": "LP_CALLER_NOT_MINIPOOL",
    "64": "LP_BASE_BORROW_RATE_CANT_BE_NEGATIVE",
    "65": "LP_INVALID_INDEX",
    "66": "LP_RESERVE_ALREADY_ADDED",
    "67": "RL_RESERVE_ALREADY_INITIALIZED",
    "68": "RL_RESERVE_NOT_INITIALIZED",
    "69": "RL_LIQUIDITY_INDEX_OVERFLOW",
    "70": "RL_VARIABLE_BORROW_INDEX_OVERFLOW",
    "71": "RL_LIQUIDITY_RATE_OVERFLOW",
    "72": "RL_VARIABLE_BORROW_RATE_OVERFLOW",
    "73": "LPCM_HEALTH_FACTOR_NOT_BELOW_THRESHOLD",
    "74": "LPCM_COLLATERAL_CANNOT_BE_LIQUIDATED",
    "75": "LPCM_SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER",
    "76": "LPCM_NOT_ENOUGH_LIQUIDITY_TO_LIQUIDATE",
    "77": "O_INCONSISTENT_PARAMS_LENGTH",
    "78": "O_PRICE_FEED_INCONSISTENCY",
    "79": "PAP_NO_MINI_POOL_ID_FOR_ADDRESS",
    "80": "PAP_POOL_ID_OUT_OF_RANGE",
    "81": "RC_INVALID_LTV",
    "82": "RC_INVALID_LIQ_THRESHOLD",
    "83": "RC_INVALID_LIQ_BONUS",
    "84": "RC_INVALID_DECIMALS",
    "85": "RC_INVALID_RESERVE_FACTOR",
    "86": "RC_INVALID_DEPOSIT_CAP",
    "panic:0x01": "ASSERTION_FAILED",
    "panic:0x11": "ARITHMETIC_OVERFLOW",
    "panic:0x12": "DIVISION_BY_ZERO",
    "panic:0x32": "ARRAY_OUT_OF_BOUNDS",
    "error:ERC20InsufficientBalance": "ERC20InsufficientBalance",
    "error:ERC20InsufficientAllowance": "ERC20InsufficientAllowance",
    "error:InsufficientBalance": "InsufficientBalance",
    "revert": "EMPTY_REVERT",
    # Reason strings of the Core's ERC-20 tokens (IncentivizedERC20), vectors FORMAT §4.6.
    "reason:ERC20: transfer amount exceeds balance": "REVERT_REASON",
    "reason:ERC20: burn amount exceeds balance": "REVERT_REASON",
    # Refusals of the opt-in liquidation policies (issue 15; astera.core.liquidation_policy).
    # The contracts have no such rules, so these codes are this library's, never numbers.
    "policy:must_not_leave_dust": "PL_MUST_NOT_LEAVE_DUST",
    "policy:no_deficit": "PL_RESERVE_NOT_IN_DEFICIT",
    # Input errors of this library (never produced by the contracts, which cannot see them).
    "input:type": "INVALID_TYPE",
    "input:amount": "INVALID_AMOUNT_RANGE",
    "input:unknown_asset": "UNKNOWN_ASSET",
    "input:unknown_reserve": "UNKNOWN_RESERVE",
    "input:unknown_pool": "UNKNOWN_POOL",
    "input:unknown_user": "UNKNOWN_USER",
    "input:role": "CALLER_WITHOUT_ROLE",
    "input:time": "TIME_GOES_BACKWARDS",
    "input:duplicate": "ALREADY_EXISTS",
    "input:unsupported": "NOT_SUPPORTED",
}


class ProtocolError(Exception):
    """A refusal. The operation that raised it changed nothing."""

    __slots__ = ("code", "name", "detail")

    def __init__(self, code: str, detail: str = "") -> None:
        self.code = code
        self.name = ERROR_NAMES.get(code, "UNKNOWN")
        self.detail = detail
        super().__init__(f"{code} {self.name}" + (f": {detail}" if detail else ""))

    def as_dict(self) -> dict[str, str]:
        """The trace encoding: ``{"code", "name"}``."""
        return {"code": self.code, "name": self.name}


class InputError(ProtocolError, ValueError):
    """Bad input at the library boundary (type, range, unknown name, missing role)."""


class BalanceExceeded(ProtocolError):
    """A token refused to move or burn more than the holder has: the token's own balance check.

    ``code`` is what that token reverts with (the Core's ERC-20 aToken and debt token give a
    reason string, a Mini-Pool's ERC-6909 token a custom error). ``held`` and ``amount`` are
    base units of ``token``; the message reads them in whole tokens for a person.
    """

    __slots__ = ("holder", "token", "held", "amount", "decimals")

    def __init__(
        self, code: str, holder: str, token: str, held: int, amount: int, decimals: int, burn: bool = False
    ) -> None:
        self.holder = holder
        self.token = token
        self.held = held
        self.amount = amount
        self.decimals = decimals
        have, want = whole_tokens(held, decimals), whole_tokens(amount, decimals)
        super().__init__(
            code,
            f"{holder} holds {have} {token}; burning {want} was refused"
            if burn
            else f"you hold {have} {token} and tried to send {want}",
        )


def whole_tokens(amount: int, decimals: int) -> str:
    """``amount`` base units as an exact decimal number of whole tokens (``400000, 6`` -> ``0.4``)."""
    units, frac = divmod(abs(amount), 10**decimals)
    text = str(units) + ("." + str(frac).rjust(decimals, "0").rstrip("0") if frac else "")
    return "-" + text if amount < 0 else text


def overflow() -> ProtocolError:
    """Solidity 0.8 checked arithmetic: the panic raised on underflow or overflow."""
    return ProtocolError("panic:0x11")


# Codes used by name in the logic, so a typo fails at import rather than at revert time.
INVALID_AMOUNT = "1"
NO_ACTIVE_RESERVE = "2"
RESERVE_FROZEN = "3"
NOT_ENOUGH_USER_BALANCE = "4"
TRANSFER_NOT_ALLOWED = "5"
BORROWING_NOT_ENABLED = "6"
COLLATERAL_BALANCE_IS_0 = "7"
HF_BELOW_THRESHOLD = "8"
COLLATERAL_CANNOT_COVER = "9"
FLOW_LIMIT_REACHED = "10"
MINIPOOL_CANNOT_BE_LIQUIDATED = "11"
NO_DEBT = "12"
NO_EXPLICIT_AMOUNT_ON_BEHALF = "13"
UNDERLYING_BALANCE_ZERO = "14"
DEPOSIT_IN_USE = "15"
INCONSISTENT_FLASHLOAN_PARAMS = "16"
DEPOSIT_CAP_REACHED = "17"
RESERVE_INACTIVE = "18"
FLASHLOAN_DISABLED = "19"
TRANCHE_NO_FLASHLOAN = "20"
CALLER_NOT_POOL_ADMIN = "21"
U0_GREATER_THAN_RAY = "22"
RESERVE_LIQUIDITY_NOT_0 = "24"
INVALID_CONFIGURATION = "25"
CALLER_NOT_EMERGENCY_ADMIN = "26"
FLASHLOAN_PREMIUM_INVALID = "27"
INVALID_RATE_MODE = "28"
MAX_FLOW_RESERVES = "29"
DEBT_TOO_SMALL = "30"
TRANCHE_FIXED_RATE = "31"
DIVISION_BY_ZERO = "33"
MULTIPLICATION_OVERFLOW = "34"
INVALID_MINT_AMOUNT = "35"
INVALID_BURN_AMOUNT = "36"
BORROW_ALLOWANCE_NOT_ENOUGH = "46"
NOT_ENOUGH_LIQUIDITY = "56"
POOL_PAUSED = "59"
NO_MORE_RESERVES = "60"
FLASH_EXECUTOR_RETURN = "61"
RESERVE_ALREADY_ADDED = "66"
LIQUIDITY_INDEX_OVERFLOW = "69"
BORROW_INDEX_OVERFLOW = "70"
LIQUIDITY_RATE_OVERFLOW = "71"
BORROW_RATE_OVERFLOW = "72"
HF_NOT_BELOW_THRESHOLD = "73"
COLLATERAL_CANNOT_BE_LIQUIDATED = "74"
CURRENCY_NOT_BORROWED = "75"
NOT_ENOUGH_LIQUIDITY_TO_LIQUIDATE = "76"
PRICE_FEED_INCONSISTENCY = "78"
INVALID_LTV = "81"
INVALID_LIQ_THRESHOLD = "82"
INVALID_LIQ_BONUS = "83"
INVALID_DECIMALS = "84"
INVALID_RESERVE_FACTOR = "85"
INVALID_DEPOSIT_CAP = "86"
ASSERTION_FAILED = "panic:0x01"
INSUFFICIENT_BALANCE = "error:ERC20InsufficientBalance"
ERC6909_INSUFFICIENT_BALANCE = "error:InsufficientBalance"
TRANSFER_EXCEEDS_BALANCE = "reason:ERC20: transfer amount exceeds balance"
BURN_EXCEEDS_BALANCE = "reason:ERC20: burn amount exceeds balance"
MUST_NOT_LEAVE_DUST = "policy:must_not_leave_dust"
NO_DEFICIT = "policy:no_deficit"
