"""SQLAlchemy 2 models of tenantctl: ``core`` tables and the per-tenant tables.

Import what you need, e.g. ``from models import Tenant, User, Order``.
"""

# Every Session gets the soft-delete filter and the audit listeners.
import toolkit.orm_hooks as _orm_hooks  # noqa: F401
from models.audit import AuditLogEntry, AuditOperation
from models.base import CORE_SCHEMA, NAMING_CONVENTION, CoreBase, TenantBase
from models.core import (
    SubscriptionStatus,
    Tenant,
    TenantAdminSession,
    TenantApiKey,
    TenantStatus,
    TenantSubscription,
    TenantUsage,
    TenantUser,
    TenantUserRole,
)
from models.isolation import DatabaseIsolation, TenantRole
from models.journal import (
    MigrationRun,
    MigrationStep,
    RevisionChecksum,
    RunOutcome,
    StepStatus,
)
from models.mixins import AuditMixin, SoftDeleteMixin, TimestampMixin
from models.template import TenantTemplate
from models.tenant import (
    CanvasConfig,
    DesignImage,
    EtsyProductTemplate,
    Mockup,
    MockupStatus,
    Order,
    OrderPlatform,
    OrderStatus,
    SizeConfig,
    User,
    UserRole,
)
from models.tenant_version import TenantVersionRecord

__all__ = [
    "CORE_SCHEMA",
    "NAMING_CONVENTION",
    "AuditLogEntry",
    "AuditMixin",
    "AuditOperation",
    "CanvasConfig",
    "CoreBase",
    "DatabaseIsolation",
    "DesignImage",
    "EtsyProductTemplate",
    "MigrationRun",
    "MigrationStep",
    "Mockup",
    "MockupStatus",
    "Order",
    "OrderPlatform",
    "OrderStatus",
    "RevisionChecksum",
    "RunOutcome",
    "SizeConfig",
    "SoftDeleteMixin",
    "StepStatus",
    "SubscriptionStatus",
    "Tenant",
    "TenantAdminSession",
    "TenantApiKey",
    "TenantBase",
    "TenantRole",
    "TenantStatus",
    "TenantSubscription",
    "TenantTemplate",
    "TenantUsage",
    "TenantUser",
    "TenantUserRole",
    "TenantVersionRecord",
    "TimestampMixin",
    "User",
    "UserRole",
]
