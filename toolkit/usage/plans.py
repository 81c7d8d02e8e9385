"""Plan limits: what each plan includes, and how a tenant's own overrides change that.

The plans live here, in code, so a change to them is reviewed and versioned like any other;
an operator changes one tenant's limits with ``tenantctl usage limits SUB --set ...``, which
writes the tenant's ``core.tenants.limits`` JSON. ``None`` means unlimited.

| limit | counts | free | pro | business |
|---|---|---:|---:|---:|
| ``max_users`` | shop users (``users``, not soft-deleted) | 25 | 100 | 1,000 |
| ``max_designs`` | designs (``design_images``, not soft-deleted) | 100 | 5,000 | unlimited |
| ``mockups_per_month`` | metric ``mockups_generated`` this month | 200 | 5,000 | 50,000 |
| ``api_calls_per_month`` | metric ``api_calls`` this month | 10,000 | 1,000,000 | 10,000,000 |
| ``orders_synced_per_month`` | metric ``orders_synced`` this month | 500 | 10,000 | unlimited |
| ``max_storage_bytes`` | metric ``storage_bytes`` (latest level) | 1 GiB | 50 GiB | 1 TiB |

A plan name this table does not know (a custom contract, say) includes nothing and limits
nothing: only the tenant's overrides apply to it.

Overage (use beyond the limit, in the billing report) is priced per started block of units,
the same on every plan: see ``OVERAGE_PRICES``.
"""

from __future__ import annotations

import decimal
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from toolkit.errors import InvalidUsage
from toolkit.usage.metrics import UsageMetric

GIB = 1024**3


class Limit(enum.StrEnum):
    """The limits a plan (or a tenant's override) can set."""

    MAX_USERS = "max_users"
    MAX_DESIGNS = "max_designs"
    MOCKUPS_PER_MONTH = "mockups_per_month"
    API_CALLS_PER_MONTH = "api_calls_per_month"
    ORDERS_SYNCED_PER_MONTH = "orders_synced_per_month"
    MAX_STORAGE_BYTES = "max_storage_bytes"


# Limits measured by counting a tenant table's live rows (table name in the tenant schema).
ROW_LIMITS: Mapping[Limit, str] = {Limit.MAX_USERS: "users", Limit.MAX_DESIGNS: "design_images"}
# Limits measured by a usage metric.
METRIC_LIMITS: Mapping[Limit, UsageMetric] = {
    Limit.MOCKUPS_PER_MONTH: UsageMetric.MOCKUPS_GENERATED,
    Limit.API_CALLS_PER_MONTH: UsageMetric.API_CALLS,
    Limit.ORDERS_SYNCED_PER_MONTH: UsageMetric.ORDERS_SYNCED,
    Limit.MAX_STORAGE_BYTES: UsageMetric.STORAGE_BYTES,
}
# What the billing report compares each metric with ("included" in the plan).
INCLUDED_BY: Mapping[UsageMetric, Limit] = {
    **{metric: limit for limit, metric in METRIC_LIMITS.items()},
    UsageMetric.ACTIVE_USERS: Limit.MAX_USERS,
}

PLAN_LIMITS: Mapping[str, Mapping[Limit, int | None]] = {
    "free": {
        Limit.MAX_USERS: 25,
        Limit.MAX_DESIGNS: 100,
        Limit.MOCKUPS_PER_MONTH: 200,
        Limit.API_CALLS_PER_MONTH: 10_000,
        Limit.ORDERS_SYNCED_PER_MONTH: 500,
        Limit.MAX_STORAGE_BYTES: 1 * GIB,
    },
    "pro": {
        Limit.MAX_USERS: 100,
        Limit.MAX_DESIGNS: 5_000,
        Limit.MOCKUPS_PER_MONTH: 5_000,
        Limit.API_CALLS_PER_MONTH: 1_000_000,
        Limit.ORDERS_SYNCED_PER_MONTH: 10_000,
        Limit.MAX_STORAGE_BYTES: 50 * GIB,
    },
    "business": {
        Limit.MAX_USERS: 1_000,
        Limit.MAX_DESIGNS: None,
        Limit.MOCKUPS_PER_MONTH: 50_000,
        Limit.API_CALLS_PER_MONTH: 10_000_000,
        Limit.ORDERS_SYNCED_PER_MONTH: None,
        Limit.MAX_STORAGE_BYTES: 1024 * GIB,
    },
}


@dataclass(frozen=True)
class OveragePrice:
    """``price`` (USD) per started block of ``per`` units beyond what the plan includes."""

    per: int
    price: decimal.Decimal

    def charge(self, overage: int) -> decimal.Decimal:
        """The price of ``overage`` units: every started block is paid in full."""
        blocks = -(-overage // self.per)
        return self.price * blocks


OVERAGE_PRICES: Mapping[UsageMetric, OveragePrice] = {
    UsageMetric.API_CALLS: OveragePrice(per=1_000, price=decimal.Decimal("0.10")),
    UsageMetric.MOCKUPS_GENERATED: OveragePrice(per=1, price=decimal.Decimal("0.02")),
    UsageMetric.ORDERS_SYNCED: OveragePrice(per=1, price=decimal.Decimal("0.01")),
    UsageMetric.STORAGE_BYTES: OveragePrice(per=GIB, price=decimal.Decimal("0.10")),
    UsageMetric.ACTIVE_USERS: OveragePrice(per=1, price=decimal.Decimal("5.00")),
}


def parse_limit(name: str | Limit) -> Limit:
    """``name`` as a Limit; InvalidUsage naming the known limits otherwise."""
    if isinstance(name, Limit):
        return name
    try:
        return Limit(name)
    except ValueError:
        known = ", ".join(member.value for member in Limit)
        raise InvalidUsage(f"unknown limit {name!r}: use one of {known}") from None


def check_limit_value(limit: Limit, value: object) -> int | None:
    """``value`` if it is a valid limit (a whole number >= 0, or None for unlimited)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidUsage(
            f"invalid value {value!r} for limit {limit.value}: use a whole number >= 0, "
            "or 'unlimited'"
        )
    return value


@dataclass(frozen=True)
class EffectiveLimit:
    """One limit of one tenant: the value in force and where it comes from."""

    limit: Limit
    allowed: int | None
    source: str  # "plan", "override" or "none" (unknown plan, no override)


def effective_limits(plan: str, overrides: Mapping[str, Any]) -> dict[Limit, EffectiveLimit]:
    """The plan's limits with the tenant's overrides (``core.tenants.limits``) applied.

    An override key that names no limit, or whose value is not a valid limit, is ignored
    here (``tenantctl usage limits`` shows such keys; ``--set`` never writes them).
    """
    base = PLAN_LIMITS.get(plan, {})
    result: dict[Limit, EffectiveLimit] = {}
    for limit in Limit:
        if limit.value in overrides:
            try:
                value = check_limit_value(limit, overrides[limit.value])
            except InvalidUsage:
                pass
            else:
                result[limit] = EffectiveLimit(limit, value, "override")
                continue
        if limit in base:
            result[limit] = EffectiveLimit(limit, base[limit], "plan")
        else:
            result[limit] = EffectiveLimit(limit, None, "none")
    return result


def ignored_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of ``overrides`` that ``effective_limits`` ignores, with their values."""
    ignored: dict[str, Any] = {}
    for key, value in overrides.items():
        try:
            check_limit_value(parse_limit(key), value)
        except InvalidUsage:
            ignored[key] = value
    return ignored
