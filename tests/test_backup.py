"""Backup, restore and clone of one tenant with real pg_dump, pg_restore and psql."""

from __future__ import annotations

import json
import sys
import tarfile
from pathlib import Path

import pytest
from cli_runner import one_line_error, run_cli
from scratch_scripts import add_tenant_revision
from sqlalchemy import Engine, text

from toolkit import TenantExists, drop_tenant
from toolkit.backup import (
    BACKUP_DIR_ENV,
    TEMP_SCHEMA_PREFIX,
    backup_tenant,
    clone_tenant,
    default_backup_path,
    restore_tenant,
    table_digests,
)
from toolkit.backup import install as install_module
from toolkit.backup.bundle import DUMP, BackupManifest, file_sha256, read_bundle, write_bundle
from toolkit.backup.script import SchemaRenamer
from toolkit.errors import BackupError, BackupInvalid, BackupTooNew
from toolkit.lifecycle import is_being_dropped
from toolkit.migrations.config import ALEMBIC_INI_ENV
from toolkit.pg_client import run_client

# -- helpers ---------------------------------------------------------------------------------


def _sql(engine: Engine, statement: str, **params) -> list:
    with engine.begin() as connection:
        result = connection.execute(text(statement), params)
        return result.all() if result.returns_rows else []


def _digests(engine: Engine, schema: str):
    with engine.begin() as connection:
        return table_digests(connection, schema)


def _state(engine: Engine) -> tuple:
    """Registered tenants, every non-system schema, and the number of core rows per table."""
    core_tables = ("tenants", "tenant_users", "tenant_subscriptions", "tenant_api_keys")
    counts = tuple(_sql(engine, f"SELECT count(*) FROM core.{t}")[0][0] for t in core_tables)
    subdomains = [r[0] for r in _sql(engine, "SELECT subdomain FROM core.tenants ORDER BY 1")]
    schemas = [
        r[0]
        for r in _sql(
            engine,
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' "
            "AND nspname NOT IN ('public', 'information_schema', 'core') ORDER BY 1",
        )
    ]
    return subdomains, schemas, counts


def _fill(engine: Engine, schema: str = "tenant_acme") -> None:
    """Rows in several tenant tables (with foreign keys) and in every core table."""
    _sql(
        engine,
        f"""
        INSERT INTO {schema}.users (email, full_name) VALUES
            ('ann@acme.io', 'Ann tenant_acme.users'), ('bob@acme.io', E'two\\nlines');
        INSERT INTO {schema}.etsy_product_templates (owner_id, title, tags, materials, price)
            VALUES (1, 'Poster', '{{art,print}}', '{{paper}}', 12.50);
        INSERT INTO {schema}.orders (platform, external_id, total, line_items, ordered_at)
            VALUES ('etsy', 'E-1', 30, '[{{"sku": "p1"}}]', '2026-01-02 03:04:05+00');
        """,
    )
    _sql(
        engine,
        """
        WITH t AS (SELECT id FROM core.tenants WHERE subdomain = 'acme')
        INSERT INTO core.tenant_users (tenant_id, email, password_hash, role)
            SELECT id, 'owner@acme.io', '$argon2id$stored-hash', 'owner' FROM t;
        WITH t AS (SELECT id FROM core.tenants WHERE subdomain = 'acme')
        INSERT INTO core.tenant_api_keys (tenant_id, name, key_id, key_hash, scopes)
            SELECT id, 'ci', 'tk_acme01', 'sha256:abc', '{read}' FROM t;
        WITH t AS (SELECT id FROM core.tenants WHERE subdomain = 'acme')
        INSERT INTO core.tenant_subscriptions (tenant_id, plan, status, current_period_start,
                current_period_end, external_billing_id)
            SELECT id, 'pro', 'active', now(), now() + interval '30 days', 'cus_123' FROM t;
        UPDATE core.tenants SET plan = 'pro', company_name = 'Acme Inc',
            settings = '{"theme": "dark"}' WHERE subdomain = 'acme';
        """,
    )


@pytest.fixture
def acme(engine, make_tenants) -> None:
    make_tenants("acme")
    _fill(engine)


