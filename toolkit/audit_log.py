"""Read a tenant's audit log: who changed which row of which table, when, from what to what.

The log is written by the database (``core.audit_row_change()``, fired by a trigger on every
tenant table) into ``<tenant schema>.audit_log``; this module only reads it. In SQL::

    SELECT occurred_at, actor, operation, table_name, row_id, old_values, new_values
    FROM tenant_acme.audit_log WHERE table_name = 'users' AND row_id = '42' ORDER BY id DESC;
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, text

from models.audit import AuditLogEntry
from toolkit.db import connect
from toolkit.errors import InvalidOption, SchemaNotReady
from toolkit.registry import find_tenant
from toolkit.sql import quote_identifier

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class AuditEntry:
    """One change of one row (or, for TRUNCATE, of a whole table; ``row_id`` is None)."""

    id: int
    occurred_at: datetime.datetime
    transaction_id: int
    actor: str
    db_role: str
    table_name: str
    row_id: str | None
    operation: str
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None

    @property
    def changes(self) -> dict[str, tuple[Any, Any]]:
        """Columns whose value differs between ``old_values`` and ``new_values``: (old, new)."""
        old = self.old_values or {}
        new = self.new_values or {}
        return {
            column: (old.get(column), new.get(column))
            for column in sorted(old.keys() | new.keys())
            if old.get(column) != new.get(column)
        }


def audit_trail(
    engine: Engine,
    tenant: str,
    *,
    table: str | None = None,
    row_id: str | int | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[AuditEntry]:
    """``tenant``'s most recent audit entries, newest first, optionally for one table or row.

    Raises TenantNotFound for an unknown tenant, SchemaNotReady if its schema has no audit
    log yet (below tenant revision 0003tenant), InvalidOption for a bad ``limit`` or a
    ``row_id`` without ``table``.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidOption(f"limit {limit} is out of range: pass 1 to {MAX_LIMIT}")
    if row_id is not None and table is None:
        raise InvalidOption(
            f"row id {row_id!r} names no table: ids repeat across tables; pass the table too"
        )
    log = AuditLogEntry.__table__
    query = select(log).order_by(log.c.id.desc()).limit(limit)
    if table is not None:
        query = query.where(log.c.table_name == table)
    if row_id is not None:
        query = query.where(log.c.row_id == str(row_id))
    with connect(engine) as connection:
        record = find_tenant(connection, tenant)
        qualified = f"{quote_identifier(record.database_schema)}.audit_log"
        found = connection.execute(text("SELECT to_regclass(:name)"), {"name": qualified})
        if found.scalar() is None:
            raise SchemaNotReady(
                f"tenant {record.subdomain!r} has no audit log: its schema "
                f"{record.database_schema!r} is below tenant revision 0003tenant or missing; "
                "run `tenantctl migrate up`"
            )
        translated = connection.execution_options(
            schema_translate_map={None: record.database_schema}
        )
        rows = translated.execute(query).mappings().all()
    return [AuditEntry(**row) for row in rows]
