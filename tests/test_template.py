"""The tenant template: the fast path builds the same schema as replaying history, and
``core.create_tenant_schema()`` is usable (and refuses bad input) from plain SQL."""

import psycopg
import pytest
from catalog import catalog_of
from cli_runner import alembic
from registry_rows import register_unmigrated_tenant
from scratch_scripts import add_tenant_revision
from sqlalchemy import text

from toolkit import create_tenant, upgrade_all
from toolkit.migrations.config import project_scripts
from toolkit.migrations.status import Heads
from toolkit.template import ensure_template, render_template, template_revisions


def _tenant_by_history(engine, subdomain):
    """A tenant registered by hand and migrated revision by revision from base by the runner."""
    schema = register_unmigrated_tenant(engine, subdomain)
    upgrade_all(engine, tenants=[subdomain])
    return schema


def test_fast_path_and_history_build_identical_catalogs(engine):
    fast = create_tenant(engine, "fast").database_schema
    slow = _tenant_by_history(engine, "slow")
    with engine.connect() as connection:
        fast_catalog = catalog_of(connection, fast)
        slow_catalog = catalog_of(connection, slow)
    assert fast_catalog["tables"], "the catalog query found no tables"
    assert fast_catalog["triggers"], "the catalog query found no triggers"
    assert fast_catalog == slow_catalog


def test_template_stands_for_the_tenant_head(engine):
    with engine.connect() as connection:
        assert template_revisions(connection) == Heads.from_scripts().tenant


def _sql(db_url, statement, *params):
    with psycopg.connect(db_url.set(drivername="postgresql").render_as_string(False)) as conn:
        return conn.execute(statement, params).fetchall()


def _registered(db_url, subdomain, schema=None):
    (row,) = _sql(
        db_url,
        "INSERT INTO core.tenants (subdomain, company_name, database_schema) "
        "VALUES (%s, %s, %s) RETURNING id",
        subdomain,
        subdomain,
        schema or f"tenant_{subdomain}",
    )
    return row[0]


def test_a_dba_provisions_from_psql_with_create_tenant_schema(engine, db_url):
    tenant_id = _registered(db_url, "newcompany")
    assert _sql(db_url, "SELECT core.create_tenant_schema(%s, 'tenant_newcompany')", tenant_id)
    by_cli = create_tenant(engine, "bycli").database_schema
    with engine.connect() as connection:
        status = connection.execute(
            text("SELECT status FROM core.tenants WHERE subdomain = 'newcompany'")
        ).scalar()
        version = connection.execute(
            text("SELECT version_num FROM tenant_newcompany.alembic_version")
        ).scalars()
        assert (status, tuple(version)) == ("active", Heads.from_scripts().tenant)
        assert catalog_of(connection, "tenant_newcompany") == catalog_of(connection, by_cli)


@pytest.mark.parametrize(
    ("call", "sqlstate", "message"),
    [
        ("unknown", "P0002", "unknown tenant id"),
        ("bad_name", "3F000", "invalid tenant schema name 'Tenant X'"),
        ("other_schema", "22023", "is registered with schema tenant_acme2, not tenant_acme"),
        ("exists", "42P06", "schema tenant_acme already exists"),
    ],
)
def test_create_tenant_schema_refuses_bad_arguments_and_changes_nothing(
    engine, db_url, call, sqlstate, message
):
    create_tenant(engine, "acme")
    other = _registered(db_url, "acme2")
    existing = _sql(db_url, "SELECT id FROM core.tenants WHERE subdomain = 'acme'")[0][0]
    arguments = {
        "unknown": ("00000000-0000-0000-0000-000000000000", "tenant_nobody"),
        "bad_name": (other, "Tenant X"),
        "other_schema": (other, "tenant_acme"),
        "exists": (existing, "tenant_acme"),
    }[call]
    before = _sql(db_url, "SELECT nspname FROM pg_namespace ORDER BY 1")
    with pytest.raises(psycopg.Error) as raised:
        _sql(db_url, "SELECT core.create_tenant_schema(%s, %s)", *arguments)
    assert raised.value.sqlstate == sqlstate
    assert message in str(raised.value)
    assert raised.value.diag.message_hint  # every refusal says what to do
    assert _sql(db_url, "SELECT nspname FROM pg_namespace ORDER BY 1") == before
    assert _sql(db_url, "SELECT status FROM core.tenants WHERE id = %s", other) == [
        ("provisioning",)
    ]


