"""One tenant's PostgreSQL role: created with the tenant, renamed with it, dropped with it.

While tenant roles are enabled (a row in ``core.database_isolation``, written by
``tenantctl security enable``), every tenant has a NOLOGIN role named by
``toolkit.role_names`` and registered in ``core.tenant_roles``. The role may use its own
schema (read and write its tables and sequences, now and those migrations add later, but
create nothing and not touch ``alembic_version``) and the tenant-scoped core tables, where
row-level security shows it its own tenant's rows only. It may not use any other schema.
An application logs in as one role for all tenants and, per transaction, ``SET LOCAL ROLE``s
to the tenant's role (``toolkit.row_security``).

Every function runs in the caller's transaction, so a role appears and disappears together
with the tenant's registry row and schema.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from psycopg import sql
from sqlalchemy import Connection, delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError

from models import DatabaseIsolation, Tenant, TenantRole
from toolkit.errors import DatabaseIsolationError, one_line
from toolkit.registry import schema_exists
from toolkit.role_names import tenant_role_name

# What a tenant role may do in core; row-level security narrows it to its own rows.
# Subscriptions are billing's to write; usage counters are only ever incremented.
CORE_GRANTS = (
    ("tenant_users", "SELECT, INSERT, UPDATE, DELETE"),
    ("tenant_api_keys", "SELECT, INSERT, UPDATE, DELETE"),
    ("tenant_subscriptions", "SELECT"),
    ("tenant_usage", "SELECT, INSERT, UPDATE"),
)
_TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
_SEQUENCE_PRIVILEGES = "USAGE, SELECT"
_VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class IsolationConfig:
    """The enabled switch's row: the prefix of tenant role names and the app's login role."""

    role_prefix: str
    app_role: str | None


def isolation_config(connection: Connection) -> IsolationConfig | None:
    """The configuration while tenant roles are enabled; None while they are not."""
    row = connection.execute(
        select(DatabaseIsolation.role_prefix, DatabaseIsolation.app_role)
    ).first()
    return None if row is None else IsolationConfig(row.role_prefix, row.app_role)


def provision_tenant_role(connection: Connection, subdomain: str) -> str | None:
    """Give tenant ``subdomain`` its role if tenant roles are enabled; the role's name, or
    None when they are not. Idempotent: an existing role gets its grants again, and one
    named after an old schema (the tenant was renamed) is renamed."""
    config = isolation_config(connection)
    if config is None:
        return None
    tenant_id, schema = connection.execute(
        select(Tenant.id, Tenant.database_schema).where(Tenant.subdomain == subdomain)
    ).one()
    return ensure_tenant_role(connection, config, uuid.UUID(str(tenant_id)), schema, subdomain)


def ensure_tenant_role(
    connection: Connection,
    config: IsolationConfig,
    tenant_id: uuid.UUID,
    schema: str,
    subdomain: str,
) -> str:
    """Create (or rename) the tenant's role, grant it what it needs, register it."""
    role = tenant_role_name(config.role_prefix, schema)
    registered = connection.execute(
        select(TenantRole.role_name).where(TenantRole.tenant_id == tenant_id)
    ).scalar()
    try:
        if registered is not None and registered != role and _role_exists(connection, registered):
            _run(connection, "ALTER ROLE {} RENAME TO {}", registered, role)
        elif not _role_exists(connection, role):
            _run(connection, "CREATE ROLE {} NOLOGIN NOINHERIT", role)
        elif registered != role:
            raise _taken(role, subdomain, config.role_prefix)
        _grant(connection, role, schema, config.app_role)
    except DBAPIError as exc:
        raise _failed("set up", role, subdomain, exc) from None
    connection.execute(
        insert(TenantRole)
        .values(tenant_id=tenant_id, role_name=role)
        .on_conflict_do_update(index_elements=[TenantRole.tenant_id], set_={"role_name": role})
    )
    return role


