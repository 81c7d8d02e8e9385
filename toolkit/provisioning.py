"""Create and drop tenants: the registry row and the schema change together or not at all."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from models import Tenant, TenantStatus
from toolkit.db import connect
from toolkit.errors import SchemaNotReady, TenantExists
from toolkit.migrations.branches import TENANT
from toolkit.migrations.config import alembic_config
from toolkit.migrations.options import RunOptions
from toolkit.migrations.status import Heads, version_of
from toolkit.migrations.targeting import Selection
from toolkit.naming import schema_for, validate_subdomain
from toolkit.registry import TenantRecord, find_tenant, require_registry
from toolkit.sql import create_schema, drop_schema


def create_tenant(
    engine: Engine,
    subdomain: str,
    *,
    company_name: str | None = None,
    plan: str = "free",
    heads: Heads | None = None,
) -> TenantRecord:
    """Register ``subdomain``, create its schema and migrate it to tenant head, atomically.

    The subdomain is validated before any SQL. Raises TenantExists if the tenant or its
    schema already exists, and SchemaNotReady if core is not at head.
    """
    validate_subdomain(subdomain)
    schema = schema_for(subdomain)
    with connect(engine) as connection, connection.begin():
        _require_core_at_head(connection, heads or Heads.from_scripts())
        _refuse_existing(connection, subdomain, schema)
        try:
            connection.execute(
                insert(Tenant).values(
                    subdomain=subdomain,
                    company_name=company_name or subdomain,
                    database_schema=schema,
                    status=TenantStatus.PROVISIONING.value,
                    plan=plan,
                )
            )
        except IntegrityError:
            raise _exists(subdomain) from None
        connection.execute(text(create_schema(schema)))
        # env.py sees the open transaction and migrates the tenant inside a savepoint of it.
        options = RunOptions(selection=Selection(tenants=(subdomain,)))
        command.upgrade(alembic_config(connection=connection, options=options), f"{TENANT}@head")
        connection.execute(
            update(Tenant)
            .where(Tenant.subdomain == subdomain)
            .values(status=TenantStatus.ACTIVE.value)
        )
        return find_tenant(connection, subdomain)


def drop_tenant(engine: Engine, subdomain: str) -> TenantRecord:
    """Drop ``subdomain``'s schema and its registry row (core rows cascade), atomically."""
    with connect(engine) as connection, connection.begin():
        record = find_tenant(connection, subdomain)
        connection.execute(
            select(Tenant.id).where(Tenant.subdomain == record.subdomain).with_for_update()
        )
        if _schema_exists(connection, record.database_schema):
            connection.execute(text(drop_schema(record.database_schema)))
        connection.execute(delete(Tenant).where(Tenant.subdomain == record.subdomain))
        return record


def _require_core_at_head(connection: Connection, heads: Heads) -> None:
    require_registry(connection)
    current = version_of(connection, "core")
    if set(current) != set(heads.core):
        raise SchemaNotReady(
            f"schema core is at {', '.join(current) or 'base'}, not at head "
            f"{', '.join(heads.core)}: run `tenantctl migrate up` first"
        )


def _refuse_existing(connection: Connection, subdomain: str, schema: str) -> None:
    registered = connection.execute(select(Tenant.id).where(Tenant.subdomain == subdomain)).first()
    if registered is not None:
        raise _exists(subdomain)
    if _schema_exists(connection, schema):
        raise TenantExists(
            f"schema {schema} already exists but no tenant {subdomain!r} is registered: "
            f"drop the stray schema (DROP SCHEMA {schema} CASCADE) or pick another subdomain"
        )


def _schema_exists(connection: Connection, schema: str) -> bool:
    return bool(
        connection.execute(
            text("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = :schema)"),
            {"schema": schema},
        ).scalar()
    )


def _exists(subdomain: str) -> TenantExists:
    return TenantExists(
        f"tenant {subdomain!r} already exists: choose another subdomain, or drop it first with "
        f"`tenantctl tenant drop {subdomain} --yes`"
    )
