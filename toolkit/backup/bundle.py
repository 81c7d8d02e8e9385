"""The backup file: one tar holding the schema dump, the core rows and a manifest.

Members, in order: ``manifest.json`` (what the backup holds, with the sha256 of the other
parts), ``manifest.sha256`` (the sha256 of ``manifest.json``), ``core.json`` (the tenant's
rows of ``core``) and ``schema.dump`` (``pg_dump --format=custom`` of the tenant schema).
A plain tar, so ``tar tf`` lists it; the dump is compressed already. Every part is checked
against its sha256 before a restore touches the database.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from toolkit.errors import BackupError, BackupInvalid

FORMAT = "tenantctl-tenant-backup"
FORMAT_VERSION = 1
BACKUP_SUFFIX = ".tenant.tar"
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.sha256"
CORE = "core.json"
DUMP = "schema.dump"
_CHUNK = 1 << 20
_REMEDY = "use another copy of the backup"


@dataclass(frozen=True)
class TableDigest:
    """Row count and order-independent checksum of one table's rows."""

    rows: int
    checksum: str


@dataclass(frozen=True)
class BackupManifest:
    """What a backup file holds: its tenant, revisions, per-table digests and part checksums."""

    subdomain: str
    schema: str
    tenant_revisions: tuple[str, ...]
    core_revisions: tuple[str, ...]
    created_at: str
    server_version: str
    tables: Mapping[str, TableDigest]
    core_rows: Mapping[str, int]
    dump_sha256: str
    dump_bytes: int
    core_sha256: str
    format_version: int = FORMAT_VERSION

    def as_json(self) -> dict[str, Any]:
        """The manifest as written to ``manifest.json``."""
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "subdomain": self.subdomain,
            "schema": self.schema,
            "tenant_revisions": list(self.tenant_revisions),
            "core_revisions": list(self.core_revisions),
            "created_at": self.created_at,
            "server_version": self.server_version,
            "tables": {
                name: {"rows": digest.rows, "checksum": digest.checksum}
                for name, digest in sorted(self.tables.items())
            },
            "core_rows": dict(sorted(self.core_rows.items())),
            "dump": {"file": DUMP, "sha256": self.dump_sha256, "bytes": self.dump_bytes},
            "core": {"file": CORE, "sha256": self.core_sha256},
        }

    @classmethod
    def from_json(cls, data: Any, path: Path) -> BackupManifest:
        """Parse ``manifest.json`` of the backup at ``path``; BackupInvalid if malformed."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BackupInvalid(f"{path} is not a tenant backup (no {FORMAT} manifest); {_REMEDY}")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise BackupInvalid(
                f"{path} has backup format version {version!r}, this tenantctl reads version "
                f"{FORMAT_VERSION}: restore it with the tenantctl release that wrote it"
            )
        try:
            return cls(
                subdomain=str(data["subdomain"]),
                schema=str(data["schema"]),
                tenant_revisions=tuple(str(rev) for rev in data["tenant_revisions"]),
                core_revisions=tuple(str(rev) for rev in data["core_revisions"]),
                created_at=str(data["created_at"]),
                server_version=str(data["server_version"]),
                tables={
                    str(name): TableDigest(int(item["rows"]), str(item["checksum"]))
                    for name, item in data["tables"].items()
                },
                core_rows={str(name): int(count) for name, count in data["core_rows"].items()},
                dump_sha256=str(data["dump"]["sha256"]),
                dump_bytes=int(data["dump"]["bytes"]),
                core_sha256=str(data["core"]["sha256"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackupInvalid(f"{path} has a malformed manifest ({exc!r}); {_REMEDY}") from None


@dataclass(frozen=True)
class Bundle:
    """A backup file read and checked: its manifest, the dump extracted, the core rows."""

    path: Path
    manifest: BackupManifest
    dump: Path
    core: Mapping[str, list[dict[str, Any]]]


def file_sha256(path: Path) -> str:
    """The sha256 of a file's contents, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_bundle(output: Path, manifest: BackupManifest, dump: Path, core: bytes) -> None:
    """Write the backup file at ``output`` atomically: a temp file beside it, then a rename.

    A failure (or a kill) leaves at most a hidden ``.*.part`` file, never a partial backup
    under the final name. The file is readable by its owner only: it holds password hashes.
    """
    manifest_bytes = json.dumps(manifest.as_json(), indent=2, sort_keys=True).encode()
    manifest_sum = hashlib.sha256(manifest_bytes).hexdigest().encode() + b"\n"
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115  (renamed, not deleted, on success)
        dir=output.parent, prefix=f".{output.name}.", suffix=".part", delete=False
    )
    partial = Path(handle.name)
    try:
        with handle, tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, payload in ((MANIFEST, manifest_bytes), (MANIFEST_SUM, manifest_sum)):
                tar.addfile(_member(name, len(payload)), io.BytesIO(payload))
            tar.addfile(_member(CORE, len(core)), io.BytesIO(core))
            with dump.open("rb") as dump_handle:
                tar.addfile(_member(DUMP, dump.stat().st_size), dump_handle)
            tar.close()
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, output)
    except OSError as exc:
        raise BackupError(f"cannot write backup {output}: {exc}; check the directory") from None
    finally:
        partial.unlink(missing_ok=True)


