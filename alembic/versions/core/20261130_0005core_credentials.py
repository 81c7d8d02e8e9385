"""credentials: API keys found by key id, tenant admin sessions

Revision ID: 0005core
Revises: 0004core
Create Date: 2026-11-30 18:00:00

API keys become ``tc_<key_id>_<secret>``: ``core.tenant_api_keys.key_prefix`` is renamed
``key_id`` (with its unique constraint and index) and ``key_hash`` now holds the SHA-256 of
the secret alone. Keys of the old ``tc_live_`` format never verify again and must be
created anew; the software was unreleased, so none were in use. ``core.tenant_admin_sessions``
holds the PostgreSQL store of tenant admin sessions (digests of tokens, never tokens).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005core"
down_revision: str | Sequence[str] | None = "0004core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("tenant_api_keys", "key_prefix", new_column_name="key_id", schema="core")
    # Renaming a unique constraint renames the index behind it too.
    op.execute(
        "ALTER TABLE core.tenant_api_keys "
        "RENAME CONSTRAINT uq_tenant_api_keys_key_prefix TO uq_tenant_api_keys_key_id"
    )
    op.create_table(
        "tenant_admin_sessions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idle_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("absolute_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core.tenants.id"],
            name=op.f("fk_tenant_admin_sessions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core.tenant_users.id"],
            name=op.f("fk_tenant_admin_sessions_user_id_tenant_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_admin_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tenant_admin_sessions_token_hash")),
        schema="core",
    )
    for column in ("user_id", "tenant_id", "idle_expires_at"):
        op.create_index(
            op.f(f"ix_tenant_admin_sessions_{column}"),
            "tenant_admin_sessions",
            [column],
            unique=False,
            schema="core",
        )


def downgrade() -> None:
    for column in ("idle_expires_at", "tenant_id", "user_id"):
        op.drop_index(
            op.f(f"ix_tenant_admin_sessions_{column}"),
            table_name="tenant_admin_sessions",
            schema="core",
        )
    op.drop_table("tenant_admin_sessions", schema="core")
    op.execute(
        "ALTER TABLE core.tenant_api_keys "
        "RENAME CONSTRAINT uq_tenant_api_keys_key_id TO uq_tenant_api_keys_key_prefix"
    )
    op.alter_column("tenant_api_keys", "key_id", new_column_name="key_prefix", schema="core")
