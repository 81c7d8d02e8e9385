"""The lifecycle of a tenant, importable without the ORM (a rollout selects tenants by it)."""

from __future__ import annotations

import enum


class TenantStatus(enum.StrEnum):
    """Lifecycle of a tenant; it decides who is migrated and who may log in."""

    PROVISIONING = "provisioning"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ARCHIVED = "archived"
