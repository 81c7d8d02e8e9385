"""tenantctl toolkit: provision, migrate and query schema-per-tenant PostgreSQL databases.

The public API is re-exported here; the ``tenantctl`` CLI (``toolkit.cli``) is a thin layer
over these functions. The re-exports load on first use, so that a process importing one
module of the toolkit (a rollout worker, say) does not pay for all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from toolkit.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from toolkit.actor import acting_as, current_actor
    from toolkit.audit_actor import set_actor
    from toolkit.audit_log import AuditEntry, audit_trail
    from toolkit.backup import (
        BackupManifest,
        backup_tenant,
        clone_tenant,
        default_backup_path,
        restore_tenant,
    )
    from toolkit.db import check_reachable, make_engine, make_engine_from_settings, mask_url
    from toolkit.errors import (
        BackupError,
        BackupInvalid,
        ConfigurationError,
        DatabaseIsolationError,
        DatabaseUnreachable,
        InvalidActor,
        InvalidOption,
        InvalidSetting,
        InvalidSubdomain,
        InvalidUsage,
        LockBusy,
        LockLost,
        MigrationFailed,
        NoTenantInScope,
        NoTransactionOpen,
        PlanOutdated,
        QuotaExceeded,
        RevisionTargetError,
        RunNotFound,
        SchemaNotReady,
        TenantctlError,
        TenantExists,
        TenantNotFound,
        TenantScopeChanged,
        TenantStateError,
    )
    from toolkit.isolation import (
        IsolationStatus,
        disable_tenant_roles,
        enable_tenant_roles,
        isolation_status,
    )
    from toolkit.lifecycle import (
        LifecycleResult,
        archive_tenant,
        drop_tenant,
        rename_tenant,
        resume_tenant,
        suspend_tenant,
    )
    from toolkit.logging_setup import configure_logging, run_scope
    from toolkit.migrations.apply import Limits
    from toolkit.migrations.events import RunFinished, RunStarted, SchemaOutcome
    from toolkit.migrations.options import OnError, RunOptions, Tuning
    from toolkit.migrations.runner import RunReport, downgrade_all, resume_run, upgrade_all
    from toolkit.migrations.status import MigrationStatus, migration_status
    from toolkit.migrations.targeting import Selection
    from toolkit.naming import normalize_tenant_ref, schema_for, validate_subdomain
    from toolkit.provisioning import create_tenant
    from toolkit.purge import PurgeReport, purge_deleted
    from toolkit.registry import TenantRecord, find_tenant, list_tenants
    from toolkit.row_security import set_local_role, set_local_tenant
    from toolkit.search_path import set_local_tenant_search_path
    from toolkit.session import (
        TenantContextSession,
        tenant_engine,
        tenant_session,
        tenant_sessionmaker,
    )
    from toolkit.settings import Settings
    from toolkit.tenant_context import (
        TenantScope,
        bind_tenant,
        current_tenant,
        require_tenant,
        reset_tenant,
        tenant_scope,
    )

_EXPORTS = {
    "toolkit.actor": ("acting_as", "current_actor"),
    "toolkit.audit_actor": ("set_actor",),
    "toolkit.audit_log": ("AuditEntry", "audit_trail"),
    "toolkit.db": ("check_reachable", "make_engine", "make_engine_from_settings", "mask_url"),
    "toolkit.errors": (
        "ConfigurationError",
        "DatabaseIsolationError",
        "DatabaseUnreachable",
        "InvalidActor",
        "InvalidOption",
        "InvalidSetting",
        "InvalidSubdomain",
        "InvalidUsage",
        "LockBusy",
        "LockLost",
        "MigrationFailed",
        "NoTenantInScope",
        "NoTransactionOpen",
        "PlanOutdated",
        "QuotaExceeded",
        "RevisionTargetError",
        "RunNotFound",
        "SchemaNotReady",
        "TenantctlError",
        "TenantExists",
        "TenantNotFound",
        "TenantScopeChanged",
        "TenantStateError",
        "BackupError",
        "BackupInvalid",
    ),
    "toolkit.migrations.apply": ("Limits",),
    "toolkit.logging_setup": ("configure_logging", "run_scope"),
    "toolkit.migrations.events": ("RunFinished", "RunStarted", "SchemaOutcome"),
    "toolkit.migrations.options": ("OnError", "RunOptions", "Tuning"),
    "toolkit.migrations.runner": ("RunReport", "downgrade_all", "resume_run", "upgrade_all"),
    "toolkit.migrations.status": ("MigrationStatus", "migration_status"),
    "toolkit.migrations.targeting": ("Selection",),
    "toolkit.naming": ("normalize_tenant_ref", "schema_for", "validate_subdomain"),
    "toolkit.backup": (
        "BackupManifest",
        "backup_tenant",
        "clone_tenant",
        "default_backup_path",
        "restore_tenant",
    ),
    "toolkit.isolation": (
        "IsolationStatus",
        "disable_tenant_roles",
        "enable_tenant_roles",
        "isolation_status",
    ),
    "toolkit.lifecycle": (
        "LifecycleResult",
        "archive_tenant",
        "drop_tenant",
        "rename_tenant",
        "resume_tenant",
        "suspend_tenant",
    ),
    "toolkit.provisioning": ("create_tenant",),
    "toolkit.purge": ("PurgeReport", "purge_deleted"),
    "toolkit.registry": ("TenantRecord", "find_tenant", "list_tenants"),
    "toolkit.row_security": ("set_local_role", "set_local_tenant"),
    "toolkit.search_path": ("set_local_tenant_search_path",),
    "toolkit.session": (
        "TenantContextSession",
        "tenant_engine",
        "tenant_session",
        "tenant_sessionmaker",
    ),
    "toolkit.settings": ("Settings",),
    "toolkit.tenant_context": (
        "TenantScope",
        "bind_tenant",
        "current_tenant",
        "require_tenant",
        "reset_tenant",
        "tenant_scope",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "AuditEntry",
    "BackupError",
    "BackupInvalid",
    "BackupManifest",
    "ConfigurationError",
    "DatabaseIsolationError",
    "DatabaseUnreachable",
    "InvalidActor",
    "InvalidOption",
    "InvalidSetting",
    "InvalidSubdomain",
    "InvalidUsage",
    "IsolationStatus",
    "LifecycleResult",
    "Limits",
    "LockBusy",
    "LockLost",
    "MigrationFailed",
    "MigrationStatus",
    "NoTenantInScope",
    "NoTransactionOpen",
    "OnError",
    "PlanOutdated",
    "PurgeReport",
    "QuotaExceeded",
    "RevisionTargetError",
    "RunFinished",
    "RunNotFound",
    "RunOptions",
    "RunReport",
    "RunStarted",
    "SchemaNotReady",
    "SchemaOutcome",
    "Selection",
    "Settings",
    "TenantContextSession",
    "TenantExists",
    "TenantNotFound",
    "TenantRecord",
    "TenantScope",
    "TenantScopeChanged",
    "TenantStateError",
    "TenantctlError",
    "Tuning",
    "acting_as",
    "archive_tenant",
    "audit_trail",
    "backup_tenant",
    "bind_tenant",
    "check_reachable",
    "clone_tenant",
    "configure_logging",
    "create_tenant",
    "current_actor",
    "current_tenant",
    "default_backup_path",
    "disable_tenant_roles",
    "downgrade_all",
    "drop_tenant",
    "enable_tenant_roles",
    "find_tenant",
    "isolation_status",
    "list_tenants",
    "make_engine",
    "make_engine_from_settings",
    "mask_url",
    "migration_status",
    "normalize_tenant_ref",
    "purge_deleted",
    "rename_tenant",
    "require_tenant",
    "reset_tenant",
    "restore_tenant",
    "resume_run",
    "resume_tenant",
    "run_scope",
    "schema_for",
    "set_actor",
    "set_local_role",
    "set_local_tenant",
    "set_local_tenant_search_path",
    "suspend_tenant",
    "tenant_engine",
    "tenant_scope",
    "tenant_session",
    "tenant_sessionmaker",
    "upgrade_all",
    "validate_subdomain",
]


__getattr__ = lazy_exports(__name__, _MODULE_OF, globals())
