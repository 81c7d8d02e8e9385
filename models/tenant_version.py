"""Each tenant's Alembic revisions, recorded in schema ``core`` by a trigger.

A tenant's own ``alembic_version`` table stays the truth. A statement trigger on it (tenant
revision ``0002tenant``) copies its rows here in the same transaction, so "where does every
tenant stand" is one indexed read of one table instead of one read per schema, which at
10,000 tenants is the difference between milliseconds and seconds.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

import models.core  # noqa: F401  (maps core.tenants, which a foreign key here names)
from models.base import CoreBase
from models.types import TextList, Timestamp


class TenantVersionRecord(CoreBase):
    """A tenant's revisions as of its last change of ``alembic_version``; gone with the tenant."""

    __tablename__ = "tenant_versions"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("core.tenants.id", ondelete="CASCADE"),
        primary_key=True,
    )
    revisions: Mapped[TextList]
    recorded_at: Mapped[Timestamp] = mapped_column(server_default=text("now()"))
