"""A rollout writes each tenant's row of ``core.tenant_versions`` itself, in one statement.

The record is kept by a statement trigger on every tenant's ``alembic_version`` (tenant
revisions ``0002tenant`` and ``0004tenant``). That trigger is PL/pgSQL, and PL/pgSQL compiles
a trigger function once per table it fires on, per server session: a rollout touching a
thousand tenants compiled it a thousand times, which cost more than the tenants' own DDL
(about 3 ms of a 4.5 ms tenant). Since ``0004tenant`` the trigger does not fire while the
transaction has set ``tenantctl.version_record`` to ``rollout``; the rollout then appends
``rollout_record_sql`` to the tenant's transaction. That sets the tenant's record to the
revisions the plan leads to (the transaction's last check guarantees the table holds them)
and never creates one: the trigger's first firing created it when the table got the
trigger, ``0002tenant``'s downgrade deletes it, and a tenant without one (below
``0002tenant``, or restored from a backup) goes on being read from its own table.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from toolkit.sql import quote_literal, text_array

# ``SET LOCAL``: the trigger is skipped for this transaction only.
SKIP_TRIGGER = "SET LOCAL tenantctl.version_record = 'rollout'"
TRIGGER_NAME = "record_tenant_version"


def rollout_record_sql(schema: str, revisions: Sequence[str]) -> str:
    """The statement that sets ``schema``'s existing record to ``revisions``.

    Literals only: the server neither reads the version table nor looks for the trigger
    (either cost a tenth of a millisecond per tenant).
    """
    return (
        f"UPDATE core.tenant_versions AS recorded SET revisions = {text_array(sorted(revisions))}, "  # noqa: S608  (quoted literals)
        "recorded_at = now() FROM core.tenants AS t "
        f"WHERE t.id = recorded.tenant_id AND t.database_schema = {quote_literal(schema)}"
    )


def record_sql(schema: str) -> str:
    """The statement that records the version table on the search path as ``schema``'s,
    creating the record if needed, where the table has the trigger: for a record found
    stale, which the caller rewrites from the truth."""
    return (
        "INSERT INTO core.tenant_versions AS recorded (tenant_id, revisions, recorded_at) "  # noqa: S608  (quoted literals)
        "SELECT t.id, ARRAY(SELECT version_num::text FROM alembic_version ORDER BY 1), now() "
        f"FROM core.tenants AS t WHERE t.database_schema = {quote_literal(schema)} "
        "AND EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgrelid = 'alembic_version'::regclass"
        f" AND tgname = {quote_literal(TRIGGER_NAME)}) "
        "ON CONFLICT (tenant_id) DO UPDATE SET revisions = excluded.revisions, "
        "recorded_at = excluded.recorded_at"
    )


def records_exist(connection: Connection) -> bool:
    """True if core has ``core.tenant_versions`` (core revision ``0004core`` or later)."""
    return bool(connection.execute(text("SELECT to_regclass('core.tenant_versions')")).scalar())
