"""Smoke test of the fixtures."""

from sqlalchemy import text

from toolkit import list_tenants


def test_core_is_migrated_in_template(engine, make_tenants):
    make_tenants("acme")
    with engine.connect() as connection:
        assert [t.subdomain for t in list_tenants(connection)] == ["acme"]
        assert connection.execute(text("select to_regclass('tenant_acme.users')")).scalar()