def drop_tenant_role(connection: Connection, subdomain: str) -> str | None:
    """Drop tenant ``subdomain``'s role (its grants first) and its registry row; the role's
    name, or None if the tenant has none."""
    role = connection.execute(
        select(TenantRole.role_name)
        .join(Tenant, Tenant.id == TenantRole.tenant_id)
        .where(Tenant.subdomain == subdomain)
    ).scalar()
    if role is None:
        return None
    try:
        if _role_exists(connection, role):
            # Revokes its privileges and default privileges in this database (it owns nothing).
            _run(connection, "DROP OWNED BY {}", role)
            _run(connection, "DROP ROLE {}", role)
    except DBAPIError as exc:
        raise _failed("drop", role, subdomain, exc) from None
    connection.execute(delete(TenantRole).where(TenantRole.role_name == role))
    return role


def _grant(connection: Connection, role: str, schema: str, app_role: str | None) -> None:
    """USAGE on its schema and core; DML on its tables, now and later; its core grants."""
    if schema_exists(connection, schema):
        owner = connection.execute(
            text(
                "SELECT r.rolname FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner "
                "WHERE n.nspname = :schema"
            ),
            {"schema": schema},
        ).scalar_one()
        _run(connection, "GRANT USAGE ON SCHEMA {} TO {}", schema, role)
        _run(
            connection,
            f"GRANT {_TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {{}} TO {{}}",
            schema,
            role,
        )
        _run(
            connection,
            f"GRANT {_SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA {{}} TO {{}}",
            schema,
            role,
        )
        if _table_exists(connection, schema, _VERSION_TABLE):
            _run(connection, "REVOKE ALL ON TABLE {}.{} FROM {}", schema, _VERSION_TABLE, role)
        # Tables and sequences that later migrations create (as the schema's owner) too.
        _run(
            connection,
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {{}} IN SCHEMA {{}} "
            f"GRANT {_TABLE_PRIVILEGES} ON TABLES TO {{}}",
            owner,
            schema,
            role,
        )
        _run(
            connection,
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {{}} IN SCHEMA {{}} "
            f"GRANT {_SEQUENCE_PRIVILEGES} ON SEQUENCES TO {{}}",
            owner,
            schema,
            role,
        )
    _run(connection, "GRANT USAGE ON SCHEMA core TO {}", role)
    for table, privileges in CORE_GRANTS:
        _run(connection, f"GRANT {privileges} ON TABLE core.{{}} TO {{}}", table, role)
    if app_role is not None:
        _run(connection, "GRANT {} TO {}", role, app_role)


def _run(connection: Connection, template: str, *names: str) -> None:
    """Execute ``template`` with each ``{}`` replaced by a quoted identifier from ``names``.

    ``template`` itself is a constant of this module (keywords and privileges only).
    """
    statement = sql.SQL(template).format(*(sql.Identifier(name) for name in names))
    connection.exec_driver_sql(statement.as_string(connection.connection.driver_connection))


def _role_exists(connection: Connection, role: str) -> bool:
    return bool(
        connection.execute(
            text("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :role)"), {"role": role}
        ).scalar()
    )


def _table_exists(connection: Connection, schema: str, table: str) -> bool:
    return bool(
        connection.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = :schema "
                "AND tablename = :table)"
            ),
            {"schema": schema, "table": table},
        ).scalar()
    )


def _taken(role: str, subdomain: str, prefix: str) -> DatabaseIsolationError:
    return DatabaseIsolationError(
        f"cannot give tenant {subdomain!r} role {role}: a role of that name already exists on "
        f"the server but core.tenant_roles of this database does not list it (another database "
        f"may use role prefix {prefix!r}); run `tenantctl security disable --yes` and enable "
        "again with another --role-prefix, or drop that role if it is stale"
    )


def _failed(verb: str, role: str, subdomain: str, exc: DBAPIError) -> DatabaseIsolationError:
    return DatabaseIsolationError(
        f"cannot {verb} role {role} of tenant {subdomain!r}: {one_line(exc)}; run tenantctl as "
        "a superuser, or as a role with CREATEROLE and BYPASSRLS that is a member of the "
        "role owning the tenant schemas"
    )
