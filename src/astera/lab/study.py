"""A study file: what the risk lab simulates, validated at the edge.

A study (TOML or JSON) names the book, the price processes, the market liquidity, the
borrowers' and suppliers' behaviour, the protocol parameters (and sweeps over them) and the
horizon. :func:`load_study` parses and validates it with Pydantic and then checks it against
the deployment it runs on (assets, pools and reserves exist, the correlation matrix is one):
every refusal is a :class:`StudyError` naming the field and the reason, before any path runs.

Floats appear here only for the price processes and behaviour probabilities (analytics);
amounts of money are integers (USD with 8 decimals where a USD figure is asked for is written
in whole dollars and converted exactly).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

#: Pool names in a study: ``"core"`` or a Mini-Pool id.
PoolName = Literal["core"] | Annotated[int, Field(ge=0)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Fraction = Annotated[float, Field(gt=0.0, le=1.0)]
Step = Annotated[int, Field(ge=0)]


class StudyError(ValueError):
    """A study refused before any path ran; ``field`` is the dotted path of the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Population(_Model):
    """Synthetic borrowers (and the suppliers who fund them) in one pool, seeded."""

    pool: PoolName = "core"
    borrowers: Annotated[int, Field(ge=1, le=1_000_000)]
    #: Collateral mix: asset → weight (each borrower's collateral is split by these weights).
    collateral: dict[str, Annotated[float, Field(gt=0)]]
    #: The reserve borrowed (in a Mini-Pool, its tranche, e.g. ``was-USDC``; the lab's default book
    #: called it ``aUSDC`` before it took the node's naming, and that name still works there).
    debt: str
    #: Lognormal debt size: median in whole USD and the log-standard deviation.
    debt_usd_median: Annotated[int, Field(ge=1)] = 20_000
    debt_usd_sigma: Annotated[float, Field(ge=0.0, le=5.0)] = 0.8
    #: Health factor at the start, uniform in [low, high].
    health_factor: tuple[Annotated[float, Field(gt=1.0)], Annotated[float, Field(gt=1.0)]] = (1.15, 2.5)
    #: Suppliers of the borrowed reserve, and the utilization their supply leaves.
    suppliers: Annotated[int, Field(ge=0, le=100_000)] = 20
    utilization: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.7

    @model_validator(mode="after")
    def _range(self) -> Population:
        if self.health_factor[0] > self.health_factor[1]:
            raise ValueError("health_factor: low above high")
        return self


class Book(_Model):
    """The starting book: a scenario document (deployment and actions), a node's genesis
    document, or the lab's default deployment, plus synthetic populations; or a node's live
    state (a running node's URL or a node's data directory: :mod:`astera.lab.sources`)."""

    #: An ``astera-scenario/1`` file, relative to the study file; default: the lab deployment.
    scenario: str | None = None
    #: An ``astera-genesis/1`` file (its markets and opening deposits), relative to the study file.
    genesis: str | None = None
    #: A running node's base URL (``http://HOST:PORT``): its state at the head.
    node: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] | None = None
    #: A node's data directory (holding ``ledger.sqlite3``), relative to the study file.
    data_dir: str | None = None
    population: list[Population] = []
    #: Seed of the synthetic population (default: the study seed).
    seed: int | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Book:
        named = [k for k in ("scenario", "genesis", "node", "data_dir") if getattr(self, k) is not None]
        if len(named) > 1:
            raise ValueError(f"one source of the book, not {' and '.join(named)}")
        if self.live and self.population:
            raise ValueError("a node's live book takes no synthetic population")
        return self

    @property
    def live(self) -> bool:
        """A node's state rather than a document."""
        return self.node is not None or self.data_dir is not None


class Jumps(_Model):
    """Poisson jumps of the log price: ``rate`` per year, normal sizes (log)."""

    rate: Annotated[float, Field(ge=0.0, le=1000.0)]
    mean: float = 0.0
    sigma: Annotated[float, Field(ge=0.0, le=5.0)] = 0.0


class AssetProcess(_Model):
    """Geometric Brownian motion of one asset (annualised), with optional jumps."""

    volatility: Annotated[float, Field(ge=0.0, le=20.0)] = 0.0
    drift: Annotated[float, Field(ge=-20.0, le=20.0)] = 0.0
    jumps: Jumps | None = None


class Shock(_Model):
    """A scheduled move: ``change`` (−0.4 = −40 %) from ``start`` over ``duration`` steps, the
    way there a Brownian bridge pinned at both ends (the asset's own volatility)."""

    asset: str
    change: Annotated[float, Field(gt=-1.0, le=10.0)]
    start: Step
    duration: Annotated[int, Field(ge=1)] = 1


