"""The two schemas' MetaData, their naming convention, and CHECK-constraint helpers.

Importable without the ORM: the journal's tables are plain Core tables on ``CORE_METADATA``,
so that a rollout (which writes the journal) never imports ``sqlalchemy.orm``. The
declarative bases in ``models.base`` map their classes onto these same MetaData objects.
Tenant tables carry no schema: a tenant is chosen at run time with
``schema_translate_map={None: "tenant_<subdomain>"}`` (see ``toolkit.session``).
"""

from __future__ import annotations

import enum

from sqlalchemy import MetaData

CORE_SCHEMA = "core"

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CORE_METADATA = MetaData(schema=CORE_SCHEMA, naming_convention=NAMING_CONVENTION)
TENANT_METADATA = MetaData(naming_convention=NAMING_CONVENTION)


def one_of(column: str, values: type[enum.StrEnum]) -> str:
    """CHECK constraint SQL for ``column IN (...)`` over an enum's values (our own literals)."""
    quoted = ", ".join(f"'{member.value}'" for member in values)
    return f"{column} IN ({quoted})"
