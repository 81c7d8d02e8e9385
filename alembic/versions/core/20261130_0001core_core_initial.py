"""core initial: the global tables in schema core

Revision ID: 0001core
Revises:
Create Date: 2026-11-30 12:53:29.711718
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001core"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("core",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("subdomain", sa.String(length=50), nullable=False),
        sa.Column("company_name", sa.String(length=255), nullable=False),
        sa.Column("database_schema", sa.String(length=63), nullable=False),
        sa.Column(
            "status", sa.String(length=20), server_default=sa.text("'provisioning'"), nullable=False
        ),
        sa.Column("plan", sa.String(length=50), server_default=sa.text("'free'"), nullable=False),
        sa.Column(
            "settings",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "limits",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "database_schema ~ '^tenant_[a-z][a-z0-9_]*$'", name=op.f("ck_tenants_schema_format")
        ),
        sa.CheckConstraint(
            "status IN ('provisioning', 'active', 'suspended', 'archived')",
            name=op.f("ck_tenants_status"),
        ),
        sa.CheckConstraint(
            "subdomain ~ '^[a-z][a-z0-9-]*$'", name=op.f("ck_tenants_subdomain_format")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("database_schema", name=op.f("uq_tenants_database_schema")),
        sa.UniqueConstraint("subdomain", name=op.f("uq_tenants_subdomain")),
        schema="core",
    )
    op.create_index(op.f("ix_tenants_plan"), "tenants", ["plan"], unique=False, schema="core")
    op.create_index(op.f("ix_tenants_status"), "tenants", ["status"], unique=False, schema="core")
    op.create_table(
        "tenant_api_keys",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column(
            "scopes", postgresql.ARRAY(sa.String()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core.tenants.id"],
            name=op.f("fk_tenant_api_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_api_keys")),
        sa.UniqueConstraint("key_prefix", name=op.f("uq_tenant_api_keys_key_prefix")),
        schema="core",
    )
    op.create_index(
        op.f("ix_tenant_api_keys_tenant_id"),
        "tenant_api_keys",
        ["tenant_id"],
        unique=False,
        schema="core",
    )
    op.create_table(
        "tenant_subscriptions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("plan", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("current_period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seats", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("external_billing_id", sa.String(length=255), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('trialing', 'active', 'past_due', 'canceled')",
            name=op.f("ck_tenant_subscriptions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core.tenants.id"],
            name=op.f("fk_tenant_subscriptions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_subscriptions")),
        sa.UniqueConstraint(
            "external_billing_id", name=op.f("uq_tenant_subscriptions_external_billing_id")
        ),
        schema="core",
    )
    op.create_index(
        op.f("ix_tenant_subscriptions_status"),
        "tenant_subscriptions",
        ["status"],
        unique=False,
        schema="core",
    )
    op.create_index(
        op.f("ix_tenant_subscriptions_tenant_id"),
        "tenant_subscriptions",
        ["tenant_id"],
        unique=False,
        schema="core",
    )
    op.create_table(
        "tenant_usage",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core.tenants.id"],
            name=op.f("fk_tenant_usage_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_usage")),
        sa.UniqueConstraint(
            "tenant_id",
            "metric",
            "period_start",
            name=op.f("uq_tenant_usage_tenant_id_metric_period_start"),
        ),
        schema="core",
    )
    op.create_index(
        op.f("ix_tenant_usage_metric"), "tenant_usage", ["metric"], unique=False, schema="core"
    )
    op.create_table(
        "tenant_users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=20), server_default=sa.text("'admin'"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('owner', 'admin', 'member')", name=op.f("ck_tenant_users_role")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["core.tenants.id"],
            name=op.f("fk_tenant_users_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_users")),
        sa.UniqueConstraint("tenant_id", "email", name=op.f("uq_tenant_users_tenant_id_email")),
        schema="core",
    )


def downgrade() -> None:
    op.drop_table("tenant_users", schema="core")
    op.drop_index(op.f("ix_tenant_usage_metric"), table_name="tenant_usage", schema="core")
    op.drop_table("tenant_usage", schema="core")
    op.drop_index(
        op.f("ix_tenant_subscriptions_tenant_id"), table_name="tenant_subscriptions", schema="core"
    )
    op.drop_index(
        op.f("ix_tenant_subscriptions_status"), table_name="tenant_subscriptions", schema="core"
    )
    op.drop_table("tenant_subscriptions", schema="core")
    op.drop_index(op.f("ix_tenant_api_keys_tenant_id"), table_name="tenant_api_keys", schema="core")
    op.drop_table("tenant_api_keys", schema="core")
    op.drop_index(op.f("ix_tenants_status"), table_name="tenants", schema="core")
    op.drop_index(op.f("ix_tenants_plan"), table_name="tenants", schema="core")
    op.drop_table("tenants", schema="core")
