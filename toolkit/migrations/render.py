"""Render a tenant plan's SQL once, so that it can be replayed in every tenant schema.

Tenant revisions name no schema: the SQL Alembic's offline mode writes for them is the same
for every tenant, and each tenant's transaction points it at its schema with
``SET LOCAL search_path``. A revision whose module sets ``render_as_sql = False`` (because it
reads data or branches in Python per tenant) is never rendered: its tenants run through
Alembic one by one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext, MigrationStep, RevisionStep

from models.metadata import TENANT_METADATA

log = logging.getLogger("tenantctl.migrations")

RENDER_FLAG = "render_as_sql"
# What Alembic writes before each step ("-- Running upgrade a -> b"); a revision's own SQL
# may start with a comment too, and must be kept.
_RUNNING_LINE = re.compile(r"^-- Running [^\n]*$")
_VERSION_TABLE_DDL = "CREATE TABLE alembic_version"
# What ``op.get_context().autocommit_block()`` writes offline: such SQL cannot be replayed
# inside one tenant transaction (nor by core.create_tenant_schema()).
_TRANSACTION_CONTROL = re.compile(r"^(BEGIN|COMMIT|ROLLBACK|START\s+TRANSACTION|END)\b", re.I)


class _Statements:
    """An output buffer for Alembic's offline mode that keeps each statement apart."""

    def __init__(self) -> None:
        self.chunks: list[str] = []

    def write(self, text: str) -> None:
        chunk = text.strip().removesuffix(";").rstrip()
        if chunk and not _RUNNING_LINE.match(chunk):
            self.chunks.append(chunk)

    def flush(self) -> None:
        """Nothing is buffered beyond ``chunks``."""


def renderable(steps: Sequence[MigrationStep]) -> bool:
    """True unless a revision among ``steps`` opts out with ``render_as_sql = False``."""
    return all(
        getattr(step.revision.module, RENDER_FLAG, True) is not False
        for step in steps
        if isinstance(step, RevisionStep)
    )


def render_statements(
    steps: Sequence[MigrationStep], from_revisions: Sequence[str]
) -> list[str] | None:
    """The statements that move a schema at ``from_revisions`` through ``steps``.

    They include Alembic's own version-table statements, unqualified, and carry no ``;``
    terminator. Returns None when the steps cannot be rendered (a revision opted out, or
    failed in offline mode).
    """
    if not renderable(steps):
        return None
    buffer = _Statements()
    options: dict[str, Any] = {
        "as_sql": True,
        "output_buffer": buffer,
        "literal_binds": True,
        "starting_rev": list(from_revisions) or None,
        "fn": lambda _heads, _context: list(steps),
        # As in the Alembic path: the naming convention names constraints and indexes.
        "target_metadata": TENANT_METADATA,
    }
    context = MigrationContext.configure(dialect_name="postgresql", opts=options)
    try:
        with Operations.context(context):
            context.run_migrations()
    # A revision that needs a live connection fails in offline mode; it runs through
    # Alembic instead, which is slower but always correct.
    except Exception as exc:
        log.info("plan from %s is not renderable (%s); using Alembic", from_revisions, exc)
        return None
    if any(_TRANSACTION_CONTROL.match(chunk) for chunk in buffer.chunks):
        log.info("plan from %s ends or begins a transaction; using Alembic", from_revisions)
        return None
    return [_tolerate_empty_version_table(chunk) for chunk in buffer.chunks]


def _tolerate_empty_version_table(statement: str) -> str:
    """``downgrade base`` leaves an empty version table behind; starting at base must cope."""
    if statement.startswith(_VERSION_TABLE_DDL):
        return "CREATE TABLE IF NOT EXISTS alembic_version" + statement[len(_VERSION_TABLE_DDL) :]
    return statement
