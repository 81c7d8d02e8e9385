"""``tenantctl health``: is the database up, how fast does it answer, is everything at head.

Made for monitors and container health checks: one connection, a few round trips to time,
and three small queries in one transaction that only reads and is rolled back (core's
version, one aggregate over ``core.tenants`` and ``core.tenant_versions``, nothing per
tenant), under a statement timeout that ends with it (``set_config(..., true)``, the
function form of ``SET LOCAL``): about 10 ms at 10,000 tenants; a connection attempt or a
statement that takes longer than its timeout (5 s each) ends the check as unreachable or
error instead of hanging.

States and exit codes: ``healthy`` 0; ``degraded`` 3 (core behind head, or active or
suspended tenants behind head); ``unreachable`` 1 (no connection); ``error`` 1 (a query
failed). Tenants without a version record (restored and not yet touched, or below revision
0002tenant) are counted as ``unrecorded``: ``tenantctl migrate status`` reads their tables.
The pool figures are those of the engine given, in this process: a service calling
``check_health(its_engine)`` sees its own pool.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from toolkit.db import connect, mask_url
from toolkit.errors import DatabaseUnreachable
from toolkit.exit_codes import EXIT_CHECK_FAILED, EXIT_ERROR, EXIT_OK
from toolkit.migrations.status import Heads
from toolkit.provisioning import project_heads
from toolkit.registry import MIGRATED_STATUSES

ROUND_TRIPS = 5
STATEMENT_TIMEOUT = "5s"
_ARCHIVED = "archived"
_TENANTS_BY_VERSION = text(
    "SELECT t.status, v.revisions, count(*) FROM core.tenants t "
    "LEFT JOIN core.tenant_versions v ON v.tenant_id = t.id GROUP BY t.status, v.revisions"
)
_TENANTS_BY_STATUS = text("SELECT status, NULL, count(*) FROM core.tenants GROUP BY status")


class HealthState(StrEnum):
    """The verdict of a health check; ``exit_code`` is what ``tenantctl health`` ends with."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNREACHABLE = "unreachable"
    ERROR = "error"

    @property
    def exit_code(self) -> int:
        """0 healthy, 3 degraded, 1 unreachable or error."""
        if self is HealthState.HEALTHY:
            return EXIT_OK
        return EXIT_CHECK_FAILED if self is HealthState.DEGRADED else EXIT_ERROR


@dataclass(frozen=True)
class Latency:
    """Time to open the connection and of each ``SELECT 1`` round trip, in milliseconds."""

    connect_ms: float
    round_trips_ms: tuple[float, ...]

    @property
    def median_ms(self) -> float:
        """The median round trip."""
        return statistics.median(self.round_trips_ms)

    @property
    def max_ms(self) -> float:
        """The slowest round trip."""
        return max(self.round_trips_ms)


@dataclass(frozen=True)
class PoolStats:
    """The engine's connection pool: its size, connections in use and idle, and overflow
    (connections open beyond ``size``, 0 until the pool is full)."""

    size: int
    checked_out: int
    checked_in: int
    overflow: int

    @classmethod
    def of(cls, engine: Engine) -> PoolStats | None:
        """The figures of ``engine``'s pool; None for a pool that keeps none (NullPool)."""
        pool = engine.pool
        if not isinstance(pool, QueuePool):
            return None
        return cls(pool.size(), pool.checkedout(), pool.checkedin(), max(0, pool.overflow()))


@dataclass(frozen=True)
class TenantCounts:
    """Tenants against the tenant head.

    ``behind``: active or suspended (rollouts should have moved them); ``skipped_behind``:
    archived or provisioning tenants not at head (rollouts skip them: expected);
    ``unrecorded``: no version record to judge by.
    """

    total: int = 0
    at_head: int = 0
    behind: int = 0
    skipped_behind: int = 0
    unrecorded: int = 0
    by_status: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthReport:
    """What ``check_health`` found; ``problems`` says why it is degraded, ``error`` why it
    is unreachable or failed."""

    state: HealthState
    database: str
    heads: Heads
    latency: Latency | None = None
    core_revisions: tuple[str, ...] = ()
    tenants: TenantCounts | None = None
    pool: PoolStats | None = None
    problems: tuple[str, ...] = ()
    error: str | None = None

    @property
    def core_at_head(self) -> bool:
        """True if core's revisions are the core head."""
        return set(self.core_revisions) == set(self.heads.core)


