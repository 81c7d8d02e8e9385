"""database isolation: row-level security on tenant-scoped core tables, tenant role registry

Revision ID: 0006core
Revises: 0005core
Create Date: 2026-11-30 20:00:00

``core.tenant_users``, ``core.tenant_api_keys``, ``core.tenant_subscriptions`` and
``core.tenant_usage`` get one policy each: a row is visible, and may be written, only inside a
transaction whose ``app.tenant_id`` setting names its tenant (``set_config('app.tenant_id',
id, true)``), and, for a tenant role, only if the tenant is that role's own. Unset or empty
means no rows. The policies bind nobody until ``tenantctl security enable`` turns row-level
security on (ENABLE and FORCE, so it binds the tables' owner too): isolation enforced by the
database is opt-in, and a database that never enables it behaves as before this revision.

``core.database_isolation`` (one row while tenant roles are enabled) and
``core.tenant_roles`` (tenant -> its PostgreSQL role) are written by ``toolkit.tenant_roles``
and ``tenantctl security``. ``core.tenant_of_role(role)`` reads the latter for the policy.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006core"
down_revision: str | Sequence[str] | None = "0005core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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

# The four tenant-scoped core tables, one policy each; `tenantctl security enable` turns
# row-level security on (toolkit.row_security.enable_row_security).
TENANT_SCOPED_TABLES = ("tenant_users", "tenant_api_keys", "tenant_subscriptions", "tenant_usage")


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
    for table in TENANT_SCOPED_TABLES:
        op.execute(
            f"CREATE POLICY tenant_isolation ON core.{table} AS PERMISSIVE FOR ALL TO PUBLIC "
            f"USING ({POLICY_EXPRESSION}) WITH CHECK ({POLICY_EXPRESSION})"
        )


def downgrade() -> None:
    op.execute(REFUSE_WHILE_ROLES_EXIST)
    for table in TENANT_SCOPED_TABLES:
        op.execute(f"ALTER TABLE core.{table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE core.{table} DISABLE ROW LEVEL SECURITY")
        op.execute(f"DROP POLICY tenant_isolation ON core.{table}")
    op.execute("DROP FUNCTION core.tenant_of_role(name)")
    op.drop_table("tenant_roles", schema="core")
    op.drop_table("database_isolation", schema="core")
