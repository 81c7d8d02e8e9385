"""Global tables in schema ``core``: the tenant registry and all that is kept per tenant."""

from __future__ import annotations

import datetime
import enum
import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import CoreBase
from models.metadata import one_of
from models.mixins import TimestampMixin
from models.tenant_status import TenantStatus
from models.types import BigIntPk, Email, JsonObject, TextList, Timestamp, UuidPk


class Tenant(TimestampMixin, CoreBase):
    """One customer: its subdomain, its schema and its plan."""

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(one_of("status", TenantStatus), name="status"),
        CheckConstraint(r"subdomain ~ '^[a-z][a-z0-9-]*$'", name="subdomain_format"),
        CheckConstraint(r"database_schema ~ '^tenant_[a-z][a-z0-9_]*$'", name="schema_format"),
    )

    id: Mapped[UuidPk]
    subdomain: Mapped[str] = mapped_column(String(50), unique=True)
    company_name: Mapped[str] = mapped_column(String(255))
    database_schema: Mapped[str] = mapped_column(String(63), unique=True)
    status: Mapped[str] = mapped_column(
        String(20), index=True, server_default=text(f"'{TenantStatus.PROVISIONING.value}'")
    )
    plan: Mapped[str] = mapped_column(String(50), index=True, server_default=text("'free'"))
    settings: Mapped[JsonObject]
    limits: Mapped[JsonObject]

    users: Mapped[list[TenantUser]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", passive_deletes=True
    )
    subscriptions: Mapped[list[TenantSubscription]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", passive_deletes=True
    )
    api_keys: Mapped[list[TenantApiKey]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan", passive_deletes=True
    )


def _tenant_fk(*, index: bool) -> Mapped[uuid.UUID]:
    """The ``tenant_id`` column of every tenant-owned core table; deleting the tenant cascades.

    ``index=False`` only where a unique constraint already leads with ``tenant_id``.
    """
    return mapped_column(
        UUID(as_uuid=True),
        ForeignKey("core.tenants.id", ondelete="CASCADE"),
        nullable=False,
        index=index,
    )


class TenantUserRole(enum.StrEnum):
    """What an admin user may do for its tenant."""

    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


class TenantUser(TimestampMixin, CoreBase):
    """An admin who manages a tenant (not a shop user: those live in the tenant schema)."""

    __tablename__ = "tenant_users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "email"),
        CheckConstraint(one_of("role", TenantUserRole), name="role"),
    )

    id: Mapped[UuidPk]
    tenant_id: Mapped[uuid.UUID] = _tenant_fk(index=False)
    email: Mapped[Email]
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), server_default=text("'admin'"))
    is_active: Mapped[bool] = mapped_column(server_default=text("true"))
    last_login_at: Mapped[Timestamp | None]

    tenant: Mapped[Tenant] = relationship(back_populates="users")


class SubscriptionStatus(enum.StrEnum):
    """Billing state of a subscription."""

    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"


class TenantSubscription(TimestampMixin, CoreBase):
    """A billing period of a tenant's plan."""

    __tablename__ = "tenant_subscriptions"
    __table_args__ = (CheckConstraint(one_of("status", SubscriptionStatus), name="status"),)

    id: Mapped[UuidPk]
    tenant_id: Mapped[uuid.UUID] = _tenant_fk(index=True)
    plan: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), index=True)
    current_period_start: Mapped[Timestamp]
    current_period_end: Mapped[Timestamp]
    seats: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    external_billing_id: Mapped[str | None] = mapped_column(String(255), unique=True)

    tenant: Mapped[Tenant] = relationship(back_populates="subscriptions")


class TenantApiKey(TimestampMixin, CoreBase):
    """A service API key ``tc_<key_id>_<secret>`` (``toolkit.api_keys``).

    ``key_id`` is the public part that finds the row; of the secret only its SHA-256 digest
    (``key_hash``) is stored, so the key is shown once, at creation.
    """

    __tablename__ = "tenant_api_keys"

    id: Mapped[UuidPk]
    tenant_id: Mapped[uuid.UUID] = _tenant_fk(index=True)
    name: Mapped[str] = mapped_column(String(100))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[TextList]
    expires_at: Mapped[Timestamp | None]
    revoked_at: Mapped[Timestamp | None]
    last_used_at: Mapped[Timestamp | None]

    tenant: Mapped[Tenant] = relationship(back_populates="api_keys")


class TenantAdminSession(CoreBase):
    """A logged-in tenant admin (``toolkit.admin_sessions``, PostgreSQL store).

    Only the SHA-256 digest of the session token is stored. ``role`` is the admin's role
    when the session was issued: a change of privileges renews the session (new token).
    A session ends at ``idle_expires_at`` (moved forward by each use, never past
    ``absolute_expires_at``) or at ``absolute_expires_at``, whichever comes first.
    """

    __tablename__ = "tenant_admin_sessions"

    id: Mapped[UuidPk]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        ForeignKey("core.tenant_users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )
    tenant_id: Mapped[uuid.UUID] = _tenant_fk(index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[Timestamp]
    last_seen_at: Mapped[Timestamp]
    idle_expires_at: Mapped[Timestamp] = mapped_column(index=True)
    absolute_expires_at: Mapped[Timestamp]


class TenantUsage(CoreBase):
    """A usage counter: one row per tenant, metric and period, incremented in place."""

    __tablename__ = "tenant_usage"
    __table_args__ = (UniqueConstraint("tenant_id", "metric", "period_start"),)

    id: Mapped[BigIntPk]
    tenant_id: Mapped[uuid.UUID] = _tenant_fk(index=False)
    metric: Mapped[str] = mapped_column(String(64), index=True)
    period_start: Mapped[datetime.date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    updated_at: Mapped[Timestamp] = mapped_column(server_default=func.now(), onupdate=func.now())
