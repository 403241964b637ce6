"""What the node's HTTP API answers, as Pydantic models: the OpenAPI document's response schemas.

The routes build their answers as plain JSON values (:mod:`.views`, :mod:`.api`: the web app
and the dry run read the same views); these models describe that JSON as it is sent, for
``/openapi.json``, ``/docs`` and the clients integrators generate from them. They are not
re-validated on the way out (the wire stays byte for byte what the views build); the tests
hold every route's real answers to its declared schema (``tests/node/test_openapi_schemas.py``).

Integers that are amounts, prices, rates, indexes or health factors travel as decimal strings
(they exceed 2**53, which a JSON number read as a double cannot hold exactly): they are typed
:data:`Amount`, :data:`Usd`, :data:`Wad`, :data:`Ray`, :data:`Bps` or :data:`DecimalInt`, each a
named string schema with a digits-only pattern. Heights, sequence numbers, nonces, counts and
Unix timestamps are JSON integers. Every refusal is one :class:`ErrorEnvelope`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, RootModel
from pydantic.json_schema import SkipJsonSchema
from typing_extensions import TypeAliasType

from .errors import STATUS

_DIGITS = r"^[0-9]+$"
_EXACT = " An exact integer as a decimal string: it may exceed 2**53, so parse it as a big integer."

Amount = TypeAliasType(
    "Amount",
    Annotated[str, Field(pattern=_DIGITS, description="Token base units." + _EXACT, examples=["5000000"])],
)
Usd = TypeAliasType(
    "Usd",
    Annotated[
        str,
        Field(pattern=_DIGITS, description="USD with 8 decimals (100000000 = $1)." + _EXACT),
    ],
)
SignedUsd = TypeAliasType(
    "SignedUsd",
    Annotated[
        str,
        Field(pattern=r"^-?[0-9]+$", description="USD with 8 decimals, below 0 for a loss." + _EXACT),
    ],
)
Wad = TypeAliasType(
    "Wad",
    Annotated[
        str,
        Field(
            pattern=_DIGITS,
            description="Wad: 10**18 = 1.0 (a health factor with no debt is 2**256-1)." + _EXACT,
        ),
    ],
)
Ray = TypeAliasType(
    "Ray",
    Annotated[str, Field(pattern=_DIGITS, description="Ray: 10**27 = 1.0 (rates: 100 % a year)." + _EXACT)],
)
Bps = TypeAliasType(
    "Bps",
    Annotated[str, Field(pattern=_DIGITS, description="Basis points: 10000 = 100 %." + _EXACT)],
)
DecimalInt = TypeAliasType(
    "DecimalInt",
    Annotated[str, Field(pattern=_DIGITS, description=_EXACT.strip())],
)
Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="64 hex digits.")]
PoolRef = Annotated[
    Literal["core"] | Annotated[int, Field(ge=0)],
    Field(description='"core", or a Mini-Pool id.'),
]
TokenMap = dict[str, Amount]


def _no_default(schema: dict[str, JsonValue]) -> None:
    schema.pop("default", None)


def absent(description: str | None = None) -> Any:
    """A field that is left out where it does not apply: not required, never null (its type is
    ``X | SkipJsonSchema[None]``), and no ``default: null`` in the schema."""
    return Field(default=None, description=description, json_schema_extra=_no_default)


class Answer(BaseModel):
    """An answer's object: exactly these fields (``additionalProperties: false``)."""

    model_config = ConfigDict(extra="forbid")


# ---- refusals -------------------------------------------------------------------------------------


class InvalidField(Answer):
    loc: list[str] = Field(description="Where: the request part and field, e.g. ['query', 'limit'].")
    msg: str


#: Every error code (:data:`.errors.STATUS`), an enum in the schema.
_CODES: list[JsonValue] = [code for code in sorted(STATUS)]


