"""Usage metering, plan limits, the billing report and usage anomalies.

- ``record(tenant, metric, quantity)``: buffered, summed per (tenant, metric, month),
  written with one upsert per flush (``UsageRecorder``); ``record_now`` writes at once;
- plan limits (``plans``) merged with per-tenant overrides (``core.tenants.limits``),
  enforced by an ORM hook and by ``check_quota``/``consume_quota`` on raw SQL paths,
  raising ``QuotaExceeded``;
- ``billing_report(engine, month)`` and ``find_anomalies(engine, month)``.

Names load on first use: ``models`` imports ``toolkit.usage.hooks`` while it is itself being
imported, so this package must not import ``models`` eagerly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from toolkit.errors import InvalidUsage, QuotaExceeded
    from toolkit.usage.anomalies import AnomalyRule, UsageAnomaly, find_anomalies
    from toolkit.usage.default import configure, default_recorder, flush, record
    from toolkit.usage.limits import (
        LimitsReport,
        LimitStatus,
        change_limits,
        limits_report,
        tenant_plan,
    )
    from toolkit.usage.metrics import UsageMetric, period_of
    from toolkit.usage.plans import OVERAGE_PRICES, PLAN_LIMITS, Limit, effective_limits
    from toolkit.usage.quota import check_quota, consume_quota
    from toolkit.usage.recorder import FlushResult, UsageRecorder, record_now
    from toolkit.usage.report import BillingLine, billing_report

_EXPORTS = {
    "toolkit.errors": ("InvalidUsage", "QuotaExceeded"),
    "toolkit.usage.anomalies": ("AnomalyRule", "UsageAnomaly", "find_anomalies"),
    "toolkit.usage.default": ("configure", "default_recorder", "flush", "record"),
    "toolkit.usage.limits": (
        "LimitStatus",
        "LimitsReport",
        "change_limits",
        "limits_report",
        "tenant_plan",
    ),
    "toolkit.usage.metrics": ("UsageMetric", "period_of"),
    "toolkit.usage.plans": ("OVERAGE_PRICES", "PLAN_LIMITS", "Limit", "effective_limits"),
    "toolkit.usage.quota": ("check_quota", "consume_quota"),
    "toolkit.usage.recorder": ("FlushResult", "UsageRecorder", "record_now"),
    "toolkit.usage.report": ("BillingLine", "billing_report"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "OVERAGE_PRICES",
    "PLAN_LIMITS",
    "AnomalyRule",
    "BillingLine",
    "FlushResult",
    "InvalidUsage",
    "Limit",
    "LimitStatus",
    "LimitsReport",
    "QuotaExceeded",
    "UsageAnomaly",
    "UsageMetric",
    "UsageRecorder",
    "billing_report",
    "change_limits",
    "check_quota",
    "configure",
    "consume_quota",
    "default_recorder",
    "effective_limits",
    "find_anomalies",
    "flush",
    "limits_report",
    "period_of",
    "record",
    "record_now",
    "tenant_plan",
]


__getattr__ = lazy_exports(__name__, _MODULE_OF, globals())
