"""Per-tenant backup, restore and clone, with real ``pg_dump`` and ``pg_restore``.

A backup is one tar file (``<subdomain>-<UTC timestamp>.tenant.tar``) holding a custom-format
dump of the tenant schema, the tenant's rows of ``core`` as JSON, and a manifest with
revisions, per-table row counts and checksums, and the sha256 of every part. Modules:
``bundle`` (the file), ``capture`` (reading a tenant from one snapshot), ``script`` (the
pg_restore | rename | psql pipeline), ``install`` (registering a restored schema) and
``commands`` (the public functions).
"""

from __future__ import annotations

from toolkit.backup.bundle import BACKUP_SUFFIX, BackupManifest, TableDigest
from toolkit.backup.capture import table_digests
from toolkit.backup.commands import (
    BACKUP_DIR_ENV,
    backup_tenant,
    clone_tenant,
    default_backup_path,
    restore_tenant,
)
from toolkit.backup.install import TEMP_SCHEMA_PREFIX

__all__ = [
    "BACKUP_DIR_ENV",
    "BACKUP_SUFFIX",
    "TEMP_SCHEMA_PREFIX",
    "BackupManifest",
    "TableDigest",
    "backup_tenant",
    "clone_tenant",
    "default_backup_path",
    "restore_tenant",
    "table_digests",
]
