"""Fixtures and helpers for the isolation tests: tenant roles under a random prefix, dropped
at teardown (roles are cluster-wide), and transactions run as a given role."""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, text

from toolkit.isolation import disable_tenant_roles, enable_tenant_roles
from toolkit.row_security import set_local_role, set_local_tenant


@pytest.fixture
def role_prefix(engine: Engine) -> Iterator[str]:
    """A prefix no other run uses; every role starting with it is dropped at teardown."""
    prefix = "t" + secrets.token_hex(4)
    yield prefix
    disable_tenant_roles(engine)
    drop_roles_like(engine, prefix)


@pytest.fixture
def roles_enabled(engine: Engine, role_prefix: str) -> str:
    """Tenant roles enabled in ``engine``'s database under ``role_prefix``; the prefix."""
    enable_tenant_roles(engine, role_prefix=role_prefix)
    return role_prefix


def drop_roles_like(engine: Engine, prefix: str) -> None:
    """Drop every role whose name starts with ``prefix`` (their grants in this database first)."""
    with engine.begin() as connection:
        names = connection.execute(
            text("SELECT rolname FROM pg_roles WHERE starts_with(rolname, :p)"), {"p": prefix}
        ).scalars()
        for name in list(names):
            connection.execute(text(f'DROP OWNED BY "{name}"'))
            connection.execute(text(f'DROP ROLE "{name}"'))


def tenant_id(engine: Engine, subdomain: str) -> uuid.UUID:
    """``core.tenants.id`` of ``subdomain``."""
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT id FROM core.tenants WHERE subdomain = :s"), {"s": subdomain}
        ).scalar_one()


def role_of(engine: Engine, subdomain: str) -> str | None:
    """The role ``core.tenant_roles`` lists for ``subdomain``."""
    with engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT r.role_name FROM core.tenant_roles r JOIN core.tenants t "
                "ON t.id = r.tenant_id WHERE t.subdomain = :s"
            ),
            {"s": subdomain},
        ).scalar()


def role_exists(engine: Engine, role: str) -> bool:
    with engine.connect() as connection:
        return bool(
            connection.execute(
                text("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :r)"), {"r": role}
            ).scalar()
        )


@contextlib.contextmanager
def acting_as(
    engine: Engine, role: str, tenant: uuid.UUID | str | None = None
) -> Iterator[Connection]:
    """A transaction that runs as ``role`` (and scoped to ``tenant``), rolled back at the end."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            if tenant is not None:
                set_local_tenant(connection, tenant)
            set_local_role(connection, role)
            yield connection
        finally:
            transaction.rollback()


def add_admin(engine: Engine, subdomain: str, email: str) -> None:
    """A ``core.tenant_users`` row for ``subdomain`` (written as the superuser)."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO core.tenant_users (tenant_id, email, password_hash) "
                "SELECT id, :email, 'hash' FROM core.tenants WHERE subdomain = :s"
            ),
            {"email": email, "s": subdomain},
        )


def emails(connection: Connection) -> list[str]:
    """The ``core.tenant_users`` emails this connection may see."""
    return list(
        connection.execute(text("SELECT email FROM core.tenant_users ORDER BY email")).scalars()
    )
