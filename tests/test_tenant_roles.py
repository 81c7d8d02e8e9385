"""What the database enforces for a tenant role (SET ROLE as it): its schema and its own core
rows, nothing of any other tenant, nothing in public. Each test includes the case that works."""

from __future__ import annotations

import psycopg.errors
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from tenant_role_helpers import acting_as, add_admin, emails, tenant_id

from toolkit import MigrationFailed, downgrade_all, make_engine, upgrade_all
from toolkit.isolation import disable_tenant_roles, enable_tenant_roles
from toolkit.row_security import set_local_role, set_local_tenant
from toolkit.tenant_roles import isolation_config


@pytest.fixture
def two_tenants(engine, make_tenants, roles_enabled):
    """acme and globex, created with tenant roles on, one admin row each; their roles."""
    make_tenants("acme", "globex")
    add_admin(engine, "acme", "ann@acme.test")
    add_admin(engine, "globex", "gus@globex.test")
    return {sub: f"{roles_enabled}_tenant_{sub}" for sub in ("acme", "globex")}


def _denied(exc_info) -> bool:
    return isinstance(exc_info.value.orig, psycopg.errors.InsufficientPrivilege)


def test_tenant_role_does_its_normal_work_in_its_own_schema(engine, two_tenants):
    with acting_as(engine, two_tenants["acme"]) as connection:
        user_id = connection.execute(
            text("INSERT INTO tenant_acme.users (email) VALUES ('d@acme.test') RETURNING id")
        ).scalar_one()
        connection.execute(
            text("UPDATE tenant_acme.users SET full_name = 'Dee' WHERE id = :id"), {"id": user_id}
        )
        assert connection.execute(text("SELECT full_name FROM tenant_acme.users")).all() == [
            ("Dee",)
        ]
        connection.execute(text("DELETE FROM tenant_acme.users WHERE id = :id"), {"id": user_id})
        assert connection.execute(text("SELECT count(*) FROM tenant_acme.users")).scalar() == 0
        assert connection.execute(text("SELECT current_user")).scalar() == two_tenants["acme"]


def test_tenant_role_counts_its_usage_and_manages_its_admins_but_not_its_billing(
    engine, two_tenants
):
    acme = tenant_id(engine, "acme")
    count = text(
        "INSERT INTO core.tenant_usage (tenant_id, metric, period_start) "
        "VALUES (:t, 'mockups', current_date) ON CONFLICT (tenant_id, metric, period_start) "
        "DO UPDATE SET quantity = core.tenant_usage.quantity + 1 RETURNING quantity"
    )
    with acting_as(engine, two_tenants["acme"], acme) as connection:
        assert connection.execute(count, {"t": acme}).scalar() == 0
        assert connection.execute(count, {"t": acme}).scalar() == 1
        logged_in = connection.execute(
            text("UPDATE core.tenant_users SET last_login_at = now() WHERE email = :e"),
            {"e": "ann@acme.test"},
        )
        assert logged_in.rowcount == 1
        assert (
            connection.execute(text("SELECT count(*) FROM core.tenant_subscriptions")).scalar() == 0
        )
        with pytest.raises(ProgrammingError) as billing:
            connection.execute(
                text(
                    "INSERT INTO core.tenant_subscriptions (tenant_id, plan, status, "
                    "current_period_start, current_period_end) "
                    "VALUES (:t, 'pro', 'active', now(), now())"
                ),
                {"t": acme},
            )
    assert _denied(billing)


def test_tenant_role_cannot_read_another_tenants_schema(engine, two_tenants):
    with acting_as(engine, two_tenants["acme"]) as connection:
        assert connection.execute(text("SELECT count(*) FROM tenant_acme.orders")).scalar() == 0
        with pytest.raises(ProgrammingError) as denied:
            connection.execute(text("SELECT count(*) FROM tenant_globex.orders"))
    assert _denied(denied)
    assert "permission denied for schema tenant_globex" in str(denied.value)


def test_tenant_role_cannot_change_its_schema_or_its_version_table(engine, two_tenants):
    acme = two_tenants["acme"]
    with acting_as(engine, acme) as connection, pytest.raises(ProgrammingError) as create:
        connection.execute(text("CREATE TABLE tenant_acme.sneaky (id int)"))
    with acting_as(engine, acme) as connection, pytest.raises(ProgrammingError) as version:
        connection.execute(text("SELECT * FROM tenant_acme.alembic_version"))
    assert _denied(create)
    assert _denied(version)
    with engine.connect() as connection:  # the owner can do both: the refusals are the role's
        assert connection.execute(text("SELECT count(*) FROM tenant_acme.alembic_version")).scalar()


def test_tables_a_later_migration_adds_are_usable_by_the_tenant_role(engine, two_tenants):
    with engine.begin() as connection:  # as the schema's owner, as a migration would
        connection.execute(text("CREATE TABLE tenant_acme.widgets (id serial PRIMARY KEY)"))
    with acting_as(engine, two_tenants["acme"]) as connection:
        connection.execute(text("INSERT INTO tenant_acme.widgets DEFAULT VALUES"))
        assert connection.execute(text("SELECT count(*) FROM tenant_acme.widgets")).scalar() == 1
    with acting_as(engine, two_tenants["globex"]) as connection, pytest.raises(ProgrammingError):
        connection.execute(text("SELECT count(*) FROM tenant_acme.widgets"))


