"""Run every check of the doctor in order and return what they found; change nothing."""

from __future__ import annotations

from collections.abc import Set

from sqlalchemy import Connection, text

from toolkit.doctor.catalog import catalog_findings, relation_counts
from toolkit.doctor.findings import Finding
from toolkit.doctor.indexes import foreign_key_findings
from toolkit.doctor.leftovers import schema_findings, stale_version_records, tenant_findings
from toolkit.doctor.locks import lock_findings
from toolkit.doctor.public_schema import public_schema_findings
from toolkit.doctor.versions import template_findings, version_findings
from toolkit.migrations.status import Heads, MigrationStatus, migration_status


def diagnose(connection: Connection, heads: Heads) -> list[Finding]:
    """Every finding, problems and information, in the order of the checks.

    Tenants (stuck, orphan rows, interrupted drops), then schemas (orphans, restores left
    behind), version records, version skew and the template, foreign keys without an index,
    schema ``public``, then the figures: relations, catalog size and the lock budget. Pass
    a connection that holds no transaction: the reads then run in short ones of their own.
    Raises SchemaNotReady if core has no registry yet.
    """
    status = migration_status(connection, heads)
    schemas = set(connection.execute(text("SELECT nspname FROM pg_namespace")).scalars().all())
    tenants = [version.tenant for version in status.tenants]
    findings = tenant_findings(connection, tenants, schemas)
    findings += schema_findings(tenants, schemas)
    findings += stale_version_records(connection, tenants)
    findings += version_findings(status, schemas)
    findings += template_findings(connection, heads.tenant)
    findings += foreign_key_findings(connection, reference_tenant(status, schemas))
    findings += public_schema_findings(connection)
    counts = relation_counts(connection)
    findings += catalog_findings(connection, counts)
    findings += lock_findings(connection, counts)
    connection.rollback()  # read-only: end the last transaction the reads began
    return findings


def reference_tenant(status: MigrationStatus, schemas: Set[str]) -> tuple[str, str] | None:
    """The (subdomain, schema) that stands for every tenant: the first active tenant at
    head, else the first at head, else None (no tenant has its schema at head)."""
    candidates = [
        version.tenant
        for version in status.tenants
        if version.at_head and version.tenant.database_schema in schemas
    ]
    candidates.sort(key=lambda tenant: (tenant.status != "active", tenant.subdomain))
    return (candidates[0].subdomain, candidates[0].database_schema) if candidates else None