class Depeg(_Model):
    """A stablecoin off its peg: to ``target`` (× its price) over ``duration`` steps from ``start``,
    held ``hold`` steps, back over ``recover`` steps (bridged like a shock)."""

    asset: str
    target: Annotated[float, Field(gt=0.0, lt=10.0)]
    start: Step
    duration: Annotated[int, Field(ge=1)] = 1
    hold: Annotated[int, Field(ge=0)] = 0
    recover: Annotated[int, Field(ge=1)] = 1


class History(_Model):
    """A historical price CSV (a header row of asset names, one row per step, prices as decimals):
    ``replay`` its returns from the start, or ``bootstrap`` them in blocks, per path."""

    csv: str
    mode: Literal["replay", "bootstrap"] = "bootstrap"
    block: Annotated[int, Field(ge=1)] = 24


class Prices(_Model):
    assets: dict[str, AssetProcess] = {}
    #: Pairwise correlations of the Brownian parts: ``"WETH/WBTC" = 0.8``.
    correlation: dict[str, Annotated[float, Field(ge=-1.0, le=1.0)]] = {}
    shocks: list[Shock] = []
    depegs: list[Depeg] = []
    history: History | None = None


class Liquidity(_Model):
    """The market the keeper sells into, per pair of assets, with a depth (whole USD per side)
    that is the smaller of the two assets' depths, eaten by the keeper's sales and recovering
    with a half-life: a constant-product pool (``model = "constant_product"``, with ``fee_bps``)
    or an order book (``"order_book"``: ``levels`` bids for the collateral, each ``step_bps``
    below the last from ``half_spread_bps`` under the oracle, the depth spread evenly over them;
    nothing is bought past the last level)."""

    model: Literal["constant_product", "order_book"] = "constant_product"
    depth_usd: Annotated[int, Field(ge=1)] = 10_000_000
    asset_depth_usd: dict[str, Annotated[int, Field(ge=1)]] = {}
    fee_bps: Annotated[int, Field(ge=0, lt=10_000)] = 30
    levels: Annotated[int, Field(ge=1, le=1_000)] = 50
    half_spread_bps: Annotated[int, Field(ge=0, lt=10_000)] = 5
    step_bps: Annotated[int, Field(ge=0, lt=10_000)] = 10
    recovery_half_life: Annotated[float, Field(gt=0.0)] = 24.0
    #: The keeper acts every ``keeper_every`` steps (latency) and at most ``keeper_capacity``
    #: liquidations per run (0: no limit).
    keeper_every: Annotated[int, Field(ge=1)] = 1
    keeper_capacity: Annotated[int, Field(ge=0)] = 0
    margin_bps: Annotated[int, Field(ge=0, lt=10_000)] = 50

    @model_validator(mode="after")
    def _ladder(self) -> Liquidity:
        if self.half_spread_bps + (self.levels - 1) * self.step_bps >= 10_000:
            raise ValueError("half_spread_bps + (levels - 1) * step_bps: the last bid must stay above 0")
        return self


class Run(_Model):
    """Suppliers of one reserve withdraw ``fraction`` of what they hold each step for ``steps``
    steps from ``start`` (as far as the reserve's cash goes)."""

    pool: PoolName = "core"
    asset: str
    start: Step
    steps: Annotated[int, Field(ge=1)] = 1
    fraction: Fraction = 0.05


class Behaviour(_Model):
    """Borrowers below ``topup_below`` repay ``topup_fraction`` of their debt with probability
    ``topup_probability`` at each step; supplier runs."""

    topup_below: Annotated[float, Field(ge=1.0, le=10.0)] = 1.1
    topup_probability: Probability = 0.0
    topup_fraction: Fraction = 0.25
    runs: list[Run] = []


class Policy(_Model):
    """Liquidation rules beyond the contracts' (issue 15, :mod:`astera.core.liquidation_policy`),
    for the pools named (default: every pool). Health factors are decimals (four places kept),
    USD figures whole dollars; everything off by default, which is the contracts' behaviour."""

    pools: list[PoolName] | None = None
    deficit_accounting: bool = False
    dynamic_close_factor: bool = False
    close_all_hf: Annotated[float, Field(gt=0.0, le=1.0)] = 0.95
    dust_usd: Annotated[int, Field(ge=0, le=10**12)] = 2_000
    min_leftover_usd: Annotated[int, Field(ge=0, le=10**12)] = 1_000
    #: 0: off; otherwise the health factor a liquidation may restore at most (above 1).
    target_health_factor: Annotated[float, Field(ge=0.0, le=100.0)] = 0.0
    #: The treasury's share of the bonus (bps) on every collateral reserve of those pools.
    protocol_fee_bps: Annotated[int, Field(ge=0, le=10_000)] = 0

    @model_validator(mode="after")
    def _sane(self) -> Policy:
        if 0.0 < self.target_health_factor <= 1.0:
            raise ValueError("target_health_factor: 0 (off) or above 1")
        if self.min_leftover_usd > self.dust_usd:
            raise ValueError("min_leftover_usd: above dust_usd")
        return self


