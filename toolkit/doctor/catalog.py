"""How big the catalog has grown: relations per tenant and in total, and the catalog's size.

These are figures, not problems (severity ``info``): every relation of every tenant is a row
in ``pg_class`` plus rows in ``pg_attribute``, ``pg_index``, ... and each new server session
loads the entries it touches, so catalog size is what schema-per-tenant pays as tenants
grow. Each figure costs one aggregate query, whatever the number of tenants.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

from toolkit.doctor.findings import Finding, Severity

CHECK_RELATIONS = "relations"
CHECK_CATALOG = "catalog"
LARGEST_SHOWN = 5

# Registered tenants' schemas only: a stray schema is the leftovers check's business.
_RELATIONS_PER_TENANT = text(
    """
    WITH per_tenant AS (
        SELECT t.subdomain, count(c.oid) AS relations
        FROM core.tenants t
        JOIN pg_namespace n ON n.nspname = t.database_schema
        JOIN pg_class c ON c.relnamespace = n.oid
        GROUP BY t.subdomain
    )
    SELECT subdomain, relations, sum(relations) OVER () AS total, count(*) OVER () AS schemas
    FROM per_tenant
    ORDER BY relations DESC, subdomain
    LIMIT :shown
    """
)
_CATALOG_SIZE = text(
    """
    SELECT (SELECT count(*) FROM pg_class),
           (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
             WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r'),
           pg_total_relation_size('pg_catalog.pg_class'),
           pg_total_relation_size('pg_catalog.pg_attribute')
    """
)


@dataclass(frozen=True)
class RelationCounts:
    """Relations (tables, indexes, sequences, views) in registered tenants' schemas."""

    total: int
    schemas: int
    largest: tuple[tuple[str, int], ...]  # (subdomain, relations), most first


def relation_counts(connection: Connection) -> RelationCounts:
    """The total over every tenant schema and the ``LARGEST_SHOWN`` largest tenants."""
    rows = connection.execute(_RELATIONS_PER_TENANT, {"shown": LARGEST_SHOWN}).all()
    if not rows:
        return RelationCounts(0, 0, ())
    return RelationCounts(
        total=int(rows[0].total),
        schemas=int(rows[0].schemas),
        largest=tuple((row.subdomain, int(row.relations)) for row in rows),
    )


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def catalog_findings(connection: Connection, counts: RelationCounts) -> list[Finding]:
    """Relations per tenant and in total, and the size of ``pg_catalog``: information."""
    findings: list[Finding] = []
    if counts.schemas:
        largest = ", ".join(f"{sub} {n}" for sub, n in counts.largest)
        findings.append(
            Finding(
                CHECK_RELATIONS,
                "tenant schemas",
                f"{counts.total} relations in {counts.schemas} tenant schemas "
                f"({counts.total / counts.schemas:.0f} per tenant); largest: {largest}",
                "nothing to do; a relation added to the tenant branch is added this many times",
                Severity.INFO,
                {"relations": counts.total, "schemas": counts.schemas},
            )
        )
    relations, catalog, pg_class, pg_attribute = connection.execute(_CATALOG_SIZE).one()
    findings.append(
        Finding(
            CHECK_CATALOG,
            "pg_catalog",
            f"pg_class holds {relations} relations; the system catalogs take "
            f"{_megabytes(catalog)} (pg_class {_megabytes(pg_class)}, "
            f"pg_attribute {_megabytes(pg_attribute)})",
            "nothing to do; each new server session loads the catalog entries it touches, "
            "so a pooler that keeps sessions open pays this once",
            Severity.INFO,
            {
                "pg_class_rows": int(relations),
                "catalog_bytes": int(catalog),
                "pg_class_bytes": int(pg_class),
                "pg_attribute_bytes": int(pg_attribute),
            },
        )
    )
    return findings
