"""Quota checks where data is created: ``check_quota`` and ``consume_quota``.

Both run in the caller's transaction (pass the Connection that inserts the rows), so the
check and the insert commit together, and both are safe when many transactions create rows
for the same tenant at once:

- a row limit (``max_users``, ``max_designs``) takes a transaction-level advisory lock on
  (tenant, limit) before counting, so concurrent creators are serialized until commit and
  two of them cannot both take the last place;
- a monthly metric limit (``mockups_per_month``, ...) is consumed by one conditional upsert
  that adds the amount only if the total stays within the limit; the row lock does the
  serializing, and a refusal changes nothing.

The ORM hook (``toolkit.usage.hooks``) calls these for new User, DesignImage and Mockup rows;
raw SQL paths call them themselves.
"""

from __future__ import annotations

import datetime

from sqlalchemy import Connection, text

from toolkit.errors import InvalidUsage, QuotaExceeded
from toolkit.usage.limits import TenantPlan, current_use, metric_use, tenant_plan
from toolkit.usage.metrics import is_gauge, period_of
from toolkit.usage.plans import METRIC_LIMITS, ROW_LIMITS, Limit, parse_limit

LOCK_NAMESPACE = "tenantctl.quota"
# The limits consume_quota accepts: monthly counters (a gauge is a level, not consumed).
CONSUMABLE = tuple(
    sorted(limit.value for limit, metric in METRIC_LIMITS.items() if not is_gauge(metric))
)
_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(:namespace), hashtext(:key))")
_CONSUME = text(
    """
    INSERT INTO core.tenant_usage AS usage (tenant_id, metric, period_start, quantity)
    VALUES (:tenant_id, :metric, :period, :amount)
    ON CONFLICT (tenant_id, metric, period_start) DO UPDATE
    SET quantity = usage.quantity + excluded.quantity, updated_at = now()
    WHERE CAST(:allowed AS bigint) IS NULL
       OR usage.quantity + excluded.quantity <= CAST(:allowed AS bigint)
    RETURNING quantity
    """
)


def _check_amount(limit: Limit, amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise InvalidUsage(
            f"invalid amount {amount!r} for limit {limit.value}: use a whole number >= 0"
        )
    return amount


def lock_limit(connection: Connection, plan: TenantPlan, limit: Limit) -> None:
    """Hold (tenant, limit)'s advisory lock until ``connection``'s transaction ends."""
    connection.execute(_LOCK, {"namespace": LOCK_NAMESPACE, "key": f"{plan.tenant_id}:{limit}"})


def check_plan_quota(
    connection: Connection,
    plan: TenantPlan,
    limit: Limit,
    adding: int = 1,
    *,
    at: datetime.datetime | None = None,
) -> int:
    """``check_quota`` for a tenant already read; returns the use before ``adding``."""
    allowed = plan.allowed(limit)
    if allowed is None:
        return current_use(connection, plan, limit, at=at)
    if limit in ROW_LIMITS:
        lock_limit(connection, plan, limit)
    used = current_use(connection, plan, limit, at=at)
    if used + adding > allowed:
        raise QuotaExceeded(
            tenant=plan.subdomain,
            limit=limit.value,
            current=used,
            requested=adding,
            allowed=allowed,
            plan=plan.plan,
        )
    return used


def check_quota(
    connection: Connection,
    tenant: str,
    limit: Limit | str,
    adding: int = 1,
    *,
    at: datetime.datetime | None = None,
) -> int:
    """Raise QuotaExceeded if ``tenant`` adding ``adding`` would pass ``limit``.

    Returns the use before ``adding``. For a row limit the check holds a lock until the
    transaction ends: call it in the transaction that inserts the rows, just before. For a
    metric limit it only reads: use ``consume_quota`` to count and check in one step.
    """
    parsed = parse_limit(limit)
    _check_amount(parsed, adding)
    return check_plan_quota(connection, tenant_plan(connection, tenant), parsed, adding, at=at)


def consume_plan_quota(
    connection: Connection,
    plan: TenantPlan,
    limit: Limit,
    amount: int = 1,
    *,
    at: datetime.datetime | None = None,
) -> int:
    """``consume_quota`` for a tenant already read; returns the month's new total."""
    metric = METRIC_LIMITS.get(limit)
    if metric is None or is_gauge(metric):
        raise InvalidUsage(
            f"limit {limit.value} cannot be consumed: only monthly counter limits can "
            f"({', '.join(CONSUMABLE)}); use check_quota for the others"
        )
    period = period_of(at)
    allowed = plan.allowed(limit)
    if allowed is not None and amount > allowed:
        used = metric_use(connection, plan, limit, period)
    else:
        total = connection.execute(
            _CONSUME,
            {
                "tenant_id": plan.tenant_id,
                "metric": metric.value,
                "period": period,
                "amount": amount,
                "allowed": allowed,
            },
        ).scalar()
        if total is not None:
            return int(total)
        used = metric_use(connection, plan, limit, period)
    raise QuotaExceeded(
        tenant=plan.subdomain,
        limit=limit.value,
        current=used,
        requested=amount,
        allowed=allowed if allowed is not None else 0,
        plan=plan.plan,
    )


def consume_quota(
    connection: Connection,
    tenant: str,
    limit: Limit | str,
    amount: int = 1,
    *,
    at: datetime.datetime | None = None,
) -> int:
    """Add ``amount`` to the month's metric behind ``limit`` if it stays within the limit.

    Returns the new total. Raises QuotaExceeded (and adds nothing) otherwise. Runs in the
    caller's transaction: rolled back with it, so only committed work is counted.
    """
    parsed = parse_limit(limit)
    _check_amount(parsed, amount)
    return consume_plan_quota(connection, tenant_plan(connection, tenant), parsed, amount, at=at)
