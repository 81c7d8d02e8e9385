"""Database isolation in schema ``core``: whether tenant roles are on, and which role is whose.

Both tables are written by ``toolkit.tenant_roles`` (and ``tenantctl security``). The row of
``DatabaseIsolation`` is the switch: while it exists, every tenant created gets its own
PostgreSQL role. ``TenantRole`` is the registry of those roles; the row-level security
policy on the tenant-scoped core tables reads it through ``core.tenant_of_role()``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

import models.core  # noqa: F401  (maps core.tenants, which a foreign key here names)
from models.base import CoreBase
from models.types import Timestamp


class DatabaseIsolation(CoreBase):
    """The one row that turns tenant roles on: their name prefix and the app's login role."""

    __tablename__ = "database_isolation"
    __table_args__ = (CheckConstraint("singleton", name="one_row"),)

    singleton: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    role_prefix: Mapped[str] = mapped_column(String(20))
    app_role: Mapped[str | None] = mapped_column(String(63))
    enabled_at: Mapped[Timestamp] = mapped_column(server_default=text("now()"))


class TenantRole(CoreBase):
    """A tenant's own PostgreSQL role; the row goes when the tenant's row does."""

    __tablename__ = "tenant_roles"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("core.tenants.id", ondelete="CASCADE"),
        primary_key=True,
    )
    role_name: Mapped[str] = mapped_column(String(63), unique=True)
    created_at: Mapped[Timestamp] = mapped_column(server_default=text("now()"))
