"""The per-tenant audit log: every change of a tenant table, written by the database.

Rows are written by the trigger function ``core.audit_row_change()`` (core revision
``0007core``), fired after each INSERT, UPDATE, DELETE and TRUNCATE on every tenant table
(tenant revision ``0003tenant``), so raw SQL is recorded as well as the ORM's changes. The
table lives in each tenant schema, next to the data it describes; it is not audited itself.
Read it with ``toolkit.audit_log.audit_trail``; this model exists so that the migrations and
the models describe the same schema.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import TenantBase
from models.metadata import one_of
from models.types import BigIntPk, Timestamp


class AuditOperation(enum.StrEnum):
    """What happened to the row (TRUNCATE: to the whole table; ``row_id`` is then NULL)."""

    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    TRUNCATE = "TRUNCATE"


class AuditLogEntry(TenantBase):
    """One recorded change: who, when, which row of which table, and its values around it.

    ``old_values`` is the row before an UPDATE or DELETE, ``new_values`` the row after an
    INSERT or UPDATE, both as JSON objects keyed by column name. ``actor`` is the acting
    user (``app.actor``), or the database role when no actor was set; ``db_role`` is always
    the role. Changes of one transaction share ``transaction_id`` and ``occurred_at``.
    """

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(one_of("operation", AuditOperation), name="operation"),
        Index("ix_audit_log_table_name_row_id", "table_name", "row_id"),
    )

    id: Mapped[BigIntPk]
    occurred_at: Mapped[Timestamp] = mapped_column(server_default=text("now()"), index=True)
    transaction_id: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(Text)
    db_role: Mapped[str] = mapped_column(Text)
    table_name: Mapped[str] = mapped_column(Text)
    row_id: Mapped[str | None] = mapped_column(Text)
    operation: Mapped[str] = mapped_column(String(8))
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


__all__ = ["AuditLogEntry", "AuditOperation"]
