"""`alembic` and the toolkit migrating core and every tenant schema, on a real database."""

from __future__ import annotations

import re
import subprocess

import pytest
from alembic.script import ScriptDirectory
from conftest import alembic, tenantctl
from sqlalchemy import Engine, text

from toolkit import (
    MigrationFailed,
    OnError,
    downgrade_all,
    make_engine,
    migration_status,
    upgrade_all,
)
from toolkit.exit_codes import EXIT_ABORTED, EXIT_TENANTS_FAILED
from toolkit.migrations.config import alembic_config
from toolkit.migrations.status import Heads, read_versions

HEADS = Heads.from_scripts()
TENANT_TABLES = {
    "canvas_configs",
    "design_images",
    "etsy_product_templates",
    "mockups",
    "orders",
    "size_configs",
    "users",
}
CORE_TABLES = {"tenants", "tenant_api_keys", "tenant_subscriptions", "tenant_usage", "tenant_users"}


# -- helpers ---------------------------------------------------------------------------------


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def _failed_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in _output(result).splitlines() if line.startswith("FAILED:")]


def _tables(engine: Engine, schema: str) -> set[str]:
    with engine.connect() as connection:
        return set(
            connection.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = :schema"),
                {"schema": schema},
            ).scalars()
        )


def _versions(engine: Engine, *schemas: str) -> dict[str, tuple[str, ...]]:
    """Each schema's revisions; () for a schema at base or without a version table."""
    with engine.connect() as connection:
        found = read_versions(connection, list(schemas))
    return {schema: found.get(schema, ()) for schema in schemas}


def _snapshot(engine: Engine) -> tuple[list[tuple[str, str]], dict[str, tuple[str, ...]]]:
    """Every user table and every version row in the database, to prove nothing changed."""
    with engine.connect() as connection:
        tables = connection.execute(
            text(
                "SELECT schemaname, tablename FROM pg_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
            )
        ).all()
        schemas = sorted({schema for schema, table in tables if table == "alembic_version"})
        versions = read_versions(connection, schemas)
    return [tuple(row) for row in tables], versions


def _at_head(engine: Engine, schema: str) -> bool:
    return (
        _versions(engine, schema)[schema] == HEADS.tenant
        and _tables(engine, schema) >= TENANT_TABLES
    )


def _at_base(engine: Engine, schema: str) -> bool:
    return _versions(engine, schema)[schema] == () and not (TENANT_TABLES & _tables(engine, schema))


def _no_traceback(result: subprocess.CompletedProcess[str]) -> bool:
    return "Traceback" not in _output(result)


@pytest.fixture
def tenants_at_base(engine, make_tenants):
    """Tenants a, b and c registered, with their schemas downgraded to base."""
    schemas = make_tenants("a", "b", "c")
    downgrade_all(engine, "tenant@base")
    assert all(_at_base(engine, schema) for schema in schemas)
    return schemas


# -- upgrade heads, downgrade per branch ------------------------------------------------------


def test_upgrade_heads_on_an_empty_database_then_tenant_create_puts_both_at_head(
    blank_url, blank_engine
):
    upgraded = alembic(blank_url, "upgrade", "heads")
    assert upgraded.returncode == 0, _output(upgraded)

    created = tenantctl(blank_url, "tenant", "create", "acme")
    assert created.returncode == 0, _output(created)

    with blank_engine.connect() as connection:
        status = migration_status(connection)
    assert status.core_revisions == HEADS.core
    assert [(v.tenant.database_schema, v.revisions) for v in status.tenants] == [
        ("tenant_acme", HEADS.tenant)
    ]
    assert status.up_to_date
    assert _tables(blank_engine, "core") >= CORE_TABLES
    assert _tables(blank_engine, "tenant_acme") >= TENANT_TABLES


