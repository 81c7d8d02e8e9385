"""The tenant template: the SQL that creates a tenant schema at tenant head, kept in core.

Replaying every revision through Alembic for each new tenant makes signups slower as the
history grows. Instead, whenever the tenant head changes, the tenant branch from base to
head is rendered once, in Alembic's offline mode (the same rendering a rollout replays per
tenant), and stored in ``core.tenant_template``. ``core.create_tenant_schema()`` replays it
in one ``EXECUTE`` and stamps the schema at head; the CLI calls that function too.

- Alembic's per-revision version-table statements are left out; the schema is stamped once.
- A revision whose module sets ``data_only = True`` only moves data, which a new schema has
  none of: it is left out, even if it needs Python (``render_as_sql = False``).
- Any other revision that cannot be rendered leaves no template: new tenants are then
  migrated through Alembic, and the SQL function says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text

from toolkit.db import connect, transaction
from toolkit.migrations.apply import CREATE_VERSION_TABLE
from toolkit.migrations.branches import TENANT
from toolkit.migrations.render import render_statements
from toolkit.sql import STATEMENT_SEPARATOR

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

DATA_ONLY_FLAG = "data_only"
_VERSION_STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS alembic_version",
    "INSERT INTO alembic_version",
    "UPDATE alembic_version",
    "DELETE FROM alembic_version",
)
# Builders of one database take turns ("tntt"); released with the transaction.
_BUILD_LOCK_KEY = 0x746E7474


def template_table_exists(connection: Connection) -> bool:
    """True once core has the template table (core at revision 0003core or later)."""
    return bool(
        connection.execute(text("SELECT to_regclass('core.tenant_template') IS NOT NULL")).scalar()
    )


def template_revisions(connection: Connection) -> tuple[str, ...] | None:
    """The tenant revisions the stored template stands for; None if there is none."""
    if not template_table_exists(connection):
        return None
    row = connection.execute(text("SELECT revisions FROM core.tenant_template")).first()
    return tuple(sorted(row[0])) if row is not None else None


def render_template(script: ScriptDirectory) -> str | None:
    """The SQL that builds a tenant schema from nothing to tenant head (unqualified names,
    for the schema's ``search_path``), without stamping it; None if it cannot be rendered."""
    statements = [CREATE_VERSION_TABLE]
    try:
        steps = script._upgrade_revs(f"{TENANT}@head", "base")
    # Several tenant heads, say: such a history is provisioned through Alembic.
    except (CommandError, RevisionError):
        return None
    for step in steps:
        if getattr(step.revision.module, DATA_ONLY_FLAG, False) is True:
            continue
        rendered = render_statements([step], step.from_revisions)
        if rendered is None:
            return None
        statements.extend(s for s in rendered if not s.startswith(_VERSION_STATEMENTS))
    return STATEMENT_SEPARATOR.join(statements)


def ensure_template(engine: Engine, script: ScriptDirectory, tenant_heads: Sequence[str]) -> bool:
    """Store the template for ``tenant_heads`` unless it is there already.

    Returns True if a template for those heads is stored; False if core has no template
    table yet, if the stored one comes from newer code (it is kept: an older checkout must
    not take it back), or if the scripts cannot be rendered (then any older template is
    removed, so that nobody provisions from it). False means: provision through Alembic.
    """
    heads = tuple(sorted(tenant_heads))
    with connect(engine) as connection, transaction(connection):
        if not template_table_exists(connection):
            return False
        if template_revisions(connection) == heads:
            return True
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _BUILD_LOCK_KEY})
        stored = template_revisions(connection)
        if stored == heads:  # stored while this one waited
            return True
        if stored is not None and not _known(script, stored):
            return False  # stored by newer code: an older checkout must not replace it
        sql = render_template(script)
        if sql is None:
            connection.execute(text("DELETE FROM core.tenant_template"))
            return False
        connection.execute(
            text(
                "INSERT INTO core.tenant_template (singleton, revisions, ddl, built_at) "
                "VALUES (true, :revisions, :ddl, now()) ON CONFLICT (singleton) DO UPDATE "
                "SET revisions = excluded.revisions, ddl = excluded.ddl, built_at = now()"
            ),
            {"revisions": list(heads), "ddl": sql},
        )
        return True


def _known(script: ScriptDirectory, revisions: Sequence[str]) -> bool:
    """True if every revision is in ``script`` (the template is not from newer code)."""
    try:
        return all(script.get_revision(revision) is not None for revision in revisions)
    except (CommandError, RevisionError):
        return False
