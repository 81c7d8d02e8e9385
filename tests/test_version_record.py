"""core.tenant_versions: the trigger keeps each tenant's record equal to its version table,
and readers fall back to the table wherever there is no record to trust."""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from scratch_scripts import add_tenant_revision
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from toolkit import MigrationFailed, OnError, downgrade_all, drop_tenant, rename_tenant, upgrade_all
from toolkit.migrations.config import alembic_config
from toolkit.migrations.status import Heads, migration_status, read_versions
from toolkit.migrations.version_checks import core_functions_usable

HEADS = Heads.from_scripts()
PREVIOUS = ScriptDirectory.from_config(alembic_config()).get_revision(HEADS.tenant[0]).down_revision


def _records(engine) -> dict[str, tuple[str, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT t.subdomain, v.revisions FROM core.tenant_versions v "
                "JOIN core.tenants t ON t.id = v.tenant_id"
            )
        )
        return {subdomain: tuple(sorted(revisions)) for subdomain, revisions in rows}


def _table_versions(engine, schemas) -> dict[str, tuple[str, ...]]:
    with engine.connect() as connection:
        return read_versions(connection, schemas)


def _status_versions(engine) -> dict[str, tuple[str, ...]]:
    with engine.connect() as connection:
        report = migration_status(connection, HEADS)
    return {version.tenant.subdomain: version.revisions for version in report.tenants}


def test_a_new_tenant_is_recorded_at_head(engine, make_tenants):
    make_tenants("acme", "globex")

    assert _records(engine) == {"acme": HEADS.tenant, "globex": HEADS.tenant}


def test_every_move_of_the_version_table_is_recorded(engine, make_tenants):
    schemas = make_tenants("acme", "globex")

    downgrade_all(engine, "tenant@-1", tenants=["acme"])
    upgrade_all(engine, tenants=["acme"])
    with engine.begin() as connection:  # a stamp by hand is a change of the table too
        connection.execute(text("UPDATE tenant_globex.alembic_version SET version_num = 'x1'"))

    assert _records(engine) == {"acme": HEADS.tenant, "globex": ("x1",)}
    assert _table_versions(engine, schemas) == {
        "tenant_acme": HEADS.tenant,
        "tenant_globex": ("x1",),
    }


def test_below_the_trigger_revision_the_record_is_removed_and_the_table_read(engine, make_tenants):
    make_tenants("acme", "globex")

    downgrade_all(engine, "0001tenant", tenants=["acme"])

    assert "acme" not in _records(engine)
    assert _status_versions(engine) == {"acme": ("0001tenant",), "globex": HEADS.tenant}


def test_a_rollout_keeps_records_but_never_creates_one(
    engine, make_tenants, scratch_ini, monkeypatch
):
    """A tenant without a record (restored from a backup, say) stays without: its table,
    which nothing would keep the record in step with outside a rollout, stays the truth."""
    schemas = make_tenants("acme", "globex")
    add_tenant_revision(
        scratch_ini,
        "r_note",
        'op.add_column("orders", sa.Column("note", sa.Text()))',
        'op.drop_column("orders", "note")',
    )
    monkeypatch.setenv("TENANTCTL_ALEMBIC_INI", str(scratch_ini))
    with engine.begin() as connection:
        connection.execute(
            text(
                "DELETE FROM core.tenant_versions WHERE tenant_id ="
                " (SELECT id FROM core.tenants WHERE subdomain = 'globex')"
            )
        )

    upgrade_all(engine)

    assert _records(engine) == {"acme": ("r_note",)}
    assert _status_versions(engine) == {"acme": ("r_note",), "globex": ("r_note",)}
    downgrade_all(engine, "tenant@-1")
    assert _records(engine) == {"acme": HEADS.tenant}
    assert _table_versions(engine, schemas) == {schema: HEADS.tenant for schema in schemas}


def test_status_reads_the_record_and_the_table_only_where_there_is_none(engine, make_tenants):
    make_tenants("acme", "globex", "initech")
    with engine.begin() as connection:
        # Make record and table disagree on purpose, so the test shows which one is read.
        connection.execute(
            text(
                "UPDATE core.tenant_versions SET revisions = '{recorded}' WHERE tenant_id = "
                "(SELECT id FROM core.tenants WHERE subdomain = 'acme')"
            )
        )
        connection.execute(
            text(
                "DELETE FROM core.tenant_versions WHERE tenant_id = "
                "(SELECT id FROM core.tenants WHERE subdomain = 'globex')"
            )
        )
        connection.execute(text("DROP TABLE tenant_initech.alembic_version"))

    assert _status_versions(engine) == {
        "acme": ("recorded",),
        "globex": HEADS.tenant,  # no record: its own table
        "initech": (),  # no version table: nothing, whatever the record says
    }
    # Readers that must be exact never take the record.
    assert _table_versions(engine, ["tenant_acme"]) == {"tenant_acme": HEADS.tenant}


def test_a_stale_record_fails_one_run_then_heals(engine, make_tenants):
    schemas = make_tenants("acme", "globex")
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE tenant_acme.alembic_version DISABLE TRIGGER ALL"))
        connection.execute(text("UPDATE tenant_acme.alembic_version SET version_num = 'x1'"))
        connection.execute(text("ALTER TABLE tenant_acme.alembic_version ENABLE TRIGGER ALL"))
    assert _records(engine)["acme"] == HEADS.tenant  # stale: the table says x1

    with pytest.raises(MigrationFailed) as failed:
        downgrade_all(
            engine, "tenant@-1", on_error=OnError.CONTINUE
        )  # planned from the record: head -> the revision before

    assert [failure.schema for failure in failed.value.failures] == ["tenant_acme"]
    assert "is at x1, not" in failed.value.failures[0].error
    assert _records(engine)["acme"] == ("x1",)  # the failure rewrote the record
    assert _table_versions(engine, schemas) == {
        "tenant_acme": ("x1",),
        "tenant_globex": (PREVIOUS,),
    }