def test_tenant_role_sees_only_its_own_core_rows(engine, two_tenants):
    with engine.connect() as connection:  # the superuser (the toolkit) sees both tenants
        assert emails(connection) == ["ann@acme.test", "gus@globex.test"]
    with acting_as(engine, two_tenants["acme"], tenant_id(engine, "acme")) as connection:
        assert emails(connection) == ["ann@acme.test"]
    with acting_as(engine, two_tenants["globex"], tenant_id(engine, "globex")) as connection:
        assert emails(connection) == ["gus@globex.test"]


@pytest.mark.parametrize("setting", [None, ""])
def test_tenant_role_sees_no_core_rows_without_app_tenant_id(engine, two_tenants, setting):
    with acting_as(engine, two_tenants["acme"], tenant_id(engine, "acme")) as connection:
        assert emails(connection) == ["ann@acme.test"]
    with engine.connect() as connection, connection.begin():
        if setting is not None:
            connection.execute(text("SELECT set_config('app.tenant_id', :v, true)"), {"v": setting})
        set_local_role(connection, two_tenants["acme"])
        assert emails(connection) == []
        assert connection.execute(text("SELECT count(*) FROM core.tenant_usage")).scalar() == 0


def test_tenant_role_sees_nothing_with_another_tenants_id(engine, two_tenants, role_prefix):
    globex = tenant_id(engine, "globex")
    with engine.begin() as connection:  # a plain role under RLS: the setting alone decides
        connection.execute(text(f'CREATE ROLE "{role_prefix}_plain" NOLOGIN'))
        connection.execute(text(f'GRANT USAGE ON SCHEMA core TO "{role_prefix}_plain"'))
        connection.execute(text(f'GRANT SELECT ON core.tenant_users TO "{role_prefix}_plain"'))
    with acting_as(engine, f"{role_prefix}_plain", globex) as connection:
        assert emails(connection) == ["gus@globex.test"]
    with acting_as(engine, two_tenants["acme"], globex) as connection:
        assert emails(connection) == []


def test_tenant_role_cannot_write_core_rows_of_another_tenant(engine, two_tenants):
    acme, globex = tenant_id(engine, "acme"), tenant_id(engine, "globex")
    insert = text(
        "INSERT INTO core.tenant_users (tenant_id, email, password_hash) VALUES (:t, :e, 'h')"
    )
    with acting_as(engine, two_tenants["acme"], acme) as connection:
        connection.execute(insert, {"t": acme, "e": "new@acme.test"})
        assert "new@acme.test" in emails(connection)
        with pytest.raises(ProgrammingError, match="row-level security policy"):
            connection.execute(insert, {"t": globex, "e": "evil@globex.test"})
    with acting_as(engine, two_tenants["acme"], acme) as connection:
        updated = connection.execute(
            text("UPDATE core.tenant_users SET email = 'x@x.test' WHERE tenant_id = :t"),
            {"t": globex},
        )
        assert updated.rowcount == 0


def test_tenant_role_cannot_create_objects_in_public(engine, two_tenants, roles_enabled):
    with engine.begin() as connection:  # a database from before PostgreSQL 15 allows it
        connection.execute(text("GRANT CREATE ON SCHEMA public TO PUBLIC"))
    with acting_as(engine, two_tenants["acme"]) as connection:
        connection.execute(text("CREATE TABLE public.planted (id int)"))  # the hole is real
    enable_tenant_roles(engine)  # idempotent: closes it again
    acme = two_tenants["acme"]
    with acting_as(engine, acme) as connection, pytest.raises(ProgrammingError) as denied:
        connection.execute(text("CREATE TABLE public.planted (id int)"))
    assert _denied(denied)


def test_an_app_login_role_reaches_a_tenant_only_through_set_local_role(
    engine, make_tenants, role_prefix, db_url
):
    app_role = f"{role_prefix}_app"
    with engine.begin() as connection:
        connection.execute(text(f'CREATE ROLE "{app_role}" LOGIN NOINHERIT'))
    enable_tenant_roles(engine, role_prefix=role_prefix, app_role=app_role)
    make_tenants("acme", "globex")  # created after enable: their roles are granted to the app
    add_admin(engine, "acme", "ann@acme.test")
    acme = tenant_id(engine, "acme")
    app_engine = make_engine(db_url.set(username=app_role))
    try:
        with app_engine.connect() as connection:
            with connection.begin():
                set_local_tenant(connection, acme)
                set_local_role(connection, f"{role_prefix}_tenant_acme")
                assert emails(connection) == ["ann@acme.test"]
                connection.execute(text("SELECT count(*) FROM tenant_acme.users"))
            # SET LOCAL ended with the transaction: back to the app role, no tenant set.
            assert connection.execute(
                text("SELECT current_user, current_setting('app.tenant_id', true)")
            ).one() == (app_role, "")
            connection.rollback()
            with pytest.raises(ProgrammingError) as denied:
                connection.execute(text("SELECT count(*) FROM tenant_acme.users"))
            assert _denied(denied)
            connection.rollback()
            with pytest.raises(ProgrammingError, match="permission denied to set role"):
                connection.execute(text("SET ROLE postgres"))
    finally:
        app_engine.dispose()


def test_downgrade_of_the_revision_is_refused_while_tenant_roles_exist(engine, two_tenants):
    below = "0005core"  # the revision before 0006core
    with pytest.raises((MigrationFailed, DBAPIError)):
        downgrade_all(engine, below)
    with engine.connect() as connection:
        assert isolation_config(connection) is not None
    disable_tenant_roles(engine)
    downgrade_all(engine, below)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT to_regclass('core.tenant_roles')")).scalar() is None
    upgrade_all(engine)
