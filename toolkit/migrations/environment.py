"""The body of ``alembic/env.py``: migrate core, then the selected tenant schemas.

* ``upgrade``, ``downgrade`` and ``stamp`` run as a *rollout*: one run at a time (advisory
  lock), tenants read and grouped by revision in one pass, each group's SQL rendered once and
  replayed per tenant (by worker processes when asked), every step journaled in ``core``.
* Core keeps its version table in ``core`` and always runs through Alembic, in its own
  transaction, before the tenants.
* A tenant's DDL, its version row and its journal row commit together: each tenant runs in
  its own transaction (a savepoint when the caller already holds one), with ``SET LOCAL``
  search path and timeouts; nothing outlives the transaction.
* Read-only commands (``current``) visit each tenant through Alembic; autogenerate compares
  the models with a scratch schema; ``--sql`` prints one block per tenant.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from alembic.environment import EnvironmentContext
from alembic.runtime.migration import MigrationStep, RevisionStep
from sqlalchemy import Connection, Engine, text
from sqlalchemy.pool import NullPool

import models
from models.metadata import CORE_SCHEMA
from toolkit.db import connect, disable_idle_timeout, make_engine, transaction
from toolkit.errors import ConfigurationError, RevisionTargetError, one_line
from toolkit.logging_setup import active_log_config, current_run_id, run_scope
from toolkit.migrations import version_record
from toolkit.migrations.apply import TenantMigrator, WorkerPlan
from toolkit.migrations.branches import CORE, TENANT, BranchIndex, StepFunction
from toolkit.migrations.checksums import record_sql, revision_files
from toolkit.migrations.events import EventHandler, PlanGroup, SchemaOutcome, plan_lines
from toolkit.migrations.journal import journal_exists
from toolkit.migrations.lock import WORK_SESSION, HeldLock, rollout_lock
from toolkit.migrations.options import (
    CONNECTION_ATTR,
    ON_EVENT_ATTR,
    database_url,
    options_from_config,
)
from toolkit.migrations.plan import TenantPlan, end_revisions, plan_tenants, with_checksums
from toolkit.migrations.rollout import Rollout
from toolkit.migrations.status import VERSION_TABLE, read_versions
from toolkit.migrations.targeting import schemas_of, select_tenants
from toolkit.migrations.version_checks import core_functions_usable
from toolkit.migrations.workers import WorkerPool
from toolkit.naming import normalize_tenant_ref, schema_for
from toolkit.sql import create_schema, set_local_search_path
from toolkit.template import ensure_template

log = logging.getLogger("tenantctl.migrations")

AUTOGENERATE_SCHEMA = "tenantctl_autogenerate"
_COMMAND_NAMES = {"upgrade": "upgrade", "downgrade": "downgrade", "do_stamp": "stamp"}


class _Run:
    """One invocation of env.py: the command's step function, its options and its branches."""

    def __init__(self, context: EnvironmentContext) -> None:
        self.context = context
        self.script = context.script
        self.index = BranchIndex.build(self.script)  # once per command, not per tenant
        config = context.config
        self.options = options_from_config(config, context.get_x_argument(as_dictionary=False))
        self.url = database_url(config)
        self.on_event: EventHandler | None = config.attributes.get(ON_EVENT_ATTR)
        # configure() writes its options into context_opts; keep the command's own function.
        opts = context.context_opts
        self.step_function: StepFunction = opts["fn"]
        self.command = _COMMAND_NAMES.get(getattr(self.step_function, "__name__", ""), "")
        self.revision_context = opts.get("revision_context")
        self.mutating = "destination_rev" in opts and not opts.get("purge")
        if self.revision_context is not None:
            target = self.revision_context.command_args.get("head")
        else:
            target = opts.get("destination_rev")
        self.target = _target_text(target)
        self.branches = self.index.branches_for_target(self.script, target)
        if self.revision_context is not None and len(self.branches) != 1:
            raise RevisionTargetError(
                f"autogenerate needs one branch, got head {target!r}: pass --head core@head "
                "or --head tenant@head"
            )

    # -- online -----------------------------------------------------------------------------

    def run_online(self) -> None:
        connection = self.context.config.attributes.get(CONNECTION_ATTR)
        if connection is not None:
            self._dispatch(connection, None, None)
            return
        url = self._require_url()
        rollout = self.mutating and self.revision_context is None
        lock: contextlib.AbstractContextManager[HeldLock | None] = contextlib.nullcontext()
        if rollout and not self.options.dry_run:
            lock = rollout_lock(url, wait=self.options.lock_wait)
        engine = make_engine(url, poolclass=NullPool, connect_args=WORK_SESSION)
        try:
            with lock as held, connect(engine) as own_connection:
                if not rollout:
                    self._dispatch(own_connection, None, None)
                    return
                with connect(engine) as journal_connection:
                    disable_idle_timeout(own_connection)
                    disable_idle_timeout(journal_connection)
                    self._dispatch(own_connection, journal_connection, held)
                if TENANT in self.branches and not self.options.dry_run:
                    # New tenants are created from the template: keep it at tenant head.
                    heads = self.index.heads_of(self.script, TENANT)
                    ensure_template(engine, self.script, heads)
        finally:
            engine.dispose()

    def _require_url(self) -> str:
        if not self.url:
            raise ConfigurationError(
                "no database URL for alembic: set DATABASE_URL, e.g. "
                "DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/app"
            )
        return self.url

    def _dispatch(
        self,
        connection: Connection,
        journal_connection: Connection | None,
        lock: HeldLock | None,
    ) -> None:
        """Run the command; ``journal_connection`` is None when the caller owns ``connection``."""
        if self.revision_context is not None:
            self._autogenerate(connection)
        elif self.mutating:
            self._roll_out(connection, journal_connection, lock)
        else:
            self._visit_each_schema(connection)

    def _roll_out(
        self,
        connection: Connection,
        journal_connection: Connection | None,
        lock: HeldLock | None,
    ) -> None:
        """Plan from every selected tenant's revision, migrate core, then the tenants.

        With a ``journal_connection`` the run owns ``connection`` and commits between phases
        so that reads hold no locks; without one it works inside the caller's transaction.
        """
        owned = journal_connection is not None
        # Worker processes boot while this process plans; they get the plan when it exists.
        spawn = owned and not self.options.dry_run and TENANT in self.branches
        extra_workers = self.options.workers - 1 if spawn else 0
        # The run binds its id once journaled; the scope takes it back when the run ends.
        with WorkerPool.spawn(extra_workers) as pool, run_scope(current_run_id()):
            self._plan_and_run(connection, journal_connection, lock, pool)

    def _plan_and_run(
        self,
        connection: Connection,
        journal_connection: Connection | None,
        lock: HeldLock | None,
        pool: WorkerPool,
    ) -> None:
        owned = journal_connection is not None
        # Tenants are resolved before core moves: an unknown tenant then changes nothing,
        # and a downgrade of core cannot take the registry away before it is read.
        records = []
        if TENANT in self.branches:
            records = select_tenants(connection, self.options.selection)
        if owned:
            connection.commit()  # read_versions then commits between chunks of schemas
        versions = read_versions(connection, [CORE_SCHEMA, *schemas_of(records)], recorded=True)
        if owned:
            connection.commit()
        core_from = versions.get(CORE_SCHEMA, ())
        core_steps = self._core_steps(core_from)
        plan = plan_tenants(self._tenant_step_function(), records, versions)
        journaled = _journal_ready(journal_connection)
        rollout = Rollout(
            command=self.command,
            target=self.target,
            options=self.options,
            on_event=self.on_event,
            journal_connection=journal_connection if journaled else None,
            lock=lock,
        )
        workers = self._workers(plan, owned)
        started = rollout.start(_core_group(core_from, core_steps), plan, workers)
        if self.options.dry_run:
            if self.on_event is None:  # plain `alembic -x dry_run=true`: print the plan
                print("\n".join(plan_lines(started)))
            return
        with rollout.closing():
            if core_steps:
                outcome = self._migrate_core(connection, core_from, core_steps)
                # Core's migration may just have created the journal, or dropped it.
                if _journal_ready(journal_connection):
                    rollout.journal_connection = journal_connection
                    rollout.open_journal()
                else:
                    rollout.journal_connection = None
                rollout.record_core(outcome)
                if not outcome.ok:
                    rollout.abort(not_reached=plan.planned)
                    return
            if plan.groups:
                self._migrate_tenants(connection, plan, rollout, pool, owned=owned)

    def _core_steps(self, core_from: tuple[str, ...]) -> list[MigrationStep]:
        if CORE not in self.branches:
            return []
        return list(self.index.restrict(self.step_function, CORE)(core_from, None))

    def _tenant_step_function(self) -> StepFunction:
        return self.index.restrict(self.step_function, TENANT)

    def _workers(self, plan: TenantPlan, owned: bool) -> int:
        """Worker processes for the tenants: one (this process) on a caller's connection."""
        return max(1, min(self.options.workers, plan.planned)) if owned else 1

    def _migrate_core(
        self, connection: Connection, core_from: tuple[str, ...], steps: Sequence[MigrationStep]
    ) -> SchemaOutcome:
        """Core through Alembic in one transaction, recording its revision files' checksums."""
        started = time.perf_counter()
        core_to = end_revisions(core_from, steps)
        applied = [
            step.revision.revision
            for step in steps
            if isinstance(step, RevisionStep) and step.is_upgrade
        ]
        try:
            with transaction(connection):
                connection.execute(text(create_schema(CORE_SCHEMA, if_not_exists=True)))
                self._configure_core(connection)
                self.context.run_migrations()
                if applied and journal_exists(connection):
                    sql = record_sql(revision_files(self.script, self.index, applied))
                    if sql is not None:
                        connection.connection.driver_connection.execute(sql)  # type: ignore[union-attr]
        # Core's failure is reported like a tenant's, and stops the run before any tenant.
        except Exception as exc:
            return SchemaOutcome(
                CORE_SCHEMA, False, _since(started), one_line(exc), core_from, core_to
            )
        return SchemaOutcome(CORE_SCHEMA, True, _since(started), None, core_from, core_to)

    def _migrate_tenants(
        self,
        connection: Connection,
        plan: TenantPlan,
        rollout: Rollout,
        pool: WorkerPool,
        *,
        owned: bool,
    ) -> None:
        if rollout.journal_connection is not None and self.command == "upgrade":
            plan = with_checksums(plan, self.script, self.index)
        worker_plan = WorkerPlan(
            url=connection.engine.url.render_as_string(hide_password=False),
            ini_path=self.context.config.config_file_name,
            limits=self.options.limits,
            groups=tuple(plan.groups),
            run_id=rollout.run_id,
            log_config=active_log_config(),
            record_versions=_records_ready(connection, owned=owned),
            functions_in_core=_core_has(core_functions_usable, connection, owned=owned),
        )
        borrowed = None if owned else connection
        migrator = TenantMigrator(worker_plan, connection=borrowed, script=self.script)
        try:
            rollout.migrate_tenants(plan, worker_plan, migrator, pool)
        finally:
            migrator.close()

    # -- read-only commands (current, ...) --------------------------------------------------

    def _visit_each_schema(self, connection: Connection) -> None:
        """Run the command's function against core, then each selected tenant, via Alembic."""
        schemas: list[str] = []
        if TENANT in self.branches:
            schemas = schemas_of(select_tenants(connection, self.options.selection))
        if CORE in self.branches:
            with transaction(connection):
                self._configure_core(connection)
                self.context.run_migrations()
        for schema in schemas:
            with transaction(connection):
                connection.execute(text(set_local_search_path(schema)))
                self._configure_tenant(connection, schema)
                self.context.run_migrations()

    # -- configuration per schema -----------------------------------------------------------

    def _configure_core(self, connection: Connection | None, **offline: Any) -> None:
        extra = self._other_heads(CORE)
        self.context.configure(
            connection=connection,
            target_metadata=models.CoreBase.metadata,
            version_table_schema=CORE_SCHEMA,
            include_schemas=True,
            include_name=_only_core_schema,
            fn=self.index.restrict(self.step_function, CORE, extra_heads=extra),
            **offline,
        )

    def _configure_tenant(self, connection: Connection | None, schema: str, **offline: Any) -> None:
        self.context.configure(
            connection=connection,
            target_metadata=models.TenantBase.metadata,
            version_table_schema=schema,
            include_object=_not_version_table,
            fn=self.index.restrict(
                self.step_function, TENANT, extra_heads=self._other_heads(TENANT)
            ),
            **offline,
        )

    def _other_heads(self, branch: str) -> tuple[str, ...]:
        """Heads of the other branch, which autogenerate wants to see as 'applied'."""
        if self.revision_context is None:
            return ()
        other = TENANT if branch == CORE else CORE
        return self.index.heads_of(self.script, other)

    # -- autogenerate -----------------------------------------------------------------------

    def _autogenerate(self, connection: Connection) -> None:
        """Compare the models with a schema at head; nothing done here is ever committed.

        For the tenant branch the reference is a scratch schema built from the tenant
        history inside this transaction, so autogenerate needs no tenant to exist, and what
        it writes never names a tenant schema.
        """
        with connection.begin() as transaction:
            if CORE in self.branches:
                self._configure_core(connection)
            else:
                self._build_autogenerate_schema(connection)
                self._configure_tenant(connection, AUTOGENERATE_SCHEMA)
            self.context.run_migrations()
            transaction.rollback()

    def _build_autogenerate_schema(self, connection: Connection) -> None:
        connection.execute(text(create_schema(AUTOGENERATE_SCHEMA)))
        connection.execute(text(set_local_search_path(AUTOGENERATE_SCHEMA)))
        script = self.script

        def to_tenant_head(heads: Any, _context: Any) -> list[Any]:
            # The step planner the upgrade command uses, aimed at the tenant head.
            return list(script._upgrade_revs(f"{TENANT}@head", heads))

        self.context.configure(
            connection=connection,
            target_metadata=models.TenantBase.metadata,
            version_table_schema=AUTOGENERATE_SCHEMA,
            fn=to_tenant_head,
        )
        self.context.run_migrations()

    # -- offline (--sql) --------------------------------------------------------------------

    def run_offline(self) -> None:
        """Print SQL: core's block, then one block per tenant, each in BEGIN ... COMMIT."""
        if self.revision_context is not None:
            raise ConfigurationError("autogenerate cannot run with --sql; drop --sql")
        url = self.url or "postgresql+psycopg://"
        offline = {"url": url, "literal_binds": True, "dialect_name": "postgresql"}
        if CORE in self.branches:
            self._configure_core(None, **offline)
            with self.context.begin_transaction():
                self.context.execute(create_schema(CORE_SCHEMA, if_not_exists=True))
                self.context.run_migrations()
        if TENANT in self.branches:
            for schema in self._offline_tenant_schemas():
                self._configure_tenant(None, schema, **offline)
                self.context.get_context().impl.static_output(f"\n-- tenant schema {schema}")
                with self.context.begin_transaction():
                    self.context.execute(set_local_search_path(schema))
                    self.context.run_migrations()

    def _offline_tenant_schemas(self) -> list[str]:
        selection = self.options.selection
        if selection.tenants is not None and not selection.where and selection.shard is None:
            return schemas_of_refs(selection.tenants)
        if not self.url:
            raise ConfigurationError(
                "--sql needs the tenant list: pass -x tenant=SUB[,SUB...] or set DATABASE_URL "
                "so it can be read from core.tenants"
            )
        engine: Engine = make_engine(self.url, poolclass=NullPool)
        try:
            with connect(engine) as connection:
                return schemas_of(select_tenants(connection, selection))
        finally:
            engine.dispose()


