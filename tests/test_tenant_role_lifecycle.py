"""Tenant roles follow their tenants: created with them once enabled, renamed, dropped; and
`tenantctl security` enables, reports and disables them for a whole database."""

from __future__ import annotations

import json

import pytest
from cli_runner import tenantctl
from sqlalchemy import text
from tenant_role_helpers import acting_as, role_exists, role_of

from toolkit import (
    backup_tenant,
    clone_tenant,
    drop_tenant,
    make_engine,
    rename_tenant,
    restore_tenant,
)
from toolkit.errors import DatabaseIsolationError, InvalidOption
from toolkit.exit_codes import EXIT_CHECK_FAILED, EXIT_USAGE
from toolkit.isolation import disable_tenant_roles, enable_tenant_roles, isolation_status


def test_no_role_is_created_while_tenant_roles_are_disabled(engine, make_tenants, role_prefix):
    make_tenants("acme")
    assert role_of(engine, "acme") is None
    with engine.connect() as connection:
        status = isolation_status(connection)
    assert not status.enabled
    assert status.tenants_without_role == ("acme",)
    assert status.problems == ()  # disabled: a tenant without a role is no problem


def test_enable_gives_existing_tenants_roles_and_create_gives_new_ones(
    engine, make_tenants, role_prefix
):
    make_tenants("acme")
    status = enable_tenant_roles(engine, role_prefix=role_prefix)
    make_tenants("globex")
    assert role_of(engine, "acme") == f"{role_prefix}_tenant_acme"
    assert role_of(engine, "globex") == f"{role_prefix}_tenant_globex"
    with engine.connect() as connection:
        attributes = connection.execute(
            text(
                "SELECT rolcanlogin, rolsuper, rolinherit, rolbypassrls, rolcreaterole "
                "FROM pg_roles WHERE rolname = :r"
            ),
            {"r": f"{role_prefix}_tenant_globex"},
        ).one()
        status = isolation_status(connection)
    assert tuple(attributes) == (False, False, False, False, False)
    assert status.enabled
    assert status.public_create_revoked
    assert status.tenant_roles == {
        "acme": f"{role_prefix}_tenant_acme",
        "globex": f"{role_prefix}_tenant_globex",
    }
    assert status.problems == ()


def test_enable_twice_changes_nothing_and_a_new_prefix_is_refused(
    engine, make_tenants, roles_enabled
):
    make_tenants("acme")
    again = enable_tenant_roles(engine)
    assert again.tenant_roles == {"acme": f"{roles_enabled}_tenant_acme"}
    with pytest.raises(DatabaseIsolationError, match="disable --yes` first"):
        enable_tenant_roles(engine, role_prefix="other")


def test_drop_takes_the_tenants_role_with_it(engine, make_tenants, roles_enabled):
    make_tenants("acme", "globex")
    role = f"{roles_enabled}_tenant_acme"
    assert role_exists(engine, role)
    drop_tenant(engine, "acme", backup=False)
    assert not role_exists(engine, role)
    assert role_exists(engine, f"{roles_enabled}_tenant_globex")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM core.tenant_roles")).scalar() == 1


def test_rename_renames_the_role_and_it_keeps_working(engine, make_tenants, roles_enabled):
    make_tenants("acme")
    rename_tenant(engine, "acme", "acme-shop")
    new_role = f"{roles_enabled}_tenant_acme_shop"
    assert role_of(engine, "acme-shop") == new_role
    assert not role_exists(engine, f"{roles_enabled}_tenant_acme")
    with acting_as(engine, new_role) as connection:
        assert connection.execute(text("SELECT count(*) FROM tenant_acme_shop.users")).scalar() == 0


def test_a_role_of_that_name_owned_by_no_tenant_here_is_not_taken_over(
    engine, make_tenants, roles_enabled
):
    with engine.begin() as connection:  # as another database's tenant role would be
        connection.execute(text(f'CREATE ROLE "{roles_enabled}_tenant_acme" NOLOGIN'))
    with pytest.raises(DatabaseIsolationError, match="does not list it"):
        make_tenants("acme")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM core.tenants")).scalar() == 0


def test_an_app_role_that_inherits_is_refused(engine, role_prefix):
    with engine.begin() as connection:
        connection.execute(text(f'CREATE ROLE "{role_prefix}_app" LOGIN INHERIT'))
    with pytest.raises(DatabaseIsolationError, match="is INHERIT"):
        enable_tenant_roles(engine, role_prefix=role_prefix, app_role=f"{role_prefix}_app")
    with pytest.raises(DatabaseIsolationError, match="does not exist"):
        enable_tenant_roles(engine, role_prefix=role_prefix, app_role=f"{role_prefix}_nobody")
    with pytest.raises(InvalidOption, match="role prefix"):
        enable_tenant_roles(engine, role_prefix="Bad-Prefix")
    with engine.connect() as connection:
        assert not isolation_status(connection).enabled


