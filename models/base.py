"""Declarative bases: one for schema ``core``, one for the per-tenant tables.

Both map onto the MetaData objects of ``models.metadata``, which share the constraint naming
convention so that autogenerate writes stable, predictable names. Importing this module
(which every model module does) also installs the ORM hooks, so that no Session that
queries our models goes without them.
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

# Every Session gets the soft-delete filter and the audit listeners.
import toolkit.orm_hooks as _orm_hooks  # noqa: F401
from models.metadata import CORE_METADATA, TENANT_METADATA


class CoreBase(DeclarativeBase):
    """Base of the global tables, all in schema ``core``."""

    metadata = CORE_METADATA


class TenantBase(DeclarativeBase):
    """Base of the per-tenant tables; they name no schema on purpose."""

    metadata = TENANT_METADATA
