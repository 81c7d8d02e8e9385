"""tenant version record: a rollout may write the record itself instead of the trigger

Revision ID: 0004tenant
Revises: 0003tenant
Create Date: 2026-11-30 22:10:00

The trigger of ``0002tenant`` gets a WHEN clause: it does not fire in a transaction that
has run ``SET LOCAL tenantctl.version_record = 'rollout'``. A rollout does that and writes
the same record with one plain statement (``toolkit.migrations.version_record``), because
PL/pgSQL compiles a trigger function once per table and server session: firing it on a
thousand tenants cost more than their DDL. Every other change of ``alembic_version``
(a stamp, psql, an older tenantctl) still fires it. Names are unqualified: the runner sets
the tenant's ``search_path`` with ``SET LOCAL``.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004tenant"
down_revision: str | Sequence[str] | None = "0003tenant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# IF EXISTS: a downgrade of core below 0004core drops the trigger with its function.
_DROP = "DROP TRIGGER IF EXISTS record_tenant_version ON alembic_version"
_CREATE = (
    "CREATE TRIGGER record_tenant_version"
    " AFTER INSERT OR UPDATE OR DELETE ON alembic_version"
    " FOR EACH STATEMENT{when} EXECUTE FUNCTION core.record_tenant_version()"
)
_UNLESS_ROLLOUT = (
    " WHEN (current_setting('tenantctl.version_record', true) IS DISTINCT FROM 'rollout')"
)


def upgrade() -> None:
    op.execute(_DROP)
    op.execute(_CREATE.format(when=_UNLESS_ROLLOUT))


def downgrade() -> None:
    # Back to 0002tenant's trigger, unless core no longer has its function.
    op.execute(_DROP)
    op.execute(
        "DO $$ BEGIN IF to_regprocedure('core.record_tenant_version()') IS NOT NULL THEN"
        f" EXECUTE '{_CREATE.format(when='')}'; END IF; END $$"  # the text has no quote
    )
