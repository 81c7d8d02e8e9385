"""A tenant's limits and its use of them: read, and change the per-tenant overrides.

Overrides live in ``core.tenants.limits`` (JSON object: limit name -> whole number, or
null for unlimited). They are changed with one ``jsonb`` UPDATE each (``||`` to set, ``-``
to unset), so two operators changing different limits at once do not undo each other.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, column, func, select, table, text

from models import Tenant, TenantUsage
from toolkit.errors import InvalidUsage, TenantNotFound
from toolkit.naming import normalize_tenant_ref
from toolkit.registry import require_registry
from toolkit.usage.metrics import is_gauge, period_of
from toolkit.usage.plans import (
    METRIC_LIMITS,
    PLAN_LIMITS,
    ROW_LIMITS,
    EffectiveLimit,
    Limit,
    check_limit_value,
    effective_limits,
    ignored_overrides,
    parse_limit,
)

UNLIMITED = "unlimited"


@dataclass(frozen=True)
class TenantPlan:
    """What enforcement needs to know about one tenant: who it is and its limits."""

    tenant_id: uuid.UUID
    subdomain: str
    schema: str
    plan: str
    overrides: Mapping[str, Any]
    limits: Mapping[Limit, EffectiveLimit] = field(repr=False)

    @property
    def plan_known(self) -> bool:
        """False when the plan is not in ``PLAN_LIMITS`` (only overrides apply)."""
        return self.plan in PLAN_LIMITS

    def allowed(self, limit: Limit) -> int | None:
        """The value of ``limit`` in force (None: unlimited)."""
        return self.limits[limit].allowed


def _from_row(
    tenant_id: uuid.UUID, subdomain: str, schema: str, plan: str, overrides: Any
) -> TenantPlan:
    data = overrides if isinstance(overrides, dict) else {}
    return TenantPlan(tenant_id, subdomain, schema, plan, data, effective_limits(plan, data))


_PLAN_COLUMNS = (Tenant.id, Tenant.subdomain, Tenant.database_schema, Tenant.plan, Tenant.limits)


def tenant_plan(connection: Connection, tenant: str) -> TenantPlan:
    """The plan and limits of ``tenant`` (subdomain or schema); TenantNotFound if unknown."""
    subdomain = normalize_tenant_ref(tenant)
    require_registry(connection)
    row = connection.execute(select(*_PLAN_COLUMNS).where(Tenant.subdomain == subdomain)).first()
    if row is None:
        raise TenantNotFound(
            f"unknown tenant {tenant!r}: no such row in core.tenants; "
            "`tenantctl tenant list` shows the tenants"
        )
    return _from_row(*row)


def tenant_plan_by_schema(connection: Connection, schema: str) -> TenantPlan | None:
    """The plan of the tenant whose schema is ``schema``; None if no tenant has it."""
    row = connection.execute(select(*_PLAN_COLUMNS).where(Tenant.database_schema == schema)).first()
    return None if row is None else _from_row(*row)


def live_rows(connection: Connection, schema: str, table_name: str) -> int:
    """Rows of ``schema.table_name`` that are not soft-deleted (names quoted by SQLAlchemy)."""
    target = table(table_name, column("deleted_at"), schema=schema)
    query = select(func.count()).select_from(target).where(target.c.deleted_at.is_(None))
    return int(connection.execute(query).scalar_one())


def metric_use(
    connection: Connection, plan: TenantPlan, limit: Limit, period: datetime.date
) -> int:
    """The tenant's use of a metric limit in ``period``; for a gauge, its latest level."""
    metric = METRIC_LIMITS[limit]
    query = select(TenantUsage.quantity).where(
        TenantUsage.tenant_id == plan.tenant_id, TenantUsage.metric == metric.value
    )
    if is_gauge(metric):
        query = query.where(TenantUsage.period_start <= period)
        query = query.order_by(TenantUsage.period_start.desc()).limit(1)
    else:
        query = query.where(TenantUsage.period_start == period)
    value = connection.execute(query).scalar()
    return int(value or 0)


