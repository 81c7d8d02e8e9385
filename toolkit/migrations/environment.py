"""The body of ``alembic/env.py``: migrate core, then every tenant schema, one transaction each.

* Core keeps its version table in ``core``; each tenant keeps one in its own schema.
* A tenant's DDL and its version row commit together: each tenant runs in its own transaction
  (a savepoint when the caller already holds a transaction). A failed tenant is rolled back
  alone, and the run stops or continues as ``on_error`` says.
* Tenant revisions name no schema. Inside a tenant's transaction, ``SET LOCAL search_path``
  points them at the tenant; nothing outlives the transaction.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

from alembic.environment import EnvironmentContext
from sqlalchemy import Connection, Engine, text
from sqlalchemy.pool import NullPool

from models import CORE_SCHEMA, CoreBase, TenantBase
from toolkit.db import connect, make_engine
from toolkit.errors import (
    ConfigurationError,
    MigrationFailed,
    RevisionTargetError,
    TenantFailure,
)
from toolkit.migrations.branches import CORE, TENANT, BranchIndex, StepFunction
from toolkit.migrations.options import CONNECTION_ATTR, OnError, RunOptions, SchemaOutcome
from toolkit.naming import normalize_tenant_ref, schema_for
from toolkit.registry import tenants_to_migrate
from toolkit.sql import create_schema, set_local_search_path

log = logging.getLogger("tenantctl.migrations")

VERSION_TABLE = "alembic_version"
AUTOGENERATE_SCHEMA = "tenantctl_autogenerate"


class _Run:
    """One invocation of env.py: the command's step function, its options and its branches."""

    def __init__(self, context: EnvironmentContext) -> None:
        self.context = context
        self.script = context.script
        self.index = BranchIndex.build(self.script)  # once per command, not per tenant
        self.options = RunOptions.from_config(
            context.config, context.get_x_argument(as_dictionary=True)
        )
        # configure() writes its options into context_opts; keep the command's own function.
        self.step_function: StepFunction = context.context_opts["fn"]
        self.revision_context = context.context_opts.get("revision_context")
        if self.revision_context is not None:
            target = self.revision_context.command_args.get("head")
        else:
            target = context.context_opts.get("destination_rev")
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
            self._migrate(connection)
            return
        engine = self._engine()
        try:
            with connect(engine) as own_connection:
                self._migrate(own_connection)
        finally:
            engine.dispose()

    def _engine(self) -> Engine:
        if not self.options.database_url:
            raise ConfigurationError(
                "no database URL for alembic: set DATABASE_URL, e.g. "
                "DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/app"
            )
        return make_engine(self.options.database_url, poolclass=NullPool)

    def _migrate(self, connection: Connection) -> None:
        if self.revision_context is not None:
            self._autogenerate(connection)
            return
        # Resolve the tenants before core moves: an unknown -x tenant= then changes nothing,
        # and a downgrade of core cannot take the registry away before the tenants are read.
        schemas: list[str] = []
        if TENANT in self.branches:
            with _transaction(connection):
                schemas = self._tenant_schemas(connection)
        if CORE in self.branches:
            self._migrate_core(connection)
        if TENANT in self.branches:
            self._migrate_tenants(connection, schemas)

    def _migrate_core(self, connection: Connection) -> None:
        started = time.perf_counter()
        try:
            with _transaction(connection):
                connection.execute(text(create_schema(CORE_SCHEMA, if_not_exists=True)))
                self._configure_core(connection)
                self.context.run_migrations()
        except Exception as exc:
            self._report(SchemaOutcome(CORE_SCHEMA, False, _since(started), _one_line(exc)))
            failure = TenantFailure(CORE_SCHEMA, _one_line(exc))
            raise MigrationFailed([failure], stopped_early=True) from exc
        self._report(SchemaOutcome(CORE_SCHEMA, True, _since(started)))

    def _migrate_tenants(self, connection: Connection, schemas: Sequence[str]) -> None:
        failures: list[TenantFailure] = []
        stopped_early = False
        for position, schema in enumerate(schemas, start=1):
            log.info("schema %s", schema)
            started = time.perf_counter()
            try:
                with _transaction(connection):
                    connection.execute(text(set_local_search_path(schema)))
                    self._configure_tenant(connection, schema)
                    self.context.run_migrations()
            # One tenant's failure must not stop the run from reporting it: any exception
            # from its migration code is recorded against that tenant, which rolled back.
            except Exception as exc:
                failures.append(TenantFailure(schema, _one_line(exc)))
                self._report(SchemaOutcome(schema, False, _since(started), _one_line(exc)))
                if self.options.on_error is OnError.STOP:
                    stopped_early = position < len(schemas)
                    break
            else:
                self._report(SchemaOutcome(schema, True, _since(started)))
        if failures:
            raise MigrationFailed(failures, stopped_early=stopped_early)

    def _tenant_schemas(self, connection: Connection) -> list[str]:
        records = tenants_to_migrate(connection, self.options.tenants)
        return [record.database_schema for record in records]

    # -- configuration per schema -----------------------------------------------------------

    def _configure_core(self, connection: Connection | None, **offline: Any) -> None:
        extra = self._other_heads(CORE)
        self.context.configure(
            connection=connection,
            target_metadata=CoreBase.metadata,
            version_table_schema=CORE_SCHEMA,
            include_schemas=True,
            include_name=_only_core_schema,
            fn=self.index.restrict(self.step_function, CORE, extra_heads=extra),
            **offline,
        )

    def _configure_tenant(self, connection: Connection | None, schema: str, **offline: Any) -> None:
        self.context.configure(
            connection=connection,
            target_metadata=TenantBase.metadata,
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
            target_metadata=TenantBase.metadata,
            version_table_schema=AUTOGENERATE_SCHEMA,
            fn=to_tenant_head,
        )
        self.context.run_migrations()

    # -- offline (--sql) --------------------------------------------------------------------

    def run_offline(self) -> None:
        """Print SQL: core's block, then one block per tenant, each in BEGIN ... COMMIT."""
        if self.revision_context is not None:
            raise ConfigurationError("autogenerate cannot run with --sql; drop --sql")
        url = self.options.database_url or "postgresql+psycopg://"
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
        if self.options.tenants is not None:
            return [_schema_of_ref(ref) for ref in self.options.tenants]
        if not self.options.database_url:
            raise ConfigurationError(
                "--sql needs the tenant list: pass -x tenant=SUB[,SUB...] or set DATABASE_URL "
                "so it can be read from core.tenants"
            )
        engine = self._engine()
        try:
            with connect(engine) as connection, _transaction(connection):
                return self._tenant_schemas(connection)
        finally:
            engine.dispose()

    def _report(self, outcome: SchemaOutcome) -> None:
        if outcome.ok:
            log.debug("%s done in %.3fs", outcome.schema, outcome.seconds)
        else:
            log.error("%s failed and was rolled back: %s", outcome.schema, outcome.error)
        if self.options.on_schema_done is not None:
            self.options.on_schema_done(outcome)


