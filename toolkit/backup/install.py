"""Install a dumped tenant schema under a new name and register it, all or nothing.

The dump is replayed into a temporary schema ``tenantctl_restore_<hex>`` (never a tenant
name, so no migration run selects it), its rows are checked against the expected digests,
and then one transaction renames it to ``tenant_<subdomain>``, inserts the core rows with
new keys, migrates the schema to tenant head and marks the tenant active. A process killed
before that commit leaves only a temporary schema, which the next restore drops.

A restore under the original subdomain may also repair a tenant whose schema was lost: if
that subdomain is registered but has no schema (and is not still being provisioned), the
same transaction replaces its core rows with the backup's.
"""

from __future__ import annotations

import enum
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from models import CORE_SCHEMA, Tenant, TenantStatus
from toolkit.backup.bundle import TableDigest
from toolkit.backup.capture import CORE_CHILD_TABLES, stable_text, table_digests
from toolkit.backup.script import restore_renamed
from toolkit.db import connect
from toolkit.errors import BackupError, BackupInvalid, TenantExists, one_line
from toolkit.migrations.runner import upgrade_within
from toolkit.migrations.status import VERSION_TABLE, Heads, require_core_at_head
from toolkit.naming import schema_for, validate_subdomain
from toolkit.registry import TenantRecord, find_tenant, schema_exists
from toolkit.sql import drop_schema, quote_identifier
from toolkit.tenant_roles import provision_tenant_role

log = logging.getLogger("tenantctl.backup")

TEMP_SCHEMA_PREFIX = "tenantctl_restore_"
# Transaction advisory lock serialising restores and clones ("tntr"), so that one never
# drops the temporary schema of another that is still running.
_INSTALL_LOCK_KEY = 0x746E7472
_KEPT_STATUSES = (TenantStatus.ACTIVE.value, TenantStatus.SUSPENDED.value)
# Unique constraints (models.base.NAMING_CONVENTION) that mean "this tenant exists already".
_TENANT_TAKEN = frozenset({"uq_tenants_subdomain", "uq_tenants_database_schema"})
# Unique constraints on values that a restore under another subdomain (--as) leaves out.
_DETACHABLE = frozenset(
    {"uq_tenant_api_keys_key_id", "uq_tenant_subscriptions_external_billing_id"}
)
_UNIQUE_VIOLATION = "23505"
_DUPLICATE_SCHEMA = "42P06"


class CorePolicy(enum.Enum):
    """Which of the source's core rows the new tenant gets."""

    ALL = "all"  # restore under the original subdomain: everything, API keys included
    DETACHED = "detached"  # restore --as: no API keys, no external billing ids
    TENANT_ROW = "tenant_row"  # clone: company name, plan, settings and limits only


@dataclass(frozen=True)
class Source:
    """A dumped tenant schema and what belongs with it, wherever it came from."""

    label: str  # names the source in messages: "backup <path>" or "tenant 'acme'"
    dump: Path
    schema: str  # the schema's name inside the dump
    revisions: tuple[str, ...]
    tables: Mapping[str, TableDigest]
    tenant_row: Mapping[str, Any]
    children: Mapping[str, list[dict[str, Any]]]
    schema_only: bool = False


def install(engine: Engine, source: Source, subdomain: str, policy: CorePolicy) -> TenantRecord:
    """Create tenant ``subdomain`` from ``source``; nothing is registered if any step fails.

    Raises TenantExists if the subdomain or its schema is taken, SchemaNotReady if core is
    not at head, BackupInvalid if the restored rows do not match ``source.tables``. With
    ``CorePolicy.ALL`` a registered ``subdomain`` without a schema is not "taken": its core
    rows are replaced by the source's (a restore repairing a tenant whose schema was lost).
    """
    schema = schema_for(validate_subdomain(subdomain))
    temp = TEMP_SCHEMA_PREFIX + secrets.token_hex(8)
    with connect(engine) as connection:
        try:
            with connection.begin():
                replaces = _prepare(connection, subdomain, schema, policy)
                restore_renamed(engine.url, source.dump, source.schema, temp)
                _verify(engine, temp, source)
                return _adopt(connection, temp, subdomain, source, policy, replaces)
        except BaseException:
            _drop_quietly(engine, temp)
            raise


def _prepare(connection: Connection, subdomain: str, schema: str, policy: CorePolicy) -> str | None:
    """Take the install lock, check that the target is free, drop interrupted restores.

    Returns the id of a schemaless registry row of ``subdomain`` that the install replaces
    (locked until the install commits), or None.
    """
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _INSTALL_LOCK_KEY})
    require_core_at_head(connection, Heads.from_scripts())
    replaces = _refuse_existing(connection, subdomain, schema, policy)
    _drop_leftovers(connection)
    return replaces


