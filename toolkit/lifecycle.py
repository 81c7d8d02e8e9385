"""A tenant's life after creation: suspend, resume, archive, rename and drop.

Each step changes the registry and the schema together, or refuses with TenantStateError
and changes nothing. Archive and drop take a backup first (``toolkit.backup``). Dropping
goes relation by relation in batches, one transaction each, so a tenant with thousands of
tables never needs more locks at once than ``max_locks_per_transaction`` allows; a drop
killed midway leaves the tenant archived, its schema marked, and a re-run finishes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql
from sqlalchemy import Connection, Engine, delete, select, text, update
from sqlalchemy.exc import IntegrityError

from models import Tenant, TenantStatus
from toolkit.backup import backup_tenant, default_backup_path
from toolkit.db import connect, transaction
from toolkit.errors import TenantExists, TenantStateError
from toolkit.migrations.runner import upgrade_all
from toolkit.naming import schema_for, validate_subdomain
from toolkit.registry import TenantRecord, find_tenant, schema_exists
from toolkit.sql import drop_schema, quote_identifier
from toolkit.tenant_cache import invalidate_tenant
from toolkit.tenant_roles import drop_tenant_role, provision_tenant_role

# Relations dropped per transaction: each takes a few locks (table, indexes, sequences).
DROP_BATCH = 100
# Written on a schema whose drop has begun; the backup path follows it.
_DROPPING_MARK = "tenantctl: dropping; backup: "
_NO_BACKUP = "none"
_DROP_STATEMENT = {
    "r": "DROP TABLE IF EXISTS",
    "p": "DROP TABLE IF EXISTS",
    "m": "DROP MATERIALIZED VIEW IF EXISTS",
    "v": "DROP VIEW IF EXISTS",
    "f": "DROP FOREIGN TABLE IF EXISTS",
}
_ACTIVE = TenantStatus.ACTIVE.value
_SUSPENDED = TenantStatus.SUSPENDED.value
_ARCHIVED = TenantStatus.ARCHIVED.value


@dataclass(frozen=True)
class LifecycleResult:
    """The tenant after the step, and the backup the step took (if any)."""

    tenant: TenantRecord
    backup: Path | None = None


def suspend_tenant(engine: Engine, ref: str) -> LifecycleResult:
    """Active -> suspended: it keeps its data and is still migrated, but may not log in;
    its admins' sessions end."""
    record = _move(engine, ref, {_ACTIVE}, _SUSPENDED, "suspended")
    _status_changed(engine, record.subdomain, end_sessions=True)
    return LifecycleResult(record)


def resume_tenant(engine: Engine, ref: str) -> LifecycleResult:
    """Suspended or archived -> active. An archived tenant, which migrations skipped, is
    first upgraded to head; if that fails it stays archived."""
    with connect(engine) as connection:
        record = find_tenant(connection, ref)
        _refuse_half_dropped(connection, record, "resumed")
    if record.status == _ARCHIVED:
        _require_schema(engine, record, "resumed")
        upgrade_all(engine, tenants=[record.subdomain])
    resumed = _move(engine, ref, {_SUSPENDED, _ARCHIVED}, _ACTIVE, "resumed")
    _status_changed(engine, resumed.subdomain)
    return LifecycleResult(resumed)


def archive_tenant(engine: Engine, ref: str, *, backup_to: Path | None = None) -> LifecycleResult:
    """Back the tenant up, then mark it archived: its schema stays until it is dropped, and
    migrations skip it. Nothing changes if the backup fails."""
    with connect(engine) as connection:
        record = find_tenant(connection, ref)
        _refuse_half_dropped(connection, record, "archived")
    if record.status not in (_ACTIVE, _SUSPENDED):
        raise _wrong_state(record, "archived", {_ACTIVE, _SUSPENDED})
    _require_schema(engine, record, "archived")
    path = backup_to or default_backup_path(record.subdomain)
    backup_tenant(engine, record.subdomain, path)
    archived = _move(engine, ref, {_ACTIVE, _SUSPENDED}, _ARCHIVED, "archived")
    _status_changed(engine, archived.subdomain, end_sessions=True)
    return LifecycleResult(archived, path)


