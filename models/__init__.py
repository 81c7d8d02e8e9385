"""SQLAlchemy 2 models of tenantctl: ``core`` tables and the per-tenant tables.

Import what you need, e.g. ``from models import Tenant, User, Order``. Each name loads its
module on first use. The journal's tables, ``TenantStatus``, ``RunOutcome``, ``StepStatus``
and the schema constants need no ORM, so a process that only reads the registry and writes
the journal (a rollout) imports neither the model classes nor ``sqlalchemy.orm``.
``CoreBase`` and ``TenantBase`` load every model of their schema first: their metadata is
always complete.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from toolkit.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from models.audit import AuditLogEntry, AuditOperation
    from models.base import CoreBase, TenantBase
    from models.core import (
        SubscriptionStatus,
        Tenant,
        TenantAdminSession,
        TenantApiKey,
        TenantSubscription,
        TenantUsage,
        TenantUser,
        TenantUserRole,
    )
    from models.isolation import DatabaseIsolation, TenantRole
    from models.journal import (
        RunOutcome,
        StepStatus,
        migration_runs,
        migration_steps,
        revision_checksums,
    )
    from models.metadata import CORE_SCHEMA, NAMING_CONVENTION
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
    from models.tenant_status import TenantStatus
    from models.tenant_version import TenantVersionRecord


_MODULE_OF = {
    "AuditLogEntry": "models.audit",
    "AuditOperation": "models.audit",
    "CoreBase": "models.base",
    "TenantBase": "models.base",
    "SubscriptionStatus": "models.core",
    "Tenant": "models.core",
    "TenantAdminSession": "models.core",
    "TenantApiKey": "models.core",
    "TenantSubscription": "models.core",
    "TenantUsage": "models.core",
    "TenantUser": "models.core",
    "TenantUserRole": "models.core",
    "DatabaseIsolation": "models.isolation",
    "TenantRole": "models.isolation",
    "RunOutcome": "models.journal",
    "StepStatus": "models.journal",
    "migration_runs": "models.journal",
    "migration_steps": "models.journal",
    "revision_checksums": "models.journal",
    "CORE_SCHEMA": "models.metadata",
    "NAMING_CONVENTION": "models.metadata",
    "AuditMixin": "models.mixins",
    "SoftDeleteMixin": "models.mixins",
    "TimestampMixin": "models.mixins",
    "TenantTemplate": "models.template",
    "TenantStatus": "models.tenant_status",
    "CanvasConfig": "models.tenant",
    "DesignImage": "models.tenant",
    "EtsyProductTemplate": "models.tenant",
    "Mockup": "models.tenant",
    "MockupStatus": "models.tenant",
    "Order": "models.tenant",
    "OrderPlatform": "models.tenant",
    "OrderStatus": "models.tenant",
    "SizeConfig": "models.tenant",
    "User": "models.tenant",
    "UserRole": "models.tenant",
    "TenantVersionRecord": "models.tenant_version",
}
# The modules whose classes map tables of each base, loaded before the base is handed out.
_MODELS_OF_BASE = {
    "CoreBase": (
        "models.core",
        "models.isolation",
        "models.journal",
        "models.template",
        "models.tenant_version",
    ),
    "TenantBase": ("models.audit", "models.tenant"),
}
_load = lazy_exports("models", _MODULE_OF, globals())


def __getattr__(name: str) -> Any:
    """``models.X``: loaded from its module on first use (a base with all its models)."""
    for module in _MODELS_OF_BASE.get(name, ()):
        importlib.import_module(module)
    return _load(name)


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
    "Mockup",
    "MockupStatus",
    "Order",
    "OrderPlatform",
    "OrderStatus",
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
    "migration_runs",
    "migration_steps",
    "revision_checksums",
]
