"""Transaction-local settings that the database's isolation reads: the tenant and the role.

Row-level security on the tenant-scoped core tables (turned on by ``tenantctl security
enable``) shows a row only when the setting ``app.tenant_id`` names its tenant. Both
helpers here act with ``SET LOCAL`` semantics: the value ends with the current transaction
(commit or rollback), so a pooled connection (or a PgBouncer server connection in
transaction mode) never carries one tenant into the next request. Without them, a role
subject to row-level security sees no tenant's rows at all.
"""

from __future__ import annotations

import uuid

from psycopg import sql
from sqlalchemy import Connection, text

from toolkit.errors import DatabaseIsolationError
from toolkit.role_names import validate_role_name

TENANT_SETTING = "app.tenant_id"
# The core tables with a tenant_id whose policy (core revision 0006core) reads TENANT_SETTING.
TENANT_SCOPED_TABLES = ("tenant_users", "tenant_api_keys", "tenant_subscriptions", "tenant_usage")


def enable_row_security(connection: Connection) -> None:
    """Turn row-level security on (ENABLE and FORCE) for every tenant-scoped core table.

    FORCE makes the policy bind the tables' owner too; only superusers and BYPASSRLS roles
    (the toolkit's own, which works across tenants) pass it. Part of ``tenantctl security
    enable``; the caller's transaction commits it.
    """
    for table in TENANT_SCOPED_TABLES:
        name = sql.Identifier("core", table).as_string(connection.connection.driver_connection)
        connection.exec_driver_sql(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
        connection.exec_driver_sql(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")


def disable_row_security(connection: Connection) -> None:
    """Turn row-level security off again for every tenant-scoped core table (policies stay)."""
    for table in TENANT_SCOPED_TABLES:
        name = sql.Identifier("core", table).as_string(connection.connection.driver_connection)
        connection.exec_driver_sql(f"ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY")
        connection.exec_driver_sql(f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY")


def set_local_tenant(connection: Connection, tenant_id: uuid.UUID | str) -> None:
    """Scope the current transaction to tenant ``tenant_id`` (``core.tenants.id``).

    Issues ``set_config('app.tenant_id', id, true)``; the id is validated as a UUID first.
    Raises DatabaseIsolationError outside a transaction, where the value would vanish at once.
    With an ORM Session, pass ``session.connection()``.
    """
    _require_transaction(connection, "set_local_tenant")
    try:
        value = str(uuid.UUID(str(tenant_id)))
    except ValueError:
        raise DatabaseIsolationError(
            f"invalid tenant id {tenant_id!r}: app.tenant_id must be a tenant's UUID "
            "(core.tenants.id), e.g. 'b1c5a1e2-3f4d-4c6b-9a8e-0d1f2a3b4c5d'"
        ) from None
    connection.execute(
        text("SELECT pg_catalog.set_config(:name, :value, true)"),
        {"name": TENANT_SETTING, "value": value},
    )


def set_local_role(connection: Connection, role: str) -> None:
    """``SET LOCAL ROLE role``: act as ``role`` (a tenant role, say) until the transaction ends.

    The connected role must be a member of ``role`` (``tenantctl security enable
    --app-role`` arranges that for the app's login role).
    """
    _require_transaction(connection, "set_local_role")
    statement = sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(validate_role_name(role)))
    connection.exec_driver_sql(statement.as_string(connection.connection.driver_connection))


def _require_transaction(connection: Connection, helper: str) -> None:
    if not connection.in_transaction():
        raise DatabaseIsolationError(
            f"{helper}() was called outside a transaction, where a SET LOCAL would end at "
            "once: call it inside `with connection.begin():` (or on session.connection())"
        )
