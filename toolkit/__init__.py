"""tenantctl toolkit: provision, migrate and query schema-per-tenant PostgreSQL databases.

The public API is re-exported here; the ``tenantctl`` CLI (``toolkit.cli``) is a thin layer
over these functions.
"""

from toolkit.db import check_reachable, make_engine, mask_url
from toolkit.errors import (
    ConfigurationError,
    DatabaseUnreachable,
    InvalidSubdomain,
    LockBusy,
    MigrationFailed,
    RevisionTargetError,
    SchemaNotReady,
    TenantctlError,
    TenantExists,
    TenantNotFound,
)
from toolkit.migrations.events import RunFinished, RunStarted, SchemaOutcome
from toolkit.migrations.options import Limits, OnError, RunOptions
from toolkit.migrations.runner import RunReport, downgrade_all, upgrade_all
from toolkit.migrations.status import MigrationStatus, migration_status
from toolkit.migrations.targeting import Selection
from toolkit.naming import normalize_tenant_ref, schema_for, validate_subdomain
from toolkit.provisioning import create_tenant, drop_tenant
from toolkit.registry import TenantRecord, find_tenant, list_tenants
from toolkit.session import tenant_engine, tenant_session
from toolkit.settings import Settings

__all__ = [
    "ConfigurationError",
    "DatabaseUnreachable",
    "InvalidSubdomain",
    "Limits",
    "LockBusy",
    "MigrationFailed",
    "MigrationStatus",
    "OnError",
    "RevisionTargetError",
    "RunFinished",
    "RunOptions",
    "RunReport",
    "RunStarted",
    "SchemaNotReady",
    "SchemaOutcome",
    "Selection",
    "Settings",
    "TenantExists",
    "TenantNotFound",
    "TenantRecord",
    "TenantctlError",
    "check_reachable",
    "create_tenant",
    "downgrade_all",
    "drop_tenant",
    "find_tenant",
    "list_tenants",
    "make_engine",
    "mask_url",
    "migration_status",
    "normalize_tenant_ref",
    "schema_for",
    "tenant_engine",
    "tenant_session",
    "upgrade_all",
    "validate_subdomain",
]
