"""Backup, restore and clone of one tenant: one plain function per verb."""

from __future__ import annotations

import datetime
import hashlib
import json
import tempfile
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from toolkit.backup.bundle import (
    BACKUP_SUFFIX,
    BackupManifest,
    Bundle,
    file_sha256,
    read_bundle,
    write_bundle,
)
from toolkit.backup.capture import capture_tenant
from toolkit.backup.install import CorePolicy, Source, install
from toolkit.backup.script import foreign_entries
from toolkit.errors import BackupError, BackupInvalid, BackupTooNew, ClientToolFailed
from toolkit.migrations.branches import TENANT, BranchIndex
from toolkit.migrations.config import alembic_config
from toolkit.naming import is_tenant_schema, schema_for, validate_subdomain
from toolkit.registry import TenantRecord
from toolkit.settings import SETTINGS_BY_FIELD, Settings

BACKUP_DIR_ENV = SETTINGS_BY_FIELD["backup_dir"].env
DEFAULT_BACKUP_DIR = str(Settings.backup_dir)


def default_backup_path(subdomain: str) -> Path:
    """``$TENANTCTL_BACKUP_DIR/<subdomain>-<UTC timestamp>.tenant.tar`` (default ``./backups``).

    The timestamp has microseconds, so two backups of one tenant never share a name.
    """
    validate_subdomain(subdomain)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    directory = Settings.from_env(only=("backup_dir",)).backup_dir
    return directory / f"{subdomain}-{stamp}{BACKUP_SUFFIX}"


def backup_tenant(engine: Engine, subdomain: str, output: Path) -> BackupManifest:
    """Write one file at ``output`` holding ``subdomain``'s schema, core rows and manifest.

    Refuses to overwrite an existing file; creates missing parent directories. The file
    appears complete or not at all (written beside, then renamed). Raises TenantNotFound,
    BackupError, or ClientToolMissing/ClientToolFailed for pg_dump.
    """
    validate_subdomain(subdomain)
    output = Path(output)
    if output.exists():
        raise BackupError(f"{output} already exists: choose another path or move that file")
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tenantctl-backup-") as work:
        dump = Path(work) / "schema.dump"
        captured = capture_tenant(engine, subdomain, dump, schema_only=False)
        core = json.dumps(
            {"tenants": [captured.tenant_row], **captured.children}, indent=1, sort_keys=True
        ).encode()
        manifest = BackupManifest(
            subdomain=captured.tenant.subdomain,
            schema=captured.tenant.database_schema,
            tenant_revisions=captured.tenant_revisions,
            core_revisions=captured.core_revisions,
            created_at=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            server_version=captured.server_version,
            tables=captured.tables,
            core_rows={table: len(rows) for table, rows in captured.children.items()},
            dump_sha256=file_sha256(dump),
            dump_bytes=dump.stat().st_size,
            core_sha256=hashlib.sha256(core).hexdigest(),
        )
        write_bundle(output, manifest, dump, core)
    return manifest


def restore_tenant(engine: Engine, path: Path, *, as_subdomain: str | None = None) -> TenantRecord:
    """Restore the backup at ``path`` as a new tenant, by default under its own subdomain.

    The whole file is checked first (checksums, format, revisions this code knows); the
    schema is then replayed, verified and registered in one step, and migrated to tenant
    head if it is behind. Under the original subdomain every core row comes back, with new
    ids; with ``as_subdomain`` (a different one) API keys are left out and subscriptions
    lose their external billing id: those belong to the original tenant.
    """
    if as_subdomain is not None:
        validate_subdomain(as_subdomain)
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="tenantctl-restore-") as work:
        bundle = read_bundle(path, Path(work))
        manifest = bundle.manifest
        _check_restorable(bundle)
        target = as_subdomain or manifest.subdomain
        policy = CorePolicy.ALL if target == manifest.subdomain else CorePolicy.DETACHED
        source = Source(
            label=f"backup {path}",
            dump=bundle.dump,
            schema=manifest.schema,
            revisions=manifest.tenant_revisions,
            tables=manifest.tables,
            tenant_row=_tenant_row(bundle),
            children={key: rows for key, rows in bundle.core.items() if key != "tenants"},
        )
        return install(engine, source, target, policy)


def clone_tenant(
    engine: Engine, source: str, new_subdomain: str, *, with_data: bool = False
) -> TenantRecord:
    """Create ``new_subdomain`` as a copy of tenant ``source``'s schema.

    Schema only unless ``with_data``. The new tenant gets the source's company name, plan,
    settings and limits, but none of its admin users, subscriptions, API keys or usage.
    """
    validate_subdomain(source)
    schema_for(new_subdomain)
    with tempfile.TemporaryDirectory(prefix="tenantctl-clone-") as work:
        dump = Path(work) / "schema.dump"
        captured = capture_tenant(engine, source, dump, schema_only=not with_data)
        copy = Source(
            label=f"tenant {source!r}",
            dump=dump,
            schema=captured.tenant.database_schema,
            revisions=captured.tenant_revisions,
            tables=captured.tables,
            tenant_row=captured.tenant_row,
            children={},
            schema_only=not with_data,
        )
        return install(engine, copy, new_subdomain, CorePolicy.TENANT_ROW)


def _check_restorable(bundle: Bundle) -> None:
    """Everything about the file that can be checked without changing the database."""
    manifest, path = bundle.manifest, bundle.path
    if manifest.schema != schema_for(manifest.subdomain) or not is_tenant_schema(manifest.schema):
        raise BackupInvalid(
            f"{path} names schema {manifest.schema!r} for subdomain {manifest.subdomain!r}, "
            "which do not belong together; use another copy of the backup"
        )
    if not manifest.tenant_revisions:
        raise BackupInvalid(f"{path} records no tenant revision; use another copy")
    index = BranchIndex.build(ScriptDirectory.from_config(alembic_config()))
    unknown = [rev for rev in manifest.tenant_revisions if index.branch_of(rev) != TENANT]
    if unknown:
        raise BackupTooNew(
            f"{path} holds schema {manifest.schema} at tenant revision {', '.join(unknown)}, "
            "which this code's migrations do not know: the backup comes from a newer head "
            "than this code. Restore it with a tenantctl checkout that has that revision"
        )
    rows = bundle.core.get("tenants")
    if not isinstance(rows, list) or len(rows) != 1:
        raise BackupInvalid(f"{path} holds no core.tenants row; use another copy")
    try:
        foreign = foreign_entries(bundle.dump, manifest.schema)
    except ClientToolFailed as exc:
        raise BackupInvalid(f"{path}: its schema dump is unreadable ({exc})") from None
    if foreign:
        shown = "; ".join(foreign[:3]) + (
            f"; and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        )
        raise BackupInvalid(
            f"{path}: its schema dump holds {len(foreign)} entries outside schema "
            f"{manifest.schema} ({shown}): it was not written by `tenantctl tenant backup` "
            "or was altered; nothing was changed; use another copy of the backup"
        )


def _tenant_row(bundle: Bundle) -> dict[str, object]:
    row = bundle.core["tenants"][0]
    if not isinstance(row, dict):
        raise BackupInvalid(f"{bundle.path}: its core.tenants row is not a JSON object")
    return row