def run_migrations(context: EnvironmentContext) -> None:
    """Entry point for env.py."""
    run = _Run(context)
    if context.is_offline_mode():
        run.run_offline()
    else:
        run.run_online()


@contextlib.contextmanager
def _transaction(connection: Connection) -> Iterator[None]:
    """A transaction, or a savepoint when the caller already holds one."""
    if connection.in_transaction():
        with connection.begin_nested():
            yield
    else:
        with connection.begin():
            yield


def _only_core_schema(name: str | None, type_: str, _parent: Any) -> bool:
    """Autogenerate filter for core: look at schema ``core`` only."""
    return name == CORE_SCHEMA if type_ == "schema" else True


def _not_version_table(_object: Any, name: str | None, type_: str, *_rest: Any) -> bool:
    """Autogenerate filter for tenants: a tenant's own version table is not a model."""
    return not (type_ == "table" and name == VERSION_TABLE)


def _schema_of_ref(ref: str) -> str:
    return schema_for(normalize_tenant_ref(ref))


def _one_line(exc: BaseException) -> str:
    """``ErrorType: first line of the message``, using the driver's error when there is one."""
    text_ = str(getattr(exc, "orig", None) or exc).strip()
    first = text_.splitlines()[0] if text_ else type(exc).__name__
    return f"{type(getattr(exc, 'orig', None) or exc).__name__}: {first}"


def _since(started: float) -> float:
    """Seconds elapsed since ``started`` (a ``perf_counter`` reading)."""
    return time.perf_counter() - started
