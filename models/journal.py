"""The migration journal in schema ``core``: every run, every schema step, every revision file.

A run's rows say who migrated what, when, and how it ended; a step's row is written in the
same transaction as the tenant's DDL, so the journal never claims more than the schemas hold.
"""

from __future__ import annotations

import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import CoreBase
from models.types import BigIntPk, JsonObject, TextList, Timestamp, one_of


class RunOutcome(enum.StrEnum):
    """How a migration run ended (``running`` until it does)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"


class StepStatus(enum.StrEnum):
    """Where one schema's step in a run stands."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class MigrationRun(CoreBase):
    """One invocation of the runner: ``alembic upgrade``, ``tenantctl migrate up``, a resume."""

    __tablename__ = "migration_runs"
    __table_args__ = (CheckConstraint(one_of("outcome", RunOutcome), name="outcome"),)

    id: Mapped[BigIntPk]
    command: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(255))
    options: Mapped[JsonObject]
    started_by: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[Timestamp] = mapped_column(server_default=func.now())
    finished_at: Mapped[Timestamp | None]
    outcome: Mapped[str] = mapped_column(
        String(20), index=True, server_default=text(f"'{RunOutcome.RUNNING.value}'")
    )
    resumed_from: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("core.migration_runs.id", ondelete="SET NULL")
    )


class MigrationStep(CoreBase):
    """One schema (core or a tenant) moved from one revision set to another within a run."""

    __tablename__ = "migration_steps"
    __table_args__ = (
        CheckConstraint(one_of("status", StepStatus), name="status"),
        Index(None, "schema_name", "id"),
    )

    id: Mapped[BigIntPk]
    run_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("core.migration_runs.id", ondelete="CASCADE"), index=True
    )
    schema_name: Mapped[str] = mapped_column(String(63))
    subdomain: Mapped[str | None] = mapped_column(String(50))
    from_revisions: Mapped[TextList]
    to_revisions: Mapped[TextList]
    status: Mapped[str] = mapped_column(
        String(20), server_default=text(f"'{StepStatus.PENDING.value}'")
    )
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    finished_at: Mapped[Timestamp | None]


class RevisionChecksum(CoreBase):
    """The SHA-256 of a revision file as it was when first applied anywhere.

    A revision applied from two different file contents has two rows: ``tenantctl migrate
    verify`` reports every revision whose recorded contents differ from the file today.
    """

    __tablename__ = "revision_checksums"

    revision: Mapped[str] = mapped_column(String(32), primary_key=True)
    checksum: Mapped[str] = mapped_column(String(64), primary_key=True)
    branch: Mapped[str] = mapped_column(String(20))
    path: Mapped[str] = mapped_column(String(255))
    first_applied_at: Mapped[Timestamp] = mapped_column(server_default=func.now())
