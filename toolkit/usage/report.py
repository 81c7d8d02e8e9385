"""The billing report: each tenant's usage in one month against what its plan includes.

Per tenant and metric: ``used`` (a counter's total in the month; a gauge's last level
reported up to the end of the month, carried over from an earlier month if none was reported
in it), ``included`` (the limit in force today: plan, or the tenant's override; None is
unlimited), ``overage = max(0, used - included)`` and its price (``plans.OVERAGE_PRICES``,
per started block of units, the same on every plan). Limits are today's: a plan changed
during the month is not prorated. Tenants still provisioning are left out.

Two queries whatever the number of tenants: the registry, and the month's usage rows.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, select, text

from models import Tenant, TenantStatus
from toolkit.naming import normalize_tenant_ref
from toolkit.registry import find_tenant, require_registry
from toolkit.usage.metrics import GAUGES, UsageMetric, month_label
from toolkit.usage.plans import INCLUDED_BY, OVERAGE_PRICES, effective_limits

_USAGE = text(
    """
    SELECT DISTINCT ON (tenant_id, metric) tenant_id, metric, quantity
    FROM core.tenant_usage
    WHERE period_start <= :month
      AND (CAST(:tenant_id AS uuid) IS NULL OR tenant_id = CAST(:tenant_id AS uuid))
      AND (period_start = :month OR metric = ANY (CAST(:gauges AS text[])))
    ORDER BY tenant_id, metric, period_start DESC
    """
)


@dataclass(frozen=True)
class BillingLine:
    """One metric of one tenant in the month."""

    metric: str
    used: int
    included: int | None
    overage: int
    overage_charge: decimal.Decimal


@dataclass(frozen=True)
class TenantBill:
    """One tenant's lines and the sum of their overage charges."""

    tenant: str
    plan: str
    status: str
    lines: tuple[BillingLine, ...]
    overage_charge: decimal.Decimal


@dataclass(frozen=True)
class BillingReport:
    """The report of one month (``YYYY-MM``), tenants by subdomain."""

    month: str
    tenants: tuple[TenantBill, ...]

    @property
    def overage_charge(self) -> decimal.Decimal:
        """The sum of every tenant's overage charge."""
        return sum((bill.overage_charge for bill in self.tenants), decimal.Decimal("0.00"))


def billing_line(metric: UsageMetric, used: int, included: int | None) -> BillingLine:
    """The line of ``metric``: its overage and price given ``used`` and ``included``."""
    overage = 0 if included is None else max(0, used - included)
    charge = OVERAGE_PRICES[metric].charge(overage) if overage else decimal.Decimal("0.00")
    return BillingLine(metric.value, used, included, overage, charge)


def billing_report(
    engine: Engine, month: datetime.date, *, tenant: str | None = None
) -> BillingReport:
    """Usage against plan for every tenant (or just ``tenant``) in ``month``'s period."""
    period = month.replace(day=1)
    with engine.connect() as connection:
        require_registry(connection)
        query = select(Tenant.id, Tenant.subdomain, Tenant.plan, Tenant.status, Tenant.limits)
        if tenant is not None:
            subdomain = find_tenant(connection, normalize_tenant_ref(tenant)).subdomain
            query = query.where(Tenant.subdomain == subdomain)
        query = query.where(Tenant.status != TenantStatus.PROVISIONING.value)
        tenants = connection.execute(query.order_by(Tenant.subdomain)).all()
        only = tenants[0].id if tenant is not None and tenants else None
        usage: dict[tuple[uuid.UUID, str], int] = {
            (row.tenant_id, row.metric): int(row.quantity)
            for row in connection.execute(
                _USAGE,
                {"month": period, "gauges": sorted(g.value for g in GAUGES), "tenant_id": only},
            )
        }
    bills = []
    for row in tenants:
        limits = effective_limits(row.plan, row.limits if isinstance(row.limits, dict) else {})
        lines = tuple(
            billing_line(
                metric, usage.get((row.id, metric.value), 0), limits[INCLUDED_BY[metric]].allowed
            )
            for metric in UsageMetric
        )
        total = sum((line.overage_charge for line in lines), decimal.Decimal("0.00"))
        bills.append(TenantBill(row.subdomain, row.plan, row.status, lines, total))
    return BillingReport(month_label(period), tuple(bills))
