"""Foreign keys without an index on their columns, in core and in one reference tenant.

Deleting or updating a referenced row makes PostgreSQL look for referencing rows; with no
index that starts with the foreign key's columns, that is a scan of the whole referencing
table, under lock, once per row changed. Every tenant is built from the same branch, so one
reference tenant (at head) stands for all of them; the fix is a revision, not a hand-made
index in one schema.

Severity follows what such a scan costs: a problem once the referencing table takes
``SCAN_BYTES`` or more (for a tenant table: its largest copy in any tenant), information
below that (cheap for now; add the index before the table grows).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from models import CORE_SCHEMA
from toolkit.doctor.findings import Finding, Severity
from toolkit.sql import quote_identifier

CHECK_FOREIGN_KEY_INDEX = "foreign-key-index"
SCAN_BYTES = 1024 * 1024  # from here on, a scan per deleted referenced row hurts

# An index covers a foreign key if its leading columns are the key's columns, in any order;
# a partial index does not (it misses rows). indkey is an int2vector: subscripts from 0.
_UNINDEXED_FOREIGN_KEYS = text(
    """
    SELECT n.nspname AS schema, cl.relname AS table_name, c.conname AS constraint_name,
           array_agg(a.attname::text ORDER BY k.ord) AS columns,
           pg_relation_size(c.conrelid) AS bytes
    FROM pg_constraint c
    JOIN pg_class cl ON cl.oid = c.conrelid
    JOIN pg_namespace n ON n.oid = cl.relnamespace
    CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
    WHERE c.contype = 'f' AND c.conparentid = 0 AND n.nspname = ANY(:schemas)
      AND NOT EXISTS (
        SELECT 1 FROM pg_index i
        WHERE i.indrelid = c.conrelid AND i.indpred IS NULL
          AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
      )
    GROUP BY n.nspname, cl.relname, c.conname, c.conrelid
    ORDER BY n.nspname, cl.relname, c.conname
    """
)
_LARGEST_TENANT_COPY = text(
    """
    SELECT coalesce(max(pg_relation_size(c.oid)), 0)
    FROM core.tenants t
    JOIN pg_namespace n ON n.nspname = t.database_schema
    JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = :table AND c.relkind = 'r'
    """
)


def foreign_key_findings(
    connection: Connection, reference: tuple[str, str] | None
) -> list[Finding]:
    """Unindexed foreign keys in core and in ``reference`` (subdomain, schema) if given;
    problems where the referencing table is ``SCAN_BYTES`` or more, information below."""
    schemas = [CORE_SCHEMA] + ([reference[1]] if reference else [])
    rows = connection.execute(_UNINDEXED_FOREIGN_KEYS, {"schemas": schemas}).all()
    findings = []
    for row in rows:
        size = int(row.bytes)
        if row.schema != CORE_SCHEMA:
            largest = connection.execute(_LARGEST_TENANT_COPY, {"table": row.table_name})
            size = int(largest.scalar_one())
        findings.append(
            _finding(row.schema, row.table_name, row.constraint_name, row.columns, size, reference)
        )
    return findings


def _finding(
    schema: str,
    table: str,
    constraint: str,
    columns: Sequence[str],
    size: int,
    reference: tuple[str, str] | None,
) -> Finding:
    in_core = schema == CORE_SCHEMA
    branch = "core" if in_core else "tenant"
    where = "" if in_core else f" (in reference tenant {reference[0] if reference else schema})"
    copy = "" if in_core else " at its largest in any tenant"
    costly = size >= SCAN_BYTES
    scan = f"{size // 1024} kB{copy}" + ("" if costly else ": cheap for now, not as it grows")
    quoted_columns = ", ".join(quote_identifier(column) for column in columns)
    qualified = quote_identifier(table) if not in_core else f"core.{quote_identifier(table)}"
    return Finding(
        CHECK_FOREIGN_KEY_INDEX,
        f"{schema}.{table}",
        f"foreign key {constraint} ({', '.join(columns)}) has no index that starts with its "
        f"columns{where}: each delete or key update of a referenced row scans {table} "
        f"({scan})",
        f"a {branch} revision (make revision-{branch} MSG='index {constraint}') with "
        f"CREATE INDEX ON {qualified} ({quoted_columns}), then tenantctl migrate up",
        Severity.PROBLEM if costly else Severity.INFO,
        {"table_bytes": size},
    )