def test_enable_refuses_a_role_that_may_not_manage_roles(db_url, engine, role_prefix):
    weak = f"{role_prefix}_weak"
    with engine.begin() as connection:
        connection.execute(text(f'CREATE ROLE "{weak}" LOGIN'))
        connection.execute(text(f'GRANT USAGE ON SCHEMA core TO "{weak}"'))
        connection.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA core TO "{weak}"'))
    weak_engine = make_engine(db_url.set(username=weak))
    try:
        with pytest.raises(DatabaseIsolationError, match=f"role {weak} may not manage"):
            enable_tenant_roles(weak_engine, role_prefix=role_prefix)
    finally:
        weak_engine.dispose()
    with engine.connect() as connection:
        assert not isolation_status(connection).enabled


def test_disable_drops_every_tenant_role(engine, make_tenants, roles_enabled):
    make_tenants("acme", "globex")
    dropped = disable_tenant_roles(engine)
    assert sorted(dropped) == [f"{roles_enabled}_tenant_acme", f"{roles_enabled}_tenant_globex"]
    assert not any(role_exists(engine, role) for role in dropped)
    make_tenants("initech")
    assert role_of(engine, "initech") is None


def test_security_commands_enable_report_and_disable(db_url, engine, make_tenants, role_prefix):
    make_tenants("acme")
    enabled = tenantctl(db_url, "security", "enable", "--role-prefix", role_prefix, "--json")
    assert enabled.returncode == 0, enabled.stderr
    assert json.loads(enabled.stdout)["tenant_roles"] == {"acme": f"{role_prefix}_tenant_acme"}

    with engine.begin() as connection:  # a role lost behind the toolkit's back
        connection.execute(text(f'DROP OWNED BY "{role_prefix}_tenant_acme"'))
        connection.execute(text(f'DROP ROLE "{role_prefix}_tenant_acme"'))
    status = tenantctl(db_url, "security", "status")
    assert status.returncode == EXIT_CHECK_FAILED
    assert f"role {role_prefix}_tenant_acme is registered but does not exist" in status.stderr
    assert "Traceback" not in status.stderr

    repaired = tenantctl(db_url, "security", "enable")
    assert repaired.returncode == 0, repaired.stderr
    assert role_exists(engine, f"{role_prefix}_tenant_acme")

    refused = tenantctl(db_url, "security", "disable")
    assert refused.returncode == EXIT_USAGE
    disabled = tenantctl(db_url, "security", "disable", "--yes", "--json")
    assert disabled.returncode == 0, disabled.stderr
    assert json.loads(disabled.stdout) == {"dropped_roles": [f"{role_prefix}_tenant_acme"]}


def test_security_enable_with_a_bad_prefix_prints_one_line(db_url):
    result = tenantctl(db_url, "security", "enable", "--role-prefix", "PG-x")
    assert result.returncode == EXIT_USAGE
    assert result.stderr.strip().splitlines() == [
        "error: invalid role prefix 'PG-x'; use 1-20 lowercase letters, digits or underscores, "
        "starting with a letter and not with 'pg', e.g. 'shop_prod'"
    ]


def test_backup_restore_and_clone_give_each_copy_its_own_role_only(
    engine, make_tenants, roles_enabled, tmp_path
):
    make_tenants("acme")
    backup_tenant(engine, "acme", tmp_path / "acme.tar")
    restore_tenant(engine, tmp_path / "acme.tar", as_subdomain="acme-copy")
    clone_tenant(engine, "acme", "acme-clone", with_data=True)
    acme = f"{roles_enabled}_tenant_acme"
    for sub, schema in (("acme-copy", "tenant_acme_copy"), ("acme-clone", "tenant_acme_clone")):
        role = role_of(engine, sub)
        assert role == f"{roles_enabled}_{schema}"
        with acting_as(engine, role) as connection:
            assert connection.execute(text(f"SELECT count(*) FROM {schema}.users")).scalar() == 0
        with engine.connect() as connection:  # the source's role got nothing on the copy
            granted = connection.execute(
                text(
                    "SELECT count(*) FROM pg_class c, aclexplode(c.relacl) a "
                    "WHERE c.relnamespace = CAST(:s AS regnamespace) "
                    "AND a.grantee = CAST(:r AS regrole)"
                ),
                {"s": schema, "r": acme},
            ).scalar()
        assert granted == 0