@pytest.fixture
def backup(engine, acme, tmp_path) -> tuple[Path, BackupManifest]:
    path = tmp_path / "acme.tenant.tar"
    return path, backup_tenant(engine, "acme", path)


def _repackaged(engine: Engine, backup_path: Path, work: Path, *schemas: str) -> Path:
    """A backup file with valid checksums whose dump is a fresh ``pg_dump`` of ``schemas``,
    with the manifest and core rows of ``backup_path``."""
    manifest = read_bundle(backup_path, work).manifest
    with tarfile.open(backup_path) as tar:
        core = tar.extractfile("core.json").read()
    dump = work / "forged.dump"
    run_client(
        "pg_dump",
        engine.url,
        ["--format=custom", *(f"--schema={schema}" for schema in schemas), f"--file={dump}"],
    )
    forged = BackupManifest(
        **{
            **manifest.__dict__,
            "dump_sha256": file_sha256(dump),
            "dump_bytes": dump.stat().st_size,
        }
    )
    output = work / "forged.tenant.tar"
    write_bundle(output, forged, dump, core)
    return output


def _tenantctl(url, *args: str, **env: str):
    return run_cli([sys.executable, "-m", "toolkit.cli", *args], url, COLUMNS="200", **env)


# -- backup ----------------------------------------------------------------------------------


def test_backup_writes_one_file_whose_manifest_counts_the_rows(engine, backup):
    path, manifest = backup
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no partial file left
    assert (manifest.subdomain, manifest.schema) == ("acme", "tenant_acme")
    assert manifest.tables["users"].rows == 2
    assert manifest.tables["orders"].rows == 1
    assert manifest.tables["mockups"].rows == 0
    assert manifest.core_rows == {
        "tenant_api_keys": 1,
        "tenant_subscriptions": 1,
        "tenant_usage": 0,
        "tenant_users": 1,
    }
    assert manifest.tenant_revisions == tuple(
        r[0] for r in _sql(engine, "SELECT version_num FROM tenant_acme.alembic_version")
    )
    assert _digests(engine, "tenant_acme") == dict(manifest.tables)


def test_backup_refuses_to_overwrite_a_file(engine, backup):
    path, _ = backup
    before = path.read_bytes()
    with pytest.raises(BackupError, match="already exists"):
        backup_tenant(engine, "acme", path)
    assert path.read_bytes() == before


def test_default_backup_path_is_under_the_backup_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(BACKUP_DIR_ENV, str(tmp_path))
    path = default_backup_path("acme-shop")
    assert path.parent == tmp_path
    assert path.name.startswith("acme-shop-")
    assert path.name.endswith(".tenant.tar")
    assert default_backup_path("acme-shop") != path


# -- restore ---------------------------------------------------------------------------------


def test_restore_as_new_subdomain_matches_manifest_continues_sequences_and_is_isolated(
    engine, backup
):
    path, manifest = backup
    record = restore_tenant(engine, path, as_subdomain="copy")
    assert (record.subdomain, record.database_schema, record.status) == (
        "copy",
        "tenant_copy",
        "active",
    )
    assert (record.plan, record.company_name) == ("pro", "Acme Inc")
    assert _digests(engine, "tenant_copy") == dict(manifest.tables)
    # Sequences continue: the next user gets id 3, not a duplicate key.
    new_id = _sql(engine, "INSERT INTO tenant_copy.users (email) VALUES ('c@x.io') RETURNING id")
    assert new_id[0][0] == 3
    assert _digests(engine, "tenant_acme") == dict(manifest.tables)  # original untouched
    _sql(engine, "DELETE FROM tenant_acme.orders")
    assert _digests(engine, "tenant_copy")["orders"] == manifest.tables["orders"]