class ErrorDetail(BaseModel):
    """A refusal: ``code`` is stable (clients switch on it); some codes add fields."""

    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable error code.", json_schema_extra={"enum": _CODES})
    message: str = Field(description="What was refused and why, in words.")
    reason: str | SkipJsonSchema[None] = absent(
        '`refused`: the protocol\'s own code, e.g. "9" or "input:amount".'
    )
    name: str | SkipJsonSchema[None] = absent("`refused`: the protocol code's name.")
    explanation: str | SkipJsonSchema[None] = absent("`refused`: the reason in words, without the code.")
    max_amount: Amount | SkipJsonSchema[None] = absent(
        "`refused`: the most the same action would take now, where one applies."
    )
    expected: int | SkipJsonSchema[None] = absent("`bad_nonce`: the sender's next nonce.")
    detail: list[InvalidField] | SkipJsonSchema[None] = absent("`invalid_request`: what failed validation.")


class ErrorEnvelope(Answer):
    """Every refusal, on every route: nothing changed."""

    error: ErrorDetail


#: Every route can answer these: a body over the size limit, a request FastAPI cannot validate.
COMMON_ERRORS = ("payload_too_large", "invalid_request")


def refusals(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a route that may refuse with ``codes`` (plus :data:`COMMON_ERRORS`),
    each status an :class:`ErrorEnvelope` naming its codes."""
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys((*codes, *COMMON_ERRORS)):
        by_status.setdefault(STATUS[code], []).append(code)
    return {
        status: {"model": ErrorEnvelope, "description": "error codes: " + ", ".join(names)}
        for status, names in sorted(by_status.items())
    }


def answers(model: type[BaseModel], *codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for a JSON route: 200 is ``model`` (the JSON the route builds,
    described, not re-validated on the way out), and :func:`refusals` of ``codes``."""
    return {200: {"model": model, "description": "OK"}, **refusals(*codes)}


# ---- transactions, events, blocks --------------------------------------------------------------


class Event(Answer):
    """An event as a receipt or a dry run shows it."""

    event: str = Field(description="The event's name, e.g. Deposit.")
    pool: str = Field(description='The pool, as the core names it: "core" or "mini:0", "mini:1", ...')
    data: dict[str, Any] = Field(description="The event's fields; integers as decimal strings.")


class LoggedEvent(Event):
    """An event as the log holds it."""

    seq: int = Field(description="The event's sequence number (the /events cursor).")
    height: int
    tx: Hex64 | SkipJsonSchema[None] = absent("Hash of its transaction (in a block's transactions).")
    tx_seq: int = Field(description="Its transaction's sequence number.")


class Receipt(Answer):
    """A transaction in a durable block, with the events it emitted."""

    hash: Hex64
    height: int
    index: int = Field(description="Its place in the block.")
    block_hash: Hex64
    timestamp: int = Field(description="The block's time, Unix seconds.")
    state_hash: Hex64 = Field(description="The state hash after the block.")
    events: list[Event]
    forwarded_to: str | SkipJsonSchema[None] = absent(
        "A follower's answer: the leader that ordered the transaction (this node verified it)."
    )


class Tx(Answer):
    """A logged transaction."""

    seq: int = Field(description="The transaction's sequence number (the /txs cursor).")
    hash: Hex64
    height: int
    index: int
    sender: Hex64
    nonce: int
    action: str
    params: dict[str, Any] = Field(description="The action's parameters as signed; amounts as strings.")
    expires_at: int | None = Field(description="Block time after which it would have been refused, if set.")
    signature: str
    first_event: int = Field(description="Sequence number of its first event.")
    event_count: int


class TxWithEvents(Tx):
    events: list[LoggedEvent]


class BlockHeader(Answer):
    height: int
    timestamp: int = Field(description="Unix seconds.")
    prev_hash: Hex64
    state_hash: Hex64
    hash: Hex64
    tx_count: int
    event_count: int


class Block(BlockHeader):
    txs: list[TxWithEvents]


class After(Answer):
    after: int


class Before(Answer):
    before: int


class Page(Answer):
    """A page of a list: ``next`` is the cursor of the following page (none at the end)."""

    order: Literal["asc", "desc"] = Field(description="asc: oldest first (?after=), desc: newest first.")
    next: After | Before | None


class TxPage(Page):
    items: list[Tx]


class BlockPage(Page):
    items: list[BlockHeader]


class EventPage(Page):
    items: list[LoggedEvent]


class LoggedBlock(BlockHeader):
    """A block as ``/log`` sends it to followers."""

    first_tx: int
    first_event: int
    txs: list[tuple[Hex64, str, str]] = Field(
        description="[hash, signed body (canonical JSON text), signature] of each transaction."
    )


class Log(Answer):
    head: int = Field(description="The node's head height.")
    blocks: list[LoggedBlock]


class Genesis(BaseModel):
    """The genesis document the log starts from, as the network was created with it
    (``astera-genesis/1``: integers as JSON integers or decimal strings)."""

    model_config = ConfigDict(extra="allow")

    format: Literal["astera-genesis/1"]
    start_timestamp: int | DecimalInt
    roles: dict[str, Hex64]
    assets: dict[str, dict[str, Any]]


# ---- markets --------------------------------------------------------------------------------------


class PolicyValues(Answer):
    """A pool's liquidation policy (all off: the audited contracts' rules)."""

    deficit_accounting: bool
    dynamic_close_factor: bool
    close_all_hf: Wad
    dust_base: Usd
    min_leftover_base: Usd
    target_health_factor: Wad = Field(description="0: off.")


class PoolPolicy(PolicyValues):
    rules: list[str] = Field(description="The rules in force, one sentence each.")


class ReserveConfig(Answer):
    ltv: Bps
    liquidation_threshold: Bps
    liquidation_bonus: Bps = Field(description="Bps of the repaid value seized, e.g. 10800: +8 %.")
    decimals: DecimalInt
    active: bool
    frozen: bool
    borrowing_enabled: bool
    flash_loan_enabled: bool
    reserve_factor: Bps
    owner_reserve_factor: Bps
    deposit_cap: DecimalInt = Field(description="0: no cap.")


class Reserve(Answer):
    """One reserve of a pool, rolled forward to the current block time."""

    asset: str
    id: int
    tranche_of: str | None = Field(description="A Mini-Pool tranche: the Core-Pool asset it draws on.")
    price: Usd | None = Field(description="Null when the feed is stale and has no fallback.")
    config: ReserveConfig
    rate_model: str
    liquidity_rate: Ray
    variable_borrow_rate: Ray
    utilization: Ray
    liquidity_index: Ray
    variable_borrow_index: Ray
    total_supplied: Amount
    total_debt: Amount
    available_liquidity: Amount
    last_update_timestamp: int
    liquidation_protocol_fee: int = Field(description="Basis points of the liquidation bonus.")
    deficit: Amount = Field(description="Debt written off and not yet covered.")


class CreditLine(Answer):
    """The Core-Pool's credit line to a Mini-Pool in one asset."""

    asset: str
    flow_limit: Amount
    current_flow: Amount = Field(description="The Mini-Pool's debt to the Core-Pool.")
    available: Amount
    is_flow_borrowing: bool


class Pool(Answer):
    """The Core-Pool or a Mini-Pool."""

    pool: PoolRef
    paused: bool
    flash_premium: int = Field(description="Basis points.")
    liquidation_policy: PoolPolicy
    admin: Hex64
    min_debt_threshold: Amount | SkipJsonSchema[None] = absent("Mini-Pools only.")
    credit_lines: list[CreditLine] | SkipJsonSchema[None] = absent("Mini-Pools only.")
    reserves: list[Reserve]


class MiniPools(RootModel[list[Pool]]):
    """Every Mini-Pool, by id."""


class AssetInfo(Answer):
    decimals: int
    price: Usd | None


class Markets(Answer):
    """Every asset's price and every pool's reserves."""

    timestamp: int
    assets: dict[str, AssetInfo]
    core: Pool
    mini_pools: list[Pool]


# ---- accounts -------------------------------------------------------------------------------------


class Position(Answer):
    asset: str
    decimals: int
    supplied: Amount
    debt: Amount
    collateral: bool
    liquidation_price: Usd | None = Field(
        description="The highest price of this collateral at which the account could be liquidated."
    )


class ProtocolRefusal(Answer):
    code: str
    name: str


class AccountTotals(Answer):
    """An account's totals in one pool, unless the protocol cannot value them (``error``)."""

    error: ProtocolRefusal | SkipJsonSchema[None] = absent("Why the totals are missing.")
    total_collateral_usd: Usd | SkipJsonSchema[None] = absent()
    total_debt_usd: Usd | SkipJsonSchema[None] = absent()
    borrowing_power_usd: Usd | SkipJsonSchema[None] = absent()
    health_factor: Wad | SkipJsonSchema[None] = absent()


class PoolAccount(AccountTotals):
    """An account in one pool: its positions and, unless the protocol cannot value them
    (``error``), its totals."""

    positions: list[Position]
    liquidation_rules: list[str] | SkipJsonSchema[None] = absent("With positions: the pool's rules.")
    liquidation_threshold: Bps | SkipJsonSchema[None] = absent()
    ltv: Bps | SkipJsonSchema[None] = absent()


class Account(Answer):
    """An address's wallet and, in every pool, its positions and health; its next nonce."""

    address: Hex64
    known: bool = Field(description="Whether the protocol has seen this address.")
    next_nonce: int
    timestamp: int
    wallet: TokenMap
    pools: dict[str, PoolAccount] = Field(description='By pool: "core" and each Mini-Pool id.')


# ---- the dry run ----------------------------------------------------------------------------------


class SimulatedTx(Answer):
    sender: Hex64
    action: str
    ok: bool
    events: list[Event] | SkipJsonSchema[None] = absent("When ok.")
    error: ErrorDetail | SkipJsonSchema[None] = absent("When refused: as POST /txs would refuse it.")


class SimulatedReserve(Reserve):
    pool: PoolRef


class Simulation(Answer):
    """What a dry run did: nothing of it was kept."""

    timestamp: int = Field(description="The block time it ran at.")
    results: list[SimulatedTx]
    accounts: dict[str, Account] = Field(description="Each account written to, and each sender, after them.")
    reserves: list[SimulatedReserve] = Field(description="Each reserve the transactions name, after them.")


# ---- the node -------------------------------------------------------------------------------------


class KeeperStatus(Answer):
    address: Hex64
    running: bool
    busy: bool
    runs: int
    liquidations: int
    refusals: dict[str, int] = Field(description="Planned liquidations not done, by reason.")
    unhealthy: int
    unprofitable: int
    bad_debt: int
    unpriced: int
    repaid_usd: Usd
    seized_usd: Usd
    profit_usd: SignedUsd
    dry_run_liquidations: int | SkipJsonSchema[None] = absent("A dry run's keeper only.")
    dry_run_repaid_usd: Usd | SkipJsonSchema[None] = absent()
    dry_run_seized_usd: Usd | SkipJsonSchema[None] = absent()
    dry_run_profit_usd: SignedUsd | SkipJsonSchema[None] = absent()


class LeaderReplication(Answer):
    role: Literal["leader"]


class FollowerReplication(Answer):
    role: Literal["follower"]
    leader: str = Field(description="The leader's URL.")
    leader_answers: bool | None
    leader_silent_since: float | None = Field(description="Unix time.")
    leader_silent_seconds: float | None
    leader_error: str | None
    leader_height: int
    behind_blocks: int | None = Field(description="Null while the leader does not answer.")
    lag_seconds: float | None
    started_from: int = Field(description="The snapshot's height it started from (0: genesis).")


class PoolLiquidation(Answer):
    pool: PoolRef
    liquidation_policy: PolicyValues
    deficits: TokenMap


class Roles(Answer):
    admin: Hex64
    emergency_admin: Hex64
    oracle: Hex64
    faucet: Hex64
    pool_admins: dict[str, Hex64]


class Status(Answer):
    """The node: its network, head block, store, keeper, replication, pools' liquidation rules."""

    version: str
    chain_id: str = Field(description="Sign transactions for this network.")
    height: int
    timestamp: int
    block_hash: Hex64
    state_hash: Hex64
    store: Literal["sqlite", "postgresql"]
    durability: str
    queued: int
    faucet: bool
    keeper: KeeperStatus | None
    replication: Annotated[LeaderReplication | FollowerReplication, Field(discriminator="role")]
    liquidation: list[PoolLiquidation]
    roles: Roles
