"""make_engine_from_settings: pool size, overflow, checkout timeout, recycle, pre-ping, the
connect and statement timeouts and the pooler mode reach the engine and the server."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from toolkit import ConfigurationError, Settings
from toolkit.db import make_engine_from_settings


def _settings(db_url, **env):
    return Settings.from_env({"DATABASE_URL": db_url.render_as_string(hide_password=False), **env})


@pytest.fixture
def build():
    engines = []

    def make(settings, **options):
        engine = make_engine_from_settings(settings, **options)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


def _driver(connection):
    return connection.connection.driver_connection


def test_pool_settings_reach_the_pool(db_url, build):
    engine = build(
        _settings(
            db_url,
            TENANTCTL_POOL_SIZE="2",
            TENANTCTL_MAX_OVERFLOW="1",
            TENANTCTL_POOL_TIMEOUT="7s",
            TENANTCTL_POOL_RECYCLE="10m",
        )
    )
    assert (engine.pool.size(), engine.pool.timeout()) == (2, 7.0)
    assert engine.pool._recycle == 600.0
    connections = [engine.connect() for _ in range(3)]  # two pooled, one overflow
    try:
        assert (engine.pool.checkedout(), engine.pool.overflow()) == (3, 1)
    finally:
        for connection in connections:
            connection.close()
    assert build(_settings(db_url)).pool._recycle == -1  # "off" by default


def test_connect_and_statement_timeouts_reach_the_server(db_url, build):
    engine = build(
        _settings(db_url, TENANTCTL_CONNECT_TIMEOUT="3", TENANTCTL_STATEMENT_TIMEOUT="1500ms")
    )
    with engine.connect() as connection:
        assert _driver(connection).info.get_parameters()["connect_timeout"] == "3"
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "1500ms"
        # Sent at start-up, not as a SET: a transaction's SET LOCAL still wins inside it.
        connection.execute(text("SET LOCAL statement_timeout = '5s'"))
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "5s"
    with build(_settings(db_url)).connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "0"


def test_the_statement_timeout_cancels_a_long_statement(db_url, build):
    engine = build(_settings(db_url, TENANTCTL_STATEMENT_TIMEOUT="100ms"))
    with engine.connect() as connection, pytest.raises(OperationalError, match="statement timeout"):
        connection.execute(text("SELECT pg_sleep(5)"))


def test_pre_ping_replaces_a_connection_the_server_ended(db_url, build, engine):
    def pooled_backend_killed(pinged):
        target = build(
            _settings(db_url, TENANTCTL_POOL_SIZE="1", TENANTCTL_POOL_PRE_PING=pinged),
        )
        with target.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as admin:
            # Waits (up to 10 s) until the backend has gone, so the next use cannot race it.
            ended = admin.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
            assert ended.scalar_one() is True
        return target

    revived = pooled_backend_killed("1")
    with revived.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
    stale = pooled_backend_killed("0")
    with pytest.raises(OperationalError), stale.connect() as connection:
        connection.execute(text("SELECT 1"))


def test_transaction_pooler_setting_turns_off_prepared_statements(db_url, build):
    engine = build(_settings(db_url, TENANTCTL_TRANSACTION_POOLER="1"))
    with engine.connect() as connection:
        assert _driver(connection).prepare_threshold is None
    with build(_settings(db_url)).connect() as connection:
        assert _driver(connection).prepare_threshold is not None


def test_explicit_options_win_and_a_null_pool_drops_the_queue_sizing(db_url, build):
    settings = _settings(db_url, TENANTCTL_POOL_SIZE="9")
    assert build(settings, pool_size=1).pool.size() == 1
    unpooled = build(settings, poolclass=NullPool)
    assert isinstance(unpooled.pool, NullPool)
    with unpooled.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar_one() == 1


def test_no_database_url_says_how_to_set_one():
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        make_engine_from_settings(Settings())