def drop_tenant(
    engine: Engine, ref: str, *, backup: bool = True, backup_to: Path | None = None
) -> LifecycleResult:
    """Back the tenant up (unless ``backup`` is False), then drop its schema in batches and
    remove its core rows (they cascade from ``core.tenants``).

    A re-run after an interrupted drop finishes it without a second backup, and reports
    the backup the first run took.
    """
    with connect(engine) as connection:
        record = find_tenant(connection, ref)
        schema_present = schema_exists(connection, record.database_schema)
        resuming = schema_present and is_being_dropped(connection, record.database_schema)
        path = _drop_mark(connection, record.database_schema) if resuming else None
        connection.rollback()
    if backup and not schema_present:
        raise TenantStateError(
            f"tenant {record.subdomain!r} has no schema {record.database_schema}, so no backup "
            "of it can be taken; add --no-backup to remove its registry and core rows anyway"
        )
    if schema_present and not resuming:
        if backup:
            path = backup_to or default_backup_path(record.subdomain)
            backup_tenant(engine, record.subdomain, path)
        _begin_drop(engine, record, path)
        _status_changed(engine, record.subdomain, end_sessions=True)
    if schema_present:
        _drop_relations(engine, record.database_schema)
    with connect(engine) as connection, transaction(connection):
        # Whoever resumed or renamed the tenant meanwhile wins: this drop then stops.
        status = connection.execute(
            select(Tenant.status).where(Tenant.subdomain == record.subdomain).with_for_update()
        ).scalar()
        if schema_present and status != _ARCHIVED:
            raise TenantStateError(
                f"tenant {record.subdomain!r} became {status or 'unregistered'} while it was "
                "being dropped; check it with `tenantctl doctor`"
            )
        connection.execute(text(drop_schema(record.database_schema, if_exists=True)))
        drop_tenant_role(connection, record.subdomain)  # if it has one (tenantctl security)
        connection.execute(delete(Tenant).where(Tenant.subdomain == record.subdomain))
    _status_changed(engine, record.subdomain)
    return LifecycleResult(record, path)


def rename_tenant(engine: Engine, ref: str, new_subdomain: str) -> LifecycleResult:
    """Give a tenant a new subdomain: its schema is renamed in the same transaction."""
    validate_subdomain(new_subdomain)
    new_schema = schema_for(new_subdomain)
    with connect(engine) as connection, transaction(connection):
        record = find_tenant(connection, ref)
        connection.execute(
            select(Tenant.id).where(Tenant.subdomain == record.subdomain).with_for_update()
        )
        _refuse_half_dropped(connection, record, "renamed")
        if schema_exists(connection, new_schema):
            raise TenantExists(
                f"cannot rename {record.subdomain!r} to {new_subdomain!r}: schema {new_schema} "
                "already exists; choose another subdomain"
            )
        try:
            connection.execute(
                update(Tenant)
                .where(Tenant.subdomain == record.subdomain)
                .values(subdomain=new_subdomain, database_schema=new_schema)
            )
        except IntegrityError:
            raise TenantExists(
                f"cannot rename {record.subdomain!r} to {new_subdomain!r}: that subdomain is "
                "taken; choose another"
            ) from None
        if schema_exists(connection, record.database_schema):
            connection.execute(
                text(
                    f"ALTER SCHEMA {quote_identifier(record.database_schema)} "
                    f"RENAME TO {quote_identifier(new_schema)}"
                )
            )
        provision_tenant_role(connection, new_subdomain)  # renames its role, if enabled
        renamed = find_tenant(connection, new_subdomain)
    _status_changed(engine, record.subdomain, new_subdomain)
    return LifecycleResult(renamed)


def _move(engine: Engine, ref: str, allowed: Iterable[str], target: str, verb: str) -> TenantRecord:
    """Set the tenant's status to ``target`` if it is in ``allowed``, under a row lock."""
    allowed = set(allowed)
    with connect(engine) as connection, transaction(connection):
        record = find_tenant(connection, ref)
        status = connection.execute(
            select(Tenant.status).where(Tenant.subdomain == record.subdomain).with_for_update()
        ).scalar_one()
        if status not in allowed:
            raise _wrong_state(record, verb, allowed, status)
        connection.execute(
            update(Tenant).where(Tenant.subdomain == record.subdomain).values(status=target)
        )
        return find_tenant(connection, record.subdomain)


