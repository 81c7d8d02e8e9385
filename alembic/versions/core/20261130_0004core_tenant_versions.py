"""core.tenant_versions and core.record_tenant_version(): every tenant's revisions in one table

Revision ID: 0004core
Revises: 0003core
Create Date: 2026-11-30 18:40:00

A tenant's ``alembic_version`` stays the truth. Tenant revision ``0002tenant`` puts a
statement trigger on it that calls ``core.record_tenant_version()``, which copies the
table's rows into ``core.tenant_versions`` in the same transaction. ``tenantctl migrate
status`` and the rollout's plan then read one table, not one per schema; a tenant with no
record (its schema predates the trigger, or came back from a backup) is read from its own
table as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004core"
down_revision: str | Sequence[str] | None = "0003core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Runs as whoever changes the version table (the migrating role), not as its owner: a role
# that may not write core cannot use it to. The search path is pinned and every name is
# qualified. A schema that no tenant is registered with (a restore in progress, a scratch
# schema) records nothing.
RECORD_TENANT_VERSION = r"""
CREATE FUNCTION core.record_tenant_version()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_tenant_id uuid;
    v_revisions text[];
BEGIN
    SELECT id INTO v_tenant_id FROM core.tenants WHERE database_schema = TG_TABLE_SCHEMA;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    EXECUTE format(
        'SELECT coalesce(array_agg(version_num::text ORDER BY version_num), ''{}'') FROM %I.%I',
        TG_TABLE_SCHEMA, TG_TABLE_NAME
    ) INTO v_revisions;
    INSERT INTO core.tenant_versions AS recorded (tenant_id, revisions, recorded_at)
        VALUES (v_tenant_id, v_revisions, now())
        ON CONFLICT (tenant_id)
        DO UPDATE SET revisions = excluded.revisions, recorded_at = excluded.recorded_at;
    RETURN NULL;
END
$function$
"""


def upgrade() -> None:
    op.create_table(
        "tenant_versions",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column(
            "revisions",
            postgresql.ARRAY(sa.String()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core.tenants.id"],
            name=op.f("fk_tenant_versions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_versions")),
        schema="core",
    )
    op.execute(RECORD_TENANT_VERSION)
    op.execute("REVOKE ALL ON FUNCTION core.record_tenant_version() FROM PUBLIC")


def downgrade() -> None:
    # A rollout downgrades core before the tenants, so the tenants' triggers go with the
    # function (CASCADE); 0002tenant's downgrade then finds nothing left to drop. This locks
    # every tenant's version table in one transaction: with thousands of tenants, downgrade
    # them below 0002tenant first (`tenantctl migrate down 0001tenant`).
    op.execute("DROP FUNCTION core.record_tenant_version() CASCADE")
    op.drop_table("tenant_versions", schema="core")
