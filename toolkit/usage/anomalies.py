"""Usage anomalies: tenants whose use this month is far from their own history.

The rule, per tenant and metric (``AnomalyRule``, defaults in brackets):

1. History is the tenant's usage rows of that metric in the ``window`` [6] months before the
   month examined; a month without a row is not history (the tenant may not have existed).
   With fewer than ``min_history`` [3] such months the metric is not examined.
2. The baseline is the median of those months (robust to one odd month).
3. The expectation is the baseline; for a counter in the month still in progress it is
   scaled to the part of the month elapsed (half-way through, half the baseline). Gauges
   are levels and are not scaled.
4. This month's value is the month's row (a counter with no row used 0; a gauge with no
   row has reported no level yet and is not examined).
5. It is flagged as a ``spike`` if it is more than ``factor`` [3] times the expectation, as a
   ``drop`` if it is less than the expectation divided by ``factor``, and in both cases only
   if it differs from the expectation by at least the metric's floor (``DEFAULT_FLOORS``),
   so that 2 mockups instead of 0 is not an anomaly.

Tenants still provisioning are left out. One query reads every row of the window.
"""

from __future__ import annotations

import datetime
import statistics
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from models import Tenant, TenantStatus, TenantUsage
from toolkit.errors import InvalidUsage
from toolkit.naming import normalize_tenant_ref
from toolkit.registry import find_tenant, require_registry
from toolkit.usage.metrics import UsageMetric, add_months, is_gauge, month_label, period_of
from toolkit.usage.plans import GIB

DEFAULT_FLOORS: Mapping[UsageMetric, int] = {
    UsageMetric.API_CALLS: 1_000,
    UsageMetric.MOCKUPS_GENERATED: 50,
    UsageMetric.ORDERS_SYNCED: 20,
    UsageMetric.STORAGE_BYTES: 1 * GIB,
    UsageMetric.ACTIVE_USERS: 5,
}


@dataclass(frozen=True)
class AnomalyRule:
    """The parameters of the rule in this module's docstring."""

    factor: float = 3.0
    window: int = 6
    min_history: int = 3
    floors: Mapping[UsageMetric, int] = field(default_factory=lambda: dict(DEFAULT_FLOORS))

    def __post_init__(self) -> None:
        if not self.factor > 1:
            raise InvalidUsage(
                f"invalid anomaly factor {self.factor}: it must be greater than 1, e.g. 3"
            )
        if not 1 <= self.min_history <= self.window <= 120:
            raise InvalidUsage(
                f"invalid anomaly history: min_history={self.min_history}, "
                f"window={self.window}; need 1 <= min_history <= window <= 120 months"
            )


@dataclass(frozen=True)
class UsageAnomaly:
    """One tenant's metric that the rule flags in the month examined."""

    tenant: str
    metric: str
    month: str
    direction: str  # "spike" or "drop"
    current: int
    baseline: float
    expected: float
    history: Mapping[str, int]  # YYYY-MM -> quantity, the months the baseline comes from


def elapsed_fraction(period: datetime.date, now: datetime.datetime) -> float:
    """How much of ``period``'s month has passed at ``now`` (0..1; 1 for a past month)."""
    start = datetime.datetime(period.year, period.month, period.day, tzinfo=datetime.UTC)
    end_date = add_months(period, 1)
    end = datetime.datetime(end_date.year, end_date.month, end_date.day, tzinfo=datetime.UTC)
    if now >= end:
        return 1.0
    if now <= start:
        return 0.0
    return (now - start) / (end - start)


def judge(
    metric: UsageMetric,
    current: int,
    history: list[int],
    rule: AnomalyRule,
    fraction: float = 1.0,
) -> tuple[str, float, float] | None:
    """(direction, baseline, expected) if the rule flags ``current``; None otherwise."""
    if len(history) < rule.min_history:
        return None
    baseline = float(statistics.median(history))
    expected = baseline if is_gauge(metric) else baseline * fraction
    if abs(current - expected) < rule.floors.get(metric, 0):
        return None
    if current > rule.factor * expected:
        return ("spike", baseline, expected)
    if current * rule.factor < expected:
        return ("drop", baseline, expected)
    return None


def find_anomalies(
    engine: Engine,
    month: datetime.date | None = None,
    *,
    tenant: str | None = None,
    rule: AnomalyRule | None = None,
    now: datetime.datetime | None = None,
) -> list[UsageAnomaly]:
    """Every (tenant, metric) the rule flags in ``month`` (default: the current month)."""
    rule = rule or AnomalyRule()
    now = now or datetime.datetime.now(datetime.UTC)
    period = (month or period_of(now)).replace(day=1)
    first = add_months(period, -rule.window)
    fraction = elapsed_fraction(period, now)
    with engine.connect() as connection:
        require_registry(connection)
        tenants = select(Tenant.id, Tenant.subdomain).where(
            Tenant.status != TenantStatus.PROVISIONING.value
        )
        if tenant is not None:
            tenants = tenants.where(
                Tenant.subdomain == find_tenant(connection, normalize_tenant_ref(tenant)).subdomain
            )
        names = {row.id: row.subdomain for row in connection.execute(tenants)}
        rows = connection.execute(
            select(
                TenantUsage.tenant_id,
                TenantUsage.metric,
                TenantUsage.period_start,
                TenantUsage.quantity,
            ).where(
                TenantUsage.period_start >= first,
                TenantUsage.period_start <= period,
                TenantUsage.tenant_id.in_(list(names)),
            )
        ).all()
    series: dict[tuple[uuid.UUID, str], dict[datetime.date, int]] = defaultdict(dict)
    for row in rows:
        series[(row.tenant_id, row.metric)][row.period_start] = int(row.quantity)
    found = []
    for (tenant_id, metric_name), months in series.items():
        try:
            metric = UsageMetric(metric_name)
        except ValueError:
            continue  # a metric this code does not know (written by raw SQL): not judged
        if is_gauge(metric) and period not in months:
            continue
        history = {day: quantity for day, quantity in months.items() if day < period}
        current = months.get(period, 0)
        verdict = judge(metric, current, sorted(history.values()), rule, fraction)
        if verdict is not None:
            direction, baseline, expected = verdict
            found.append(
                UsageAnomaly(
                    tenant=names[tenant_id],
                    metric=metric.value,
                    month=month_label(period),
                    direction=direction,
                    current=current,
                    baseline=baseline,
                    expected=round(expected, 2),
                    history={month_label(day): history[day] for day in sorted(history)},
                )
            )
    return sorted(found, key=lambda anomaly: (anomaly.tenant, anomaly.metric))
