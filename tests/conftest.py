"""Fixtures on a real PostgreSQL: a server from pytest-postgresql, fresh databases per test.

When a server already listens (``TENANTCTL_TEST_PG_HOST``/``_PORT``, default 127.0.0.1:5432)
the suite uses it through ``postgresql_noproc``; otherwise pytest-postgresql starts its own
(``postgresql_proc``, which PostgreSQL refuses to run as root). Each test gets a new
database cloned from a template in which core was migrated once per session.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cli_runner import alembic, tenantctl  # noqa: F401  (re-exported for tests)
from pgbouncer import pgbouncer, pgbouncer_url  # noqa: F401  (re-exported for tests)
from pytest_postgresql import factories
from pytest_postgresql.executors import NoopExecutor
from redis_service import redis_client, redis_prefix  # noqa: F401  (re-exported for tests)
from scratch_scripts import VERSIONS_DIR, make_scratch_ini
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from tenant_role_helpers import role_prefix, roles_enabled  # noqa: F401  (fixtures)

from toolkit import create_tenant, make_engine, upgrade_all

PG_HOST = os.environ.get("TENANTCTL_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TENANTCTL_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("TENANTCTL_TEST_PG_USER", "postgres")


def _server_listening() -> bool:
    try:
        psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3
        ).close()
    except psycopg.OperationalError:
        return False
    return True


def _url(host: str, port: int | str, user: str, dbname: str, password: str | None) -> URL:
    return URL.create(
        "postgresql+psycopg",
        username=user,
        password=password or None,
        host=host,
        port=int(port),
        database=dbname,
    )


def migrate_core(
    host: str, port: int | str, user: str, dbname: str, password: str | None, **_: Any
) -> None:
    """pytest-postgresql loader: bring core to head in the template database."""
    engine = make_engine(_url(host, port, user, dbname, password))
    try:
        upgrade_all(engine)
    finally:
        engine.dispose()


if _server_listening():
    pg_core = factories.postgresql_noproc(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="tenantctl_test", load=[migrate_core]
    )
    pg_blank = factories.postgresql_noproc(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="tenantctl_test_blank"
    )
else:
    pg_core = factories.postgresql_proc(dbname="tenantctl_test", load=[migrate_core])
    pg_blank = factories.postgresql_noproc(depends_on="pg_core", dbname="tenantctl_test_blank")

core_database = factories.postgresql("pg_core")
blank_database = factories.postgresql("pg_blank")


def _fixture_url(executor: NoopExecutor, connection: psycopg.Connection[Any]) -> URL:
    return _url(
        executor.host, executor.port, executor.user, connection.info.dbname, executor.password
    )


@pytest.fixture
def db_url(pg_core: NoopExecutor, core_database: psycopg.Connection[Any]) -> URL:
    """A new database with core at head and no tenants."""
    return _fixture_url(pg_core, core_database)


@pytest.fixture
def blank_url(pg_blank: NoopExecutor, blank_database: psycopg.Connection[Any]) -> URL:
    """A new, empty database."""
    return _fixture_url(pg_blank, blank_database)


@pytest.fixture
def engine(db_url: URL) -> Iterator[Engine]:
    """An engine on ``db_url``."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def blank_engine(blank_url: URL) -> Iterator[Engine]:
    """An engine on ``blank_url``."""
    engine = make_engine(blank_url)
    yield engine
    engine.dispose()


@pytest.fixture
def make_tenants(engine: Engine) -> Callable[..., list[str]]:
    """Create tenants by subdomain; returns their schema names."""

    def create(*subdomains: str) -> list[str]:
        return [create_tenant(engine, sub).database_schema for sub in subdomains]

    return create


def _versions_tree() -> set[str]:
    return {
        str(path.relative_to(VERSIONS_DIR))
        for path in VERSIONS_DIR.rglob("*.py")
        if "__pycache__" not in path.parts
    }


@pytest.fixture
def scratch_ini(tmp_path: Path) -> Iterator[Path]:
    """An alembic.ini like the project's whose version_locations are a tmp copy of the tree.

    Revisions written through it land in ``tmp_path``; the fixture also checks that nothing
    was written into the project's own ``alembic/versions``.
    """
    before = _versions_tree()
    yield make_scratch_ini(tmp_path)
    assert _versions_tree() == before, "a revision was generated into the project's tree"


@pytest.fixture(autouse=True)
def backup_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where backups taken without an explicit path go: a tmp dir, never the checkout."""
    directory = tmp_path / "backups"
    monkeypatch.setenv("TENANTCTL_BACKUP_DIR", str(directory))
    return directory


@pytest.fixture
def seeded(engine: Engine) -> Any:
    """The sample tenants of ``toolkit.seed`` loaded into ``engine``: the SeedReport."""
    from toolkit.seed import seed_sample_data

    return seed_sample_data(engine)
