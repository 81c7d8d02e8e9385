"""Version skew: core or tenants behind head, tenants at differing revisions, a stale template.

Read from ``migration_status`` (one query for every tenant's recorded version). Active and
suspended tenants not at head are problems: every rollout should have brought them there.
Archived tenants are skipped by rollouts, so being behind is expected of them: reported as
information, with how one comes back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence, Set

from sqlalchemy import Connection

from toolkit.doctor.findings import Finding, Severity, name_some
from toolkit.migrations.status import MigrationStatus, TenantVersion
from toolkit.registry import MIGRATED_STATUSES
from toolkit.template import template_revisions

CHECK_VERSION_SKEW = "version-skew"
CHECK_TEMPLATE = "template"
_ARCHIVED = "archived"


def _revisions(revisions: Sequence[str]) -> str:
    return ", ".join(revisions) or "base"


def version_findings(status: MigrationStatus, schemas: Set[str]) -> list[Finding]:
    """Core behind head; tenants behind head grouped by revision (archived ones as info).

    Tenants still provisioning or without a schema are left to the leftovers checks.
    """
    head = _revisions(sorted(status.heads.tenant))
    findings: list[Finding] = []
    if not status.core_at_head:
        findings.append(
            Finding(
                CHECK_VERSION_SKEW,
                "core",
                f"core is at {_revisions(status.core_revisions)}, not at head "
                f"{_revisions(status.heads.core)}",
                "tenantctl migrate up",
            )
        )
    behind: dict[tuple[bool, tuple[str, ...]], list[TenantVersion]] = defaultdict(list)
    seen: set[tuple[str, ...]] = set()
    for version in status.tenants:
        if version.tenant.database_schema not in schemas:
            continue
        migrated = version.tenant.status in MIGRATED_STATUSES
        if migrated:
            seen.add(version.revisions)
        if not version.at_head and (migrated or version.tenant.status == _ARCHIVED):
            behind[(migrated, version.revisions)].append(version)
    skew = f"; migrated tenants are at {len(seen)} different revisions" if len(seen) > 1 else ""
    for (migrated, revisions), versions in sorted(
        behind.items(), key=lambda item: (not item[0][0], item[0][1])
    ):
        names = name_some(version.tenant.subdomain for version in versions)
        count = len(versions)
        if migrated:
            findings.append(
                Finding(
                    CHECK_VERSION_SKEW,
                    names,
                    f"{count} active or suspended tenant(s) at {_revisions(revisions)}, "
                    f"not at tenant head {head}{skew}",
                    "tenantctl migrate up (tenantctl migrate status lists them; a failed "
                    "run: tenantctl migrate history)",
                    figures={"tenants": count},
                )
            )
        else:
            findings.append(
                Finding(
                    CHECK_VERSION_SKEW,
                    names,
                    f"{count} archived tenant(s) at {_revisions(revisions)}, behind tenant "
                    f"head {head}: expected, rollouts skip archived tenants",
                    "nothing now; tenantctl tenant resume SUB upgrades a tenant to head "
                    "before it is active again",
                    Severity.INFO,
                    figures={"tenants": count},
                )
            )
    return findings


def template_findings(connection: Connection, tenant_heads: Sequence[str]) -> list[Finding]:
    """The tenant template in core is missing or stands for other revisions than head."""
    stored = template_revisions(connection)
    if stored == tuple(sorted(tenant_heads)):
        return []
    return [
        Finding(
            CHECK_TEMPLATE,
            "core.tenant_template",
            f"stands for {', '.join(stored) if stored else 'nothing'}, "
            f"not the tenant head {', '.join(sorted(tenant_heads))}",
            "tenantctl migrate up (it stores the template; if a revision cannot be "
            "rendered, new tenants go through Alembic and this stays)",
        )
    ]
