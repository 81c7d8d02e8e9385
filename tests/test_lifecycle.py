"""Suspend, resume, archive, rename and drop: each changes registry and schema together, or
refuses and changes nothing."""

import pytest
from cli_runner import alembic, tenantctl
from scratch_scripts import add_tenant_revision
from sqlalchemy import text

from toolkit import (
    InvalidSubdomain,
    TenantExists,
    TenantNotFound,
    find_tenant,
    lifecycle,
    upgrade_all,
)
from toolkit.errors import TenantStateError
from toolkit.exit_codes import EXIT_USAGE
from toolkit.lifecycle import (
    archive_tenant,
    drop_tenant,
    rename_tenant,
    resume_tenant,
    suspend_tenant,
)


def _tenants(engine):
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT subdomain, database_schema, status FROM core.tenants ORDER BY 1")
        ).all()
        schemas = connection.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1")
        ).scalars()
        return [tuple(row) for row in rows], list(schemas)


def _add_order(engine, schema, number):
    with engine.begin() as connection:
        connection.execute(
            text(
                f'INSERT INTO "{schema}".orders (platform, external_id, total, ordered_at) '
                "VALUES ('etsy', :n, 10, now())"
            ),
            {"n": number},
        )


def test_suspend_then_resume(engine, make_tenants):
    make_tenants("acme")
    assert suspend_tenant(engine, "acme").tenant.status == "suspended"
    assert resume_tenant(engine, "tenant_acme").tenant.status == "active"


@pytest.mark.parametrize(
    ("step", "message"),
    [(resume_tenant, "is active: only a tenant that is archived or suspended")],
)
def test_a_step_that_does_not_apply_is_refused_and_changes_nothing(
    engine, make_tenants, step, message
):
    make_tenants("acme")
    before = _tenants(engine)
    with pytest.raises(TenantStateError, match=message):
        step(engine, "acme")
    assert _tenants(engine) == before


def test_suspending_twice_is_refused(engine, make_tenants):
    make_tenants("acme")
    suspend_tenant(engine, "acme")
    with pytest.raises(TenantStateError, match="is suspended: only a tenant that is active"):
        suspend_tenant(engine, "acme")


def test_archive_backs_up_keeps_the_schema_and_migrations_skip_it(engine, make_tenants, backup_dir):
    make_tenants("acme", "globex")
    result = archive_tenant(engine, "acme")
    assert result.backup is not None
    assert result.backup.parent == backup_dir
    assert result.backup.is_file()
    assert result.tenant.status == "archived"
    assert _tenants(engine)[1] == ["tenant_acme", "tenant_globex"]
    report = upgrade_all(engine)
    assert "tenant_acme" not in {outcome.schema for outcome in report.outcomes}
    with pytest.raises(TenantStateError, match="is archived"):
        archive_tenant(engine, "acme")


def test_resuming_an_archived_tenant_upgrades_it_first(
    db_url, engine, make_tenants, scratch_ini, monkeypatch
):
    make_tenants("acme", "globex")
    archive_tenant(engine, "acme")
    add_tenant_revision(
        scratch_ini, "r_note", 'op.add_column("orders", sa.Column("note", sa.Text()))'
    )
    assert alembic(db_url, "upgrade", "heads", ini=scratch_ini).returncode == 0
    monkeypatch.setenv("TENANTCTL_ALEMBIC_INI", str(scratch_ini))
    with engine.connect() as connection:
        behind = connection.execute(text("SELECT version_num FROM tenant_acme.alembic_version"))
        assert behind.scalar() != "r_note"
    assert resume_tenant(engine, "acme").tenant.status == "active"
    with engine.connect() as connection:
        now = connection.execute(text("SELECT version_num FROM tenant_acme.alembic_version"))
        assert now.scalar() == "r_note"


def test_drop_backs_up_then_removes_schema_and_core_rows(engine, make_tenants, backup_dir):
    make_tenants("acme", "globex")
    result = drop_tenant(engine, "acme")
    assert result.backup is not None
    assert result.backup.is_file()
    assert _tenants(engine) == ([("globex", "tenant_globex", "active")], ["tenant_globex"])


def test_drop_without_backup_writes_no_file(engine, make_tenants, backup_dir):
    make_tenants("acme")
    assert drop_tenant(engine, "acme", backup=False).backup is None
    assert not backup_dir.exists() or not list(backup_dir.iterdir())
    assert _tenants(engine) == ([], [])


