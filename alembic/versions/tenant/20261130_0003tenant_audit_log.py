"""tenant audit log: audit_log, and a trigger on every tenant table that fills it

Revision ID: 0003tenant
Revises: 0002tenant
Create Date: 2026-11-30 21:00:00

Every INSERT, UPDATE and DELETE of a row (and every TRUNCATE) of this tenant's tables is
recorded in this tenant's ``audit_log`` by ``core.audit_row_change()`` (core revision
``0007core``): who, when, table, primary key, operation, old and new values. The database
does it, so raw SQL is audited too. ``audit_log`` itself and ``alembic_version`` are not
audited. Names are unqualified: the runner sets the tenant's ``search_path`` with
``SET LOCAL``. A later revision that adds a tenant table must add its two triggers too
(``tests/test_audit_log.py`` checks that every tenant table has them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003tenant"
down_revision: str | Sequence[str] | None = "0002tenant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The tenant tables as of this revision, each keyed by its column "id".
AUDITED_TABLES = (
    "canvas_configs",
    "design_images",
    "etsy_product_templates",
    "mockups",
    "orders",
    "size_configs",
    "users",
)
# Names reach the SQL quoted, although they are this file's own constants.
_quote = postgresql.dialect().identifier_preparer.quote


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("db_role", sa.Text(), nullable=False),
        sa.Column("table_name", sa.Text(), nullable=False),
        sa.Column("row_id", sa.Text(), nullable=True),
        sa.Column("operation", sa.String(length=8), nullable=False),
        sa.Column("old_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("new_values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint(
            "operation IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')",
            name=op.f("ck_audit_log_operation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_occurred_at"), "audit_log", ["occurred_at"], unique=False)
    op.create_index(
        "ix_audit_log_table_name_row_id", "audit_log", ["table_name", "row_id"], unique=False
    )
    for table in AUDITED_TABLES:
        op.execute(
            "CREATE TRIGGER audit_row_change AFTER INSERT OR UPDATE OR DELETE ON "
            + _quote(table)
            + " FOR EACH ROW EXECUTE FUNCTION core.audit_row_change('id')"
        )
        op.execute(
            "CREATE TRIGGER audit_truncate AFTER TRUNCATE ON "
            + _quote(table)
            + " FOR EACH STATEMENT EXECUTE FUNCTION core.audit_row_change()"
        )


def downgrade() -> None:
    # A downgrade of core below 0007core (which runs first in a rollout) has already dropped
    # the triggers with the function: hence IF EXISTS.
    for table in AUDITED_TABLES:
        op.execute("DROP TRIGGER IF EXISTS audit_truncate ON " + _quote(table))
        op.execute("DROP TRIGGER IF EXISTS audit_row_change ON " + _quote(table))
    op.drop_table("audit_log", if_exists=True)