def _adopt(
    connection: Connection,
    temp: str,
    subdomain: str,
    source: Source,
    policy: CorePolicy,
    replaces: str | None,
) -> TenantRecord:
    """Rename ``temp`` to the tenant's schema, register it, bring it to tenant head."""
    schema = schema_for(subdomain)
    rename = f"ALTER SCHEMA {quote_identifier(temp)} RENAME TO {quote_identifier(schema)}"
    try:
        connection.execute(text(rename))
    except DBAPIError as exc:
        if _sqlstate(exc) == _DUPLICATE_SCHEMA:
            raise _taken(subdomain, source, policy, f"schema {schema} was created") from None
        raise
    if source.schema_only:
        _stamp(connection, schema, source.revisions)
    status = _register(connection, subdomain, schema, source, policy, replaces)
    upgrade_within(connection, subdomain)
    connection.execute(update(Tenant).where(Tenant.subdomain == subdomain).values(status=status))
    provision_tenant_role(connection, subdomain)  # its own role, if tenant roles are enabled
    return find_tenant(connection, subdomain)


def _refuse_existing(
    connection: Connection, subdomain: str, schema: str, policy: CorePolicy
) -> str | None:
    """TenantExists if ``subdomain`` or ``schema`` is taken; see :func:`_prepare`."""
    row = connection.execute(
        select(Tenant.id, Tenant.status, Tenant.database_schema)
        .where(Tenant.subdomain == subdomain)
        .with_for_update()
    ).first()
    if row is not None:
        schemaless = not schema_exists(connection, row.database_schema) and not schema_exists(
            connection, schema
        )
        if policy is CorePolicy.ALL and schemaless:
            if row.status == TenantStatus.PROVISIONING.value:
                raise TenantExists(
                    f"tenant {subdomain!r} is registered but still being provisioned: finish "
                    f"it (`tenantctl tenant create {subdomain} --resume`) or drop it "
                    f"(`tenantctl tenant drop {subdomain} --yes --no-backup`) before restoring"
                )
            log.info("tenant %s is registered without a schema: the restore replaces it", subdomain)
            return str(row.id)
        raise TenantExists(
            f"tenant {subdomain!r} already exists: restore under another subdomain with "
            f"`--as NEWSUB`, or drop it first (`tenantctl tenant drop {subdomain} --yes`)"
        )
    if schema_exists(connection, schema):
        raise TenantExists(
            f"schema {schema} already exists but no tenant {subdomain!r} is registered: drop "
            f"the stray schema (DROP SCHEMA {schema} CASCADE) or restore with `--as NEWSUB`"
        )
    return None


def _drop_leftovers(connection: Connection) -> None:
    """Drop temporary schemas left by restores that were killed before they committed."""
    leftovers = connection.execute(
        text("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, :prefix)"),
        {"prefix": TEMP_SCHEMA_PREFIX},
    ).scalars()
    for name in list(leftovers):
        log.info("dropping %s, left by an interrupted restore", name)
        connection.execute(text(drop_schema(name)))


def _verify(engine: Engine, temp: str, source: Source) -> None:
    """Compare the restored rows with the digests recorded when the dump was taken."""
    with connect(engine) as connection, connection.begin():
        stable_text(connection)
        restored = table_digests(connection, temp)
    if restored == dict(source.tables):
        return
    differing = sorted(
        name
        for name in set(restored) | set(source.tables)
        if restored.get(name) != source.tables.get(name)
    )
    raise BackupInvalid(
        f"{source.label}: restored rows do not match the recorded digests "
        f"(tables {', '.join(differing)}); nothing was registered; use another copy"
    )


def _stamp(connection: Connection, schema: str, revisions: tuple[str, ...]) -> None:
    """Write ``revisions`` into a schema-only copy's (empty) version table."""
    table = f"{quote_identifier(schema)}.{VERSION_TABLE}"
    for revision in revisions:
        connection.execute(
            text(f"INSERT INTO {table} (version_num) VALUES (:revision)"),  # noqa: S608
            {"revision": revision},
        )


