"""Half-done or stray things: orphan rows and schemas, stuck creates, interrupted drops.

An orphan row is a ``core.tenants`` row whose schema is missing; an orphan schema is a
tenant-shaped schema that no row owns. Also: tenants stuck in ``provisioning``, drops and
restores that were interrupted, and version records that differ from the version tables.
"""

from __future__ import annotations

from collections.abc import Sequence, Set

from sqlalchemy import Connection

from toolkit.backup import TEMP_SCHEMA_PREFIX
from toolkit.doctor.findings import Finding
from toolkit.lifecycle import is_being_dropped
from toolkit.migrations.status import read_versions, recorded_versions
from toolkit.naming import is_tenant_schema
from toolkit.registry import TenantRecord

CHECK_PROVISIONING = "stuck-provisioning"
CHECK_ORPHAN_ROW = "orphan-row"
CHECK_ORPHAN_SCHEMA = "orphan-schema"
CHECK_INTERRUPTED = "interrupted"
CHECK_VERSION_RECORD = "version-record"


def tenant_findings(
    connection: Connection, tenants: Sequence[TenantRecord], schemas: Set[str]
) -> list[Finding]:
    """Registered tenants that are stuck, have lost their schema, or are half-dropped."""
    findings: list[Finding] = []
    for tenant in tenants:
        present = tenant.database_schema in schemas
        if tenant.status == "provisioning":
            findings.append(
                Finding(
                    CHECK_PROVISIONING,
                    tenant.subdomain,
                    "registered but still provisioning"
                    + ("" if not present else f" (schema {tenant.database_schema} exists)"),
                    f"tenantctl tenant create {tenant.subdomain} --resume"
                    if not present
                    else f"tenantctl tenant drop {tenant.subdomain} --yes",
                )
            )
        elif not present:
            findings.append(
                Finding(
                    CHECK_ORPHAN_ROW,
                    tenant.subdomain,
                    f"registered as {tenant.status} but schema {tenant.database_schema} is missing",
                    "tenantctl tenant restore FILE (its last backup), or "
                    f"tenantctl tenant drop {tenant.subdomain} --yes --no-backup",
                )
            )
        elif is_being_dropped(connection, tenant.database_schema):
            findings.append(
                Finding(
                    CHECK_INTERRUPTED,
                    tenant.subdomain,
                    "a drop was interrupted; the schema is partly dropped",
                    f"tenantctl tenant drop {tenant.subdomain} --yes",
                )
            )
    return findings


def schema_findings(tenants: Sequence[TenantRecord], schemas: Set[str]) -> list[Finding]:
    """Tenant-shaped schemas no row owns, and schemas an interrupted restore left."""
    registered = {tenant.database_schema for tenant in tenants}
    findings: list[Finding] = []
    for schema in sorted(schemas - registered):
        if is_tenant_schema(schema):
            findings.append(
                Finding(
                    CHECK_ORPHAN_SCHEMA,
                    schema,
                    "a tenant schema that no core.tenants row owns",
                    f"back it up with pg_dump, then DROP SCHEMA {schema} CASCADE",
                )
            )
        elif schema.startswith(TEMP_SCHEMA_PREFIX):
            findings.append(
                Finding(
                    CHECK_INTERRUPTED,
                    schema,
                    "left by an interrupted restore",
                    "the next tenantctl tenant restore drops it (or DROP SCHEMA ... CASCADE)",
                )
            )
    return findings


def stale_version_records(connection: Connection, tenants: Sequence[TenantRecord]) -> list[Finding]:
    """Tenants whose record in ``core.tenant_versions`` differs from their version table.

    Only possible if the table was changed with triggers disabled; status and the rollout's
    plan would then start from the record. Touching the table rewrites it.
    """
    connection.commit()  # each chunk of tables is then read in a short transaction
    actual = read_versions(connection, [tenant.database_schema for tenant in tenants])
    recorded = recorded_versions(connection, list(actual))
    return [
        Finding(
            CHECK_VERSION_RECORD,
            tenant.subdomain,
            f"core.tenant_versions says {', '.join(recorded[schema]) or 'base'} but "
            f"{schema}.alembic_version holds {', '.join(actual[schema]) or 'base'}",
            # Advice printed for the operator, not SQL this module runs.
            f"UPDATE {schema}.alembic_version SET version_num = version_num"  # noqa: S608
            " (its trigger rewrites the record)",
        )
        for tenant in tenants
        if (schema := tenant.database_schema) in recorded and recorded[schema] != actual[schema]
    ]