def test_downgrade_tenant_minus_one_moves_every_tenant_back_and_upgrade_heads_restores_them(
    db_url, engine, make_tenants
):
    schemas = make_tenants("acme", "beta", "gamma")
    core_before = _tables(engine, "core")
    (head,) = HEADS.tenant
    previous = ScriptDirectory.from_config(alembic_config()).get_revision(head).down_revision

    down = alembic(db_url, "downgrade", "tenant@-1")

    assert down.returncode == 0, _output(down)
    assert _versions(engine, *schemas) == dict.fromkeys(schemas, (previous,))
    assert _versions(engine, "core")["core"] == HEADS.core
    assert _tables(engine, "core") == core_before
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM core.tenants")).scalar() == 3

    up = alembic(db_url, "upgrade", "heads")

    assert up.returncode == 0, _output(up)
    assert all(_at_head(engine, schema) for schema in schemas)
    with engine.connect() as connection:
        assert migration_status(connection).up_to_date


def test_downgrade_tenant_base_leaves_core_at_head(db_url, engine, make_tenants):
    schemas = make_tenants("acme", "beta")

    result = alembic(db_url, "downgrade", "tenant@base")

    assert result.returncode == 0, _output(result)
    assert all(_at_base(engine, schema) for schema in schemas)
    assert _versions(engine, "core")["core"] == HEADS.core
    assert _tables(engine, "core") >= CORE_TABLES


def test_downgrade_core_to_base_leaves_tenant_schemas_alone(db_url, engine, make_tenants):
    schemas = make_tenants("acme")
    downgrade_all(engine, "tenant@base")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM core.tenants"))
        connection.execute(text('CREATE TABLE "tenant_acme".marker (x int)'))

    result = alembic(db_url, "downgrade", "core@base")

    assert result.returncode == 0, _output(result)
    assert _versions(engine, "core")["core"] == ()
    assert not (CORE_TABLES & _tables(engine, "core"))
    assert _tables(engine, schemas[0]) == {"alembic_version", "marker"}


# -- -x tenant=... ---------------------------------------------------------------------------


def test_x_tenant_by_subdomain_migrates_only_that_tenant(db_url, engine, tenants_at_base):
    a, b, c = tenants_at_base

    result = alembic(db_url, "-x", "tenant=a", "upgrade", "heads")

    assert result.returncode == 0, _output(result)
    assert _at_head(engine, a)
    assert _at_base(engine, b)
    assert _at_base(engine, c)


def test_x_tenant_by_schema_name_migrates_only_that_tenant(db_url, engine, tenants_at_base):
    a, b, c = tenants_at_base

    result = alembic(db_url, "-x", "tenant=tenant_b", "upgrade", "heads")

    assert result.returncode == 0, _output(result)
    assert _at_base(engine, a)
    assert _at_head(engine, b)
    assert _at_base(engine, c)


def test_x_tenant_limits_a_downgrade_to_that_tenant(db_url, engine, make_tenants):
    acme, beta = make_tenants("acme", "beta")

    result = alembic(db_url, "-x", "tenant=acme", "downgrade", "tenant@base")

    assert result.returncode == 0, _output(result)
    assert _at_base(engine, acme)
    assert _at_head(engine, beta)


def test_x_tenant_naming_an_unknown_tenant_fails_in_one_line_and_changes_nothing(
    db_url, engine, tenants_at_base
):
    before = _snapshot(engine)

    result = alembic(db_url, "-x", "tenant=nope", "upgrade", "heads")

    assert result.returncode == 1
    failed = _failed_lines(result)
    assert len(failed) == 1, _output(result)
    assert "nope" in failed[0]
    assert _no_traceback(result)
    assert _snapshot(engine) == before


def test_x_tenant_naming_an_unknown_tenant_does_not_upgrade_core_either(blank_url, blank_engine):
    result = alembic(blank_url, "-x", "tenant=nope", "upgrade", "heads")

    assert result.returncode == 1
    assert _versions(blank_engine, "core")["core"] == ()