def test_a_large_tenant_is_dropped_in_batches(engine, make_tenants, monkeypatch):
    make_tenants("big")
    with engine.begin() as connection:
        for number in range(23):
            connection.execute(
                text(f"CREATE TABLE tenant_big.extra_{number} (id bigserial PRIMARY KEY)")
            )
    transactions = []
    real_transaction = lifecycle.transaction

    def counted(connection):
        transactions.append(connection)
        return real_transaction(connection)

    monkeypatch.setattr(lifecycle, "transaction", counted)
    monkeypatch.setattr(lifecycle, "DROP_BATCH", 5)
    drop_tenant(engine, "big", backup=False)
    assert _tenants(engine) == ([], [])
    # 23 + 7 tables, 5 per transaction: at least 6 of them, plus the status and final ones.
    assert len(transactions) >= 8


def test_an_interrupted_drop_is_finished_without_a_second_backup(engine, make_tenants, backup_dir):
    make_tenants("acme")
    first = backup_dir / "first.tenant.tar"
    with engine.connect() as connection:
        record = find_tenant(connection, "acme")
    lifecycle.backup_tenant(engine, "acme", first)
    lifecycle._begin_drop(engine, record, first)  # the run that was killed got this far
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE tenant_acme.orders CASCADE"))
    assert _tenants(engine)[0] == [("acme", "tenant_acme", "archived")]
    result = drop_tenant(engine, "acme")
    assert result.backup == first
    assert sorted(backup_dir.iterdir()) == [first]
    assert _tenants(engine) == ([], [])


def test_rename_moves_subdomain_and_schema_together(engine, make_tenants):
    make_tenants("acme")
    _add_order(engine, "tenant_acme", "A-1")
    renamed = rename_tenant(engine, "acme", "acme-shop").tenant
    assert (renamed.subdomain, renamed.database_schema) == ("acme-shop", "tenant_acme_shop")
    assert _tenants(engine) == ([("acme-shop", "tenant_acme_shop", "active")], ["tenant_acme_shop"])
    with engine.connect() as connection:
        orders = connection.execute(text("SELECT external_id FROM tenant_acme_shop.orders"))
        assert list(orders.scalars()) == ["A-1"]


def test_rename_onto_a_taken_or_invalid_name_changes_nothing(engine, make_tenants):
    make_tenants("acme", "globex")
    before = _tenants(engine)
    with pytest.raises(TenantExists, match="'globex'"):
        rename_tenant(engine, "acme", "globex")
    with pytest.raises(InvalidSubdomain):
        rename_tenant(engine, "acme", "Not Valid")
    with pytest.raises(TenantNotFound):
        rename_tenant(engine, "ghost", "spirit")
    assert _tenants(engine) == before


def test_cli_lifecycle_with_json_and_confirmation(db_url, engine, make_tenants):
    make_tenants("acme")
    refused = tenantctl(db_url, "tenant", "drop", "acme")
    assert refused.returncode == EXIT_USAGE
    assert "--yes" in refused.stderr
    for command, status in (("suspend", "suspended"), ("resume", "active")):
        result = tenantctl(db_url, "tenant", command, "acme", "--json")
        assert result.returncode == 0, result.stderr
        assert f'"status": "{status}"' in result.stdout
    wrong = tenantctl(db_url, "tenant", "resume", "acme")
    assert wrong.returncode == 1
    assert wrong.stderr.count("\n") == 1
    assert "Traceback" not in wrong.stderr
    dropped = tenantctl(db_url, "tenant", "drop", "acme", "--yes", "--no-backup", "--json")
    assert dropped.returncode == 0, dropped.stderr
    assert '"backup": null' in dropped.stdout
    assert _tenants(engine) == ([], [])


def test_a_half_dropped_tenant_cannot_be_revived_only_dropped(engine, make_tenants):
    make_tenants("acme")
    with engine.connect() as connection:
        record = find_tenant(connection, "acme")
    lifecycle._begin_drop(engine, record, None)  # a drop that was killed after this step
    for step in (resume_tenant, archive_tenant, lambda e, ref: rename_tenant(e, ref, "other")):
        with pytest.raises(TenantStateError, match="drop of tenant 'acme' was interrupted"):
            step(engine, "acme")
    assert _tenants(engine)[0] == [("acme", "tenant_acme", "archived")]
    drop_tenant(engine, "acme")
    assert _tenants(engine) == ([], [])


def test_a_tenant_without_schema_needs_no_backup_to_be_dropped(engine, make_tenants):
    make_tenants("acme")
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA tenant_acme CASCADE"))
    with pytest.raises(TenantStateError, match="--no-backup"):
        drop_tenant(engine, "acme")
    assert _tenants(engine)[0] == [("acme", "tenant_acme", "active")]
    drop_tenant(engine, "acme", backup=False)
    assert _tenants(engine) == ([], [])
