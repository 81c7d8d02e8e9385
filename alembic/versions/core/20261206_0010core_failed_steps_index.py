"""Index the failed journal steps: `migrate status` lists failing tenants from them

Revision ID: 0010core
Revises: 0009core
Create Date: 2026-12-06 00:00:00

`migrate status` lists the tenants whose latest step failed. It used to sort the whole of
core.migration_steps, which gains a row per tenant in every run (130,000 rows after 13 runs
over 10,000 tenants took 176 ms, and the cost grows with every run). A partial index of the
failed steps lets it start from those alone; no other step is ever written into it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010core"
down_revision: str | Sequence[str] | None = "0009core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_migration_steps_failed",
        "migration_steps",
        ["schema_name", "id"],
        schema="core",
        postgresql_where=sa.text("status = 'failed'"),
    )


def downgrade() -> None:
    op.drop_index("ix_migration_steps_failed", table_name="migration_steps", schema="core")
