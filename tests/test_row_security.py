"""Row-level security on the tenant-scoped core tables fails closed for every role it binds,
the tables' owner included (FORCE), and the SET LOCAL helpers scope one transaction only."""

from __future__ import annotations

import secrets

import psycopg.errors
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from tenant_role_helpers import tenant_id

from toolkit.errors import DatabaseIsolationError
from toolkit.row_security import (
    disable_row_security,
    enable_row_security,
    set_local_role,
    set_local_tenant,
)

# One row per tenant in each tenant-scoped core table; {t} is the tenant's subdomain.
ROWS = {
    "tenant_users": "(tenant_id, email, password_hash) SELECT id, '{t}@x.test', 'h'",
    "tenant_api_keys": "(tenant_id, name, key_id, key_hash) SELECT id, 'k', '{t}_k', 'h'",
    "tenant_subscriptions": (
        "(tenant_id, plan, status, current_period_start, current_period_end) "
        "SELECT id, 'pro', 'active', now(), now() + interval '30 days'"
    ),
    "tenant_usage": "(tenant_id, metric, period_start) SELECT id, 'mockups', current_date",
}


@pytest.fixture
def rows_of_two_tenants(engine, make_tenants):
    make_tenants("acme", "globex")
    with engine.begin() as connection:
        for table, values in ROWS.items():
            for sub in ("acme", "globex"):
                connection.execute(
                    text(
                        f"INSERT INTO core.{table} {values.format(t=sub)} "
                        "FROM core.tenants WHERE subdomain = :sub"
                    ),
                    {"sub": sub},
                )
        enable_row_security(connection)
    return {sub: tenant_id(engine, sub) for sub in ("acme", "globex")}


def _count(connection, table):
    return connection.execute(text(f"SELECT count(*) FROM core.{table}")).scalar()


def _temporary_role(connection, *grants):
    """A NOLOGIN role that only this transaction sees (CREATE ROLE rolls back with it)."""
    role = "rls_" + secrets.token_hex(6)
    connection.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
    connection.execute(text(f'GRANT USAGE ON SCHEMA core TO "{role}"'))
    for grant in grants:
        connection.execute(text(grant.format(role=f'"{role}"')))
    return role


@pytest.mark.parametrize("table", sorted(ROWS))
def test_the_tables_owner_sees_no_rows_unless_app_tenant_id_is_set(
    engine, rows_of_two_tenants, table
):
    acme = rows_of_two_tenants["acme"]
    with engine.connect() as connection, connection.begin() as transaction:
        assert _count(connection, table) == 2  # a superuser bypasses row-level security
        owner = _temporary_role(connection, f"ALTER TABLE core.{table} OWNER TO {{role}}")
        connection.execute(text(f'SET LOCAL ROLE "{owner}"'))
        assert _count(connection, table) == 0  # FORCE: the owner is bound too, fails closed
        set_local_tenant(connection, acme)
        assert _count(connection, table) == 1
        assert connection.execute(text(f"SELECT DISTINCT tenant_id FROM core.{table}")).all() == [
            (acme,)
        ]
        connection.execute(text("SELECT set_config('app.tenant_id', '', true)"))
        assert _count(connection, table) == 0
        connection.execute(text("RESET ROLE"))
        connection.execute(text(f"ALTER TABLE core.{table} NO FORCE ROW LEVEL SECURITY"))
        connection.execute(text(f'SET LOCAL ROLE "{owner}"'))
        assert _count(connection, table) == 2  # without FORCE the owner would see everyone
        transaction.rollback()


def test_a_malformed_app_tenant_id_is_an_error_not_a_wider_view(engine, rows_of_two_tenants):
    with engine.connect() as connection, connection.begin():
        role = _temporary_role(connection, "GRANT SELECT ON core.tenant_users TO {role}")
        connection.execute(text("SELECT set_config('app.tenant_id', 'everyone', true)"))
        set_local_role(connection, role)
        with pytest.raises(DBAPIError) as error:
            _count(connection, "tenant_users")
    assert isinstance(error.value.orig, psycopg.errors.InvalidTextRepresentation)


def test_set_local_tenant_lasts_until_the_transaction_ends(engine, rows_of_two_tenants):
    with engine.connect() as connection:
        with connection.begin():
            role = _temporary_role(connection, "GRANT SELECT ON core.tenant_users TO {role}")
            set_local_tenant(connection, rows_of_two_tenants["globex"])
            set_local_role(connection, role)
            assert _count(connection, "tenant_users") == 1
            connection.execute(text("RESET ROLE"))
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'DROP ROLE "{role}"'))
        assert connection.execute(
            text("SELECT current_setting('app.tenant_id', true), current_user")
        ).one() == ("", "postgres")


def test_the_helpers_refuse_to_run_outside_a_transaction(engine):
    with engine.connect() as connection:
        with pytest.raises(DatabaseIsolationError, match="outside a transaction"):
            set_local_tenant(connection, "6f1c1c3e-58f2-4a8e-9d7e-3a1e1b2c3d4e")
        with pytest.raises(DatabaseIsolationError, match="outside a transaction"):
            set_local_role(connection, "anyone")


def test_set_local_tenant_refuses_what_is_not_a_uuid_before_any_sql(engine):
    with engine.connect() as connection, connection.begin():
        with pytest.raises(DatabaseIsolationError, match="invalid tenant id 'acme'"):
            set_local_tenant(connection, "acme")
        assert connection.execute(
            text("SELECT current_setting('app.tenant_id', true)")
        ).scalar() in (
            None,
            "",
        )


def test_row_security_binds_nobody_until_it_is_enabled(engine, make_tenants):
    make_tenants("acme", "globex")
    with engine.connect() as connection, connection.begin() as transaction:
        for sub in ("acme", "globex"):
            connection.execute(
                text(
                    f"INSERT INTO core.tenant_users {ROWS['tenant_users'].format(t=sub)} "
                    "FROM core.tenants WHERE subdomain = :sub"
                ),
                {"sub": sub},
            )
        owner = _temporary_role(connection, "ALTER TABLE core.tenant_users OWNER TO {role}")
        connection.execute(text(f'SET LOCAL ROLE "{owner}"'))
        assert _count(connection, "tenant_users") == 2  # opt-in: off after migrating
        connection.execute(text("RESET ROLE"))
        enable_row_security(connection)
        connection.execute(text(f'SET LOCAL ROLE "{owner}"'))
        assert _count(connection, "tenant_users") == 0
        connection.execute(text("RESET ROLE"))
        disable_row_security(connection)
        connection.execute(text(f'SET LOCAL ROLE "{owner}"'))
        assert _count(connection, "tenant_users") == 2
        transaction.rollback()