def test_restore_as_copies_admins_but_not_api_keys_or_billing_ids(engine, backup):
    path, _ = backup
    restore_tenant(engine, path, as_subdomain="copy")
    rows = _sql(
        engine,
        """
        SELECT t.subdomain, t.id::text,
            (SELECT string_agg(u.password_hash || '/' || u.id, ',') FROM core.tenant_users u
                WHERE u.tenant_id = t.id),
            (SELECT count(*) FROM core.tenant_api_keys k WHERE k.tenant_id = t.id),
            (SELECT string_agg(coalesce(s.external_billing_id, '-'), ',')
                FROM core.tenant_subscriptions s WHERE s.tenant_id = t.id),
            t.settings ->> 'theme'
        FROM core.tenants t ORDER BY t.subdomain
        """,
    )
    acme, copy = rows
    assert copy[1] != acme[1]  # a new tenant id
    assert copy[2].split("/")[0] == acme[2].split("/")[0] == "$argon2id$stored-hash"
    assert copy[2].split("/")[1] != acme[2].split("/")[1]  # a new admin user id
    assert (acme[3], copy[3]) == (1, 0)
    assert (acme[4], copy[4]) == ("cus_123", "-")
    assert copy[5] == "dark"


def test_restore_after_drop_brings_the_tenant_back_with_its_api_keys(engine, backup):
    path, manifest = backup
    drop_tenant(engine, "acme", backup=False)
    record = restore_tenant(engine, path)
    assert record.database_schema == "tenant_acme"
    assert _digests(engine, "tenant_acme") == dict(manifest.tables)
    keys = _sql(engine, "SELECT key_id, key_hash FROM core.tenant_api_keys")
    assert keys == [("tk_acme01", "sha256:abc")]
    billing = _sql(engine, "SELECT external_billing_id FROM core.tenant_subscriptions")
    assert billing == [("cus_123",)]


def test_restore_onto_an_existing_subdomain_is_refused_and_changes_nothing(engine, backup):
    path, _ = backup
    before = _state(engine)
    with pytest.raises(TenantExists, match=r"'acme' already exists.*--as NEWSUB"):
        restore_tenant(engine, path)
    with pytest.raises(TenantExists, match="already exists"):
        restore_tenant(engine, path, as_subdomain="acme")
    assert _state(engine) == before


def test_restore_repairs_a_registered_tenant_whose_schema_was_lost(engine, backup):
    path, manifest = backup
    _sql(engine, "UPDATE core.tenants SET status = 'suspended' WHERE subdomain = 'acme'")
    old_id = _sql(engine, "SELECT id::text FROM core.tenants WHERE subdomain = 'acme'")[0][0]
    _sql(engine, "DROP SCHEMA tenant_acme CASCADE")  # registered, but the schema is gone
    record = restore_tenant(engine, path)
    assert (record.subdomain, record.database_schema, record.status) == (
        "acme",
        "tenant_acme",
        "active",  # the status recorded in the backup
    )
    new_id = _sql(engine, "SELECT id::text FROM core.tenants WHERE subdomain = 'acme'")[0][0]
    assert new_id != old_id  # the backup's rows replaced the old ones
    assert _digests(engine, "tenant_acme") == dict(manifest.tables)
    subdomains, schemas, counts = _state(engine)
    assert (subdomains, schemas, counts) == (["acme"], ["tenant_acme"], (1, 1, 1, 1))
    keys = _sql(engine, "SELECT key_id FROM core.tenant_api_keys")
    assert keys == [("tk_acme01",)]


def test_restore_does_not_replace_a_schemaless_tenant_still_provisioning(engine, backup):
    path, _ = backup
    _sql(engine, "DROP SCHEMA tenant_acme CASCADE")
    _sql(engine, "UPDATE core.tenants SET status = 'provisioning' WHERE subdomain = 'acme'")
    before = _state(engine)
    with pytest.raises(TenantExists, match=r"'acme' is registered but still being provisioned"):
        restore_tenant(engine, path)
    assert _state(engine) == before