def test_every_tenant_upgrade_refreshes_the_template(db_url, engine, scratch_ini):
    create_tenant(engine, "acme")
    add_tenant_revision(
        scratch_ini,
        "r_gift",
        'op.add_column("orders", sa.Column("gift_note", sa.Text(), nullable=True))\n'
        'op.create_index("ix_orders_gift_note", "orders", ["gift_note"])',
        'op.drop_index("ix_orders_gift_note", table_name="orders")\n'
        'op.drop_column("orders", "gift_note")',
    )
    result = alembic(db_url, "upgrade", "heads", ini=scratch_ini)
    assert result.returncode == 0, result.stderr
    with engine.connect() as connection:
        assert template_revisions(connection) == ("r_gift",)
    tenant_id = _registered(db_url, "later")
    _sql(db_url, "SELECT core.create_tenant_schema(%s, 'tenant_later')", tenant_id)
    with engine.connect() as connection:
        assert catalog_of(connection, "tenant_later") == catalog_of(connection, "tenant_acme")
        assert "gift_note" in {
            column[1] for column in catalog_of(connection, "tenant_later")["columns"]
        }


def _upgrade_with(db_url, scratch_ini, revision, body, **flags):
    add_tenant_revision(scratch_ini, revision, body, **flags)
    result = alembic(db_url, "upgrade", "heads", ini=scratch_ini)
    assert result.returncode == 0, result.stderr


def test_a_data_only_revision_is_left_out_of_the_template(db_url, engine, scratch_ini):
    create_tenant(engine, "acme")
    _upgrade_with(
        db_url,
        scratch_ini,
        "r_data",
        'op.execute("UPDATE orders SET currency = upper(currency)")',
        render_as_sql=False,
        data_only=True,
    )
    with engine.connect() as connection:
        assert template_revisions(connection) == ("r_data",)
    tenant_id = _registered(db_url, "later")
    _sql(db_url, "SELECT core.create_tenant_schema(%s, 'tenant_later')", tenant_id)
    with engine.connect() as connection:
        assert catalog_of(connection, "tenant_later") == catalog_of(connection, "tenant_acme")


def test_an_unrenderable_revision_removes_the_template_and_create_uses_alembic(
    db_url, engine, scratch_ini, monkeypatch
):
    create_tenant(engine, "acme")
    _upgrade_with(
        db_url,
        scratch_ini,
        "r_python",
        'op.add_column("orders", sa.Column("py_note", sa.Text(), nullable=True))',
        render_as_sql=False,
    )
    with engine.connect() as connection:
        assert template_revisions(connection) is None
    tenant_id = _registered(db_url, "later")
    with pytest.raises(psycopg.Error, match="no tenant template") as raised:
        _sql(db_url, "SELECT core.create_tenant_schema(%s, 'tenant_later')", tenant_id)
    assert "tenantctl tenant create" in raised.value.diag.message_hint
    monkeypatch.setenv("TENANTCTL_ALEMBIC_INI", str(scratch_ini))
    by_alembic = create_tenant(engine, "slowpath")
    with engine.connect() as connection:
        assert catalog_of(connection, by_alembic.database_schema) == catalog_of(
            connection, "tenant_acme"
        )


def test_a_template_from_newer_code_is_not_replaced_by_older_code(engine):
    with engine.begin() as connection:
        connection.execute(text("UPDATE core.tenant_template SET revisions = '{from_the_future}'"))
    script = project_scripts()
    assert not ensure_template(engine, script, Heads.from_scripts(script).tenant)
    with engine.connect() as connection:
        assert template_revisions(connection) == ("from_the_future",)


def test_sql_that_ends_the_transaction_is_never_rendered(scratch_ini):
    add_tenant_revision(
        scratch_ini,
        "r_concurrently",
        "with op.get_context().autocommit_block():\n"
        '    op.create_index("ix_orders_currency", "orders", ["currency"], '
        "postgresql_concurrently=True)",
    )
    assert render_template(_scripts(scratch_ini)) is None


def _scripts(ini):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(Config(str(ini)))