def run_migrations(context: EnvironmentContext) -> None:
    """Entry point for env.py."""
    run = _Run(context)
    if context.is_offline_mode():
        run.run_offline()
    else:
        run.run_online()


def _journal_ready(journal_connection: Connection | None) -> bool:
    """True if the run has a journal connection and core has the journal tables."""
    if journal_connection is None:
        return False
    return _core_has(journal_exists, journal_connection, owned=True)


def _records_ready(connection: Connection, *, owned: bool) -> bool:
    """True if core has ``core.tenant_versions`` now that core has moved."""
    return _core_has(version_record.records_exist, connection, owned=owned)


def _core_has(check: Callable[[Connection], bool], connection: Connection, *, owned: bool) -> bool:
    """``check``'s answer about core, on a connection that sees what core's migration did.

    On a connection the run owns, commits first (a transaction begun before core's migration
    committed may not see the tables it created) and after (the read holds no lock).
    """
    if owned:
        connection.commit()
    found = check(connection)
    if owned:
        connection.commit()
    return found


def _core_group(core_from: tuple[str, ...], steps: Sequence[MigrationStep]) -> PlanGroup | None:
    if not steps:
        return None
    return PlanGroup(
        from_revisions=core_from,
        to_revisions=end_revisions(core_from, steps),
        revisions=tuple(
            step.revision.revision if step.is_upgrade else f"-{step.revision.revision}"
            for step in steps
            if isinstance(step, RevisionStep)
        ),
        rendered=False,
        schemas=(CORE_SCHEMA,),
    )


def _target_text(target: Any) -> str:
    if target is None:
        return "heads"
    if isinstance(target, str):
        return target
    return ",".join(str(part) for part in target)


def _only_core_schema(name: str | None, type_: str, _parent: Any) -> bool:
    """Autogenerate filter for core: look at schema ``core`` only."""
    return name == CORE_SCHEMA if type_ == "schema" else True


def _not_version_table(_object: Any, name: str | None, type_: str, *_rest: Any) -> bool:
    """Autogenerate filter for tenants: a tenant's own version table is not a model."""
    return not (type_ == "table" and name == VERSION_TABLE)


def schemas_of_refs(refs: Sequence[str]) -> list[str]:
    """Schema names of tenant references (subdomains or schema names), without a database."""
    return [schema_for(normalize_tenant_ref(ref)) for ref in refs]


def _since(started: float) -> float:
    """Seconds elapsed since ``started`` (a ``perf_counter`` reading)."""
    return time.perf_counter() - started
