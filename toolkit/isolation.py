"""Turn tenant roles on and off for a whole database, and report what the database enforces.

``enable_tenant_roles`` writes the switch (``core.database_isolation``), revokes CREATE on
schema ``public`` from PUBLIC and gives every existing tenant its role, one transaction per
tenant, so a re-run finishes an interrupted one; from then on ``create_tenant``,
``rename_tenant`` and ``drop_tenant`` keep the roles in step. ``disable_tenant_roles`` drops
them all and removes the switch. ``isolation_status`` reads it all back, with the problems
it finds. Row-level security on the tenant-scoped core tables is turned on by enable and
off by disable; its policies come with core revision 0006core.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, delete, select, text
from sqlalchemy.dialects.postgresql import insert

from models import DatabaseIsolation, Tenant, TenantRole
from toolkit.db import connect, transaction
from toolkit.errors import DatabaseIsolationError, SchemaNotReady
from toolkit.registry import schema_exists
from toolkit.role_names import default_prefix, validate_prefix, validate_role_name
from toolkit.row_security import (
    TENANT_SCOPED_TABLES,
    disable_row_security,
    enable_row_security,
)
from toolkit.tenant_roles import (
    IsolationConfig,
    drop_tenant_role,
    ensure_tenant_role,
    isolation_config,
)


@dataclass(frozen=True)
class TableSecurity:
    """Row-level security of one tenant-scoped core table."""

    table: str
    enabled: bool
    forced: bool
    policies: int


@dataclass(frozen=True)
class IsolationStatus:
    """What the database enforces now, and what is out of step (``problems``)."""

    enabled: bool
    role_prefix: str | None
    app_role: str | None
    current_role: str
    current_role_bypasses_rls: bool
    public_create_revoked: bool
    tables: tuple[TableSecurity, ...]
    tenant_roles: dict[str, str]
    tenants_without_role: tuple[str, ...]
    problems: tuple[str, ...] = field(default=())


def enable_tenant_roles(
    engine: Engine, *, role_prefix: str | None = None, app_role: str | None = None
) -> IsolationStatus:
    """Give every tenant its own role, now and at every create, turn row-level security on
    for the tenant-scoped core tables and close schema ``public``.

    ``role_prefix`` defaults to the stored one, else one derived from the database name;
    ``app_role`` (a NOINHERIT login role that will ``SET ROLE`` to tenant roles) defaults to
    the stored one. Changing either while roles exist is refused: disable first.
    """
    with connect(engine) as connection:
        with transaction(connection):
            config = _store_config(connection, role_prefix, app_role)
            _revoke_public_create(connection)
            enable_row_security(connection)
        tenants = connection.execute(
            select(Tenant.id, Tenant.database_schema, Tenant.subdomain).order_by(Tenant.subdomain)
        ).all()
        connection.rollback()
        for tenant_id, schema, subdomain in tenants:
            with transaction(connection):
                if schema_exists(connection, schema):
                    ensure_tenant_role(connection, config, tenant_id, schema, subdomain)
        return isolation_status(connection)


def disable_tenant_roles(engine: Engine) -> tuple[str, ...]:
    """Drop every tenant role of this database and remove the switch; the roles dropped.

    Row-level security on the core tables is turned off again (its policies stay, binding
    nobody); schema ``public`` stays closed to PUBLIC.
    """
    with connect(engine) as connection:
        _require_core(connection)
        subdomains = (
            connection.execute(
                select(Tenant.subdomain)
                .join(TenantRole, TenantRole.tenant_id == Tenant.id)
                .order_by(Tenant.subdomain)
            )
            .scalars()
            .all()
        )
        connection.rollback()
        dropped = []
        for subdomain in subdomains:
            with transaction(connection):
                role = drop_tenant_role(connection, subdomain)
            if role is not None:
                dropped.append(role)
        with transaction(connection):
            disable_row_security(connection)
            connection.execute(delete(DatabaseIsolation))
        return tuple(dropped)


def isolation_status(connection: Connection) -> IsolationStatus:
    """Read back the switch, the roles, row-level security and schema ``public``."""
    _require_core(connection)
    config = isolation_config(connection)
    me = connection.execute(
        text(
            "SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles "
            "WHERE rolname = current_user"
        )
    ).one()
    public_closed = not connection.execute(
        text(
            "SELECT coalesce(has_schema_privilege('public', "
            "(SELECT oid FROM pg_namespace WHERE nspname = 'public'), 'CREATE'), false)"
        )
    ).scalar()
    tables = tuple(
        TableSecurity(*row)
        for row in connection.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
                "(SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) "
                "FROM pg_class c WHERE c.relnamespace = 'core'::regnamespace "
                "AND c.relname = ANY(:tables) ORDER BY c.relname"
            ),
            {"tables": list(TENANT_SCOPED_TABLES)},
        )
    )
    rows = connection.execute(
        select(Tenant.subdomain, TenantRole.role_name)
        .outerjoin(TenantRole, TenantRole.tenant_id == Tenant.id)
        .order_by(Tenant.subdomain)
    ).all()
    existing = set(
        connection.execute(
            text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:names)"),
            {"names": [role for _, role in rows if role]},
        ).scalars()
    )
    roles = {sub: role for sub, role in rows if role}
    without = tuple(sub for sub, role in rows if role is None)
    status = IsolationStatus(
        enabled=config is not None,
        role_prefix=config.role_prefix if config else None,
        app_role=config.app_role if config else None,
        current_role=me[0],
        current_role_bypasses_rls=bool(me[1]),
        public_create_revoked=public_closed,
        tables=tables,
        tenant_roles=roles,
        tenants_without_role=without,
    )
    return _with_problems(status, missing_roles=sorted(set(roles.values()) - existing))


def _with_problems(status: IsolationStatus, *, missing_roles: list[str]) -> IsolationStatus:
    problems = [
        f"core.{t.table} has no row-level security policy; run `tenantctl migrate up`"
        for t in status.tables
        if not t.policies
    ]
    if len(status.tables) != len(TENANT_SCOPED_TABLES):
        problems.append("a tenant-scoped core table is missing; run `tenantctl migrate up`")
    if status.enabled:
        problems += [
            f"core.{t.table}: row-level security is not enabled and forced; run "
            "`tenantctl security enable`"
            for t in status.tables
            if not (t.enabled and t.forced)
        ]
        if not status.current_role_bypasses_rls:
            problems.append(
                f"role {status.current_role} is subject to row-level security, so the toolkit "
                "sees no tenant's core rows; run it as a superuser or a BYPASSRLS role"
            )
        if not status.public_create_revoked:
            problems.append(
                "PUBLIC may create objects in schema public; run `tenantctl security enable`"
            )
        if status.tenants_without_role:
            problems.append(
                f"tenant(s) without a role: {', '.join(status.tenants_without_role)}; run "
                "`tenantctl security enable` (tenants restored, cloned or created from SQL)"
            )
    problems += [
        f"role {role} is registered but does not exist; run `tenantctl security enable`"
        for role in missing_roles
    ]
    return dataclasses.replace(status, problems=tuple(problems))


def _store_config(
    connection: Connection, role_prefix: str | None, app_role: str | None
) -> IsolationConfig:
    """Check the caller's privileges and the arguments, then write the switch's row."""
    _require_core(connection)
    _require_admin(connection)
    stored = isolation_config(connection)
    database = connection.execute(text("SELECT current_database()")).scalar_one()
    prefix = validate_prefix(
        role_prefix or (stored.role_prefix if stored else default_prefix(database))
    )
    app = app_role if app_role is not None else (stored.app_role if stored else None)
    if app is not None:
        _require_app_role(connection, validate_role_name(app))
    has_roles = connection.execute(select(TenantRole.role_name).limit(1)).first() is not None
    if stored and has_roles and (stored.role_prefix, stored.app_role) != (prefix, app):
        raise DatabaseIsolationError(
            f"tenant roles are enabled with prefix {stored.role_prefix!r} and app role "
            f"{stored.app_role!r}; to change to {prefix!r} and {app!r}, run "
            "`tenantctl security disable --yes` first (it drops the roles), then enable again"
        )
    connection.execute(
        insert(DatabaseIsolation)
        .values(singleton=True, role_prefix=prefix, app_role=app)
        .on_conflict_do_update(
            index_elements=[DatabaseIsolation.singleton],
            set_={"role_prefix": prefix, "app_role": app},
        )
    )
    return IsolationConfig(prefix, app)


def _revoke_public_create(connection: Connection) -> None:
    """PostgreSQL 15 creates databases this way; older ones (and pg_upgrade) do not."""
    if schema_exists(connection, "public"):
        connection.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))


def _require_core(connection: Connection) -> None:
    if not connection.execute(text("SELECT to_regclass('core.database_isolation')")).scalar():
        raise SchemaNotReady(
            "core has no table database_isolation (core revision 0006core): run "
            "`tenantctl migrate up` first"
        )


def _require_admin(connection: Connection) -> None:
    """The caller must create roles and see every tenant's core rows."""
    row = connection.execute(
        text(
            "SELECT rolname, rolsuper, rolcreaterole AND rolbypassrls FROM pg_roles "
            "WHERE rolname = current_user"
        )
    ).one()
    if not (row[1] or row[2]):
        raise DatabaseIsolationError(
            f"role {row[0]} may not manage tenant roles: it needs to be a superuser, or to "
            f"have CREATEROLE and BYPASSRLS (as a superuser: ALTER ROLE {row[0]} CREATEROLE "
            "BYPASSRLS)"
        )


def _require_app_role(connection: Connection, app_role: str) -> None:
    """The app's login role must exist, and must not inherit tenant roles' privileges."""
    row = connection.execute(
        text("SELECT rolinherit, rolsuper FROM pg_roles WHERE rolname = :role"), {"role": app_role}
    ).first()
    if row is None:
        raise DatabaseIsolationError(
            f"app role {app_role!r} does not exist: create it first "
            f"(CREATE ROLE {app_role} LOGIN NOINHERIT PASSWORD '...') or leave --app-role out"
        )
    if row.rolinherit or row.rolsuper:
        raise DatabaseIsolationError(
            f"app role {app_role!r} is {'a superuser' if row.rolsuper else 'INHERIT'}: it would "
            "hold every tenant's privileges at once instead of one tenant's after SET ROLE; "
            f"run ALTER ROLE {app_role} NOSUPERUSER NOINHERIT, or pick another role"
        )
