"""What a person reads and types: amounts in whole tokens and USD, and refusals in plain words.

Shared by the CLI, the node (the plain-words text of a refused transaction) and the web
app. Machines keep exact base units; these functions only sit at the edge.

Amounts (:mod:`astera.human.amounts`):
    ``parse_amount(text, decimals)`` whole tokens -> base units, exact, or :class:`AmountError`;
    ``parse_amount_or_max``; ``tokens(units, decimals, symbol, rounding)``; ``usd(value)``;
    ``usd_short(value)`` (``$1.23M``, for narrow tables);
    ``price(value)``; ``health_factor(wad)``; ``bps(value)``; ``percent_ray(value)``;
    ``supply_apy(rate)`` / ``borrow_apy(rate)`` (ray).

Liquidation policies (:mod:`astera.human.policy`):
    ``policy_rules(policy, fees)`` -> one plain sentence per rule in force.

Refusals (:mod:`astera.human.refusals`):
    ``explain(p, sender, action, args, error, run)`` -> :class:`Explanation` (``text``,
    ``code``, ``name``, ``max_amount``, ``message``); ``liquidation_price(p, user, pool,
    asset)``; ``dry_run(p, fn)``; ``max_amount(p, args, run, hi, guess)``;
    ``most_accepted(p, sender, action, args, run)`` -> :class:`Most` (the exact most a
    deposit, withdrawal, borrow or repayment takes now, and what bounds it).

Spans of time (:mod:`astera.human.durations`):
    ``time_unit(span)`` -> (name, seconds) an axis reads best in; ``duration(seconds)``.
"""

from .amounts import (
    AmountError,
    Rounding,
    borrow_apy,
    bps,
    health_factor,
    parse_amount,
    parse_amount_or_max,
    percent_ray,
    price,
    supply_apy,
    tokens,
    usd,
    usd_short,
)
from .durations import duration, time_unit
from .policy import policy_rules
from .refusals import (
    KEEP_HEALTH_FACTOR,
    Explanation,
    Most,
    dry_run,
    event_pool,
    explain,
    liquidation_price,
    max_amount,
    most_accepted,
    pool_name,
)

__all__ = [
    "KEEP_HEALTH_FACTOR",
    "AmountError",
    "Explanation",
    "Most",
    "Rounding",
    "borrow_apy",
    "bps",
    "dry_run",
    "duration",
    "event_pool",
    "explain",
    "health_factor",
    "liquidation_price",
    "max_amount",
    "most_accepted",
    "parse_amount",
    "parse_amount_or_max",
    "percent_ray",
    "policy_rules",
    "pool_name",
    "price",
    "supply_apy",
    "time_unit",
    "tokens",
    "usd",
    "usd_short",
]
