"""tenant initial: the tables of one tenant schema (no schema named here)

Revision ID: 0001tenant
Revises:
Create Date: 2026-11-30 12:53:30.267929
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001tenant"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("tenant",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "canvas_configs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("product_type", sa.String(length=100), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("dpi", sa.Integer(), server_default=sa.text("300"), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
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
            "width > 0 AND height > 0 AND dpi > 0", name=op.f("ck_canvas_configs_positive_size")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canvas_configs")),
    )
    op.create_index(
        op.f("ix_canvas_configs_product_type"), "canvas_configs", ["product_type"], unique=False
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("buyer_name", sa.String(length=255), nullable=True),
        sa.Column("buyer_email", sa.String(length=320), nullable=True),
        sa.Column("status", sa.String(length=20), server_default=sa.text("'open'"), nullable=False),
        sa.Column("total", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'USD'"), nullable=False),
        sa.Column(
            "line_items",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
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
            "platform IN ('etsy', 'shopify', 'amazon', 'woocommerce', 'other')",
            name=op.f("ck_orders_platform"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'paid', 'shipped', 'completed', 'canceled', 'refunded')",
            name=op.f("ck_orders_status"),
        ),
        sa.CheckConstraint("total >= 0", name=op.f("ck_orders_total_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("platform", "external_id", name=op.f("uq_orders_platform_external_id")),
    )
    op.create_index(op.f("ix_orders_buyer_email"), "orders", ["buyer_email"], unique=False)
    op.create_index(op.f("ix_orders_ordered_at"), "orders", ["ordered_at"], unique=False)
    op.create_index(op.f("ix_orders_status"), "orders", ["status"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=True),
        sa.Column(
            "role", sa.String(length=20), server_default=sa.text("'designer'"), nullable=False
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "preferences",
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
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('owner', 'designer', 'viewer')", name=op.f("ck_users_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_role"), "users", ["role"], unique=False)
    op.create_table(
        "design_images",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("uploaded_by_id", sa.BigInteger(), nullable=True),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("dpi", sa.Integer(), server_default=sa.text("300"), nullable=False),
        sa.Column(
            "tags", postgresql.ARRAY(sa.String()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column(
            "metadata",
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
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "width > 0 AND height > 0 AND dpi > 0", name=op.f("ck_design_images_positive_size")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_design_images_uploaded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_design_images")),
    )
    op.create_index(op.f("ix_design_images_checksum"), "design_images", ["checksum"], unique=False)
    op.create_index(
        "ix_design_images_tags", "design_images", ["tags"], unique=False, postgresql_using="gin"
    )
    op.create_index(
        op.f("ix_design_images_uploaded_by_id"), "design_images", ["uploaded_by_id"], unique=False
    )
    op.create_table(
        "etsy_product_templates",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(length=140), nullable=False),
        sa.Column("description", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column(
            "tags", postgresql.ARRAY(sa.String()), server_default=sa.text("'{}'"), nullable=False
        ),
        sa.Column(
            "materials",
            postgresql.ARRAY(sa.String()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'USD'"), nullable=False),
        sa.Column("shop_section", sa.String(length=255), nullable=True),
        sa.Column(
            "metadata",
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
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("price >= 0", name=op.f("ck_etsy_product_templates_price_not_negative")),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_etsy_product_templates_owner_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_etsy_product_templates")),
    )
    op.create_index(
        op.f("ix_etsy_product_templates_owner_id"),
        "etsy_product_templates",
        ["owner_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_etsy_product_templates_shop_section"),
        "etsy_product_templates",
        ["shop_section"],
        unique=False,
    )
    op.create_index(
        "ix_etsy_product_templates_tags",
        "etsy_product_templates",
        ["tags"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_table(
        "size_configs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("canvas_id", sa.BigInteger(), nullable=False),
        sa.Column("label", sa.String(length=50), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column(
            "price_modifier",
            sa.Numeric(precision=10, scale=2),
            server_default=sa.text("0"),
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
        sa.CheckConstraint("width > 0 AND height > 0", name=op.f("ck_size_configs_positive_size")),
        sa.ForeignKeyConstraint(
            ["canvas_id"],
            ["canvas_configs.id"],
            name=op.f("fk_size_configs_canvas_id_canvas_configs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_size_configs")),
        sa.UniqueConstraint("canvas_id", "label", name=op.f("uq_size_configs_canvas_id_label")),
    )
    op.create_table(
        "mockups",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("template_id", sa.BigInteger(), nullable=False),
        sa.Column("design_id", sa.BigInteger(), nullable=False),
        sa.Column("canvas_id", sa.BigInteger(), nullable=False),
        sa.Column("size_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "status", sa.String(length=20), server_default=sa.text("'pending'"), nullable=False
        ),
        sa.Column("result_url", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
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
            "status IN ('pending', 'running', 'done', 'failed')", name=op.f("ck_mockups_status")
        ),
        sa.ForeignKeyConstraint(
            ["canvas_id"],
            ["canvas_configs.id"],
            name=op.f("fk_mockups_canvas_id_canvas_configs"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["design_id"],
            ["design_images.id"],
            name=op.f("fk_mockups_design_id_design_images"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["size_id"],
            ["size_configs.id"],
            name=op.f("fk_mockups_size_id_size_configs"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["etsy_product_templates.id"],
            name=op.f("fk_mockups_template_id_etsy_product_templates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mockups")),
    )
    op.create_index(op.f("ix_mockups_canvas_id"), "mockups", ["canvas_id"], unique=False)
    op.create_index(op.f("ix_mockups_design_id"), "mockups", ["design_id"], unique=False)
    op.create_index(op.f("ix_mockups_size_id"), "mockups", ["size_id"], unique=False)
    op.create_index(op.f("ix_mockups_status"), "mockups", ["status"], unique=False)
    op.create_index(op.f("ix_mockups_template_id"), "mockups", ["template_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_mockups_template_id"), table_name="mockups")
    op.drop_index(op.f("ix_mockups_status"), table_name="mockups")
    op.drop_index(op.f("ix_mockups_size_id"), table_name="mockups")
    op.drop_index(op.f("ix_mockups_design_id"), table_name="mockups")
    op.drop_index(op.f("ix_mockups_canvas_id"), table_name="mockups")
    op.drop_table("mockups")
    op.drop_table("size_configs")
    op.drop_index(
        "ix_etsy_product_templates_tags",
        table_name="etsy_product_templates",
        postgresql_using="gin",
    )
    op.drop_index(
        op.f("ix_etsy_product_templates_shop_section"), table_name="etsy_product_templates"
    )
    op.drop_index(op.f("ix_etsy_product_templates_owner_id"), table_name="etsy_product_templates")
    op.drop_table("etsy_product_templates")
    op.drop_index(op.f("ix_design_images_uploaded_by_id"), table_name="design_images")
    op.drop_index("ix_design_images_tags", table_name="design_images", postgresql_using="gin")
    op.drop_index(op.f("ix_design_images_checksum"), table_name="design_images")
    op.drop_table("design_images")
    op.drop_index(op.f("ix_users_role"), table_name="users")
    op.drop_table("users")
    op.drop_index(op.f("ix_orders_status"), table_name="orders")
    op.drop_index(op.f("ix_orders_ordered_at"), table_name="orders")
    op.drop_index(op.f("ix_orders_buyer_email"), table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_canvas_configs_product_type"), table_name="canvas_configs")
    op.drop_table("canvas_configs")
