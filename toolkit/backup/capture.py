"""Read one tenant consistently: its schema dump, table digests, revisions and core rows.

Everything is read in one REPEATABLE READ transaction whose snapshot ``pg_dump`` shares
(``--snapshot``), so the digests and core rows describe exactly the data in the dump even
while the tenant keeps writing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from models import CORE_SCHEMA
from toolkit.backup.bundle import TableDigest
from toolkit.db import connect
from toolkit.errors import BackupError
from toolkit.migrations.status import VERSION_TABLE, version_of
from toolkit.pg_client import run_client
from toolkit.registry import TenantRecord, find_tenant
from toolkit.sql import quote_identifier

# The tenant's rows in core besides ``core.tenants``, in the order they are restored.
CORE_CHILD_TABLES: tuple[str, ...] = (
    "tenant_users",
    "tenant_subscriptions",
    "tenant_api_keys",
    "tenant_usage",
)
# The digest of a table without rows (see table_digests).
EMPTY_DIGEST = TableDigest(0, "md5sum64:0")
# Session settings that decide how a row is written as text; fixed so that a checksum does
# not depend on the client's time zone or date style.
_STABLE_TEXT = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "IntervalStyle": "postgres",
    "extra_float_digits": "3",
    "bytea_output": "hex",
}


@dataclass(frozen=True)
class Capture:
    """One tenant as read from a single snapshot."""

    tenant: TenantRecord
    tenant_revisions: tuple[str, ...]
    core_revisions: tuple[str, ...]
    server_version: str
    tables: Mapping[str, TableDigest]
    tenant_row: dict[str, Any]
    children: Mapping[str, list[dict[str, Any]]]


def capture_tenant(engine: Engine, subdomain: str, dump: Path, *, schema_only: bool) -> Capture:
    """Dump ``subdomain``'s schema into ``dump`` and read the rest from the same snapshot.

    With ``schema_only`` the dump holds no rows, and every table's digest is that of an
    empty table. Raises TenantNotFound, or BackupError if the schema has no version table
    or its drop has begun.
    """
    with connect(engine) as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            stable_text(connection)
            tenant = find_tenant(connection, subdomain)
            schema = tenant.database_schema
            _refuse_dropping(connection, tenant)
            snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            revisions = version_of(connection, schema)
            if not revisions:
                raise BackupError(
                    f"schema {schema} of tenant {subdomain!r} has no {VERSION_TABLE} (or no "
                    "such schema exists): migrate it (`tenantctl migrate up --tenants "
                    f"{subdomain}`) or recreate it before backing it up"
                )
            run_client(
                "pg_dump",
                engine.url,
                [
                    "--format=custom",
                    # Grants name this database's roles (tenant roles among them): a backup
                    # must restore anywhere; restoring gives the tenant its own role again.
                    "--no-privileges",
                    f"--schema={schema}",
                    f"--snapshot={snapshot}",
                    f"--file={dump}",
                    *(["--schema-only"] if schema_only else []),
                ],
            )
            tables = table_digests(connection, schema)
            if schema_only:
                tables = dict.fromkeys(tables, EMPTY_DIGEST)
            tenant_row, children = _core_rows(connection, subdomain)
            return Capture(
                tenant=tenant,
                tenant_revisions=revisions,
                core_revisions=version_of(connection, CORE_SCHEMA),
                server_version=str(connection.execute(text("SHOW server_version")).scalar()),
                tables=tables,
                tenant_row=tenant_row,
                children=children,
            )


def _refuse_dropping(connection: Connection, tenant: TenantRecord) -> None:
    """BackupError if a drop of the tenant's schema has begun: its data may be partly gone."""
    # Imported here: toolkit.lifecycle imports toolkit.backup (drop and archive back up).
    from toolkit.lifecycle import is_being_dropped

    if is_being_dropped(connection, tenant.database_schema):
        raise BackupError(
            f"tenant {tenant.subdomain!r} cannot be backed up or cloned: a drop of its schema "
            f"{tenant.database_schema} has begun and was interrupted, so some of its tables "
            f"may be gone already; finish the drop with `tenantctl tenant drop "
            f"{tenant.subdomain} --yes`"
        )


def stable_text(connection: Connection) -> None:
    """Fix the settings that shape row text, for the current transaction only (SET LOCAL)."""
    for name, value in _STABLE_TEXT.items():
        connection.execute(
            text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value}
        )


def table_digests(connection: Connection, schema: str) -> dict[str, TableDigest]:
    """Row count and checksum of every table of ``schema`` except its version table.

    The checksum is the sum of the first 64 bits of each row's md5 (as text): independent
    of row order and of physical layout, computed without sorting. Runs inside the caller's
    transaction, whose text settings it fixes (:func:`stable_text`) for timestamps to match.
    """
    stable_text(connection)
    names = connection.execute(
        text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') AND c.relname <> :version "
            "ORDER BY c.relname"
        ),
        {"schema": schema, "version": VERSION_TABLE},
    ).scalars()
    digests: dict[str, TableDigest] = {}
    for name in list(names):
        qualified = f"{quote_identifier(schema)}.{quote_identifier(name)}"
        rows, checksum = connection.execute(
            text(
                "SELECT count(*), "  # noqa: S608  (catalog names, quoted)
                "coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint), 0)::text "
                f"FROM {qualified} AS t"
            )
        ).one()
        digests[name] = TableDigest(int(rows), f"md5sum64:{checksum}")
    return digests


def _core_rows(
    connection: Connection, subdomain: str
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The tenant's ``core.tenants`` row and its rows in ``CORE_CHILD_TABLES``, as JSON."""
    row = connection.execute(
        text("SELECT to_jsonb(t) FROM core.tenants AS t WHERE t.subdomain = :subdomain"),
        {"subdomain": subdomain},
    ).scalar_one()
    tenant_row = _as_dict(row)
    children: dict[str, list[dict[str, Any]]] = {}
    for table in CORE_CHILD_TABLES:
        qualified = f"{quote_identifier(CORE_SCHEMA)}.{quote_identifier(table)}"
        rows = connection.execute(
            text(
                f"SELECT to_jsonb(t) FROM {qualified} AS t "  # noqa: S608  (fixed names, quoted)
                "WHERE t.tenant_id = CAST(:tenant_id AS uuid) ORDER BY t.id"
            ),
            {"tenant_id": tenant_row["id"]},
        ).scalars()
        children[table] = [_as_dict(item) for item in rows]
    return tenant_row, children


def _as_dict(value: Any) -> dict[str, Any]:
    """A JSONB value as a dict (psycopg already decodes JSONB; text is parsed)."""
    decoded = json.loads(value) if isinstance(value, str) else value
    if not isinstance(decoded, dict):
        raise BackupError(f"unexpected core row {decoded!r}: expected a JSON object")
    return decoded
