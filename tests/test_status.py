"""Reading every tenant's version: chunked, in parallel, and inside a caller's transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from toolkit import downgrade_all
from toolkit.migrations import status
from toolkit.migrations.status import Heads, read_versions

HEADS = Heads.from_scripts()


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of two schemas, so that five tenants take three round trips."""
    monkeypatch.setattr(status, "VERSION_CHUNK", 2)


def test_chunked_parallel_read_finds_every_version_and_holds_no_lock(
    engine, make_tenants, small_chunks
):
    schemas = make_tenants("a", "b", "c", "d", "e")
    downgrade_all(engine, "tenant@base", tenants=["b", "d"])
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE tenant_e.alembic_version"))

    with engine.connect() as connection:
        found = read_versions(connection, [*schemas, "tenant_missing"])
        in_transaction = connection.in_transaction()
        locks = connection.execute(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'alembic_version'"
            )
        ).scalar()

    assert found == {
        "tenant_a": HEADS.tenant,
        "tenant_b": (),
        "tenant_c": HEADS.tenant,
        "tenant_d": (),
    }
    assert not in_transaction
    assert locks == 0


def test_read_inside_a_callers_transaction_stays_in_it(engine, make_tenants, small_chunks):
    schemas = make_tenants("a", "b", "c")

    with engine.connect() as connection, connection.begin():
        found = read_versions(connection, schemas)
        held = connection.execute(
            text(
                "SELECT count(DISTINCT l.relation) FROM pg_locks l "
                "JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'alembic_version' AND l.pid = pg_backend_pid()"
            )
        ).scalar()

    assert found == dict.fromkeys(schemas, HEADS.tenant)
    assert held == 3  # every table read is still locked by the caller's transaction
