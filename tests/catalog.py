"""A schema's catalog as comparable sets: tables, columns, constraints, indexes, sequences,
triggers and grants, with the schema's own name written as ``<schema>``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

_QUERIES = {
    "tables": """
        SELECT c.relname, c.relkind, coalesce(c.relacl::text, '')
        FROM pg_class c WHERE c.relnamespace = CAST(:schema AS regnamespace)
    """,
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity, a.attgenerated,
               coalesce(a.attacl::text, '')
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = CAST(:schema AS regnamespace) AND c.relkind IN ('r', 'p', 'v')
          AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "constraints": """
        SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        WHERE k.connamespace = CAST(:schema AS regnamespace)
    """,
    "indexes": """
        SELECT indexname, tablename, indexdef FROM pg_indexes WHERE schemaname = :schema
    """,
    "sequences": """
        SELECT s.sequencename, s.data_type::text, s.start_value, s.min_value, s.max_value,
               s.increment_by, s.cycle, s.cache_size,
               coalesce((SELECT t.relname || '.' || a.attname
                         FROM pg_depend dep
                         JOIN pg_class t ON t.oid = dep.refobjid
                         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = dep.refobjsubid
                         WHERE dep.objid = CAST(quote_ident(s.schemaname) || '.' ||
                                                quote_ident(s.sequencename) AS regclass)
                           AND dep.classid = 'pg_class'::regclass
                           AND dep.deptype IN ('a', 'i')), '')
        FROM pg_sequences s WHERE s.schemaname = :schema
    """,
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = CAST(:schema AS regnamespace) AND NOT t.tgisinternal
    """,
    "schema_grants": """
        SELECT coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = :schema
    """,
}


def catalog_of(connection: Connection, schema: str) -> dict[str, set[tuple[Any, ...]]]:
    """Every catalog fact of ``schema`` that decides how it behaves, by kind."""
    return {
        kind: {
            tuple(_anonymous(value, schema) for value in row)
            for row in connection.execute(text(query), {"schema": schema})
        }
        for kind, query in _QUERIES.items()
    }


def _anonymous(value: Any, schema: str) -> Any:
    return value.replace(schema, "<schema>") if isinstance(value, str) else value