def test_bare_relative_downgrade_is_refused_as_ambiguous(db_url, engine, make_tenants):
    make_tenants("acme")
    before = _snapshot(engine)

    result = alembic(db_url, "downgrade", "-1")

    assert result.returncode == 1
    failed = _failed_lines(result)
    assert len(failed) == 1, _output(result)
    assert "ambiguous" in failed[0]
    assert "core@-1" in failed[0]
    assert "tenant@-1" in failed[0]
    assert _no_traceback(result)
    assert _snapshot(engine) == before


# -- one failing tenant -----------------------------------------------------------------------


def _break_tenant_b(engine: Engine) -> None:
    """Make b's upgrade fail: its first revision creates ``users``, which now exists."""
    with engine.begin() as connection:
        connection.execute(text('CREATE TABLE "tenant_b".users (x int)'))


def test_failing_tenant_is_rolled_back_alone_and_on_error_continue_migrates_the_rest(
    db_url, engine, tenants_at_base
):
    a, b, c = tenants_at_base
    _break_tenant_b(engine)

    result = alembic(db_url, "-x", "on_error=continue", "upgrade", "heads")

    assert result.returncode == EXIT_TENANTS_FAILED, _output(result)
    failed = _failed_lines(result)
    assert len(failed) == 1, _output(result)
    assert "tenant_b" in failed[0]
    assert "tenant_a" not in failed[0]
    assert "tenant_c" not in failed[0]
    assert _no_traceback(result)
    assert _at_head(engine, a)
    assert _at_head(engine, c)
    assert _tables(engine, b) == {"alembic_version", "users"}
    assert _versions(engine, b)[b] == ()


def test_failing_tenant_stops_the_run_by_default_before_later_tenants(
    db_url, engine, tenants_at_base
):
    a, b, c = tenants_at_base
    _break_tenant_b(engine)

    result = alembic(db_url, "upgrade", "heads")

    assert result.returncode == EXIT_ABORTED, _output(result)
    assert "tenant_b" in "\n".join(_failed_lines(result)), _output(result)
    assert _at_head(engine, a)
    assert _tables(engine, b) == {"alembic_version", "users"}
    assert _versions(engine, b)[b] == ()
    assert _at_base(engine, c)


@pytest.mark.parametrize("on_error", [OnError.STOP, OnError.CONTINUE])
def test_upgrade_all_raises_migration_failed_naming_the_failed_tenant(
    engine, tenants_at_base, on_error
):
    a, b, c = tenants_at_base
    _break_tenant_b(engine)

    with pytest.raises(MigrationFailed) as raised:
        upgrade_all(engine, on_error=on_error)

    assert [failure.schema for failure in raised.value.failures] == [b]
    assert "users" in raised.value.failures[0].error
    assert "tenant_b" in str(raised.value)
    assert _at_head(engine, a)
    assert _versions(engine, b)[b] == ()
    assert _at_head(engine, c) is (on_error is OnError.CONTINUE)


# -- archived tenants ------------------------------------------------------------------------


def test_upgrade_heads_skips_archived_tenants(db_url, engine, tenants_at_base):
    a, b, c = tenants_at_base
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE core.tenants SET status = 'archived' WHERE subdomain = 'b'")
        )

    result = alembic(db_url, "upgrade", "heads")

    assert result.returncode == 0, _output(result)
    assert _at_head(engine, a)
    assert _at_base(engine, b)
    assert _at_head(engine, c)
    with engine.connect() as connection:
        status = migration_status(connection)
    assert status.tenants_behind == []
    assert status.up_to_date


# -- offline SQL -----------------------------------------------------------------------------


def _blocks(sql: str) -> list[str]:
    """The ``BEGIN; ... COMMIT;`` blocks of a script, in order."""
    return re.findall(r"^BEGIN;$(.*?)^COMMIT;$", sql, flags=re.MULTILINE | re.DOTALL)