def current_use(
    connection: Connection, plan: TenantPlan, limit: Limit, *, at: datetime.datetime | None = None
) -> int:
    """How much of ``limit`` the tenant uses now: live rows, or this month's metric."""
    if limit in ROW_LIMITS:
        return live_rows(connection, plan.schema, ROW_LIMITS[limit])
    return metric_use(connection, plan, limit, period_of(at))


@dataclass(frozen=True)
class LimitStatus:
    """One limit of one tenant as ``tenantctl usage limits`` shows it."""

    limit: str
    allowed: int | None
    source: str
    used: int
    plan_value: int | None


@dataclass(frozen=True)
class LimitsReport:
    """A tenant's plan, every limit with its use, and override keys that are ignored."""

    tenant: str
    plan: str
    plan_known: bool
    limits: tuple[LimitStatus, ...]
    ignored_overrides: Mapping[str, Any]


def limits_report(engine: Engine, tenant: str) -> LimitsReport:
    """Every limit of ``tenant``: the value in force, where it comes from, and current use."""
    with engine.connect() as connection:
        plan = tenant_plan(connection, tenant)
        base = PLAN_LIMITS.get(plan.plan, {})
        statuses = tuple(
            LimitStatus(
                limit=limit.value,
                allowed=plan.allowed(limit),
                source=plan.limits[limit].source,
                used=current_use(connection, plan, limit),
                plan_value=base.get(limit),
            )
            for limit in Limit
        )
    return LimitsReport(
        tenant=plan.subdomain,
        plan=plan.plan,
        plan_known=plan.plan_known,
        limits=statuses,
        ignored_overrides=ignored_overrides(plan.overrides),
    )


def parse_assignment(text_: str) -> tuple[Limit, int | None]:
    """``name=N`` or ``name=unlimited`` (for ``--set``); InvalidUsage otherwise."""
    name, sep, raw = text_.partition("=")
    if not sep:
        raise InvalidUsage(
            f"invalid --set {text_!r}: write LIMIT=N or LIMIT={UNLIMITED}, e.g. max_users=50"
        )
    limit = parse_limit(name.strip())
    value = raw.strip()
    if value.lower() == UNLIMITED:
        return limit, None
    if not value.isdigit():
        raise InvalidUsage(
            f"invalid value {value!r} for limit {limit.value} in --set {text_!r}: use a whole "
            f"number >= 0, or {UNLIMITED}"
        )
    return limit, int(value)


_SET = text(
    "UPDATE core.tenants SET limits = limits || CAST(:patch AS jsonb), updated_at = now() "
    "WHERE subdomain = :subdomain"
)
_UNSET = text(
    "UPDATE core.tenants SET limits = limits - CAST(:keys AS text[]), updated_at = now() "
    "WHERE subdomain = :subdomain"
)


def change_limits(
    engine: Engine,
    tenant: str,
    *,
    set_: Mapping[Limit | str, int | None] | None = None,
    unset: Sequence[Limit | str] = (),
) -> LimitsReport:
    """Override limits of ``tenant`` (None: unlimited) and drop overrides in ``unset``.

    Everything is validated before any SQL; both changes commit together. Returns the
    limits now in force.
    """
    patch = {
        parse_limit(name).value: check_limit_value(parse_limit(name), value)
        for name, value in (set_ or {}).items()
    }
    keys = sorted({parse_limit(name).value for name in unset})
    both = sorted(set(patch) & set(keys))
    if both:
        raise InvalidUsage(f"limit(s) {', '.join(both)} both set and unset: give each limit once")
    with engine.begin() as connection:
        plan = tenant_plan(connection, tenant)
        if patch:
            connection.execute(_SET, {"patch": json.dumps(patch), "subdomain": plan.subdomain})
        if keys:
            connection.execute(_UNSET, {"keys": keys, "subdomain": plan.subdomain})
    return limits_report(engine, plan.subdomain)