def test_rename_keeps_the_record_and_drop_removes_it(engine, make_tenants):
    make_tenants("acme", "globex")

    rename_tenant(engine, "acme", "acme-two")
    with engine.begin() as connection:
        connection.execute(text("UPDATE tenant_acme_two.alembic_version SET version_num = 'x2'"))
    drop_tenant(engine, "globex", backup=False)

    assert _records(engine) == {"acme-two": ("x2",)}


def test_a_schema_no_tenant_owns_records_nothing(engine, make_tenants):
    make_tenants("acme")
    with engine.begin() as connection:
        connection.execute(text("CREATE SCHEMA scratch"))
        connection.execute(text("CREATE TABLE scratch.alembic_version (version_num text)"))
        connection.execute(
            text(
                "CREATE TRIGGER record_tenant_version AFTER INSERT ON scratch.alembic_version "
                "FOR EACH STATEMENT EXECUTE FUNCTION core.record_tenant_version()"
            )
        )
        connection.execute(text("INSERT INTO scratch.alembic_version VALUES ('x')"))

    assert _records(engine) == {"acme": HEADS.tenant}


# A trigger function that fails whenever it runs: shows whether a change fired the trigger.
FAILING_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION core.record_tenant_version() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $function$
BEGIN
    RAISE EXCEPTION 'the version trigger fired';
END
$function$
"""


@pytest.mark.parametrize("render_as_sql", [True, False], ids=["rendered", "alembic"])
def test_a_rollout_writes_the_record_itself_and_never_fires_the_trigger(
    engine, make_tenants, scratch_ini, monkeypatch, render_as_sql
):
    make_tenants("acme", "globex")
    add_tenant_revision(
        scratch_ini,
        "r_note",
        'op.add_column("orders", sa.Column("note", sa.Text()))',
        'op.drop_column("orders", "note")',
        render_as_sql=render_as_sql,
    )
    monkeypatch.setenv("TENANTCTL_ALEMBIC_INI", str(scratch_ini))
    with engine.begin() as connection:
        connection.execute(text(FAILING_TRIGGER_FUNCTION))

    upgrade_all(engine)  # any firing of the trigger would fail the tenant
    downgrade_all(engine, "tenant@-1", tenants=["globex"])

    assert _records(engine) == {"acme": ("r_note",), "globex": HEADS.tenant}
    by_hand = text("UPDATE tenant_acme.alembic_version SET version_num = 'x1'")
    with pytest.raises(DBAPIError, match="the version trigger fired"), engine.begin() as connection:
        connection.execute(by_hand)  # any other change still fires it


def test_below_the_rollout_revision_the_trigger_records_every_change_again(engine, make_tenants):
    make_tenants("acme")

    downgrade_all(engine, "0003tenant")
    with engine.begin() as connection:  # the rollout's setting no longer silences it
        connection.execute(text("SET LOCAL tenantctl.version_record = 'rollout'"))
        connection.execute(text("UPDATE tenant_acme.alembic_version SET version_num = 'x1'"))

    assert _records(engine) == {"acme": ("x1",)}


def _last_run_steps(engine) -> dict[str, tuple[str, int, bool]]:
    """Each schema's step in the newest run: status, attempts, and whether it has a duration."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT schema_name, status, attempts, duration_ms >= 0 FROM core.migration_steps"
                " WHERE run_id = (SELECT max(id) FROM core.migration_runs)"
            )
        )
        return {schema: (status, attempts, timed) for schema, status, attempts, timed in rows}


def test_a_rollout_ends_each_tenant_with_one_call_of_the_core_function(engine, make_tenants):
    schemas = make_tenants("acme", "globex")
    with engine.connect() as connection:
        assert core_functions_usable(connection)

    downgrade_all(engine, "tenant@-1")
    upgrade_all(engine, "tenant@head")

    assert _table_versions(engine, schemas) == {schema: HEADS.tenant for schema in schemas}
    assert _records(engine) == {"acme": HEADS.tenant, "globex": HEADS.tenant}
    assert _last_run_steps(engine) == {schema: ("done", 1, True) for schema in schemas}


@pytest.mark.parametrize("core_revision", ["0007core", "0008core"])
def test_a_rollout_on_a_core_without_the_rollout_functions_sends_plain_statements(
    engine, make_tenants, core_revision
):
    """Below 0008core core has neither function, below 0009core not the one that ends a
    tenant: the checks are DO blocks, the record and the journal plain statements."""
    schemas = make_tenants("acme", "globex")
    downgrade_all(engine, core_revision)
    with engine.connect() as connection:
        assert not core_functions_usable(connection)

    downgrade_all(engine, "tenant@-1")
    upgrade_all(engine, "tenant@head")

    assert _table_versions(engine, schemas) == {schema: HEADS.tenant for schema in schemas}
    assert _records(engine) == {"acme": HEADS.tenant, "globex": HEADS.tenant}
    assert _last_run_steps(engine) == {schema: ("done", 1, True) for schema in schemas}