def test_upgrade_heads_sql_prints_core_then_one_transaction_per_tenant_and_writes_nothing(
    db_url, engine, make_tenants
):
    make_tenants("acme", "beta")
    downgrade_all(engine, "tenant@-1")
    before = _snapshot(engine)

    result = alembic(db_url, "upgrade", "heads", "--sql")

    assert result.returncode == 0, _output(result)
    core, *tenants = _blocks(result.stdout)
    assert 'CREATE SCHEMA IF NOT EXISTS "core"' in core
    assert "CREATE TABLE core.alembic_version" in core
    assert "INSERT INTO core.alembic_version (version_num) VALUES ('0001core')" in core
    assert f"UPDATE core.alembic_version SET version_num='{HEADS.core[0]}'" in core
    assert "tenant_acme" not in core
    assert len(tenants) == 2
    for block, schema in zip(tenants, ["tenant_acme", "tenant_beta"], strict=True):
        assert block.lstrip().startswith(f'SET LOCAL search_path TO "{schema}";')
        assert f"INSERT INTO {schema}.alembic_version" in block
        assert "CREATE TABLE users" in block
        other = "tenant_beta" if schema == "tenant_acme" else "tenant_acme"
        assert other not in block
    assert result.stdout.index("tenant_acme") < result.stdout.index("tenant_beta")
    assert _snapshot(engine) == before


def test_upgrade_sql_with_x_tenant_needs_no_database():
    result = alembic(None, "-x", "tenant=acme", "upgrade", "heads", "--sql")

    assert result.returncode == 0, _output(result)
    core, *tenants = _blocks(result.stdout)
    assert 'CREATE SCHEMA IF NOT EXISTS "core"' in core
    assert len(tenants) == 1
    assert 'SET LOCAL search_path TO "tenant_acme";' in tenants[0]


def test_upgrade_sql_without_tenants_or_database_url_says_how_to_name_them():
    result = alembic(None, "upgrade", "tenant@head", "--sql")

    assert result.returncode == 1
    failed = _failed_lines(result)
    assert len(failed) == 1, _output(result)
    assert "-x tenant=" in failed[0]
    assert _no_traceback(result)


# -- current ---------------------------------------------------------------------------------


def test_current_lists_core_and_each_tenant_revision(db_url, engine, make_tenants):
    make_tenants("acme", "beta", "gamma")
    downgrade_all(engine, "tenant@base", tenants=["beta"])

    result = alembic(db_url, "current")

    assert result.returncode == 0, _output(result)
    lines = [line.split()[0] for line in result.stdout.splitlines() if line.strip()]
    assert lines.count(HEADS.core[0]) == 1
    assert lines.count(HEADS.tenant[0]) == 2
    assert lines[0] == HEADS.core[0]


# -- connections -----------------------------------------------------------------------------


def test_upgrade_all_leaves_no_search_path_on_pooled_connections(db_url, engine, make_tenants):
    make_tenants("acme", "beta")
    pooled = make_engine(db_url, pool_size=1, max_overflow=0)
    try:
        with pooled.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar()
            server_default = connection.execute(
                text("SELECT reset_val FROM pg_settings WHERE name = 'search_path'")
            ).scalar()
        downgrade_all(pooled, "tenant@base")
        upgrade_all(pooled)

        with pooled.connect() as connection:
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar() == pid
            search_path = connection.execute(text("SHOW search_path")).scalar()
    finally:
        pooled.dispose()

    assert search_path == server_default == '"$user", public'
    assert _at_head(engine, "tenant_acme")


def test_unreachable_database_fails_in_one_line_with_the_password_masked():
    result = alembic("postgresql+psycopg://u:secret@127.0.0.1:1/x", "upgrade", "heads")

    assert result.returncode == 1
    failed = _failed_lines(result)
    assert len(failed) == 1, _output(result)
    assert "u:***@" in failed[0]
    assert "secret" not in _output(result)
    assert _no_traceback(result)


# -- downgrade of both branches --------------------------------------------------------------


def test_downgrade_base_downgrades_tenants_and_core(db_url, engine, make_tenants):
    (schema,) = make_tenants("acme")

    result = alembic(db_url, "downgrade", "base")

    assert result.returncode == 0, _output(result)
    assert _at_base(engine, schema)
    assert _versions(engine, "core")["core"] == ()
