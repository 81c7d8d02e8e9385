"""The statements that end a tenant's transaction after its DDL: check that the version
table holds what the plan leads to, set the tenant's version record, mark its journal step
done.

On a core with the rollout's functions (``version_checks.core_functions_usable``) that is
one call of ``core.finish_tenant_step()`` (core revision ``0009core``), whose writes
PL/pgSQL plans once per session. Otherwise it is the same work as separate statements, which
PostgreSQL parses and plans for every tenant: about a tenth of a millisecond more each.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolkit.migrations import version_record
from toolkit.migrations.version_checks import require_versions_sql, server_message
from toolkit.sql import quote_literal, text_array

_ENDS_AT = "would end at"


def finish_sql(
    schema: str,
    revisions: Sequence[str],
    step_id: int | None,
    attempts: int,
    *,
    in_core: bool,
    record_version: bool,
) -> list[str]:
    """The statements that end ``schema``'s transaction at ``revisions``.

    ``step_id`` is the tenant's journal step (None: not journaled), ``attempts`` how many
    attempts this one makes. ``record_version`` says core has ``core.tenant_versions``; the
    core function implies it.
    """
    if in_core:
        step = "NULL" if step_id is None else str(int(step_id))
        return [
            f"SELECT core.finish_tenant_step({quote_literal(schema)}, "
            f"{text_array(sorted(revisions))}, {step}, {int(attempts)}, "
            f"{server_message(schema, _ENDS_AT, revisions)})"
        ]
    return [
        *bookkeeping_sql(schema, revisions, step_id, attempts, record_version=record_version),
        require_versions_sql(schema, revisions, _ENDS_AT, lock=False, in_core=False),
    ]


def bookkeeping_sql(
    schema: str,
    revisions: Sequence[str],
    step_id: int | None,
    attempts: int,
    *,
    record_version: bool,
) -> list[str]:
    """The writes alone, as separate statements: for a caller that checks the end itself."""
    statements = []
    if record_version:
        statements.append(version_record.rollout_record_sql(schema, revisions))
    if step_id is not None:
        statements.append(mark_done_sql(step_id, attempts))
    return statements


def mark_done_sql(step_id: int, attempts: int) -> str:
    """SQL that marks a step done, run as the last write of the tenant's own transaction.

    Plain SQL with integer literals, so that it joins the tenant's batch of statements.
    The duration is the transaction's, measured by the server.
    """
    return (
        f"UPDATE core.migration_steps SET status = 'done', attempts = {int(attempts)}, "  # noqa: S608
        "duration_ms = (extract(epoch FROM clock_timestamp() - now()) * 1000)::int, "
        f"error = NULL, finished_at = clock_timestamp() WHERE id = {int(step_id)}"
    )
