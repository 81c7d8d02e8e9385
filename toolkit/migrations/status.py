"""Where core and every tenant stand against the heads of their branches.

Every tenant's version is read with no transaction per tenant: one catalog query, then one
message of ``VERSION_CHUNK`` small queries per round trip, on two connections at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from models import CORE_SCHEMA
from toolkit.db import connect
from toolkit.errors import SchemaNotReady
from toolkit.migrations import version_record
from toolkit.migrations.branches import CORE, TENANT, BranchIndex
from toolkit.migrations.config import alembic_config
from toolkit.migrations.journal import StepRecord, failing_schemas, journal_exists
from toolkit.registry import MIGRATED_STATUSES, TenantRecord, list_tenants, require_registry
from toolkit.sql import quote_identifier

VERSION_TABLE = "alembic_version"
VERSION_CHUNK = 500
VERSION_READERS = 2


@dataclass(frozen=True)
class Heads:
    """The head revisions of both branches in the script directory."""

    core: tuple[str, ...]
    tenant: tuple[str, ...]

    @classmethod
    def from_scripts(cls, script: ScriptDirectory | None = None) -> Heads:
        """Read the heads from ``script`` (default: this project's script directory)."""
        script = script or ScriptDirectory.from_config(alembic_config())
        index = BranchIndex.build(script)
        return cls(core=index.heads_of(script, CORE), tenant=index.heads_of(script, TENANT))


@dataclass(frozen=True)
class TenantVersion:
    """One tenant's current revisions (empty when its schema has no version table)."""

    tenant: TenantRecord
    revisions: tuple[str, ...]
    at_head: bool


@dataclass(frozen=True)
class RevisionGroup:
    """How many tenants are at one set of revisions."""

    revisions: tuple[str, ...]
    tenants: int
    at_head: bool


@dataclass(frozen=True)
class MigrationStatus:
    """Core's and every tenant's revision, against head."""

    core_revisions: tuple[str, ...]
    heads: Heads
    tenants: tuple[TenantVersion, ...]
    failing: tuple[StepRecord, ...] = ()

    @property
    def groups(self) -> list[RevisionGroup]:
        """Tenants counted by revision (migrated statuses only), most common first."""
        counts = Counter(
            version.revisions
            for version in self.tenants
            if version.tenant.status in MIGRATED_STATUSES
        )
        head = tuple(sorted(self.heads.tenant))
        return [
            RevisionGroup(revisions, count, revisions == head)
            for revisions, count in counts.most_common()
        ]

    @property
    def core_at_head(self) -> bool:
        """True if core is at its branch head."""
        return set(self.core_revisions) == set(self.heads.core)

    @property
    def tenants_behind(self) -> list[TenantVersion]:
        """Tenants that migrations should have brought to head but have not.

        Archived tenants are never migrated, so they are listed in ``tenants`` but do not
        count as behind.
        """
        return [
            version
            for version in self.tenants
            if not version.at_head and version.tenant.status in MIGRATED_STATUSES
        ]

    @property
    def up_to_date(self) -> bool:
        """True if core and every tenant are at head."""
        return self.core_at_head and not self.tenants_behind


def version_of(connection: Connection, schema: str) -> tuple[str, ...]:
    """The revisions in ``schema``'s version table; empty if there is no such table."""
    return read_versions(connection, [schema]).get(schema, ())


def require_core_at_head(connection: Connection, heads: Heads) -> None:
    """Raise SchemaNotReady unless the registry exists and core is at ``heads.core``."""
    require_registry(connection)
    current = version_of(connection, CORE_SCHEMA)
    if set(current) != set(heads.core):
        raise SchemaNotReady(
            f"schema core is at {', '.join(current) or 'base'}, not at head "
            f"{', '.join(heads.core)}: run `tenantctl migrate up` first"
        )


def read_versions(
    connection: Connection, schemas: Sequence[str], *, recorded: bool = False
) -> dict[str, tuple[str, ...]]:
    """Revisions of each schema's version table; schemas without one are left out.

    With ``recorded``, a tenant whose revisions ``core.tenant_versions`` holds is taken from
    there: one query for all of them, where reading each table costs a catalog load per
    schema (seconds at 10,000 tenants). The record is written by a trigger on the tenant's
    version table in the same transaction, so it only differs from the table if someone
    bypassed triggers; use it to plan and report, and the table itself where a decision must
    hold (the rollout checks each tenant's table again when it applies a plan). A schema
    without a version table has no revisions whatever its record says.

    The rest is read table by table, one round trip per ``VERSION_CHUNK`` schemas. Reading
    a table locks it until the transaction ends, and PostgreSQL's lock table has room for a
    few thousand; so when this function begins the transaction itself (the connection holds
    none on entry) each chunk runs in a transaction of its own, and chunks are read by
    ``VERSION_READERS`` connections at once: a new server session spends most of such a read
    loading each table's catalog entries, work that parallelises. Inside a caller's
    transaction every lock stays on that one connection: keep such reads small.
    """
    owns_transaction = not connection.in_transaction()
    wanted = set(schemas)
    present = [schema for schema in _schemas_with_version_table(connection) if schema in wanted]
    versions = recorded_versions(connection, present) if recorded else {}
    present = [schema for schema in present if schema not in versions]
    if owns_transaction:
        connection.commit()
    chunks = [present[i : i + VERSION_CHUNK] for i in range(0, len(present), VERSION_CHUNK)]
    if owns_transaction and len(chunks) > 1:
        versions.update(_read_in_parallel(connection.engine, chunks))
        return versions
    for chunk in chunks:
        if owns_transaction:
            with connection.begin():
                versions.update(_read_chunk(connection, chunk))
        else:
            versions.update(_read_chunk(connection, chunk))
    return versions


def _schemas_with_version_table(connection: Connection) -> list[str]:
    return sorted(
        connection.execute(
            text(
                "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname = :table AND c.relkind = 'r'"
            ),
            {"table": VERSION_TABLE},
        )
        .scalars()
        .all()
    )


def recorded_versions(connection: Connection, schemas: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The revisions ``core.tenant_versions`` holds for ``schemas`` (those with a record);
    {} before core revision 0004core."""
    if not version_record.records_exist(connection):
        return {}
    wanted = set(schemas)
    rows = connection.execute(
        text(
            "SELECT t.database_schema, v.revisions FROM core.tenant_versions v"
            " JOIN core.tenants t ON t.id = v.tenant_id"
        )
    ).all()
    return {schema: tuple(sorted(revisions)) for schema, revisions in rows if schema in wanted}


def _read_in_parallel(
    engine: Engine, chunks: Sequence[Sequence[str]]
) -> dict[str, tuple[str, ...]]:
    """Read ``chunks`` on ``VERSION_READERS`` connections of their own, in threads."""
    readers = min(VERSION_READERS, len(chunks))

    def read_share(share: int) -> dict[str, tuple[str, ...]]:
        found: dict[str, tuple[str, ...]] = {}
        with connect(engine) as own:
            for chunk in chunks[share::readers]:
                with own.begin():
                    found.update(_read_chunk(own, chunk))
        return found

    versions: dict[str, tuple[str, ...]] = {}
    with ThreadPoolExecutor(max_workers=readers) as pool:
        for found in pool.map(read_share, range(readers)):
            versions.update(found)
    return versions


def _read_chunk(connection: Connection, schemas: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each schema's revisions; every schema given must have a version table.

    Runs through the driver, inside the transaction the caller began on ``connection``.
    """
    if not schemas:
        return {}
    # One message of many small statements: PostgreSQL plans each in microseconds, where one
    # UNION ALL over a thousand tables takes a tenth of a second to plan. Schema names reach
    # this SQL only quoted.
    batch = ";".join(
        f"SELECT version_num FROM {quote_identifier(schema)}.{VERSION_TABLE}"  # noqa: S608
        for schema in schemas
    )
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    cursor = driver.execute(batch)
    versions: dict[str, tuple[str, ...]] = {}
    for schema in schemas:
        versions[schema] = tuple(sorted(row[0] for row in cursor.fetchall()))
        cursor.nextset()
    return versions


def migration_status(connection: Connection, heads: Heads | None = None) -> MigrationStatus:
    """Core's revision and every registered tenant's, against the branch heads.

    Also lists the tenants whose latest journaled step failed. When the connection holds no
    transaction on entry, the reads run in short transactions of their own.
    """
    heads = heads or Heads.from_scripts()
    owns_transaction = not connection.in_transaction()
    require_registry(connection)
    tenants = list_tenants(connection)
    failing = tuple(failing_schemas(connection)) if journal_exists(connection) else ()
    if owns_transaction:
        connection.commit()
    versions = read_versions(
        connection, [CORE_SCHEMA, *(tenant.database_schema for tenant in tenants)], recorded=True
    )
    tenant_head = set(heads.tenant)
    return MigrationStatus(
        core_revisions=versions.get(CORE_SCHEMA, ()),
        heads=heads,
        tenants=tuple(
            TenantVersion(
                tenant=tenant,
                revisions=versions.get(tenant.database_schema, ()),
                at_head=set(versions.get(tenant.database_schema, ())) == tenant_head,
            )
            for tenant in tenants
        ),
        failing=failing,
    )