class Isolation(_Model):
    """Measure one Mini-Pool's crash against a matched control: ``astera lab run`` also runs the
    study with every shock and depeg of that Mini-Pool's own assets (those no other pool lists)
    taken out (same draws, so every other price path is identical), into ``DIR/control``, and
    the report gives what the other pools lose because of the crash, path by path."""

    mini_pool: Annotated[int, Field(ge=0)]


class Study(_Model):
    """A whole study (see the module docstring)."""

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str = ""
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 0
    steps: Annotated[int, Field(ge=1, le=100_000)] = 720
    step_seconds: Annotated[int, Field(ge=1, le=30 * 24 * 3600)] = 3600
    paths: Annotated[int, Field(ge=1, le=10_000_000)] = 100
    book: Book = Book()
    prices: Prices = Prices()
    liquidity: Liquidity = Liquidity()
    behaviour: Behaviour = Behaviour()
    #: Protocol parameters for the run: ``"core.WETH.liquidation_threshold" = 8000``,
    #: ``"flow_limit.0.USDC" = 1000000000000`` (see :mod:`astera.lab.params`).
    parameters: dict[str, int] = {}
    #: Grid of parameter values: ``"core.WETH.liquidation_threshold" = [7500, 8000, 8500]``.
    sweep: dict[str, list[int]] = {}
    #: The liquidation policy the run's pools use (default: the contracts' rules).
    policy: Policy | None = None
    #: Named policies ``astera lab compare`` runs the study under, on identical price paths
    #: (the contracts' rules always run too, as ``contracts``).
    compare: dict[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")], Policy] = {}
    isolation: Isolation | None = None
    #: The study's folder (for relative paths); not part of the study.
    base_dir: str = Field(default=".", exclude=True)

    @model_validator(mode="after")
    def _live_book(self) -> Study:
        if self.book.live and (self.parameters or self.sweep):
            raise ValueError(
                "parameters and sweeps change a deployment document; a node's live book has none"
            )
        return self

    @field_validator("compare")
    @classmethod
    def _named(cls, v: dict[str, Policy]) -> dict[str, Policy]:
        if "contracts" in v:
            raise ValueError("'contracts' names the contracts' own rules, which always run")
        return v

    @field_validator("sweep")
    @classmethod
    def _grid(cls, v: dict[str, list[int]]) -> dict[str, list[int]]:
        for key, values in v.items():
            if not values:
                raise ValueError(f"{key}: no values")
        return v

    def canonical(self) -> dict[str, Any]:
        """The study as plain data (what ``study.json`` in a result directory holds)."""
        return self.model_dump(mode="json")

    def identity(self) -> dict[str, Any]:
        """What each path's result depends on: the study without its path count (path ``i``
        depends on the study and ``i`` alone, so more paths extend a run of fewer)."""
        data = self.canonical()
        del data["paths"]
        return data

    def digest(self) -> str:
        """Identity of the study's results: equal digests, interchangeable paths."""
        blob = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def path(self, name: str) -> Path:
        """A file the study names, relative to the study's folder."""
        return Path(self.base_dir) / name


def differences(a: Study, b: Study) -> list[str]:
    """The dotted fields in which two studies' identities differ (why their paths differ)."""

    def walk(x: object, y: object, where: str) -> list[str]:
        if isinstance(x, dict) and isinstance(y, dict):
            keys = sorted(set(x) | set(y), key=str)
            return [d for k in keys for d in walk(x.get(k), y.get(k), f"{where}.{k}" if where else str(k))]
        return [] if x == y else [where]

    return walk(a.identity(), b.identity(), "")


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "study"


def parse_study(data: object, base_dir: Path | str = ".") -> Study:
    """Validate study data (already parsed); :class:`StudyError` names the first bad field."""
    if not isinstance(data, dict):
        raise StudyError("study", "a study is a table (TOML) or an object (JSON)")
    try:
        return Study.model_validate({**data, "base_dir": str(base_dir)})
    except ValidationError as e:
        err = e.errors()[0]
        raise StudyError(_field(err["loc"]), err["msg"]) from None


def load_study(path: Path) -> Study:
    """Read a study file (``.toml`` or ``.json``) and validate it."""
    try:
        text = path.read_text()
    except OSError as e:
        raise StudyError("study", f"cannot read {path}: {e.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise StudyError("study", f"{path.name} is not valid {path.suffix[1:] or 'TOML'}: {e}") from None
    return parse_study(data, path.parent)
