"""database isolation: row-level security on tenant-scoped core tables, tenant role registry

Revision ID: 0006core
Revises: 0003core
Create Date: 2026-11-30 20:00:00

``core.tenant_users``, ``core.tenant_api_keys``, ``core.tenant_subscriptions`` and
``core.tenant_usage`` get ROW LEVEL SECURITY, enabled and forced (it binds their owner too),
with one policy: a row is visible, and may be written, only inside a transaction whose
``app.tenant_id`` setting names its tenant (``set_config('app.tenant_id', id, true)``), and,
for a tenant role, only if the tenant is that role's own. Unset or empty means no rows.
Superusers and BYPASSRLS roles are not subject to it: that is how the toolkit's cross-tenant
work (backups, seeding, dropping) keeps working, so this revision refuses to run as a role
that would lock itself out.

``core.database_isolation`` (one row while tenant roles are enabled) and
``core.tenant_roles`` (tenant -> its PostgreSQL role) are written by ``toolkit.tenant_roles``
and ``tenantctl security``. ``core.tenant_of_role(role)`` reads the latter for the policy.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006core"
down_revision: str | Sequence[str] | None = "0003core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


REQUIRE_RLS_BYPASS = r"""
DO $guard$
BEGIN
    IF NOT (SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user)
    THEN
        RAISE EXCEPTION 'role % neither is a superuser nor has BYPASSRLS', current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'row-level security on core would hide every tenant''s core rows from '
                         'the toolkit; as a superuser run ALTER ROLE ' || quote_ident(current_user)
                         || ' BYPASSRLS, or migrate as a superuser';
    END IF;
END
$guard$
"""

# Which tenant a role belongs to (NULL for any role that is not a tenant role). It runs as its
# owner because tenant roles may not read core.tenant_roles; the argument is the caller's
# current_user, passed by the policy. Search path pinned, every name qualified.
TENANT_OF_ROLE = r"""
CREATE FUNCTION core.tenant_of_role(p_role name)
RETURNS uuid
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT tenant_id FROM core.tenant_roles WHERE role_name = p_role::text
$function$
"""

# NULLIF makes an empty setting (what a SET LOCAL leaves behind in the session) mean "unset";
# NULL = anything is never true, so no row passes. The sub-select runs once per statement.
POLICY_EXPRESSION = (
    "tenant_id = NULLIF(pg_catalog.current_setting('app.tenant_id', true), '')::uuid "
    "AND tenant_id = coalesce((SELECT core.tenant_of_role(current_user)), tenant_id)"
)

# The four tenant-scoped core tables: RLS enabled and forced, one policy each.
ENABLE_ROW_SECURITY = (
    "ALTER TABLE core.tenant_users ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE core.tenant_users FORCE ROW LEVEL SECURITY",
    "CREATE POLICY tenant_isolation ON core.tenant_users AS PERMISSIVE FOR ALL TO PUBLIC "
    "USING (" + POLICY_EXPRESSION + ") WITH CHECK (" + POLICY_EXPRESSION + ")",
    "ALTER TABLE core.tenant_api_keys ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE core.tenant_api_keys FORCE ROW LEVEL SECURITY",
    "CREATE POLICY tenant_isolation ON core.tenant_api_keys AS PERMISSIVE FOR ALL TO PUBLIC "
    "USING (" + POLICY_EXPRESSION + ") WITH CHECK (" + POLICY_EXPRESSION + ")",
    "ALTER TABLE core.tenant_subscriptions ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE core.tenant_subscriptions FORCE ROW LEVEL SECURITY",
    "CREATE POLICY tenant_isolation ON core.tenant_subscriptions AS PERMISSIVE FOR ALL TO PUBLIC "
    "USING (" + POLICY_EXPRESSION + ") WITH CHECK (" + POLICY_EXPRESSION + ")",
    "ALTER TABLE core.tenant_usage ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE core.tenant_usage FORCE ROW LEVEL SECURITY",
    "CREATE POLICY tenant_isolation ON core.tenant_usage AS PERMISSIVE FOR ALL TO PUBLIC "
    "USING (" + POLICY_EXPRESSION + ") WITH CHECK (" + POLICY_EXPRESSION + ")",
)
DISABLE_ROW_SECURITY = (
    "DROP POLICY tenant_isolation ON core.tenant_users",
    "ALTER TABLE core.tenant_users NO FORCE ROW LEVEL SECURITY",
    "ALTER TABLE core.tenant_users DISABLE ROW LEVEL SECURITY",
    "DROP POLICY tenant_isolation ON core.tenant_api_keys",
    "ALTER TABLE core.tenant_api_keys NO FORCE ROW LEVEL SECURITY",
    "ALTER TABLE core.tenant_api_keys DISABLE ROW LEVEL SECURITY",
    "DROP POLICY tenant_isolation ON core.tenant_subscriptions",
    "ALTER TABLE core.tenant_subscriptions NO FORCE ROW LEVEL SECURITY",
    "ALTER TABLE core.tenant_subscriptions DISABLE ROW LEVEL SECURITY",
    "DROP POLICY tenant_isolation ON core.tenant_usage",
    "ALTER TABLE core.tenant_usage NO FORCE ROW LEVEL SECURITY",
    "ALTER TABLE core.tenant_usage DISABLE ROW LEVEL SECURITY",
)

REFUSE_WHILE_ROLES_EXIST = r"""
DO $guard$
BEGIN
    IF EXISTS (SELECT 1 FROM core.tenant_roles) OR EXISTS (SELECT 1 FROM core.database_isolation)
    THEN
        RAISE EXCEPTION 'tenant roles are enabled in this database'
            USING ERRCODE = 'object_in_use',
                  HINT = 'run tenantctl security disable --yes first, which drops them; '
                         'otherwise they would outlive the registry that names them';
    END IF;
END
$guard$
"""


def upgrade() -> None:
    op.execute(REQUIRE_RLS_BYPASS)
    op.create_table(
        "database_isolation",
        sa.Column("singleton", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("role_prefix", sa.String(length=20), nullable=False),
        sa.Column("app_role", sa.String(length=63), nullable=True),
        sa.Column(
            "enabled_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("singleton", name=op.f("ck_database_isolation_one_row")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_database_isolation")),
        schema="core",
    )
    op.create_table(
        "tenant_roles",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("role_name", sa.String(length=63), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core.tenants.id"],
            name=op.f("fk_tenant_roles_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenant_roles")),
        sa.UniqueConstraint("role_name", name=op.f("uq_tenant_roles_role_name")),
        schema="core",
    )
    op.execute(TENANT_OF_ROLE)
    # Every role runs the policy, so every role may call it (it answers only "which tenant").
    op.execute("GRANT EXECUTE ON FUNCTION core.tenant_of_role(name) TO PUBLIC")
    for statement in ENABLE_ROW_SECURITY:
        op.execute(statement)


def downgrade() -> None:
    op.execute(REFUSE_WHILE_ROLES_EXIST)
    for statement in DISABLE_ROW_SECURITY:
        op.execute(statement)
    op.execute("DROP FUNCTION core.tenant_of_role(name)")
    op.drop_table("tenant_roles", schema="core")
    op.drop_table("database_isolation", schema="core")