@pytest.mark.parametrize("taken", ["row", "schema"])
def test_a_tenant_created_during_the_restore_is_reported_as_existing(
    engine, backup, monkeypatch, taken
):
    path, _ = backup
    verify = install_module._verify

    def create_meanwhile(*args, **kwargs):
        verify(*args, **kwargs)
        # What a concurrent `tenantctl tenant create copy` does, committed in its own
        # transaction while the restore's is still open.
        if taken == "schema":
            _sql(engine, "CREATE SCHEMA tenant_copy")
        _sql(
            engine,
            "INSERT INTO core.tenants (subdomain, company_name, database_schema, status) "
            "VALUES ('copy', 'Copy', 'tenant_copy', 'active')",
        )

    monkeypatch.setattr(install_module, "_verify", create_meanwhile)
    with pytest.raises(TenantExists, match=r"tenant 'copy'.*restore with `--as NEWSUB`"):
        restore_tenant(engine, path, as_subdomain="copy")
    subdomains, schemas, _ = _state(engine)
    assert subdomains == ["acme", "copy"]
    assert schemas == ["tenant_acme", *(["tenant_copy"] if taken == "schema" else [])]


def test_a_unique_value_in_use_is_named_by_its_constraint(engine, backup, make_tenants):
    path, _ = backup
    drop_tenant(engine, "acme", backup=False)
    make_tenants("other")
    _sql(
        engine,
        "INSERT INTO core.tenant_api_keys (tenant_id, name, key_id, key_hash, scopes) "
        "SELECT id, 'ci', 'tk_acme01', 'sha256:x', '{read}' FROM core.tenants",
    )
    before = _state(engine)
    with pytest.raises(BackupError, match="constraint uq_tenant_api_keys_key_id is already"):
        restore_tenant(engine, path)
    assert _state(engine) == before


def test_a_dump_with_objects_outside_the_tenant_schema_is_refused(engine, backup, tmp_path):
    path, _ = backup
    _sql(
        engine,
        """
        CREATE SCHEMA scratch;
        CREATE TABLE scratch.planted (id int);
        CREATE FUNCTION scratch.planted_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
        """,
    )
    work = tmp_path / "work"
    work.mkdir()
    forged = _repackaged(engine, path, work, "tenant_acme", "scratch")
    _sql(engine, "DROP SCHEMA scratch CASCADE")
    before = _state(engine)
    with pytest.raises(BackupInvalid, match=r"outside schema tenant_acme \(.*scratch"):
        restore_tenant(engine, forged, as_subdomain="copy")
    assert _state(engine) == before
    assert _sql(engine, "SELECT to_regnamespace('scratch')::text") == [(None,)]


def test_restore_does_not_carry_a_dropping_mark_over(engine, backup, tmp_path):
    path, manifest = backup
    _sql(engine, "COMMENT ON SCHEMA tenant_acme IS 'tenantctl: dropping; backup: none'")
    work = tmp_path / "work"
    work.mkdir()
    marked = _repackaged(engine, path, work, "tenant_acme")  # a dump taken with the mark
    restore_tenant(engine, marked, as_subdomain="copy")
    with engine.connect() as connection:
        assert is_being_dropped(connection, "tenant_acme")
        assert not is_being_dropped(connection, "tenant_copy")
    comment = _sql(engine, "SELECT obj_description('tenant_copy'::regnamespace, 'pg_namespace')")
    assert comment == [(None,)]
    assert _digests(engine, "tenant_copy") == dict(manifest.tables)


def test_backup_and_clone_refuse_a_schema_whose_drop_has_begun(engine, acme, tmp_path):
    # What an interrupted `tenantctl tenant drop acme --no-backup` leaves behind.
    _sql(engine, "UPDATE core.tenants SET status = 'archived' WHERE subdomain = 'acme'")
    _sql(engine, "COMMENT ON SCHEMA tenant_acme IS 'tenantctl: dropping; backup: none'")
    with engine.connect() as connection:
        assert is_being_dropped(connection, "tenant_acme")
    before = _state(engine)
    fix = r"finish the drop with `tenantctl tenant drop acme --yes`"
    with pytest.raises(BackupError, match=rf"'acme'.*drop of its schema.*{fix}"):
        backup_tenant(engine, "acme", tmp_path / "acme.tenant.tar")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(BackupError, match=rf"'acme'.*drop of its schema.*{fix}"):
        clone_tenant(engine, "acme", "twin", with_data=True)
    assert _state(engine) == before
    # Finishing the drop still works: it took its backup before it marked the schema.
    drop_tenant(engine, "acme")
    assert _state(engine)[0] == []


