"""Creating and dropping tenants: the registry row and the schema change together or not at all."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from toolkit import (
    InvalidSubdomain,
    SchemaNotReady,
    TenantExists,
    TenantNotFound,
    create_tenant,
    drop_tenant,
    make_engine,
    migration_status,
)

TENANTCTL = [sys.executable, "-m", "toolkit.cli"]


def _state(engine):
    """Registered subdomains and existing tenant schemas."""
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT subdomain FROM core.tenants ORDER BY 1")).scalars()
        schemas = connection.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%' ORDER BY 1")
        ).scalars()
        return list(rows), list(schemas)


def test_create_registers_active_tenant_with_schema_at_head(engine):
    record = create_tenant(engine, "acme", company_name="Acme Inc", plan="pro")
    assert (record.subdomain, record.database_schema, record.status, record.plan) == (
        "acme",
        "tenant_acme",
        "active",
        "pro",
    )
    with engine.connect() as connection:
        status = migration_status(connection)
    assert status.up_to_date
    assert [v.tenant.subdomain for v in status.tenants] == ["acme"]


def test_duplicate_subdomain_is_refused_and_changes_nothing(engine):
    create_tenant(engine, "acme")
    before = _state(engine)
    with pytest.raises(TenantExists, match="'acme' already exists"):
        create_tenant(engine, "acme")
    assert _state(engine) == before


def test_invalid_subdomain_is_refused_before_any_sql():
    unreachable = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(InvalidSubdomain):
        create_tenant(unreachable, "Bad_Name")


def test_stray_schema_without_registry_row_is_refused(engine):
    with engine.begin() as connection:
        connection.execute(text("CREATE SCHEMA tenant_stray"))
    with pytest.raises(TenantExists, match="no tenant 'stray' owns it"):
        create_tenant(engine, "stray")
    assert _state(engine) == ([], ["tenant_stray"])


def test_failed_migration_during_create_leaves_nothing_behind(engine):
    with engine.begin() as connection:
        connection.execute(
            text(
                """
                CREATE FUNCTION refuse_boom() RETURNS event_trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
                             WHERE schema_name = 'tenant_boom') THEN
                    RAISE EXCEPTION 'injected failure in tenant_boom';
                  END IF;
                END $$;
                CREATE EVENT TRIGGER refuse_boom ON ddl_command_end EXECUTE FUNCTION refuse_boom();
                """
            )
        )
    with pytest.raises(Exception, match="injected failure"):
        create_tenant(engine, "boom")
    assert _state(engine) == ([], [])
    create_tenant(engine, "fine")
    assert _state(engine) == (["fine"], ["tenant_fine"])


def test_create_needs_core_at_head(blank_url):
    engine = make_engine(blank_url)
    try:
        with pytest.raises(SchemaNotReady, match="tenantctl migrate up"):
            create_tenant(engine, "acme")
    finally:
        engine.dispose()


def test_parallel_creates_of_one_subdomain_yield_exactly_one_tenant(db_url):
    engine = make_engine(db_url, pool_size=16)

    def attempt(_):
        try:
            create_tenant(engine, "race")
        except TenantExists:
            return "exists"
        return "created"

    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = sorted(pool.map(attempt, range(16)))
        assert results == ["created"] + ["exists"] * 15
        assert _state(engine) == (["race"], ["tenant_race"])
    finally:
        engine.dispose()


def test_drop_removes_schema_and_core_rows(engine, make_tenants):
    make_tenants("acme", "globex")
    record = drop_tenant(engine, "acme", backup=False).tenant
    assert record.database_schema == "tenant_acme"
    assert _state(engine) == (["globex"], ["tenant_globex"])


def test_drop_unknown_tenant_is_refused(engine):
    with pytest.raises(TenantNotFound, match="'ghost'"):
        drop_tenant(engine, "ghost")


# An event trigger that parks a create once it has registered the tenant and is creating
# its tables, until the test releases an advisory lock: the kill lands midway.
_PARK_CREATES = """
CREATE FUNCTION core.park_create() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
               WHERE object_type = 'table' AND schema_name = 'tenant_killme') THEN
        PERFORM pg_advisory_xact_lock(4242);
    END IF;
END $$;
CREATE EVENT TRIGGER park_create ON ddl_command_end EXECUTE FUNCTION core.park_create();
"""


def _backend_waiting_on_the_park(engine):
    with engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 "
                "AND NOT granted"
            )
        ).scalar()


def test_a_create_killed_midway_leaves_nothing_behind(db_url, engine):
    with engine.begin() as connection:
        connection.execute(text(_PARK_CREATES))
    with engine.connect() as parking:
        # The create is parked with its tenant row written and its schema half built.
        parking.execute(text("SELECT pg_advisory_lock(4242)"))
        process = subprocess.Popen(
            [*TENANTCTL, "tenant", "create", "killme"],
            env={**os.environ, "DATABASE_URL": db_url.render_as_string(hide_password=False)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while (backend := _backend_waiting_on_the_park(engine)) is None:
            assert process.poll() is None, "the create ended before it was parked"
            assert time.monotonic() < deadline, "the create never parked"
            time.sleep(0.05)
        process.kill()
        process.wait()
        parking.execute(text("SELECT pg_advisory_unlock(4242)"))
        parking.commit()
    with engine.begin() as connection:
        connection.execute(text("DROP EVENT TRIGGER park_create"))
        # The orphaned backend finds its client gone when it next talks to it; end it now.
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    assert _state(engine) == ([], [])
    create_tenant(engine, "killme")
    assert _state(engine) == (["killme"], ["tenant_killme"])


def test_resume_finishes_a_tenant_left_in_provisioning(engine):
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO core.tenants (subdomain, company_name, database_schema) "
                "VALUES ('halfway', 'Halfway', 'tenant_halfway')"
            )
        )
    with pytest.raises(TenantExists, match="--resume"):
        create_tenant(engine, "halfway")
    record = create_tenant(engine, "halfway", resume=True)
    assert (record.status, record.company_name) == ("active", "Halfway")
    assert _state(engine) == (["halfway"], ["tenant_halfway"])
    with pytest.raises(TenantExists, match="already exists"):
        create_tenant(engine, "halfway", resume=True)


def test_resume_of_a_provisioning_row_whose_schema_exists_says_how_to_start_over(engine):
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO core.tenants (subdomain, company_name, database_schema) "
                "VALUES ('halfway', 'Halfway', 'tenant_halfway')"
            )
        )
        connection.execute(text("CREATE SCHEMA tenant_halfway"))
    with pytest.raises(TenantExists, match="drop both with `tenantctl tenant drop halfway"):
        create_tenant(engine, "halfway", resume=True)
