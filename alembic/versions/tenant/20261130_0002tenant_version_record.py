"""tenant version record: a trigger copies alembic_version into core.tenant_versions

Revision ID: 0002tenant
Revises: 0001tenant
Create Date: 2026-11-30 18:40:00

Every change of this tenant's ``alembic_version`` (a migration, a stamp, the template's
first stamp) is copied into ``core.tenant_versions`` in the same transaction by
``core.record_tenant_version()`` (core revision ``0004core``), so reading where every
tenant stands is one query. Names are unqualified: the runner sets the tenant's
``search_path`` with ``SET LOCAL``.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002tenant"
down_revision: str | Sequence[str] | None = "0001tenant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE TRIGGER record_tenant_version"
        " AFTER INSERT OR UPDATE OR DELETE ON alembic_version"
        " FOR EACH STATEMENT EXECUTE FUNCTION core.record_tenant_version()"
    )


def downgrade() -> None:
    # Below this revision nothing keeps the record current: remove it, so readers go back to
    # the tenant's own table. A downgrade of core below 0004core (which runs first) has
    # already dropped the trigger and the records.
    op.execute("DROP TRIGGER IF EXISTS record_tenant_version ON alembic_version")
    op.execute(
        "DO $$ BEGIN IF to_regclass('core.tenant_versions') IS NOT NULL THEN"
        " DELETE FROM core.tenant_versions WHERE tenant_id IN"
        " (SELECT id FROM core.tenants WHERE database_schema = current_schema());"
        " END IF; END $$"
    )