def test_truncated_backup_is_refused_before_anything_changes(engine, backup):
    path, _ = backup
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    before = _state(engine)
    with pytest.raises(BackupInvalid, match=str(path)):
        restore_tenant(engine, path, as_subdomain="copy")
    assert _state(engine) == before


@pytest.mark.parametrize("member", [DUMP, "core.json", "manifest.json"])
def test_a_flipped_byte_is_detected_and_nothing_changes(engine, backup, member):
    path, _ = backup
    with tarfile.open(path) as tar:
        info = tar.getmember(member)
    data = bytearray(path.read_bytes())
    data[info.offset_data + info.size // 2] ^= 0x01
    path.write_bytes(bytes(data))
    before = _state(engine)
    with pytest.raises(BackupInvalid, match=f"{path} is corrupt: {member}"):
        restore_tenant(engine, path, as_subdomain="copy")
    assert _state(engine) == before


def test_a_backup_from_a_newer_head_is_refused_and_nothing_changes(engine, backup, tmp_path):
    path, manifest = backup
    bundle = read_bundle(path, tmp_path)
    with tarfile.open(path) as tar:
        core = tar.extractfile("core.json").read()
    newer = BackupManifest(**{**manifest.__dict__, "tenant_revisions": ("9999future",)})
    future = tmp_path / "future.tenant.tar"
    write_bundle(future, newer, bundle.dump, core)
    before = _state(engine)
    with pytest.raises(BackupTooNew, match=r"9999future.*newer head than this code"):
        restore_tenant(engine, future, as_subdomain="copy")
    assert _state(engine) == before


def test_a_leftover_temp_schema_is_dropped_by_the_next_restore(engine, backup):
    path, _ = backup
    leftover = f"{TEMP_SCHEMA_PREFIX}deadbeef"
    _sql(engine, f"CREATE SCHEMA {leftover}; CREATE TABLE {leftover}.users (id int)")
    restore_tenant(engine, path, as_subdomain="copy")
    subdomains, schemas, _ = _state(engine)
    assert subdomains == ["acme", "copy"]
    assert schemas == ["tenant_acme", "tenant_copy"]


def test_restore_behind_head_upgrades_the_tenant(db_url, engine, backup, scratch_ini):
    path, manifest = backup
    add_tenant_revision(
        scratch_ini, "0002note", 'op.add_column("users", sa.Column("note", sa.Text()))'
    )
    result = _tenantctl(
        db_url,
        "tenant",
        "restore",
        str(path),
        "--as",
        "later",
        **{ALEMBIC_INI_ENV: str(scratch_ini)},
    )
    assert result.returncode == 0, result.stderr
    versions = _sql(engine, "SELECT version_num FROM tenant_later.alembic_version")
    assert versions == [("0002note",)]
    assert manifest.tenant_revisions != ("0002note",)
    _sql(engine, "UPDATE tenant_later.users SET note = 'upgraded'")  # the new column exists
    assert _digests(engine, "tenant_acme") == dict(manifest.tables)


# -- clone -----------------------------------------------------------------------------------


def test_clone_copies_the_schema_and_tenant_settings_but_no_rows_or_admins(engine, acme):
    record = clone_tenant(engine, "acme", "blank")
    assert (record.plan, record.company_name, record.status) == ("pro", "Acme Inc", "active")
    digests = _digests(engine, "tenant_blank")
    assert set(digests) == set(_digests(engine, "tenant_acme"))
    assert all(d.rows == 0 for d in digests.values())
    assert _sql(engine, "SELECT version_num FROM tenant_blank.alembic_version") == _sql(
        engine, "SELECT version_num FROM tenant_acme.alembic_version"
    )
    owned = _sql(
        engine,
        "SELECT (SELECT count(*) FROM core.tenant_users u WHERE u.tenant_id = t.id) "
        "+ (SELECT count(*) FROM core.tenant_api_keys k WHERE k.tenant_id = t.id) "
        "+ (SELECT count(*) FROM core.tenant_subscriptions s WHERE s.tenant_id = t.id), "
        "t.settings ->> 'theme' FROM core.tenants t WHERE subdomain = 'blank'",
    )
    assert owned == [(0, "dark")]
    new_id = _sql(engine, "INSERT INTO tenant_blank.users (email) VALUES ('x@y.io') RETURNING id")
    assert new_id[0][0] == 1


def test_clone_with_data_copies_the_rows(engine, acme):
    clone_tenant(engine, "acme", "twin", with_data=True)
    assert _digests(engine, "tenant_twin") == _digests(engine, "tenant_acme")
    assert _digests(engine, "tenant_twin")["users"].rows == 2
    new_id = _sql(engine, "INSERT INTO tenant_twin.users (email) VALUES ('c@x.io') RETURNING id")
    assert new_id[0][0] == 3


def test_clone_onto_an_existing_tenant_is_refused(engine, make_tenants):
    make_tenants("acme", "globex")
    before = _state(engine)
    with pytest.raises(TenantExists, match="'globex' already exists"):
        clone_tenant(engine, "acme", "globex")
    assert _state(engine) == before


# -- the script rewrite ----------------------------------------------------------------------


def test_renamer_rewrites_statements_but_never_copy_data():
    renamer = SchemaRenamer("tenant_acme", "tmp_x")
    lines = [
        b"CREATE TABLE tenant_acme.users (id bigint);\n",
        b"COPY tenant_acme.users (id, note) FROM stdin;\n",
        b"1\ttenant_acme.users stays\n",
        b"\\.\n",
        b"SELECT pg_catalog.setval('tenant_acme.users_id_seq', 2, true);\n",
        b"CREATE TABLE tenant_acme_shop.users (id bigint);\n",
    ]
    assert list(renamer.lines(lines)) == [
        b"CREATE TABLE tmp_x.users (id bigint);\n",
        b"COPY tmp_x.users (id, note) FROM stdin;\n",
        b"1\ttenant_acme.users stays\n",
        b"\\.\n",
        b"SELECT pg_catalog.setval('tmp_x.users_id_seq', 2, true);\n",
        b"CREATE TABLE tenant_acme_shop.users (id bigint);\n",
    ]


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_backs_up_and_restores_as_json(db_url, engine, acme, tmp_path):
    path = tmp_path / "out" / "acme.tenant.tar"
    done = _tenantctl(db_url, "tenant", "backup", "acme", "-o", str(path), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["manifest"]["tables"]["users"]["rows"] == 2
    restored = _tenantctl(db_url, "tenant", "restore", str(path), "--as", "copy", "--json")
    assert restored.returncode == 0, restored.stderr
    assert json.loads(restored.stdout)["database_schema"] == "tenant_copy"
    cloned = _tenantctl(db_url, "tenant", "clone", "acme", "twin", "--with-data")
    assert cloned.returncode == 0, cloned.stderr
    assert "cloned tenant acme (schema and data) as twin" in cloned.stdout


def test_cli_default_backup_path_and_refusals(db_url, engine, acme, tmp_path):
    done = run_cli(
        [sys.executable, "-m", "toolkit.cli", "tenant", "backup", "acme"],
        db_url,
        COLUMNS="300",
        **{BACKUP_DIR_ENV: str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    (path,) = tmp_path.iterdir()
    assert str(path) in done.stdout
    exists = _tenantctl(db_url, "tenant", "restore", str(path))
    assert exists.returncode == 1
    one_line_error(exists, "'acme' already exists", "--as NEWSUB")
    path.write_bytes(path.read_bytes()[:1000])
    broken = _tenantctl(db_url, "tenant", "restore", str(path), "--as", "copy")
    assert broken.returncode == 2
    one_line_error(broken, str(path))
    missing = _tenantctl(db_url, "tenant", "restore", str(tmp_path / "nope.tar"))
    assert missing.returncode == 2
    one_line_error(missing, "does not exist")
    assert _state(engine)[0] == ["acme"]
