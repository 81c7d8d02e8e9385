"""Declarative bases: one MetaData for schema ``core``, one for the per-tenant tables.

Both share the constraint naming convention so autogenerate writes stable, predictable
names. Tenant tables carry no schema: a tenant is chosen at run time with
``schema_translate_map={None: "tenant_<subdomain>"}`` (see ``toolkit.session``).
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

CORE_SCHEMA = "core"

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class CoreBase(DeclarativeBase):
    """Base of the global tables, all in schema ``core``."""

    metadata = MetaData(schema=CORE_SCHEMA, naming_convention=NAMING_CONVENTION)


class TenantBase(DeclarativeBase):
    """Base of the per-tenant tables; they name no schema on purpose."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
