"""Raw SQL in the tenant in scope: ``SET LOCAL search_path`` for the current transaction.

``text("SELECT ... FROM orders")`` names no schema, so ``schema_translate_map`` cannot
reach it; PostgreSQL resolves it through ``search_path``. This helper sets that path to the
tenant's schema with ``SET LOCAL``, which ends with the transaction: after a commit or
rollback the pooled connection is back at the server's default path, so the next user of
the connection (another tenant, or core) inherits nothing. A session-level ``SET`` is never
issued.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from toolkit.errors import NoTransactionOpen
from toolkit.session import TenantContextSession
from toolkit.sql import set_local_search_path
from toolkit.tenant_context import TenantScope, require_tenant

_PURPOSE = "set_local_tenant_search_path (raw SQL on tenant tables)"


def set_local_tenant_search_path(target: Connection | Session) -> TenantScope:
    """``SET LOCAL search_path`` to the tenant in scope, inside ``target``'s open transaction.

    ``target`` is a Connection or a Session with a transaction already open (``with
    connection.begin():``, ``with session.begin():``); for a :class:`TenantContextSession`
    the tenant must also be the one its transaction is bound to. Raises NoTenantInScope
    with no tenant in scope, NoTransactionOpen without a transaction (``SET LOCAL`` outside
    one would do nothing and the raw SQL would reach the default schema), and
    TenantScopeChanged if the session's transaction belongs to another scope. Nothing is
    sent when it raises. Returns the tenant whose schema is now first on the path.
    """
    tenant = require_tenant(_PURPOSE)
    if isinstance(target, Session):
        if isinstance(target, TenantContextSession):
            target.check_scope()
        if not target.in_transaction():
            raise _no_transaction(tenant, "session")
        connection = target.connection()
    else:
        connection = target
    if not connection.in_transaction() or _driver_autocommits(connection):
        raise _no_transaction(tenant, "connection")
    connection.execute(text(set_local_search_path(tenant.schema)))
    return tenant


def _driver_autocommits(connection: Connection) -> bool:
    """True if the driver commits every statement (isolation level AUTOCOMMIT)."""
    return bool(getattr(connection.connection.driver_connection, "autocommit", False))


def _no_transaction(tenant: TenantScope, kind: str) -> NoTransactionOpen:
    return NoTransactionOpen(
        f"set_local_tenant_search_path for tenant {tenant.subdomain!r} needs an open "
        f"transaction on the {kind}: SET LOCAL outside one (or under AUTOCOMMIT) has no "
        "effect, and raw SQL would then reach the default schema; call it inside "
        f"`with {kind}.begin():`, before the raw statements"
    )