def _status_changed(engine: Engine, *subdomains: str, end_sessions: bool = False) -> None:
    """After a committed change: forget the cached lookups of ``subdomains`` (request routing
    answers from the new status at once) and, with ``end_sessions``, end every admin session
    of the tenant (sessions do not re-read the tenant's status on each use)."""
    invalidate_tenant(engine, *subdomains)
    if end_sessions:
        # Imported here: argon2 and redis stay out of every command's start-up.
        from toolkit.admin_sessions import AdminSessions

        AdminSessions.from_env(engine).revoke_tenant(subdomains[0])


def _wrong_state(
    record: TenantRecord, verb: str, allowed: set[str], status: str | None = None
) -> TenantStateError:
    return TenantStateError(
        f"tenant {record.subdomain!r} is {status or record.status}: only a tenant that is "
        f"{' or '.join(sorted(allowed))} can be {verb}; `tenantctl tenant list` shows statuses"
    )


def _refuse_half_dropped(connection: Connection, record: TenantRecord, verb: str) -> None:
    if is_being_dropped(connection, record.database_schema):
        raise TenantStateError(
            f"a drop of tenant {record.subdomain!r} was interrupted and its schema is partly "
            f"dropped, so it cannot be {verb}: finish the drop with "
            f"`tenantctl tenant drop {record.subdomain} --yes`, then restore it from its backup"
        )


def _require_schema(engine: Engine, record: TenantRecord, verb: str) -> None:
    with connect(engine) as connection:
        if not schema_exists(connection, record.database_schema):
            raise TenantStateError(
                f"tenant {record.subdomain!r} has no schema {record.database_schema}, so it "
                f"cannot be {verb}: restore it from its backup (`tenantctl tenant restore FILE`), "
                f"or remove it (`tenantctl tenant drop {record.subdomain} --yes --no-backup`)"
            )


def _begin_drop(engine: Engine, record: TenantRecord, backup: Path | None) -> None:
    """Archive the tenant (no run migrates it any more) and mark its schema as dropping."""
    with connect(engine) as connection, transaction(connection):
        connection.execute(
            update(Tenant).where(Tenant.subdomain == record.subdomain).values(status=_ARCHIVED)
        )
        mark = sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
            sql.Identifier(record.database_schema),
            sql.Literal(_DROPPING_MARK + (str(backup) if backup else _NO_BACKUP)),
        )
        connection.exec_driver_sql(mark.as_string(connection.connection.driver_connection))


def is_being_dropped(connection: Connection, schema: str) -> bool:
    """True if a drop of ``schema`` has begun (and, since the schema is there, not ended)."""
    return _drop_comment(connection, schema) is not None


def _drop_mark(connection: Connection, schema: str) -> Path | None:
    """The backup an interrupted drop of ``schema`` took; None if there was none."""
    comment = _drop_comment(connection, schema)
    backup = comment.removeprefix(_DROPPING_MARK) if comment else _NO_BACKUP
    return None if backup == _NO_BACKUP else Path(backup)


def _drop_comment(connection: Connection, schema: str) -> str | None:
    comment = connection.execute(
        text("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = :s"),
        {"s": schema},
    ).scalar()
    return comment if comment and comment.startswith(_DROPPING_MARK) else None


def _drop_relations(engine: Engine, schema: str) -> None:
    """Drop the schema's tables and views, DROP_BATCH per transaction, its version table
    last (until then, the schema still says which revision it was at)."""
    while True:
        with connect(engine) as connection, transaction(connection):
            batch = connection.execute(
                text(
                    "SELECT relname, relkind FROM pg_class "
                    "WHERE relnamespace = CAST(:schema AS regnamespace) "
                    "AND relkind IN ('r', 'p', 'm', 'v', 'f') AND NOT relispartition "
                    "ORDER BY relname = 'alembic_version', relkind, relname LIMIT :batch"
                ),
                {"schema": quote_identifier(schema), "batch": DROP_BATCH},
            ).all()
            for name, kind in batch:
                qualified = f"{quote_identifier(schema)}.{quote_identifier(name)}"
                connection.execute(text(f"{_DROP_STATEMENT[kind]} {qualified} CASCADE"))
        if len(batch) < DROP_BATCH:
            return
