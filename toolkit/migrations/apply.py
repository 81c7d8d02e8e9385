"""Move one tenant schema through its group's plan, in one transaction of its own.

Inside that transaction: ``SET LOCAL`` timeouts and search path, the version rows locked and
checked against the plan, the group's SQL (or Alembic for revisions that need Python), the
revision checksums (until one tenant of the group has committed them), then a check that
the version table now holds what the plan leads to, the tenant's version record and its
journal row (``finish_step``). All of it commits together or not at all. A lock timeout
is retried with backoff a bounded number of times; any other error fails the tenant at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg.errors
from sqlalchemy import Connection, Engine
from sqlalchemy.pool import NullPool

from toolkit.db import make_engine, transaction
from toolkit.errors import PlanOutdated, one_line
from toolkit.logging_setup import LogConfig, run_scope
from toolkit.migrations import version_record
from toolkit.migrations.events import SchemaOutcome
from toolkit.migrations.finish_step import bookkeeping_sql, finish_sql
from toolkit.migrations.lock import WORK_SESSION
from toolkit.migrations.version_checks import (
    PLAN_OUTDATED_SQLSTATE,
    require_versions,
    require_versions_sql,
)
from toolkit.naming import is_tenant_schema
from toolkit.sql import STATEMENT_SEPARATOR, set_local_search_path
from toolkit.tenant_context import tenant_scope

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

log = logging.getLogger("tenantctl.migrations")

# Unqualified: resolved through the tenant's SET LOCAL search_path. The table is Alembic's.
CREATE_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL, "
    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
)
_LOCK_VERSIONS = "SELECT version_num FROM alembic_version FOR UPDATE"
_READ_VERSIONS = "SELECT version_num FROM alembic_version"


@dataclass(frozen=True)
class Limits:
    """Per-tenant transaction limits: timeouts and how often a lock timeout is retried."""

    lock_timeout: float = 5.0
    statement_timeout: float = 600.0
    lock_retries: int = 3
    retry_backoff: float = 0.5

    def timeouts_sql(self) -> str:
        """The ``SET LOCAL`` statements that put both timeouts on the current transaction."""
        return (
            f"SET LOCAL lock_timeout = {int(self.lock_timeout * 1000)}; "
            f"SET LOCAL statement_timeout = {int(self.statement_timeout * 1000)}"
        )


@dataclass(frozen=True)
class GroupScript:
    """What a worker needs to move one tenant of a group: SQL, or revisions for Alembic."""

    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]
    sql: str | None
    steps: tuple[tuple[str, bool], ...]
    record_sql: str | None  # records the checksums of applied revisions, when journaled

    @property
    def revisions(self) -> tuple[str, ...]:
        """The revisions applied, as ``id`` (upgrade) or ``-id`` (downgrade), in order."""
        return tuple(rev if up else f"-{rev}" for rev, up in self.steps)


@dataclass(frozen=True)
class TenantTask:
    """One tenant to migrate: its schema, its group in the plan, its journal step (if any)."""

    schema: str
    group: int
    step_id: int | None
    attempt: int = 1


@dataclass(frozen=True)
class WorkerPlan:
    """Everything a worker process needs, sent once when it starts.

    ``run_id`` is the journal's id of the run (None when nothing is journaled) and
    ``log_config`` the runner's logging set-up (None: it configured none), so that a
    worker's log lines look like the runner's and name the same run. ``record_versions``
    says core has ``core.tenant_versions``: each tenant's transaction then writes its
    record itself instead of through the trigger (``version_record``). ``functions_in_core``
    says core has the rollout's functions for the version checks and the end of each
    tenant's transaction (``version_checks``, ``finish_step``).
    """

    url: str
    ini_path: str | None
    limits: Limits
    groups: tuple[GroupScript, ...]
    run_id: int | None = None
    log_config: LogConfig | None = None
    record_versions: bool = False
    functions_in_core: bool = False


# A server session keeps the catalog entries of every relation it touched, and whenever other
# sessions' DDL overflows its invalidation queue it walks that whole cache. A session that has
# migrated thousands of tenants while another worker does the same spends most of its time
# there (measured: about 300 ms of server CPU per tenant after 3,000 tenants). Its own
# connection is therefore replaced every RECYCLE_AFTER tenants, which keeps the cost flat.
RECYCLE_AFTER = 500


class TenantMigrator:
    """Migrates tenants one at a time on one connection (its own, or a caller's)."""

    def __init__(
        self,
        plan: WorkerPlan,
        *,
        connection: Connection | None = None,
        script: ScriptDirectory | None = None,
    ) -> None:
        self.plan = plan
        self._script = script
        self._engine: Engine | None = None
        self._borrowed = connection is not None
        self._connection = connection
        self._served = 0  # tenants migrated on the current connection
        # Groups whose revision checksums a tenant of this migrator has committed: the
        # record is the same for every tenant of a group, so once is enough.
        self._checksums_recorded: set[int] = set()

    # -- connection -------------------------------------------------------------------------

    def _live_connection(self) -> Connection:
        """The connection, reopened if the server closed it (e.g. pg_terminate_backend)."""
        if self._connection is not None and not _is_dead(self._connection):
            return self._connection
        if self._borrowed:
            raise PlanOutdated("the caller's connection was closed during the run")
        if self._engine is None:
            self._engine = make_engine(self.plan.url, poolclass=NullPool, connect_args=WORK_SESSION)
        if self._connection is not None:  # dead: discard it without a reset
            self._connection.invalidate()
            self._connection.close()
        self._connection = self._engine.connect()
        return self._connection

    def _recycle_when_due(self) -> None:
        """Close this migrator's own connection after RECYCLE_AFTER tenants (see there)."""
        if self._borrowed or self._connection is None:
            return
        self._served += 1
        if self._served >= RECYCLE_AFTER:
            self._connection.close()
            self._connection = None
            self._served = 0

    def close(self) -> None:
        """Close the connection this migrator opened (a caller's is left alone)."""
        if not self._borrowed and self._connection is not None:
            self._connection.close()
        if self._engine is not None:
            self._engine.dispose()

    # -- one tenant -------------------------------------------------------------------------

    def migrate(self, task: TenantTask) -> SchemaOutcome:
        """One attempt at one tenant; never raises for the tenant's own errors.

        A lock timeout with retries left comes back as an outcome with ``retry_in`` set:
        the caller queues the tenant again after that backoff and goes on with others, so
        one busy tenant never stalls the run. While it runs, the tenant and the run are in
        scope, so every log line of the attempt names both (in a worker process too).
        """
        scope = task.schema if is_tenant_schema(task.schema) else None
        try:
            with run_scope(self.plan.run_id), tenant_scope(scope):
                outcome = self._attempt(task)
                _log_outcome(outcome)
            return outcome
        finally:
            self._recycle_when_due()

    def _attempt(self, task: TenantTask) -> SchemaOutcome:
        group = self.plan.groups[task.group]
        limits = self.plan.limits
        started = time.perf_counter()
        try:
            self._migrate_once(task, group, task.attempt)
        # The tenant's own error (DDL, timeout, dropped connection): it was rolled back,
        # is recorded against the tenant, and the run goes on as its policy says.
        except Exception as exc:
            error = one_line(_first_cause(exc))
            if isinstance(exc, PlanOutdated):
                self._refresh_record(task.schema)
            if _is_lock_timeout(exc) and task.attempt <= limits.lock_retries:
                backoff = limits.retry_backoff * 2 ** (task.attempt - 1)
                return self._outcome(task, group, started, error, retry_in=backoff)
            self._record_failure(task, error, task.attempt, started)
            return self._outcome(task, group, started, error)
        self._checksums_recorded.add(task.group)
        return self._outcome(task, group, started, None)

    def _migrate_once(self, task: TenantTask, group: GroupScript, attempts: int) -> None:
        """One attempt, in one transaction and (for rendered SQL) one round trip.

        The statements first lock the tenant's version rows and read them, and end by
        reading them again: unless they held the plan's from-revisions and end at its
        to-revisions, the transaction is rolled back. A tenant that another process moved
        after planning is therefore never migrated twice.
        """
        connection = self._live_connection()
        if group.sql is not None and not self._borrowed:
            self._migrate_in_one_message(connection, task, group, attempts)
            return
        driver = self._transactional(connection)
        with transaction(connection):
            statements = [self._prelude(task.schema)]
            if not group.from_revisions:  # a schema at base may have no version table yet
                statements.append(CREATE_VERSION_TABLE)
            statements.append(_LOCK_VERSIONS)
            if group.sql is None:
                start = _result_sets(driver.execute(STATEMENT_SEPARATOR.join(statements)))[0]
                require_versions(task.schema, start, group.from_revisions, "is at")
                self._run_alembic(connection, task.schema, group)
                statements = []
            else:
                statements.append(group.sql)
            statements.extend(self._checksums(task, group))
            statements.extend(
                bookkeeping_sql(
                    task.schema,
                    group.to_revisions,
                    task.step_id,
                    attempts,
                    record_version=self.plan.record_versions,
                )
            )
            statements.append(_READ_VERSIONS)
            found = _result_sets(driver.execute(STATEMENT_SEPARATOR.join(statements)))
            if group.sql is not None:
                require_versions(task.schema, found[0], group.from_revisions, "is at")
            require_versions(task.schema, found[-1], group.to_revisions, "would end at")

    def _migrate_in_one_message(
        self, connection: Connection, task: TenantTask, group: GroupScript, attempts: int
    ) -> None:
        """Rendered SQL on this migrator's own connection: one message, one transaction.

        Without an explicit BEGIN, PostgreSQL runs the statements of one message as one
        implicit transaction: it commits after the last one, or rolls back at the first
        error. So the version checks run in the server, as statements that raise, and the
        tenant costs one round trip instead of three (BEGIN, batch, COMMIT). The connection
        stays in autocommit mode from one tenant to the next.
        """
        driver = _driver(connection, autocommit=True)
        statements = [self._prelude(task.schema)]
        if not group.from_revisions:  # a schema at base may have no version table yet
            statements.append(CREATE_VERSION_TABLE)
        in_core = self.plan.functions_in_core
        statements.append(
            require_versions_sql(task.schema, group.from_revisions, "is at", in_core=in_core)
        )
        statements.append(group.sql or "")
        statements.extend(self._checksums(task, group))
        statements.extend(
            finish_sql(
                task.schema,
                group.to_revisions,
                task.step_id,
                attempts,
                in_core=in_core,
                record_version=self.plan.record_versions,
            )
        )
        try:
            # Never prepared: the text differs from tenant to tenant.
            driver.execute(STATEMENT_SEPARATOR.join(statements), prepare=False)
        except psycopg.Error as exc:
            if exc.sqlstate == PLAN_OUTDATED_SQLSTATE:
                raise PlanOutdated(exc.diag.message_primary or str(exc)) from None
            raise

    def _refresh_record(self, schema: str) -> None:
        """Rewrite ``schema``'s row in ``core.tenant_versions`` from its version table.

        The plan came from that record; if it was stale (someone changed the table with
        triggers disabled), rewriting it means the next run plans from the truth instead of
        failing the same way again.
        """
        if not self.plan.record_versions:
            return
        try:
            connection = self._live_connection()
            driver = self._transactional(connection)
            with transaction(connection):
                driver.execute(f"{self._prelude(schema)}; {version_record.record_sql(schema)}")
        except Exception as exc:  # the failure being reported matters more than this repair
            log.warning("could not refresh the version record of %s: %s", schema, one_line(exc))

    def _transactional(self, connection: Connection) -> psycopg.Connection[Any]:
        """The psycopg connection under ``connection``, ready for a SQLAlchemy transaction:
        this migrator's own connection leaves the autocommit mode that the one-message path
        keeps it in; a caller's connection stays as the caller set it up."""
        return _driver(connection, autocommit=None if self._borrowed else False)

    def _prelude(self, schema: str) -> str:
        skip_trigger = f"; {version_record.SKIP_TRIGGER}" if self.plan.record_versions else ""
        return f"{self.plan.limits.timeouts_sql()}; {set_local_search_path(schema)}{skip_trigger}"

    def _checksums(self, task: TenantTask, group: GroupScript) -> list[str]:
        """The group's revision checksums, until a tenant of this migrator has committed
        them: the record is the same for every tenant of a group, so once is enough."""
        if group.record_sql is not None and task.group not in self._checksums_recorded:
            return [group.record_sql]
        return []

    def _run_alembic(self, connection: Connection, schema: str, group: GroupScript) -> None:
        # Imported here: a worker process imports Alembic and the models only when one of
        # its groups runs through Alembic, which keeps its start-up short.
        from alembic.operations import Operations
        from alembic.runtime.migration import MigrationContext, RevisionStep

        from models.metadata import TENANT_METADATA

        script = self._scripts()
        steps = [
            RevisionStep(script.revision_map, script.get_revision(revision), is_upgrade)
            for revision, is_upgrade in group.steps
        ]
        options: dict[str, Any] = {
            "version_table_schema": schema,
            "target_metadata": TENANT_METADATA,
            "fn": lambda _heads, _context: steps,
        }
        context = MigrationContext.configure(connection=connection, opts=options)
        with Operations.context(context):
            context.run_migrations()

    def _scripts(self) -> ScriptDirectory:
        """The script directory, loaded once per process and only if Alembic is needed."""
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        if self._script is None:
            if self.plan.ini_path is None:
                raise PlanOutdated("no alembic.ini to load revisions that need Alembic from")
            self._script = ScriptDirectory.from_config(Config(self.plan.ini_path))
        return self._script

    def _record_failure(self, task: TenantTask, error: str, attempts: int, started: float) -> None:
        if task.step_id is None:
            return
        try:
            connection = self._live_connection()
            driver = self._transactional(connection)
            with transaction(connection):
                driver.execute(MARK_FAILED, (error, attempts, _elapsed_ms(started), task.step_id))
        # The step stays "pending" in the journal, which resume treats as not done: the
        # tenant itself was rolled back either way.
        except Exception as exc:
            log.warning("could not journal the failure of %s: %s", task.schema, one_line(exc))

    @staticmethod
    def _outcome(
        task: TenantTask,
        group: GroupScript,
        started: float,
        error: str | None,
        *,
        retry_in: float | None = None,
    ) -> SchemaOutcome:
        return SchemaOutcome(
            schema=task.schema,
            ok=error is None,
            seconds=time.perf_counter() - started,
            error=error,
            from_revisions=group.from_revisions,
            to_revisions=group.to_revisions,
            attempts=task.attempt,
            retry_in=retry_in,
        )


def _log_outcome(outcome: SchemaOutcome) -> None:
    """One log line per attempt (the caller has the tenant and the run in scope)."""
    if outcome.ok:
        log.info(
            "migrated %s from %s to %s in %.3f s",
            outcome.schema,
            ", ".join(outcome.from_revisions) or "base",
            ", ".join(outcome.to_revisions) or "base",
            outcome.seconds,
        )
    elif outcome.retry_in is not None:
        log.info(
            "%s hit its lock timeout (attempt %d); retrying in %.1f s",
            outcome.schema,
            outcome.attempts,
            outcome.retry_in,
        )
    else:  # info, like the rest: the run reports failures itself (events, MigrationFailed)
        log.info("%s failed and was rolled back: %s", outcome.schema, outcome.error)


# Journal SQL. After the tenant's transaction rolled back; parameters: error, attempts, ms, step id.
MARK_FAILED = (
    "UPDATE core.migration_steps SET status = 'failed', error = %s, attempts = %s, "
    "duration_ms = %s, finished_at = clock_timestamp() WHERE id = %s"
)


def _result_sets(cursor: psycopg.Cursor[Any]) -> list[tuple[str, ...]]:
    """The version numbers read by each query of a multi-statement execute, in order."""
    found: list[tuple[str, ...]] = []
    while True:
        if cursor.description is not None:
            found.append(tuple(sorted(row[0] for row in cursor.fetchall())))
        if not cursor.nextset():
            return found


def _first_cause(exc: BaseException) -> BaseException:
    """The error that started it all: a failed rollback after a lost connection, for example,
    is reported as the server's reason for closing it, not as "the connection is lost"."""
    while exc.__context__ is not None and not exc.__suppress_context__:
        exc = exc.__context__
    return exc


def _driver(connection: Connection, *, autocommit: bool | None) -> psycopg.Connection[Any]:
    """The psycopg connection under ``connection``, switched to ``autocommit`` (None: left
    as it is) if it is not in that mode already, since the switch itself costs a lock and a
    check: off before SQLAlchemy begins a transaction on it, on for one implicit transaction
    per message."""
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    if autocommit is not None and driver.autocommit != autocommit:
        driver.autocommit = autocommit
    return driver


def _is_dead(connection: Connection) -> bool:
    """True if the connection, or the driver's connection under it, can no longer be used."""
    if connection.closed or connection.invalidated:
        return True
    driver = connection.connection.driver_connection
    return bool(getattr(driver, "closed", False) or getattr(driver, "broken", False))


def _is_lock_timeout(exc: BaseException) -> bool:
    return isinstance(getattr(exc, "orig", None) or exc, psycopg.errors.LockNotAvailable)


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
