"""The tenant template: the DDL of a tenant schema at tenant head, built once per head.

Replaying every revision for each new tenant makes signups slower as the history grows.
Instead, when the tenant head changes, a reference schema is migrated from base to head
through Alembic (every revision, Python ones included), dumped with ``pg_dump
--schema-only``, and dropped. The dump, with the reference schema's name replaced by a
placeholder, is stored in ``core.tenant_template``; ``core.create_tenant_schema()`` replays
it for each new tenant. A dump describes the schema as it is, not how it got there, so its
cost does not depend on the length of the history.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.pool import NullPool

from toolkit.db import connect, make_engine, transaction
from toolkit.migrations.branches import TENANT
from toolkit.pg_client import run_client
from toolkit.sql import create_schema, drop_schema, set_local_search_path

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

# Where the reference schema is built; not a tenant schema name, so no run ever selects it.
REFERENCE_SCHEMA = "tenantctl_template_build"
# Stands for the tenant's (quoted) schema name in the stored DDL.
PLACEHOLDER = "@tenant_schema@"
# Session advisory lock serialising builders ("tntt").
_BUILD_LOCK_KEY = 0x746E7474
# pg_dump's session settings, psql meta-commands and comments: none belong in the template.
_SKIPPED_LINE = re.compile(r"^(--|\\|SET |SELECT pg_catalog\.set_config\()")
_REFERENCE_NAME = re.compile(rf"\b{REFERENCE_SCHEMA}\b")


def template_revisions(connection: Connection) -> tuple[str, ...] | None:
    """The tenant revisions the stored template stands for; None if there is none yet.

    Also None when core predates the template table.
    """
    if not template_table_exists(connection):
        return None
    row = connection.execute(text("SELECT revisions FROM core.tenant_template")).first()
    return tuple(sorted(row[0])) if row is not None else None


def template_table_exists(connection: Connection) -> bool:
    """True once core has the template table (core at revision 0003core or later)."""
    return bool(
        connection.execute(text("SELECT to_regclass('core.tenant_template') IS NOT NULL")).scalar()
    )


def ensure_template(engine: Engine, script: ScriptDirectory, tenant_heads: Sequence[str]) -> bool:
    """Build the template unless it already stands for ``tenant_heads`` (of ``script``).

    Returns True if it was (re)built. Concurrent callers wait for one another; only the
    first builds. Does nothing while core has no template table.
    """
    heads = tuple(sorted(tenant_heads))
    with connect(engine) as connection:
        if not template_table_exists(connection) or template_revisions(connection) == heads:
            connection.rollback()
            return False
        connection.rollback()
    url = engine.url.render_as_string(hide_password=False)
    builder = make_engine(url, poolclass=NullPool)
    try:
        with _build_lock(builder), connect(builder) as connection:
            if template_revisions(connection) == heads:  # built while this one waited
                connection.rollback()
                return False
            connection.rollback()
            _build(connection, url, script, heads)
        return True
    finally:
        builder.dispose()


def _build(
    connection: Connection, url: str, script: ScriptDirectory, heads: tuple[str, ...]
) -> None:
    with transaction(connection):
        connection.execute(text(drop_schema(REFERENCE_SCHEMA, if_exists=True)))
        connection.execute(text(create_schema(REFERENCE_SCHEMA)))
        _migrate_reference(connection, script)
    try:
        dump = run_client(
            "pg_dump",
            url,
            ["--schema-only", "--no-owner", f"--schema={REFERENCE_SCHEMA}"],
        )
        with transaction(connection):
            connection.execute(
                text(
                    "INSERT INTO core.tenant_template (singleton, revisions, ddl, built_at) "
                    "VALUES (true, :revisions, :ddl, now()) ON CONFLICT (singleton) DO UPDATE "
                    "SET revisions = excluded.revisions, ddl = excluded.ddl, built_at = now()"
                ),
                {"revisions": list(heads), "ddl": template_ddl(dump)},
            )
            connection.execute(text(drop_schema(REFERENCE_SCHEMA)))
    finally:
        with transaction(connection):
            connection.execute(text(drop_schema(REFERENCE_SCHEMA, if_exists=True)))


def template_ddl(dump: str) -> str:
    """The schema-only dump of the reference schema as a template for any tenant schema.

    Drops pg_dump's session settings, psql meta-commands, comments and the ``CREATE
    SCHEMA`` (the function creates the schema itself), and writes PLACEHOLDER wherever the
    reference schema is named.
    """
    kept = [
        line
        for line in dump.splitlines()
        if not _SKIPPED_LINE.match(line) and line.strip() != f"CREATE SCHEMA {REFERENCE_SCHEMA};"
    ]
    body = "\n".join(kept).strip()
    return re.sub(r"\n{3,}", "\n\n", _REFERENCE_NAME.sub(PLACEHOLDER, body))


def _migrate_reference(connection: Connection, script: ScriptDirectory) -> None:
    """Run every tenant revision from base to head in the reference schema, through Alembic."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    from models import TenantBase

    connection.execute(text(set_local_search_path(REFERENCE_SCHEMA)))
    options: dict[str, Any] = {
        "version_table_schema": REFERENCE_SCHEMA,
        "target_metadata": TenantBase.metadata,
        "fn": lambda heads, _context: script._upgrade_revs(f"{TENANT}@head", heads),
    }
    context = MigrationContext.configure(connection=connection, opts=options)
    with Operations.context(context):
        context.run_migrations()


@contextlib.contextmanager
def _build_lock(engine: Engine) -> Iterator[None]:
    with connect(engine) as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _BUILD_LOCK_KEY})
        connection.commit()
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _BUILD_LOCK_KEY})
            connection.commit()
