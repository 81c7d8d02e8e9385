"""Create tenants: the registry row and the schema change together or not at all.

A new schema is built from the tenant template (``toolkit.template``) by the SQL function
``core.create_tenant_schema()``, not migrated revision by revision; only when the template
cannot be rendered does it go through Alembic.
"""

from __future__ import annotations

import functools
import uuid

import psycopg.errors
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from models import Tenant, TenantStatus
from toolkit.db import connect
from toolkit.errors import TenantctlError, TenantExists, TenantStateError
from toolkit.migrations.config import project_scripts
from toolkit.migrations.runner import upgrade_within
from toolkit.migrations.status import Heads, require_core_at_head
from toolkit.naming import schema_for, validate_subdomain
from toolkit.registry import TenantRecord, find_tenant
from toolkit.sql import create_schema
from toolkit.template import ensure_template
from toolkit.tenant_cache import invalidate_tenant
from toolkit.tenant_roles import provision_tenant_role


def project_heads() -> Heads:
    """The heads of this project's scripts (read once per process)."""
    return _heads_of(project_scripts())


@functools.cache
def _heads_of(script: ScriptDirectory) -> Heads:
    return Heads.from_scripts(script)


def create_tenant(
    engine: Engine,
    subdomain: str,
    *,
    company_name: str | None = None,
    plan: str = "free",
    resume: bool = False,
    heads: Heads | None = None,
) -> TenantRecord:
    """Register ``subdomain`` and create its schema at tenant head, in one transaction.

    The schema comes from the tenant template through ``core.create_tenant_schema()``
    (the same path a DBA takes from psql), so its cost does not grow with the migration
    history. The subdomain is validated before any SQL. Raises TenantExists if the tenant
    or its schema already exists, and SchemaNotReady if core is not at head.

    With ``resume``, a tenant registered but left in ``provisioning`` (a row inserted by
    hand, say) gets its schema; an unregistered one is created as usual.
    """
    validate_subdomain(subdomain)
    schema = schema_for(subdomain)
    heads = heads or project_heads()
    from_template = ensure_template(engine, project_scripts(), heads.tenant)
    with connect(engine) as connection, connection.begin():
        require_core_at_head(connection, heads)
        tenant_id = _provisioning_row(connection, subdomain, resume=resume)
        resuming = tenant_id is not None
        if tenant_id is None:
            tenant_id = _register(connection, subdomain, schema, company_name, plan)
        try:
            if from_template:
                connection.execute(select(func.core.create_tenant_schema(tenant_id, schema)))
            else:
                _migrate_through_alembic(connection, subdomain, schema)
        except DBAPIError as exc:
            raise _refused(exc, subdomain, schema, resuming=resuming) from None
        # Opt-in (tenantctl security enable): the tenant's own role, in this transaction.
        provision_tenant_role(connection, subdomain)
        created = find_tenant(connection, subdomain)
    invalidate_tenant(engine, subdomain)  # request routing may have cached it as unknown
    return created


def _refused(
    exc: DBAPIError, subdomain: str, schema: str, *, resuming: bool
) -> TenantctlError | DBAPIError:
    """The typed error for a refusal of ``core.create_tenant_schema()`` (or of CREATE
    SCHEMA); any other database error is returned as it is."""
    cause = exc.orig
    if isinstance(cause, psycopg.errors.DuplicateSchema):
        if not resuming:
            return _stray_schema(subdomain, schema)
        return TenantExists(
            f"tenant {subdomain!r} is still provisioning but schema {schema} exists already: "
            f"drop both with `tenantctl tenant drop {subdomain} --yes --no-backup` and create "
            "it again"
        )
    if isinstance(cause, psycopg.Error) and cause.sqlstate in ("22023", "55000"):
        hint = cause.diag.message_hint
        return TenantStateError(
            f"cannot create tenant {subdomain!r}: {cause.diag.message_primary}"
            + (f"; {hint}" if hint else "")
        )
    return exc


def _migrate_through_alembic(connection: Connection, subdomain: str, schema: str) -> None:
    """The slow path, when the scripts cannot be rendered: every revision through Alembic."""
    connection.execute(text(create_schema(schema)))
    upgrade_within(connection, subdomain)
    connection.execute(
        update(Tenant).where(Tenant.subdomain == subdomain).values(status=TenantStatus.ACTIVE.value)
    )


def _provisioning_row(connection: Connection, subdomain: str, *, resume: bool) -> uuid.UUID | None:
    """The id of ``subdomain``'s row when resuming a tenant left in ``provisioning``.

    None if it is not registered; TenantExists if it is and there is nothing to resume.
    """
    row = connection.execute(
        select(Tenant.id, Tenant.status).where(Tenant.subdomain == subdomain).with_for_update()
    ).first()
    if row is None:
        return None
    if resume and row.status == TenantStatus.PROVISIONING.value:
        return uuid.UUID(str(row.id))
    if row.status == TenantStatus.PROVISIONING.value:
        raise TenantExists(
            f"tenant {subdomain!r} is registered but still provisioning: finish it with "
            f"`tenantctl tenant create {subdomain} --resume`, or drop it with "
            f"`tenantctl tenant drop {subdomain} --yes`"
        )
    raise _exists(subdomain)


def _register(
    connection: Connection, subdomain: str, schema: str, company_name: str | None, plan: str
) -> uuid.UUID:
    """Insert the registry row in ``provisioning``; a concurrent create of the same
    subdomain waits on the unique index, then fails here with TenantExists."""
    try:
        tenant_id = connection.execute(
            insert(Tenant)
            .values(
                subdomain=subdomain,
                company_name=company_name or subdomain,
                database_schema=schema,
                status=TenantStatus.PROVISIONING.value,
                plan=plan,
            )
            .returning(Tenant.id)
        ).scalar_one()
    except IntegrityError:
        raise _exists(subdomain) from None
    return uuid.UUID(str(tenant_id))


def _stray_schema(subdomain: str, schema: str) -> TenantExists:
    return TenantExists(
        f"schema {schema} already exists but no tenant {subdomain!r} owns it: drop the stray "
        f"schema (DROP SCHEMA {schema} CASCADE) or pick another subdomain"
    )


def _exists(subdomain: str) -> TenantExists:
    return TenantExists(
        f"tenant {subdomain!r} already exists: choose another subdomain, or drop it first with "
        f"`tenantctl tenant drop {subdomain} --yes`"
    )