def read_bundle(path: Path, workdir: Path) -> Bundle:
    """Read and check the backup at ``path``, extracting its dump into ``workdir``.

    Raises BackupInvalid naming the file and the cause if it is missing, truncated, not a
    backup, of an unknown format version, or if any part fails its checksum.
    """
    if not path.is_file():
        raise BackupInvalid(f"backup file {path} does not exist; give the path of a backup")
    try:
        with tarfile.open(path, mode="r:") as tar:
            manifest_bytes = _read_member(tar, MANIFEST, path)
            recorded = _read_member(tar, MANIFEST_SUM, path).decode(errors="replace").strip()
            if hashlib.sha256(manifest_bytes).hexdigest() != recorded:
                raise _corrupt(path, MANIFEST)
            manifest = BackupManifest.from_json(_json(manifest_bytes, path), path)
            core_bytes = _read_member(tar, CORE, path)
            if hashlib.sha256(core_bytes).hexdigest() != manifest.core_sha256:
                raise _corrupt(path, CORE)
            dump = workdir / DUMP
            _extract(tar, DUMP, dump, path)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupInvalid(
            f"{path} is not a readable tenant backup ({exc}): the file is truncated or damaged; "
            f"{_REMEDY}"
        ) from None
    if dump.stat().st_size != manifest.dump_bytes or file_sha256(dump) != manifest.dump_sha256:
        raise _corrupt(path, DUMP)
    core = _json(core_bytes, path)
    if not isinstance(core, dict):
        raise _corrupt(path, CORE)
    return Bundle(path=path, manifest=manifest, dump=dump, core=core)


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(time.time())
    return info


def _read_member(tar: tarfile.TarFile, name: str, path: Path) -> bytes:
    handle = _open_member(tar, name, path)
    with handle:
        return handle.read()


def _extract(tar: tarfile.TarFile, name: str, target: Path, path: Path) -> None:
    with _open_member(tar, name, path) as source, target.open("wb") as sink:
        while chunk := source.read(_CHUNK):
            sink.write(chunk)


def _open_member(tar: tarfile.TarFile, name: str, path: Path) -> IO[bytes]:
    try:
        handle = tar.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise BackupInvalid(
            f"{path} has no {name}: it is truncated or not a tenant backup; {_REMEDY}"
        )
    return handle


def _json(payload: bytes, path: Path) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        raise BackupInvalid(f"{path} holds invalid JSON; {_REMEDY}") from None


def _corrupt(path: Path, part: str) -> BackupInvalid:
    return BackupInvalid(
        f"{path} is corrupt: {part} does not match its recorded sha256; nothing was changed; "
        f"{_REMEDY}"
    )
