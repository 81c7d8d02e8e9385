"""Tenants registered by hand, as a DBA would: a core.tenants row and an empty schema."""

from __future__ import annotations

from sqlalchemy import Engine, text


def register_unmigrated_tenant(engine: Engine, subdomain: str) -> str:
    """A registered active tenant whose schema exists but was never migrated; its schema."""
    schema = f"tenant_{subdomain}"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO core.tenants (subdomain, company_name, database_schema, status) "
                "VALUES (:sub, :sub, :schema, 'active')"
            ),
            {"sub": subdomain, "schema": schema},
        )
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    return schema
