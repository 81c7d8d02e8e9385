"""core.require_revisions(): the rollout's version check, compiled once per session

Revision ID: 0008core
Revises: 0007core
Create Date: 2026-12-01 03:00:00

A rollout checks each tenant's ``alembic_version`` twice inside the tenant's one message:
before its DDL (the tenant is where the plan found it, and its version rows are locked) and
after (it ends where the plan leads). Those checks were anonymous ``DO`` blocks, which
PostgreSQL parses and compiles anew every time: two compilations per tenant, about a sixth
of the server time a rollout spends on a tenant beyond its own DDL. A function is compiled
once per server session. A rollout on a core without this function still uses ``DO``.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008core"
down_revision: str | Sequence[str] | None = "0007core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Raises SQLSTATE TC001 unless p_schema's alembic_version holds exactly p_expected (sorted by
# code point, as the caller sorts it); with p_lock it locks the rows it reads. The error's
# message is p_message with every "{found}" replaced by the revisions found ("base" for
# none): the caller words it. Runs as the caller (the migrating role); the search path is
# pinned and the version table is named through its quoted schema.
REQUIRE_REVISIONS = r"""
CREATE FUNCTION core.require_revisions(
    p_schema text, p_expected text[], p_lock boolean, p_message text
)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_found text[];
BEGIN
    EXECUTE pg_catalog.format(
        'SELECT ARRAY(SELECT version_num::text FROM %I.alembic_version'
        ' ORDER BY version_num::text COLLATE "C"%s)',
        p_schema,
        CASE WHEN p_lock THEN ' FOR UPDATE' ELSE '' END
    ) INTO v_found;
    IF v_found IS DISTINCT FROM p_expected THEN
        RAISE EXCEPTION USING
            ERRCODE = 'TC001',
            MESSAGE = pg_catalog.replace(
                p_message,
                '{found}',
                coalesce(nullif(pg_catalog.array_to_string(v_found, ', '), ''), 'base')
            );
    END IF;
END
$function$
"""


def upgrade() -> None:
    op.execute(REQUIRE_REVISIONS)
    # Only the migrating role (its owner) runs rollouts; a rollout as a role without EXECUTE
    # falls back to DO blocks.
    op.execute(
        "REVOKE ALL ON FUNCTION core.require_revisions(text, text[], boolean, text) FROM PUBLIC"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION core.require_revisions(text, text[], boolean, text)")
