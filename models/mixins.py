"""Column mixins shared by many tables: timestamps, audit and soft delete."""

from __future__ import annotations

import datetime

from sqlalchemy import DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column


class TimestampMixin:
    """``created_at`` and ``updated_at``, both set by the server's clock."""

    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
    )


class AuditMixin:
    """Who created and who last changed a row (a user id or service name)."""

    created_by: Mapped[str | None] = mapped_column(String(255))
    updated_by: Mapped[str | None] = mapped_column(String(255))


class SoftDeleteMixin:
    """``deleted_at`` marks a row as deleted without removing it.

    Once ``toolkit`` is imported, ORM queries leave soft-deleted rows out unless asked
    (``execution_options(include_deleted=True)``, see ``toolkit.soft_delete``); rows
    soft-deleted longer than a retention are removed by ``toolkit.purge.purge_deleted``.
    ``session.delete(obj)`` still deletes the row for good.
    """

    deleted_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True))

    @property
    def is_deleted(self) -> bool:
        """True once the row has been soft-deleted."""
        return self.deleted_at is not None

    def soft_delete(self, at: datetime.datetime | None = None) -> None:
        """Mark the row deleted (now, or ``at``); written by the session's next flush.

        Deleting a row that is deleted already keeps its first ``deleted_at``, so the
        retention counts from the first deletion.
        """
        if self.deleted_at is None:
            self.deleted_at = at if at is not None else datetime.datetime.now(datetime.UTC)

    def restore(self) -> None:
        """Undo a soft delete; written by the session's next flush."""
        self.deleted_at = None