def _register(
    connection: Connection,
    subdomain: str,
    schema: str,
    source: Source,
    policy: CorePolicy,
    replaces: str | None,
) -> str:
    """Insert the core rows under new keys; returns the status the tenant ends in.

    ``replaces`` is the id of a registry row of ``subdomain`` without a schema: it is
    deleted first (its child rows cascade), so the source's rows take its place.
    """
    row = {key: value for key, value in source.tenant_row.items() if key != "id"}
    original_status = str(row.get("status"))
    row.update(subdomain=subdomain, database_schema=schema, status=TenantStatus.PROVISIONING.value)
    if policy is CorePolicy.TENANT_ROW:
        row = {
            key: row[key]
            for key in (
                "subdomain",
                "database_schema",
                "status",
                "company_name",
                "plan",
                "settings",
                "limits",
            )
            if key in row
        }
    try:
        if replaces is not None:
            connection.execute(
                text("DELETE FROM core.tenants WHERE id = CAST(:id AS uuid)"), {"id": replaces}
            )
        tenant_id = _insert(connection, "tenants", row)
        if policy is not CorePolicy.TENANT_ROW:
            for table in CORE_CHILD_TABLES:
                if table == "tenant_api_keys" and policy is CorePolicy.DETACHED:
                    continue
                for child in source.children.get(table, []):
                    values = {key: value for key, value in child.items() if key != "id"}
                    values["tenant_id"] = tenant_id
                    if policy is CorePolicy.DETACHED and "external_billing_id" in values:
                        values["external_billing_id"] = None
                    _insert(connection, table, values)
    except IntegrityError as exc:
        raise _conflict(exc, subdomain, source, policy) from None
    if policy is CorePolicy.TENANT_ROW or original_status not in _KEPT_STATUSES:
        return TenantStatus.ACTIVE.value
    return original_status


def _sqlstate(exc: DBAPIError) -> str | None:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate if isinstance(sqlstate, str) else None


def _constraint(exc: DBAPIError) -> str | None:
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return name if isinstance(name, str) else None


def _taken(subdomain: str, source: Source, policy: CorePolicy, what: str) -> TenantExists:
    """TenantExists for a tenant created under ``subdomain`` while the install ran."""
    fix = (
        "clone under another subdomain"
        if policy is CorePolicy.TENANT_ROW
        else "restore with `--as NEWSUB`"
    )
    return TenantExists(
        f"cannot register tenant {subdomain!r} from {source.label}: {what} by someone "
        f"else meanwhile, so tenant {subdomain!r} exists now; nothing was registered; {fix}"
    )


def _conflict(
    exc: IntegrityError, subdomain: str, source: Source, policy: CorePolicy
) -> TenantExists | BackupError:
    """The error for a constraint violated by the source's core rows."""
    constraint = _constraint(exc)
    if _sqlstate(exc) == _UNIQUE_VIOLATION and constraint in _TENANT_TAKEN:
        column = "subdomain" if constraint == "uq_tenants_subdomain" else "schema"
        return _taken(subdomain, source, policy, f"its {column} was registered")
    diag = getattr(exc.orig, "diag", None)
    detail = getattr(diag, "message_detail", None) or one_line(exc)
    if _sqlstate(exc) == _UNIQUE_VIOLATION:
        kind = "is already in use"
        if constraint in _DETACHABLE and policy is CorePolicy.ALL:
            fix = "restore with `--as NEWSUB`, which leaves API keys and billing ids out"
        else:
            fix = "change or remove the row that holds that value, then restore again"
    else:
        kind = "is violated"
        fix = "restore with a tenantctl release matching the backup's core revisions"
    return BackupError(
        f"cannot register tenant {subdomain!r} from {source.label}: constraint "
        f"{constraint or 'unknown'} {kind} ({detail}); nothing was registered; {fix}"
    )


def _insert(connection: Connection, table: str, row: Mapping[str, Any]) -> str:
    """Insert ``row`` (a JSON object) into ``core.<table>``; returns the new row's id.

    Only keys that are columns of the table today are written; the others are ignored,
    and missing columns take their defaults (a backup from an older core still loads).
    """
    existing = set(
        connection.execute(
            text(
                "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:table) "
                "AND attnum > 0 AND NOT attisdropped"
            ),
            {"table": f"{CORE_SCHEMA}.{table}"},
        ).scalars()
    )
    columns = ", ".join(quote_identifier(name) for name in row if name in existing)
    qualified = f"{quote_identifier(CORE_SCHEMA)}.{quote_identifier(table)}"
    new_id = connection.execute(
        text(
            f"INSERT INTO {qualified} ({columns}) SELECT {columns} "  # noqa: S608  (quoted)
            f"FROM jsonb_populate_record(NULL::{qualified}, CAST(:row AS jsonb)) RETURNING id"
        ),
        {"row": json.dumps(dict(row), default=str)},
    ).scalar_one()
    return str(new_id)


def _drop_quietly(engine: Engine, temp: str) -> None:
    """Drop the temporary schema of a failed install, if it was created."""
    try:
        with connect(engine) as connection, connection.begin():
            connection.execute(text(drop_schema(temp, if_exists=True)))
    except (SQLAlchemyError, BackupError) as exc:
        log.warning("could not drop %s (the next restore drops it): %s", temp, one_line(exc))
