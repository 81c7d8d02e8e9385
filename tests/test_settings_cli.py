"""Settings through the real CLI: bad configuration exits 2 with one line at start-up, global
flags override the environment, and migration defaults come from TENANTCTL_MIGRATE_*."""

from __future__ import annotations

import sys

import pytest
from cli_runner import alembic, one_line_error, run_cli

from toolkit.exit_codes import EXIT_OK, EXIT_USAGE
from toolkit.migrations import journal

TENANTCTL = [sys.executable, "-m", "toolkit.cli"]


def _latest_run_options(engine):
    with engine.connect() as connection:
        (run,) = journal.runs(connection, limit=1)
    return run.options


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        (
            {"TENANTCTL_POOL_SIZE": "lots"},
            [],
            "error: invalid TENANTCTL_POOL_SIZE='lots': expected a whole number from 1 to 1000; "
            "e.g. TENANTCTL_POOL_SIZE=5",
        ),
        ({"TENANTCTL_LOG_FORMAT": "xml"}, [], "TENANTCTL_LOG_FORMAT='xml'"),
        ({"TENANTCTL_CONNECT_TIMEOUT": "0"}, [], "e.g. TENANTCTL_CONNECT_TIMEOUT=5"),
        ({"TENANTCTL_MIGRATE_LOCK_TIMEOUT": "soon"}, [], "TENANTCTL_MIGRATE_LOCK_TIMEOUT"),
        ({}, ["--pool-size", "0"], "invalid --pool-size '0'"),
        ({}, ["--log-level", "loud"], "e.g. --log-level info"),
    ],
)
def test_invalid_configuration_exits_2_with_one_line_before_any_work(env, args, expected):
    # No database is reachable at this URL: the settings are refused before it is tried.
    result = run_cli(
        [*TENANTCTL, *args, "tenant", "list"], "postgresql://nobody@127.0.0.1:1/none", **env
    )
    assert result.returncode == EXIT_USAGE, result.stderr
    assert expected in one_line_error(result)
    assert "cannot connect" not in result.stderr


def test_a_bad_database_url_is_refused_with_its_password_masked():
    result = run_cli([*TENANTCTL, "tenant", "list"], "mysql://admin:s3cret@db:3306/app")
    assert result.returncode == EXIT_USAGE
    line = one_line_error(result)
    assert "DATABASE_URL='mysql://admin:***@db:3306/app'" in line
    assert "s3cret" not in result.stderr


def test_global_flags_override_the_environment(db_url):
    # The variable is nonsense, but the flag wins and the variable is never read.
    result = run_cli(
        [*TENANTCTL, "--pool-size", "2", "tenant", "list", "--json"],
        db_url,
        TENANTCTL_POOL_SIZE="lots",
    )
    assert result.returncode == EXIT_OK, result.stderr
    assert result.stdout.strip() == "[]"
    # --database-url wins over DATABASE_URL.
    url = db_url.render_as_string(hide_password=False)
    result = run_cli(
        [*TENANTCTL, "--database-url", url, "tenant", "list", "--json"],
        "postgresql://nobody@127.0.0.1:1/none",
    )
    assert result.returncode == EXIT_OK, result.stderr


def test_migration_defaults_come_from_settings_unless_a_flag_is_given(db_url, engine):
    env = {
        "TENANTCTL_MIGRATE_WORKERS": "3",
        "TENANTCTL_MIGRATE_LOCK_WAIT": "45s",
        "TENANTCTL_MIGRATE_LOCK_TIMEOUT": "2s",
        "TENANTCTL_MIGRATE_STATEMENT_TIMEOUT": "2m",
        "TENANTCTL_MIGRATE_LOCK_RETRIES": "1",
    }
    result = run_cli([*TENANTCTL, "migrate", "up", "--json"], db_url, **env)
    assert result.returncode == EXIT_OK, result.stderr
    options = _latest_run_options(engine)
    assert (options["workers"], options["lock_wait"]) == (3, 45.0)
    assert (options["lock_timeout"], options["statement_timeout"]) == (2.0, 120.0)
    assert options["lock_retries"] == 1

    flags = ["--workers", "1", "--lock-timeout", "0.5", "--lock-retries", "4"]
    result = run_cli([*TENANTCTL, "migrate", "up", *flags, "--json"], db_url, **env)
    assert result.returncode == EXIT_OK, result.stderr
    options = _latest_run_options(engine)
    assert (options["workers"], options["lock_timeout"], options["lock_retries"]) == (1, 0.5, 4)
    assert (options["lock_wait"], options["statement_timeout"]) == (45.0, 120.0)


def test_plain_alembic_reads_the_migration_defaults_and_refuses_bad_ones(db_url, engine):
    done = alembic(db_url, "upgrade", "heads", TENANTCTL_MIGRATE_LOCK_TIMEOUT="1500ms")
    assert done.returncode == EXIT_OK, done.stderr
    assert _latest_run_options(engine)["lock_timeout"] == 1.5
    overridden = alembic(
        db_url, "-x", "lock_timeout=3", "upgrade", "heads", TENANTCTL_MIGRATE_LOCK_TIMEOUT="1500ms"
    )
    assert overridden.returncode == EXIT_OK, overridden.stderr
    assert _latest_run_options(engine)["lock_timeout"] == 3.0

    refused = alembic(db_url, "upgrade", "heads", TENANTCTL_MIGRATE_WORKERS="0")
    assert refused.returncode == EXIT_USAGE, refused.stderr
    assert "Traceback" not in refused.stderr
    failed = [line for line in refused.stderr.splitlines() if line.startswith("FAILED:")]
    assert failed == [
        "FAILED: invalid TENANTCTL_MIGRATE_WORKERS='0': expected a whole number from 1 to 64; "
        "e.g. TENANTCTL_MIGRATE_WORKERS=4"
    ]
