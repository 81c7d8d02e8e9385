"""tenant template and core.create_tenant_schema(): provisioning from SQL at tenant head

Revision ID: 0003core
Revises: 0002core
Create Date: 2026-11-30 16:40:00

``core.tenant_template`` holds the SQL that builds a tenant schema at tenant head, stored
again by every rollout that finds it behind the scripts. ``core.create_tenant_schema(tenant_id, schema)``
replays it for a registered tenant, stamps the schema at head and marks the tenant active:
the path a DBA takes from psql, and the one ``tenantctl tenant create`` takes too.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003core"
down_revision: str | Sequence[str] | None = "0002core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The function runs as its owner (the role that migrates), so tenant schemas have one owner
# whoever calls it; only roles granted EXECUTE may. Its search_path is pinned to pg_catalog
# and every name it uses is qualified; its SET clauses restore the caller's settings when it
# returns.
CREATE_TENANT_SCHEMA = r"""
CREATE FUNCTION core.create_tenant_schema(p_tenant_id uuid, p_schema text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET check_function_bodies = off
AS $function$
DECLARE
    v_registered text;
    v_status text;
    v_revisions text[];
    v_ddl text;
BEGIN
    IF p_schema IS NULL
        OR length(p_schema) > 63
        OR p_schema !~ '^tenant_[a-z]([a-z0-9_]*[a-z0-9])?$'
        OR position('__' IN p_schema) > 0
    THEN
        RAISE EXCEPTION 'invalid tenant schema name %', coalesce(quote_literal(p_schema), 'NULL')
            USING ERRCODE = 'invalid_schema_name',
                  HINT = 'use tenant_ followed by the subdomain with - written as _, '
                         'e.g. tenant_my_shop for my-shop';
    END IF;
    SELECT database_schema, status INTO v_registered, v_status
        FROM core.tenants WHERE id = p_tenant_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown tenant id %', coalesce(p_tenant_id::text, 'NULL')
            USING ERRCODE = 'no_data_found',
                  HINT = 'INSERT INTO core.tenants (subdomain, company_name, database_schema) '
                         'first and pass the id it returns';
    END IF;
    IF v_registered <> p_schema THEN
        RAISE EXCEPTION 'tenant % is registered with schema %, not %',
                p_tenant_id, v_registered, p_schema
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'pass the schema of its core.tenants row';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = p_schema) THEN
        RAISE EXCEPTION 'schema % already exists', p_schema
            USING ERRCODE = 'duplicate_schema',
                  HINT = 'the tenant is provisioned already; to start over, drop it with '
                         'tenantctl tenant drop';
    END IF;
    SELECT revisions, ddl INTO v_revisions, v_ddl FROM core.tenant_template;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no tenant template in core.tenant_template'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'run tenantctl migrate up, which stores it; if a tenant revision '
                         'cannot be rendered as SQL, create tenants with tenantctl tenant create';
    END IF;
    EXECUTE format('CREATE SCHEMA %I', p_schema);
    -- The template names no schema; like a rollout, it runs on the tenant's search path.
    -- The function's SET clause puts the caller's search path back when it returns.
    PERFORM set_config('search_path', quote_ident(p_schema) || ', pg_temp', true);
    EXECUTE v_ddl;
    EXECUTE format('INSERT INTO %I.alembic_version (version_num) SELECT unnest($1)', p_schema)
        USING v_revisions;
    UPDATE core.tenants SET status = 'active', updated_at = now()
        WHERE id = p_tenant_id AND status = 'provisioning';
    RETURN p_schema;
END
$function$
"""


def upgrade() -> None:
    op.create_table(
        "tenant_template",
        sa.Column("singleton", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "revisions",
            postgresql.ARRAY(sa.String()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("ddl", sa.Text(), nullable=False),
        sa.Column(
            "built_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("singleton", name=op.f("ck_tenant_template_one_row")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_tenant_template")),
        schema="core",
    )
    op.execute(CREATE_TENANT_SCHEMA)
    op.execute("REVOKE ALL ON FUNCTION core.create_tenant_schema(uuid, text) FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION core.create_tenant_schema(uuid, text)")
    op.drop_table("tenant_template", schema="core")
