"""Structured logs: every record carries the tenant, the actor and the run id, as JSON lines or
text; a real migration run's lines name their tenant and run, in worker processes too."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading

import pytest
from cli_runner import alembic, run_cli

from toolkit import acting_as, downgrade_all, tenant_scope, upgrade_all
from toolkit import logging_setup as setup
from toolkit.errors import InvalidSetting
from toolkit.logging_setup import (
    bind_run_id,
    configure_logging,
    current_run_id,
    reset_run_id,
    run_scope,
)
from toolkit.migrations import journal

log = logging.getLogger("tenantctl.test")


@pytest.fixture
def stream(monkeypatch):
    """A buffer the logs go to; the process's logging comes back as it was afterwards."""
    root, toolkit_logger = logging.getLogger(), logging.getLogger(setup.TOOLKIT_LOGGER)
    saved = (root.handlers[:], root.level, toolkit_logger.level)
    monkeypatch.setattr(setup, "_installed", None)
    monkeypatch.setattr(setup, "_active", None)
    yield io.StringIO()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    toolkit_logger.setLevel(saved[2])


def _records(buffer):
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_tenant_actor_and_run_id(stream):
    configure_logging("json", "info", stream=stream)
    with tenant_scope("acme-shop"), acting_as("ops@example.com"), run_scope(42):
        log.info("hello %s", "world")
    log.warning("outside")
    inside, outside = _records(stream)
    assert inside["message"] == "hello world"
    assert (inside["level"], inside["logger"]) == ("info", "tenantctl.test")
    assert (inside["tenant"], inside["actor"], inside["run_id"]) == (
        "acme-shop",
        "ops@example.com",
        42,
    )
    assert inside["time"].endswith("Z")
    assert (outside["tenant"], outside["actor"], outside["run_id"]) == (None, None, None)


def test_an_explicit_field_wins_and_exceptions_are_kept(stream):
    configure_logging("json", "info", stream=stream)
    with tenant_scope("acme"):
        log.info("for another", extra={"tenant": "globex"})
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            log.exception("it failed")
    explicit, failed = _records(stream)
    assert explicit["tenant"] == "globex"
    assert failed["tenant"] == "acme"
    assert "ValueError: boom" in failed["exception"]
    assert len(stream.getvalue().splitlines()) == 2  # the newline stayed inside the JSON


def test_text_lines_show_only_the_fields_that_are_set(stream):
    configure_logging("text", "info", stream=stream)
    with tenant_scope("acme"), run_scope(7):
        log.info("inside")
    log.info("outside")
    inside, outside = stream.getvalue().splitlines()
    assert "tenantctl.test [tenant=acme run=7] inside" in inside
    assert outside.endswith("INFO    tenantctl.test outside")


def test_level_applies_to_the_toolkit_and_other_libraries_log_warnings(stream):
    configure_logging("json", "info", stream=stream)
    other = logging.getLogger("some.library")
    log.debug("hidden")
    other.info("hidden too")
    with tenant_scope("acme"):
        other.warning("shown, with the tenant")
    (record,) = _records(stream)
    assert (record["logger"], record["tenant"]) == ("some.library", "acme")


def test_configuring_again_replaces_the_handler_and_bad_values_are_refused(stream):
    configure_logging("text", "warning", stream=io.StringIO())
    config = configure_logging("JSON", "Debug", stream=stream)
    assert (config.format, config.level) == ("json", "debug")
    assert setup.active_log_config() == config
    log.debug("once")
    assert len(_records(stream)) == 1
    with pytest.raises(InvalidSetting, match="invalid log format 'xml'"):
        configure_logging("xml")
    with pytest.raises(InvalidSetting, match="invalid log level 'loud'"):
        configure_logging("json", "loud")


def test_run_id_binds_resets_and_nests_like_the_tenant():
    assert current_run_id() is None
    token = bind_run_id(5)
    with run_scope(6):
        assert current_run_id() == 6
        bind_run_id(8)  # rebinding inside a scope is undone with it
    assert current_run_id() == 5
    reset_run_id(token)
    assert current_run_id() is None
    with pytest.raises(TypeError, match="integer id"):
        bind_run_id("5")  # type: ignore[arg-type]
    seen = []
    with run_scope(9):
        thread = threading.Thread(target=lambda: seen.append(current_run_id()))
        thread.start()
        thread.join()
    assert seen == [None]  # a new thread starts outside any run


def test_a_migration_runs_lines_name_the_run_and_each_tenant(stream, engine, make_tenants):
    make_tenants("acme", "globex")
    downgrade_all(engine, "tenant@-1")
    configure_logging("json", "info", stream=stream)

    report = upgrade_all(engine)

    run_id = report.finished.run_id
    assert run_id is not None
    records = _records(stream)
    started = next(r for r in records if "tenant(s) to migrate" in r["message"])
    migrated = [r for r in records if r["message"].startswith("migrated tenant_")]
    finished = next(r for r in records if r["message"].startswith("run "))
    assert "2 tenant(s) to migrate" in started["message"]
    assert finished["message"].startswith("run succeeded: 2 done, 0 failed")
    assert sorted(r["tenant"] for r in migrated) == ["acme", "globex"]
    for record in migrated:
        assert f"tenant_{record['tenant']} from " in record["message"]
    assert (started["tenant"], finished["tenant"]) == (None, None)
    assert {r["run_id"] for r in [started, *migrated, finished]} == {run_id}
    assert current_run_id() is None  # the run's id ended with the run


def test_worker_processes_log_under_the_same_run_through_the_cli(db_url, engine, make_tenants):
    subdomains = ["acme", "globex", "initech", "umbrella"]
    make_tenants(*subdomains)
    downgrade_all(engine, "tenant@-1")

    # The environment asks for text; the flag wins. The level comes from the environment.
    result = run_cli(
        [sys.executable, "-m", "toolkit.cli", "--log-format", "json", "migrate", "up"],
        db_url,
        TENANTCTL_LOG_FORMAT="text",
        TENANTCTL_LOG_LEVEL="info",
        TENANTCTL_MIGRATE_WORKERS="2",
    )

    assert result.returncode == 0, result.stderr
    # Every line on stderr is JSON: the runner's and its worker's alike.
    records = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    with engine.connect() as connection:
        (run,) = journal.runs(connection, limit=1)
    started = next(r for r in records if "to migrate" in r["message"])
    assert "2 worker(s)" in started["message"]
    migrated = [r for r in records if r["message"].startswith("migrated tenant_")]
    assert sorted(r["tenant"] for r in migrated) == subdomains
    assert {r["run_id"] for r in [started, *migrated]} == {run.id}
    # The worker migrated some of them, and logged them under the same run.
    assert {r["pid"] for r in migrated} - {started["pid"]}


def test_plain_alembic_logs_json_lines_when_asked(db_url, engine, make_tenants):
    make_tenants("acme", "globex")
    downgrade_all(engine, "tenant@-1")

    result = alembic(
        db_url,
        "-x",
        "workers=2",
        "upgrade",
        "heads",
        TENANTCTL_LOG_FORMAT="json",
        TENANTCTL_LOG_LEVEL="info",
    )

    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    migrated = [r for r in records if r["message"].startswith("migrated tenant_")]
    assert sorted(r["tenant"] for r in migrated) == ["acme", "globex"]
    with engine.connect() as connection:
        (run,) = journal.runs(connection, limit=1)
    assert {r["run_id"] for r in migrated} == {run.id}
