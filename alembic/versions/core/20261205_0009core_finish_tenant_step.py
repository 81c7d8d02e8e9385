"""core.finish_tenant_step(): the end of a rolled-out tenant's transaction in one call

Revision ID: 0009core
Revises: 0008core
Create Date: 2026-12-05 00:00:00

After a tenant's DDL, its transaction checked that the version table holds what the plan
leads to, set the tenant's version record, and marked its journal step done: three
statements that PostgreSQL parsed and planned anew for every tenant. This function does the
same in one call. The check goes through ``core.require_revisions()``; the two writes are
plain statements, which PL/pgSQL plans once per session (the pinned search path keeps those
plans valid from one tenant to the next). A rollout on a core without it still sends the
three statements.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009core"
down_revision: str | Sequence[str] | None = "0008core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Raises SQLSTATE TC001 (through core.require_revisions()) unless p_schema's alembic_version
# holds exactly p_revisions, sorted as that function sorts them; then sets p_schema's
# existing record in core.tenant_versions to them (a record is never created here: the
# version trigger creates it) and, unless p_step is NULL, marks that journal step done with
# the transaction's duration so far. Runs as the caller (the migrating role).
FINISH_TENANT_STEP = r"""
CREATE FUNCTION core.finish_tenant_step(
    p_schema text, p_revisions text[], p_step bigint, p_attempts integer, p_message text
)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    PERFORM core.require_revisions(p_schema, p_revisions, false, p_message);
    UPDATE core.tenant_versions AS recorded
        SET revisions = p_revisions, recorded_at = now()
        FROM core.tenants AS t
        WHERE t.id = recorded.tenant_id AND t.database_schema = p_schema;
    IF p_step IS NOT NULL THEN
        UPDATE core.migration_steps
            SET status = 'done',
                attempts = p_attempts,
                duration_ms = (extract(epoch FROM clock_timestamp() - now()) * 1000)::integer,
                error = NULL,
                finished_at = clock_timestamp()
            WHERE id = p_step;
    END IF;
END
$function$
"""
_SIGNATURE = "core.finish_tenant_step(text, text[], bigint, integer, text)"


def upgrade() -> None:
    op.execute(FINISH_TENANT_STEP)
    # As core.require_revisions(): the migrating role (its owner) only; a rollout as a role
    # without EXECUTE sends the three statements instead.
    op.execute(f"REVOKE ALL ON FUNCTION {_SIGNATURE} FROM PUBLIC")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {_SIGNATURE}")
