"""The migration journal in schema ``core``: every run, every schema step, every revision file.

A run's rows say who migrated what, when, and how it ended; a step's row is written in the
same transaction as the tenant's DDL, so the journal never claims more than the schemas hold.

These are Core tables with no ORM classes: only the toolkit writes and reads them
(``toolkit.migrations.journal`` and ``.checksums``), with Core statements, and a rollout must
not pay for importing the ORM at start-up.
"""

from __future__ import annotations

import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from models.metadata import CORE_METADATA, one_of


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


def _revision_list(name: str) -> Column[list[str]]:
    return Column(name, ARRAY(String), nullable=False, server_default=text("'{}'"))


# One invocation of the runner: ``alembic upgrade``, ``tenantctl migrate up``, a resume.
migration_runs = Table(
    "migration_runs",
    CORE_METADATA,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("command", String(20), nullable=False),
    Column("target", String(255), nullable=False),
    Column("options", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("started_by", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Column(
        "outcome",
        String(20),
        nullable=False,
        index=True,
        server_default=text(f"'{RunOutcome.RUNNING.value}'"),
    ),
    Column("resumed_from", BigInteger, ForeignKey("core.migration_runs.id", ondelete="SET NULL")),
    CheckConstraint(one_of("outcome", RunOutcome), name="outcome"),
)

# One schema (core or a tenant) moved from one revision set to another within a run.
migration_steps = Table(
    "migration_steps",
    CORE_METADATA,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column(
        "run_id",
        BigInteger,
        ForeignKey("core.migration_runs.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("schema_name", String(63), nullable=False),
    Column("subdomain", String(50)),
    _revision_list("from_revisions"),
    _revision_list("to_revisions"),
    Column(
        "status", String(20), nullable=False, server_default=text(f"'{StepStatus.PENDING.value}'")
    ),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("duration_ms", Integer),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint(one_of("status", StepStatus), name="status"),
    Index(None, "schema_name", "id"),
    # Only the failed steps: `migrate status` lists failing tenants without reading the
    # whole journal. Steps are written failed rarely, so it costs the rollout nothing.
    Index(
        "ix_migration_steps_failed",
        "schema_name",
        "id",
        postgresql_where=text(f"status = '{StepStatus.FAILED.value}'"),
    ),
)

# The SHA-256 of a revision file as it was when first applied anywhere. A revision applied
# from two different file contents has two rows: ``tenantctl migrate verify`` reports every
# revision whose recorded contents differ from the file today.
revision_checksums = Table(
    "revision_checksums",
    CORE_METADATA,
    Column("revision", String(32), primary_key=True),
    Column("checksum", String(64), primary_key=True),
    Column("branch", String(20), nullable=False),
    Column("path", String(255), nullable=False),
    Column("first_applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
