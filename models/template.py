"""The tenant template in schema ``core``: the DDL of a new tenant schema at tenant head.

It is built once per tenant head from a reference schema (see ``toolkit.template``) and
replayed by ``core.create_tenant_schema()``, so that creating a tenant costs the same
whatever the length of the migration history.
"""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import CoreBase
from models.types import TextList, Timestamp


class TenantTemplate(CoreBase):
    """The one row holding the tenant DDL and the tenant-branch revisions it stands for."""

    __tablename__ = "tenant_template"
    __table_args__ = (CheckConstraint("singleton", name="one_row"),)

    singleton: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    revisions: Mapped[TextList]
    ddl: Mapped[str] = mapped_column(Text)
    built_at: Mapped[Timestamp] = mapped_column(server_default=text("now()"))
