"""The tenantctl CLI as a user runs it: output, JSON, exit codes, and clean one-line errors."""

import json
import os
import subprocess
import sys

from cli_runner import one_line_error, tenantctl
from sqlalchemy import text

from toolkit import downgrade_all
from toolkit.cli import render
from toolkit.cli.app import named_command


def _tenants(url):
    result = tenantctl(url, "tenant", "list", "--json")
    assert result.returncode == 0, result.stderr
    return [tenant["subdomain"] for tenant in json.loads(result.stdout)]


def test_migrate_up_then_create_list_and_drop(blank_url):
    assert tenantctl(blank_url, "migrate", "up").returncode == 0
    created = tenantctl(blank_url, "tenant", "create", "acme", "--company", "Acme", "--json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["database_schema"] == "tenant_acme"
    assert _tenants(blank_url) == ["acme"]
    table = tenantctl(blank_url, "tenant", "list")
    assert "tenant_acme" in table.stdout
    dropped = tenantctl(blank_url, "tenant", "drop", "acme", "--yes")
    assert dropped.returncode == 0, dropped.stderr
    assert _tenants(blank_url) == []


def test_duplicate_subdomain_exits_1_with_one_line(db_url, make_tenants):
    make_tenants("acme")
    result = tenantctl(db_url, "tenant", "create", "acme")
    assert result.returncode == 1
    one_line_error(result, "'acme' already exists")
    assert _tenants(db_url) == ["acme"]


def test_invalid_and_reserved_subdomains_exit_2_and_change_nothing(db_url):
    for bad in ("Bad_Name", "www", "pg-x", "x" * 60, "a;drop"):
        result = tenantctl(db_url, "tenant", "create", bad)
        assert result.returncode == 2, (bad, result.stderr)
        one_line_error(result, "subdomain")
    assert _tenants(db_url) == []


def test_unreachable_database_names_url_with_password_masked():
    result = tenantctl("postgresql+psycopg://admin:s3cret@127.0.0.1:1/app", "tenant", "list")
    assert result.returncode == 1
    one_line_error(result, "cannot connect to postgresql+psycopg://admin:***@127.0.0.1:1/app")
    assert "s3cret" not in result.stderr


def test_missing_database_url_says_how_to_set_it():
    result = tenantctl(None, "tenant", "list")
    assert result.returncode == 1
    one_line_error(result, "DATABASE_URL", "--database-url")


def test_drop_without_yes_is_refused(db_url, make_tenants):
    make_tenants("acme")
    result = tenantctl(db_url, "tenant", "drop", "acme")
    assert result.returncode == 2
    one_line_error(result, "--yes")
    assert _tenants(db_url) == ["acme"]


def test_drop_unknown_tenant_exits_1(db_url):
    result = tenantctl(db_url, "tenant", "drop", "ghost", "--yes")
    assert result.returncode == 1
    one_line_error(result, "'ghost'")


def test_migrate_status_reports_heads_and_exits_3_when_behind(db_url, engine, make_tenants):
    make_tenants("acme", "globex")
    at_head = tenantctl(db_url, "migrate", "status", "--json")
    assert at_head.returncode == 0, at_head.stderr
    payload = json.loads(at_head.stdout)
    assert payload["up_to_date"] is True
    assert payload["core"]["at_head"] is True
    assert [t["subdomain"] for t in payload["tenants"]] == ["acme", "globex"]

    downgrade_all(engine, "tenant@base", tenants=["globex"])
    behind = tenantctl(db_url, "migrate", "status", "--json")
    assert behind.returncode == 3
    assert json.loads(behind.stdout)["behind"] == ["globex"]
    assert "behind" in tenantctl(db_url, "migrate", "status").stdout


def test_archived_tenants_do_not_count_as_behind(db_url, engine, make_tenants):
    make_tenants("acme")
    downgrade_all(engine, "tenant@base", tenants=["acme"])
    with engine.begin() as connection:
        connection.execute(text("UPDATE core.tenants SET status = 'archived'"))
    assert tenantctl(db_url, "migrate", "status").returncode == 0


def test_migrate_up_continue_on_error_reports_the_failed_tenant_and_exits_4(
    db_url, engine, make_tenants
):
    make_tenants("acme", "globex")
    downgrade_all(engine, "tenant@base")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE tenant_acme.users (x int)"))
    result = tenantctl(db_url, "migrate", "up", "--continue-on-error")
    assert result.returncode == 4
    assert "Traceback" not in result.stderr
    assert "tenant_acme" in result.stderr
    payload = json.loads(tenantctl(db_url, "migrate", "status", "--json").stdout)
    assert payload["behind"] == ["acme"]


def test_a_command_ends_normally_under_a_profiler(tmp_path):
    """tenantctl skips module teardown at exit, but not when a profiler must write its data."""
    profile = tmp_path / "tenantctl.prof"
    result = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "toolkit.cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert profile.stat().st_size > 0


def test_the_named_command_is_found_after_global_options_and_their_values():
    assert named_command(["--log-level", "info", "--pool-size", "3", "migrate", "up"]) == "migrate"
    assert named_command(["--database-url", "migrate", "tenant", "list"]) == "tenant"
    assert named_command(["--log-format=json", "health"]) == "health"
    assert named_command(["--help"]) is None
    assert named_command([]) is None


def test_a_command_imports_only_its_own_group():
    """Start-up is paid by every command (and by every rollout): `migrate` loads no other
    group's module, while `--help` still lists every group."""
    probe = (
        "import sys; from toolkit.cli import app; "
        "app.register([app.named_command(sys.argv[1:])]); "
        "print(sorted(m for m in sys.modules if m.startswith('toolkit.cli.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe, "--log-level", "info", "migrate", "status"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "toolkit.cli.migrate" in loaded
    for other in ("audit", "backup", "key", "security", "seed", "tenant", "usage", "doctor"):
        assert f"toolkit.cli.{other}'" not in loaded

    listed = subprocess.run(
        [sys.executable, "-m", "toolkit.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for group in ("tenant", "migrate", "key", "security", "usage", "seed", "doctor", "health"):
        assert f" {group} " in listed


def test_the_console_script_keeps_mako_from_loading_pygments():
    """Alembic's Mako would import Pygments (20-30 ms of every command's start-up) only to
    highlight HTML error pages; the console script blocks that import, and Mako still works."""
    probe = (
        "import sys; from toolkit.cli import entry; entry.load_command(sys.argv[1:]); "
        "import alembic.command, mako.exceptions, mako.template; "
        "print('pygments' in sys.modules, mako.template.Template('${x}').render(x='ok'))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe, "migrate", "up"], capture_output=True, text=True, check=True
    ).stdout
    assert shown.split() == ["False", "ok"]


def test_output_keeps_emoji_codes_as_typed():
    """Names and messages are shown as stored: rich must not turn ":smile:" into a glyph."""
    for console in (render.console, render.error_console):
        with console.capture() as captured:
            console.print(render.table("t", ["company"], [["Shop :smile:"]]))
        assert "Shop :smile:" in captured.get()


def test_help_shows_each_options_environment_variable_and_default():
    """Rich reads "[word ...]" in a help text as markup and drops it, so the hints are in
    parentheses; this catches one written in brackets again."""

    def help_of(*command: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "toolkit.cli", *command, "--help"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "COLUMNS": "250"},
        ).stdout

    top = help_of()
    for hint in ("(env: DATABASE_URL)", "(env: TENANTCTL_POOL_SIZE)", "default warning)"):
        assert hint in top
    for command in (("migrate", "up"), ("migrate", "resume")):
        options = help_of(*command)
        assert "(default: TENANTCTL_MIGRATE_LOCK_WAIT or 30; resuming: the run's)" in options
        assert "(default: TENANTCTL_MIGRATE_STATEMENT_TIMEOUT or 600;" in options