def check_health(
    engine: Engine, heads: Heads | None = None, *, round_trips: int = ROUND_TRIPS
) -> HealthReport:
    """Connect, time ``round_trips`` round trips, read core's and the tenants' versions.

    ``heads`` defaults to this project's (the script directory is read once per process).
    Never raises for the database's sake: an unreachable server or a failing query is a
    report in state ``unreachable`` or ``error`` with the reason (URL masked).
    """
    heads = heads or project_heads()
    database = mask_url(engine.url)
    started = time.perf_counter()
    try:
        with connect(engine) as connection:
            connect_ms = _since(started)
            # SET LOCAL, as a function: the timeout ends with this (read-only) transaction.
            connection.execute(
                text("SELECT set_config('statement_timeout', :timeout, true)"),
                {"timeout": STATEMENT_TIMEOUT},
            )
            latency = Latency(connect_ms, _time_round_trips(connection, round_trips))
            core = _core_revisions(connection)
            tenants = _tenant_counts(connection, heads.tenant)
            connection.rollback()
    except DatabaseUnreachable as exc:
        return HealthReport(HealthState.UNREACHABLE, database, heads, error=str(exc))
    except DBAPIError as exc:
        cause = str(exc.orig or exc).strip().splitlines()
        reason = cause[0] if cause else type(exc).__name__
        return HealthReport(
            HealthState.ERROR, database, heads, error=f"health check on {database}: {reason}"
        )
    problems = _problems(core, tenants, heads)
    return HealthReport(
        HealthState.DEGRADED if problems else HealthState.HEALTHY,
        database,
        heads,
        latency=latency,
        core_revisions=core,
        tenants=tenants,
        pool=PoolStats.of(engine),
        problems=problems,
    )


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _time_round_trips(connection: Connection, count: int) -> tuple[float, ...]:
    timings = []
    for _ in range(max(1, count)):
        started = time.perf_counter()
        connection.execute(text("SELECT 1")).scalar()
        timings.append(_since(started))
    return tuple(timings)


def _core_revisions(connection: Connection) -> tuple[str, ...]:
    if not connection.execute(text("SELECT to_regclass('core.alembic_version')")).scalar():
        return ()
    rows = connection.execute(text("SELECT version_num FROM core.alembic_version")).scalars()
    return tuple(sorted(rows))


def _tenant_counts(connection: Connection, tenant_head: tuple[str, ...]) -> TenantCounts | None:
    """One aggregate query; None before core has a registry."""
    present = connection.execute(
        text("SELECT to_regclass('core.tenants'), to_regclass('core.tenant_versions')")
    ).one()
    if present[0] is None:
        return None
    query = _TENANTS_BY_VERSION if present[1] is not None else _TENANTS_BY_STATUS
    counts: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    head = set(tenant_head)
    for status, revisions, number in connection.execute(query).all():
        by_status[status] += number
        if revisions is None:
            counts["unrecorded"] += number
        elif set(revisions) == head:
            counts["at_head"] += number
        elif status in MIGRATED_STATUSES:
            counts["behind"] += number
        else:
            counts["skipped_behind"] += number
    return TenantCounts(
        total=sum(by_status.values()),
        at_head=counts["at_head"],
        behind=counts["behind"],
        skipped_behind=counts["skipped_behind"],
        unrecorded=counts["unrecorded"],
        by_status=dict(sorted(by_status.items())),
    )


def _problems(core: tuple[str, ...], tenants: TenantCounts | None, heads: Heads) -> tuple[str, ...]:
    found = []
    if set(core) != set(heads.core):
        found.append(
            f"core is at {', '.join(core) or 'base'}, not at head {', '.join(heads.core)}: "
            "run tenantctl migrate up"
        )
    if tenants is not None and tenants.behind:
        found.append(
            f"{tenants.behind} active or suspended tenant(s) behind tenant head "
            f"{', '.join(sorted(heads.tenant))}: tenantctl migrate status lists them, "
            "tenantctl migrate up moves them"
        )
    return tuple(found)
