"""``tenantctl doctor``: what is half-done or out of place, and the command that fixes it.

Each check reads the catalogs and ``core`` only; the doctor changes nothing. It reports
tenants stuck in ``provisioning``, registered tenants without a schema, tenant-shaped
schemas nobody registered, drops and restores that were interrupted, version records that
differ from the version tables, and a tenant template that is missing or behind the scripts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from toolkit.backup import TEMP_SCHEMA_PREFIX
from toolkit.lifecycle import is_being_dropped
from toolkit.migrations.status import read_versions, recorded_versions
from toolkit.naming import is_tenant_schema
from toolkit.registry import TenantRecord, list_tenants, require_registry
from toolkit.template import template_revisions


@dataclass(frozen=True)
class Finding:
    """One problem: what it concerns, what is wrong, and how to fix it."""

    subject: str
    problem: str
    fix: str


def _stale_version_records(
    connection: Connection, tenants: Sequence[TenantRecord]
) -> list[Finding]:
    """Tenants whose record in ``core.tenant_versions`` differs from their version table.

    Only possible if the table was changed with triggers disabled; status and the rollout's
    plan would then start from the record. Touching the table rewrites it.
    """
    connection.commit()  # each chunk of tables is then read in a short transaction
    actual = read_versions(connection, [tenant.database_schema for tenant in tenants])
    recorded = recorded_versions(connection, list(actual))
    return [
        Finding(
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


def diagnose(connection: Connection, tenant_heads: Sequence[str]) -> list[Finding]:
    """Every problem found, tenants first, then schemas, then the template."""
    require_registry(connection)
    schemas = set(connection.execute(text("SELECT nspname FROM pg_namespace")).scalars().all())
    findings: list[Finding] = []
    registered = set()
    tenants = list_tenants(connection)
    for tenant in tenants:
        registered.add(tenant.database_schema)
        present = tenant.database_schema in schemas
        if tenant.status == "provisioning":
            findings.append(
                Finding(
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
                    tenant.subdomain,
                    f"registered as {tenant.status} but schema {tenant.database_schema} is missing",
                    "tenantctl tenant restore FILE (its last backup), or "
                    f"tenantctl tenant drop {tenant.subdomain} --yes --no-backup",
                )
            )
        elif is_being_dropped(connection, tenant.database_schema):
            findings.append(
                Finding(
                    tenant.subdomain,
                    "a drop was interrupted; the schema is partly dropped",
                    f"tenantctl tenant drop {tenant.subdomain} --yes",
                )
            )
    for schema in sorted(schemas - registered):
        if is_tenant_schema(schema):
            findings.append(
                Finding(
                    schema,
                    "a tenant schema that no core.tenants row owns",
                    f"back it up with pg_dump, then DROP SCHEMA {schema} CASCADE",
                )
            )
        elif schema.startswith(TEMP_SCHEMA_PREFIX):
            findings.append(
                Finding(
                    schema,
                    "left by an interrupted restore",
                    "the next tenantctl tenant restore drops it (or DROP SCHEMA ... CASCADE)",
                )
            )
    findings += _stale_version_records(connection, tenants)
    stored = template_revisions(connection)
    if stored != tuple(sorted(tenant_heads)):
        findings.append(
            Finding(
                "core.tenant_template",
                f"stands for {', '.join(stored) if stored else 'nothing'}, "
                f"not the tenant head {', '.join(sorted(tenant_heads))}",
                "tenantctl migrate up (it stores the template; if a revision cannot be "
                "rendered, new tenants go through Alembic and this stays)",
            )
        )
    return findings
