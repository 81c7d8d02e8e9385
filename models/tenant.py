"""Per-tenant tables. They name no schema: each tenant's copy lives in ``tenant_<subdomain>``."""

from __future__ import annotations

import decimal
import enum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import TenantBase
from models.metadata import one_of
from models.mixins import AuditMixin, SoftDeleteMixin, TimestampMixin
from models.types import BigIntPk, Email, JsonArray, JsonObject, Money, TextList, Timestamp


def _metadata_column() -> Mapped[dict[str, Any]]:
    """The free-form ``metadata`` JSONB column (attribute ``extra``: ``metadata`` is taken)."""
    return mapped_column("metadata", JSONB, nullable=False, server_default=text("'{}'::jsonb"))


def _gin_index(table: str, column: str) -> Index:
    """A GIN index, for ``tags @> ARRAY[...]`` and JSONB containment queries."""
    return Index(f"ix_{table}_{column}", column, postgresql_using="gin")


class UserRole(enum.StrEnum):
    """What a shop user does in the tenant."""

    OWNER = "owner"
    DESIGNER = "designer"
    VIEWER = "viewer"


class User(TimestampMixin, AuditMixin, SoftDeleteMixin, TenantBase):
    """A shop owner or designer working inside one tenant."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(one_of("role", UserRole), name="role"),)

    id: Mapped[BigIntPk]
    email: Mapped[Email] = mapped_column(unique=True)
    full_name: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), index=True, server_default=text("'designer'"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    preferences: Mapped[JsonObject]

    # Soft-deleted templates and designs are left out of these collections, like out of any
    # query (toolkit.soft_delete). The database sets the owner to NULL on a hard delete.
    product_templates: Mapped[list[EtsyProductTemplate]] = relationship(
        back_populates="owner", passive_deletes=True
    )
    designs: Mapped[list[DesignImage]] = relationship(
        back_populates="uploaded_by", passive_deletes=True
    )


class EtsyProductTemplate(TimestampMixin, AuditMixin, SoftDeleteMixin, TenantBase):
    """A reusable Etsy listing: title, copy, tags, price and materials."""

    __tablename__ = "etsy_product_templates"
    __table_args__ = (
        _gin_index("etsy_product_templates", "tags"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    id: Mapped[BigIntPk]
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    title: Mapped[str] = mapped_column(String(140))
    description: Mapped[str] = mapped_column(Text, server_default=text("''"))
    tags: Mapped[TextList]
    materials: Mapped[TextList]
    price: Mapped[Money]
    currency: Mapped[str] = mapped_column(String(3), server_default=text("'USD'"))
    shop_section: Mapped[str | None] = mapped_column(String(255), index=True)
    extra: Mapped[dict[str, Any]] = _metadata_column()

    owner: Mapped[User | None] = relationship(back_populates="product_templates")


class DesignImage(TimestampMixin, AuditMixin, SoftDeleteMixin, TenantBase):
    """An uploaded design file and what is known about it."""

    __tablename__ = "design_images"
    __table_args__ = (
        _gin_index("design_images", "tags"),
        CheckConstraint("width > 0 AND height > 0 AND dpi > 0", name="positive_size"),
    )

    id: Mapped[BigIntPk]
    uploaded_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    file_path: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(String(64), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    dpi: Mapped[int] = mapped_column(Integer, server_default=text("300"))
    tags: Mapped[TextList]
    extra: Mapped[dict[str, Any]] = _metadata_column()

    uploaded_by: Mapped[User | None] = relationship(back_populates="designs")


class CanvasConfig(TimestampMixin, TenantBase):
    """The printable area of a product type (a poster, a mug, a t-shirt front)."""

    __tablename__ = "canvas_configs"
    __table_args__ = (
        CheckConstraint("width > 0 AND height > 0 AND dpi > 0", name="positive_size"),
    )

    id: Mapped[BigIntPk]
    name: Mapped[str] = mapped_column(String(255))
    product_type: Mapped[str] = mapped_column(String(100), index=True)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    dpi: Mapped[int] = mapped_column(Integer, server_default=text("300"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))

    sizes: Mapped[list[SizeConfig]] = relationship(
        back_populates="canvas", cascade="all, delete-orphan", passive_deletes=True
    )


class SizeConfig(TimestampMixin, TenantBase):
    """One size a canvas is sold in, with its price modifier."""

    __tablename__ = "size_configs"
    __table_args__ = (
        UniqueConstraint("canvas_id", "label"),
        CheckConstraint("width > 0 AND height > 0", name="positive_size"),
    )

    id: Mapped[BigIntPk]
    canvas_id: Mapped[int] = mapped_column(ForeignKey("canvas_configs.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(50))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    price_modifier: Mapped[decimal.Decimal] = mapped_column(
        Numeric(10, 2), server_default=text("0")
    )

    canvas: Mapped[CanvasConfig] = relationship(back_populates="sizes")


class MockupStatus(enum.StrEnum):
    """Where a mockup generation job is."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Mockup(TimestampMixin, TenantBase):
    """A mockup generation job: a design placed on a template's canvas at one size."""

    __tablename__ = "mockups"
    __table_args__ = (CheckConstraint(one_of("status", MockupStatus), name="status"),)

    id: Mapped[BigIntPk]
    template_id: Mapped[int] = mapped_column(
        ForeignKey("etsy_product_templates.id", ondelete="CASCADE"), index=True
    )
    design_id: Mapped[int] = mapped_column(
        ForeignKey("design_images.id", ondelete="CASCADE"), index=True
    )
    canvas_id: Mapped[int] = mapped_column(
        ForeignKey("canvas_configs.id", ondelete="RESTRICT"), index=True
    )
    size_id: Mapped[int | None] = mapped_column(
        ForeignKey("size_configs.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(20), index=True, server_default=text("'pending'"))
    result_url: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[Timestamp | None]
    finished_at: Mapped[Timestamp | None]
    duration_ms: Mapped[int | None] = mapped_column(Integer)


class OrderPlatform(enum.StrEnum):
    """Where an order came from."""

    ETSY = "etsy"
    SHOPIFY = "shopify"
    AMAZON = "amazon"
    WOOCOMMERCE = "woocommerce"
    OTHER = "other"


class OrderStatus(enum.StrEnum):
    """Fulfilment state of an order."""

    OPEN = "open"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELED = "canceled"
    REFUNDED = "refunded"


class Order(TimestampMixin, TenantBase):
    """An order synced from a sales platform; ``external_id`` is unique per platform."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("platform", "external_id"),
        CheckConstraint(one_of("platform", OrderPlatform), name="platform"),
        CheckConstraint(one_of("status", OrderStatus), name="status"),
        CheckConstraint("total >= 0", name="total_not_negative"),
    )

    id: Mapped[BigIntPk]
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    buyer_name: Mapped[str | None] = mapped_column(String(255))
    buyer_email: Mapped[Email | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(20), index=True, server_default=text("'open'"))
    total: Mapped[Money]
    currency: Mapped[str] = mapped_column(String(3), server_default=text("'USD'"))
    line_items: Mapped[JsonArray]
    ordered_at: Mapped[Timestamp] = mapped_column(index=True)
    synced_at: Mapped[Timestamp | None]


__all__ = [
    "CanvasConfig",
    "DesignImage",
    "EtsyProductTemplate",
    "Mockup",
    "MockupStatus",
    "Order",
    "OrderPlatform",
    "OrderStatus",
    "SizeConfig",
    "User",
    "UserRole",
]
