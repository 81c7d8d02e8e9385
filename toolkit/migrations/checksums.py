"""Checksums of revision files: recorded when a revision is applied, verified against disk.

A revision file edited after it ran somewhere means the databases no longer match the
history a new database would get. ``tenantctl migrate verify`` lists every such revision.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, String, exists, literal, select, union_all
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert

from models import revision_checksums
from toolkit.migrations.branches import BranchIndex

_checksums = revision_checksums.c


@dataclass(frozen=True)
class RevisionFile:
    """A revision id with its branch, its file (relative to the script directory) and SHA-256."""

    revision: str
    branch: str
    path: str
    checksum: str


@dataclass(frozen=True)
class ChangedRevision:
    """A revision whose file differs from what was applied (``current`` None: file is gone)."""

    revision: str
    branch: str
    path: str
    recorded: tuple[str, ...]
    current: str | None
    first_applied_at: datetime.datetime


def file_checksum(path: str | Path) -> str:
    """SHA-256 of a file's bytes, as 64 hex digits."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def revision_files(
    script: ScriptDirectory, index: BranchIndex, revisions: Iterable[str]
) -> list[RevisionFile]:
    """The files of ``revisions``, with their checksums as they are on disk now."""
    root = Path(script.dir)
    files = []
    for revision_id in dict.fromkeys(revisions):
        revision = script.get_revision(revision_id)
        if revision is None:
            continue
        path = Path(revision.path)
        shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
        files.append(
            RevisionFile(
                revision=revision.revision,
                branch=index.branch_of(revision.revision) or "",
                path=shown,
                checksum=file_checksum(path),
            )
        )
    return files


def record_sql(files: Iterable[RevisionFile]) -> str | None:
    """One INSERT that records ``files`` unless already recorded; None if there are none.

    Rendered with literal values (revision ids, hex digests, paths) so that it joins a
    tenant's batch of statements and commits with that tenant's DDL. After the first tenant
    the rows exist, and the ``NOT EXISTS`` probe keeps the statement to index lookups
    (a bare ``ON CONFLICT DO NOTHING`` would attempt, and undo, an insert per tenant).
    """
    rows = [
        select(
            literal(f.revision, String),
            literal(f.checksum, String),
            literal(f.branch, String),
            literal(f.path, String),
        ).where(
            ~exists().where(_checksums.revision == f.revision, _checksums.checksum == f.checksum)
        )
        for f in files
    ]
    if not rows:
        return None
    columns = ["revision", "checksum", "branch", "path"]
    statement = (
        insert(revision_checksums).from_select(columns, union_all(*rows)).on_conflict_do_nothing()
    )
    compiled = statement.compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]  # untyped in SQLAlchemy
        compile_kwargs={"literal_binds": True},
    )
    return str(compiled)


def changed_revisions(
    connection: Connection, script: ScriptDirectory, index: BranchIndex
) -> list[ChangedRevision]:
    """Every applied revision whose file is missing or differs from a recorded checksum."""
    recorded: dict[str, list[Any]] = {}
    columns = (
        _checksums.revision,
        _checksums.checksum,
        _checksums.branch,
        _checksums.path,
        _checksums.first_applied_at,
    )
    for row in connection.execute(select(*columns).order_by(_checksums.revision)):
        recorded.setdefault(row.revision, []).append(row)
    changed = []
    for revision_id, rows in recorded.items():
        try:
            current_files = revision_files(script, index, [revision_id])
        except CommandError:
            current_files = []
        current = current_files[0].checksum if current_files else None
        checksums = tuple(sorted(row.checksum for row in rows))
        if current is None or any(checksum != current for checksum in checksums):
            changed.append(
                ChangedRevision(
                    revision=revision_id,
                    branch=rows[0].branch,
                    path=current_files[0].path if current_files else rows[0].path,
                    recorded=checksums,
                    current=current,
                    first_applied_at=min(row.first_applied_at for row in rows),
                )
            )
    return changed
