"""Every SECURITY DEFINER function in the migrated database pins its search_path."""

from __future__ import annotations

from sqlalchemy import text

# SECURITY DEFINER functions outside the system schemas, and whether their proconfig sets
# search_path (an unpinned one would resolve names through the caller's search_path).
_DEFINERS = text(
    "SELECT p.oid::regprocedure::text, "
    "coalesce(bool_or(c LIKE 'search\\_path=%'), false) "
    "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "LEFT JOIN LATERAL unnest(p.proconfig) AS c ON true "
    "WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "GROUP BY p.oid ORDER BY 1"
)


def _definers(connection):
    return dict(connection.execute(_DEFINERS).all())


def test_every_security_definer_function_pins_its_search_path(engine, make_tenants):
    make_tenants("acme")
    with engine.connect() as connection:
        definers = _definers(connection)
    assert "core.create_tenant_schema(uuid,text)" in definers
    assert "core.tenant_of_role(name)" in definers
    assert [name for name, pinned in definers.items() if not pinned] == []


def test_the_check_finds_a_security_definer_function_without_a_search_path(engine):
    with engine.connect() as connection, connection.begin() as transaction:
        connection.execute(
            text(
                "CREATE FUNCTION core.unpinned() RETURNS int LANGUAGE sql SECURITY DEFINER "
                "SET work_mem = '4MB' AS 'SELECT 1'"
            )
        )
        assert _definers(connection)["core.unpinned()"] is False
        transaction.rollback()
