"""``tenantctl health``: healthy, degraded, unreachable or error, with the documented exit codes."""

import json

from cli_runner import tenantctl
from sqlalchemy import text

from toolkit import archive_tenant, downgrade_all, make_engine
from toolkit.exit_codes import EXIT_CHECK_FAILED, EXIT_ERROR, EXIT_OK
from toolkit.health import HealthState, check_health
from toolkit.migrations.status import version_of
from toolkit.provisioning import project_heads

NOTHING_LISTENS = "postgresql+psycopg://postgres@127.0.0.1:1/tenantctl"


def _health(url, *args):
    result = tenantctl(url, "health", "--json", *args)
    return result.returncode, json.loads(result.stdout)


def test_a_database_at_head_is_healthy(db_url, make_tenants):
    make_tenants("acme", "globex")

    code, report = _health(db_url)

    assert code == EXIT_OK
    assert report["state"] == "healthy"
    assert report["core"]["at_head"] is True
    assert report["core"]["revisions"] == sorted(project_heads().core)
    assert report["tenants"] == {
        "total": 2,
        "at_head": 2,
        "behind": 0,
        "skipped_behind": 0,
        "unrecorded": 0,
        "by_status": {"active": 2},
    }
    assert len(report["latency_ms"]["round_trips"]) == 5
    assert report["latency_ms"]["max"] >= report["latency_ms"]["median"] >= 0
    assert report["pool"]["size"] == make_engine(db_url).pool.size()
    assert report["problems"] == []
    assert "127.0.0.1" in report["database"]
    text_result = tenantctl(db_url, "health")
    assert text_result.returncode == EXIT_OK
    assert "2 at head, 0 behind" in text_result.stdout


def test_archived_tenants_behind_are_expected_and_active_ones_degrade(db_url, engine, make_tenants):
    make_tenants("acme", "globex", "old")
    archive_tenant(engine, "old")
    downgrade_all(engine, "tenant@-1", tenants=["old"])

    code, report = _health(db_url)
    assert (code, report["state"]) == (EXIT_OK, "healthy")
    assert (report["tenants"]["at_head"], report["tenants"]["skipped_behind"]) == (2, 1)
    assert report["tenants"]["by_status"] == {"active": 2, "archived": 1}

    downgrade_all(engine, "tenant@-1", tenants=["globex"])
    code, report = _health(db_url)
    assert (code, report["state"]) == (EXIT_CHECK_FAILED, "degraded")
    assert (report["tenants"]["at_head"], report["tenants"]["behind"]) == (1, 1)
    assert report["problems"][0].startswith("1 active or suspended tenant(s) behind")


def test_core_behind_head_is_degraded(engine):
    downgrade_all(engine, "core@-1")
    with engine.connect() as connection:
        current = version_of(connection, "core")

    report = check_health(engine, project_heads())

    assert report.state is HealthState.DEGRADED
    assert report.state.exit_code == EXIT_CHECK_FAILED
    assert report.core_revisions == current
    assert not report.core_at_head
    assert report.problems[0].startswith(f"core is at {', '.join(current)}, not at head")


def test_a_database_without_core_is_degraded(blank_url):
    code, report = _health(blank_url)

    assert (code, report["state"]) == (EXIT_CHECK_FAILED, "degraded")
    assert report["core"]["revisions"] == []
    assert report["tenants"] is None


def test_an_unreachable_server_exits_1_with_one_line():
    result = tenantctl(NOTHING_LISTENS, "health")

    assert result.returncode == EXIT_ERROR
    assert result.stdout == ""
    assert result.stderr.startswith("error: cannot connect to postgresql+psycopg://postgres@")
    assert len(result.stderr.strip().splitlines()) == 1
    code, report = _health(NOTHING_LISTENS)
    assert (code, report["state"]) == (EXIT_ERROR, "unreachable")
    assert "cannot connect" in report["error"]
    assert report["latency_ms"] is None


def test_a_failing_query_is_an_error_not_a_traceback(db_url, engine):
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE core.alembic_version RENAME TO alembic_version_x"))
        connection.execute(
            text("CREATE VIEW core.alembic_version AS SELECT (1 / 0)::text AS version_num")
        )

    result = tenantctl(db_url, "health")

    assert result.returncode == EXIT_ERROR
    assert "division by zero" in result.stderr
    assert "Traceback" not in result.stderr
    assert check_health(engine, project_heads()).state is HealthState.ERROR


def test_pool_figures_are_those_of_the_engine_checked(engine):
    with engine.connect() as held:
        held.execute(text("SELECT 1"))
        during = check_health(engine, project_heads()).pool
    after = check_health(engine, project_heads()).pool

    assert during is not None
    assert after is not None
    assert (during.size, during.checked_out, during.checked_in) == (engine.pool.size(), 1, 1)
    assert (after.checked_out, after.checked_in, after.overflow) == (0, 2, 0)
