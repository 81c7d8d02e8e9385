"""core.audit_row_change(): the one trigger function behind every tenant's audit_log

Revision ID: 0007core
Revises: 0006core
Create Date: 2026-11-30 21:00:00

Tenant revision ``0003tenant`` creates ``audit_log`` in each tenant schema and puts an
AFTER trigger calling this function on every tenant table, so every INSERT, UPDATE, DELETE
(and TRUNCATE) of tenant data is recorded in the database itself, whoever sends it: the ORM,
raw SQL, ``psql``. One shared function instead of one per schema: a fix reaches every tenant
with one core revision.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007core"
down_revision: str | Sequence[str] | None = "0006core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Runs as whoever changes the row (not SECURITY DEFINER): it writes into the audit_log of
# the schema the changed table is in (TG_TABLE_SCHEMA), so a tenant's history stays next to
# its data and goes with it into backups. "Who" is the transaction-local setting app.actor
# (set by the ORM session, toolkit.audit_actor.set_actor, or
# `SELECT set_config('app.actor', 'alice', true)` in psql), else the database role.
# The first trigger argument names the primary key column ("id" when there is none).
# An UPDATE that changes nothing is not recorded. The search path is pinned and every name
# is qualified, so a table or function of the same name in the tenant schema cannot be
# called instead.
AUDIT_ROW_CHANGE = r"""
CREATE FUNCTION core.audit_row_change()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_old jsonb;
    v_new jsonb;
    v_row_id text;
    v_actor text;
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            v_old := pg_catalog.to_jsonb(OLD);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            v_new := pg_catalog.to_jsonb(NEW);
        END IF;
        IF TG_OP = 'UPDATE' AND v_old OPERATOR(pg_catalog.=) v_new THEN
            RETURN NULL;
        END IF;
        v_row_id := coalesce(v_new, v_old) OPERATOR(pg_catalog.->>) coalesce(TG_ARGV[0], 'id');
    END IF;
    v_actor := coalesce(
        nullif(pg_catalog.current_setting('app.actor', true), ''),
        current_user::text
    );
    EXECUTE pg_catalog.format(
        'INSERT INTO %I.audit_log (occurred_at, transaction_id, actor, db_role, table_name,'
        ' row_id, operation, old_values, new_values)'
        ' VALUES (pg_catalog.now(), pg_catalog.txid_current(), $1, current_user, $2, $3, $4,'
        ' $5, $6)',
        TG_TABLE_SCHEMA
    ) USING v_actor, TG_TABLE_NAME::text, v_row_id, TG_OP, v_old, v_new;
    RETURN NULL;
END
$function$
"""


def upgrade() -> None:
    op.execute(AUDIT_ROW_CHANGE)
    # Triggers need EXECUTE when they are created, not when they fire: only the migrating
    # role (the owner of every tenant schema) creates them.
    op.execute("REVOKE ALL ON FUNCTION core.audit_row_change() FROM PUBLIC")


def downgrade() -> None:
    # A rollout downgrades core before the tenants, so every tenant's audit triggers go with
    # the function (CASCADE); 0003tenant's downgrade then drops only audit_log. This locks
    # every tenant table in one transaction: with thousands of tenants, downgrade them below
    # 0003tenant first (`tenantctl migrate down 0002tenant`).
    op.execute("DROP FUNCTION core.audit_row_change() CASCADE")
