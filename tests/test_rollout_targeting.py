"""Rollouts as operators drive them: targeting, resume, history, verify, JSON, status, rendering."""

from __future__ import annotations

import getpass
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import Script, ScriptDirectory
from cli_runner import alembic, one_line_error, run_cli
from scratch_scripts import add_tenant_revision, make_scratch_ini
from sqlalchemy import Engine, text

from toolkit import MigrationFailed, RunOptions, Selection, downgrade_all, upgrade_all
from toolkit.migrations.config import ALEMBIC_INI_ENV
from toolkit.migrations.runner import resume_run
from toolkit.migrations.status import Heads, read_versions

OLD = Heads.from_scripts().tenant  # the project's tenant head, where new tenants start
NEW = "0002note"  # the scratch revision most tests roll out on top of it
NOTE_UP = 'op.add_column("users", sa.Column("note", sa.Text()))'
NOTE_DOWN = 'op.drop_column("users", "note")'

Result = subprocess.CompletedProcess[str]


# -- running the commands --------------------------------------------------------------------


def _tenantctl(url, *args: str, **env: str) -> Result:
    """``tenantctl ARGS`` with a wide terminal, so that rich never wraps a table row."""
    return run_cli([sys.executable, "-m", "toolkit.cli", *args], url, COLUMNS="200", **env)


def _run(url, tool: str, args: list[str]) -> Result:
    """``tenantctl ARGS`` or ``alembic ARGS`` (both read the tree TENANTCTL_ALEMBIC_INI names)."""
    return alembic(url, *args) if tool == "alembic" else _tenantctl(url, *args)


def _output(result: Result) -> str:
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def _events(result: Result) -> list[dict]:
    """The JSON objects of ``--json``, one per line of stdout."""
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _table_rows(output: str) -> list[list[str]]:
    """The body rows of every rich table in ``output``, as lists of cell texts."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


# -- the database ----------------------------------------------------------------------------


def _sql(engine: Engine, statement: str, **params) -> list:
    with engine.begin() as connection:
        result = connection.execute(text(statement), params)
        return result.all() if result.returns_rows else []


def _versions(engine: Engine) -> dict[str, tuple[str, ...]]:
    """Every registered tenant's revisions, by subdomain."""
    with engine.connect() as connection:
        tenants = connection.execute(
            text("SELECT subdomain, database_schema FROM core.tenants")
        ).all()
        found = read_versions(connection, [schema for _, schema in tenants])
    return {subdomain: found.get(schema, ()) for subdomain, schema in tenants}


def _migrated(engine: Engine) -> set[str]:
    """Subdomains of the tenants at NEW."""
    return {sub for sub, revisions in _versions(engine).items() if revisions == (NEW,)}


def _set(engine: Engine, subdomain: str, *, plan: str, status: str) -> None:
    _sql(
        engine,
        "UPDATE core.tenants SET plan = :plan, status = :status WHERE subdomain = :sub",
        plan=plan,
        status=status,
        sub=subdomain,
    )


def _break(engine: Engine, subdomain: str) -> None:
    """Make NEW fail in this tenant: the column it adds is already there."""
    _sql(engine, f'ALTER TABLE "tenant_{subdomain}".users ADD COLUMN note text')


def _repair(engine: Engine, subdomain: str) -> None:
    _sql(engine, f'ALTER TABLE "tenant_{subdomain}".users DROP COLUMN note')


def _run_ids(engine: Engine) -> list[int]:
    return [row[0] for row in _sql(engine, "SELECT id FROM core.migration_runs ORDER BY id")]


def _run_row(engine: Engine, run_id: int) -> tuple[str, int | None]:
    """(outcome, resumed_from) of one journaled run."""
    (row,) = _sql(
        engine, "SELECT outcome, resumed_from FROM core.migration_runs WHERE id = :id", id=run_id
    )
    return row[0], row[1]


def _steps(engine: Engine, run_id: int) -> dict[str, str]:
    """Status of each schema's step in one run."""
    rows = _sql(
        engine,
        "SELECT schema_name, status FROM core.migration_steps WHERE run_id = :id",
        id=run_id,
    )
    return dict(rows)


def _add_users(engine: Engine, subdomain: str, count: int) -> None:
    for number in range(count):
        _sql(
            engine,
            f'INSERT INTO "tenant_{subdomain}".users (email) VALUES (:email)',
            email=f"user{number}@shop.test",
        )


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def tree(scratch_ini: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The scratch revision tree, used by every command of the test, in process or not."""
    monkeypatch.setenv(ALEMBIC_INI_ENV, str(scratch_ini))
    return scratch_ini


@pytest.fixture
def tenants_behind(make_tenants, tree):
    """Create tenants at today's head, then add NEW to the tree: all of them are behind.

    Returns the path of NEW's revision file.
    """

    def create(*subdomains: str) -> Path:
        make_tenants(*subdomains)
        return add_tenant_revision(tree, NEW, NOTE_UP, NOTE_DOWN)

    return create


# -- which tenants a run visits --------------------------------------------------------------

FLEET = {  # subdomain: (plan, status)
    "ant": ("free", "active"),
    "bee": ("pro", "active"),
    "cat": ("pro", "suspended"),
    "dog": ("pro", "archived"),
    "eel": ("pro", "provisioning"),
    "fox": ("free", "suspended"),
}


@pytest.fixture
def fleet(engine, tenants_behind) -> None:
    """The tenants of FLEET, with their plans and statuses, all behind NEW."""
    tenants_behind(*FLEET)
    for subdomain, (plan, status) in FLEET.items():
        _set(engine, subdomain, plan=plan, status=status)


def _both(tenantctl_args: list[str], x_args: list[str], expected: set[str], name: str) -> list:
    return [
        pytest.param("tenantctl", ["migrate", "up", *tenantctl_args], expected, id=f"{name}-cli"),
        pytest.param("alembic", [*x_args, "upgrade", "heads"], expected, id=f"{name}-x"),
    ]


SELECTIONS = [
    *_both([], [], {"ant", "bee", "cat", "fox"}, "default-active-and-suspended"),
    *_both(["--tenants", "ant,dog"], ["-x", "tenants=ant,dog"], {"ant", "dog"}, "named"),
    *_both(["--where", "plan=pro"], ["-x", "where=plan=pro"], {"bee", "cat"}, "plan"),
    *_both(["--where", "status=active"], ["-x", "where=status=active"], {"ant", "bee"}, "active"),
    *_both(["--where", "status=archived"], ["-x", "where=status=archived"], {"dog"}, "archived"),
    *_both(
        ["--where", "plan=pro", "--where", "status=active"],
        ["-x", "where=plan=pro;status=active"],
        {"bee"},
        "plan-and-status",
    ),
]


@pytest.mark.parametrize(("tool", "args", "expected"), SELECTIONS)
def test_a_run_migrates_exactly_the_tenants_its_selection_names(
    db_url, engine, fleet, tool, args, expected
):
    result = _run(db_url, tool, args)

    assert result.returncode == 0, _output(result)
    assert _migrated(engine) == expected
    assert all(_versions(engine)[sub] == OLD for sub in set(FLEET) - expected)


def test_contradictory_status_conditions_select_no_tenant(db_url, engine, fleet):
    result = _tenantctl(
        db_url, "migrate", "up", "--where", "status=active", "--where", "status=suspended"
    )

    assert result.returncode == 0, _output(result)
    assert _migrated(engine) == set()


SHARD_FLEET = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka", "ty")


def _shard_plan(engine: Engine, index: int, count: int) -> set[str]:
    """Subdomains a dry run of shard INDEX/COUNT plans to migrate, in this process."""
    options = RunOptions(selection=Selection(shard=(index, count)), dry_run=True)
    report = upgrade_all(engine, options=options)
    assert report.started is not None
    return {
        schema.removeprefix("tenant_")
        for group in report.started.groups
        for schema in group.schemas
    }


def test_shards_are_disjoint_cover_every_tenant_and_are_the_same_in_every_process(
    db_url, engine, tenants_behind
):
    tenants_behind(*SHARD_FLEET)
    planned = [_shard_plan(engine, index, 3) for index in (1, 2, 3)]

    assert [_shard_plan(engine, index, 3) for index in (1, 2, 3)] == planned
    assert sum(len(shard) for shard in planned) == len(SHARD_FLEET)
    assert set().union(*planned) == set(SHARD_FLEET)
    assert all(len(shard) < len(SHARD_FLEET) for shard in planned), "the shards split nothing"

    # Each subprocess has its own hash seed: what it migrates must still be the planned shard.
    runs = [
        ("tenantctl", ["migrate", "up", "--shard", "1/3"]),
        ("alembic", ["-x", "shard=2/3", "upgrade", "heads"]),
        ("tenantctl", ["migrate", "up", "--shard", "3/3"]),
    ]
    migrated: set[str] = set()
    for (tool, args), shard in zip(runs, planned, strict=True):
        result = _run(db_url, tool, args)
        assert result.returncode == 0, _output(result)
        now = _migrated(engine)
        assert now - migrated == shard, args
        migrated = now
    assert migrated == set(SHARD_FLEET)


CANARY_FLEET = ("delta", "alpha", "charlie", "bravo")  # selection order is by subdomain


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        pytest.param("tenantctl", ["migrate", "up", "--canary", "2"], id="cli"),
        pytest.param(
            "alembic",
            ["-x", "canary=2", "-x", "on_error=continue", "upgrade", "heads"],
            id="x-even-with-on-error-continue",
        ),
    ],
)
def test_a_failing_canary_aborts_with_exit_5_before_any_other_tenant_starts(
    db_url, engine, tenants_behind, tool, args
):
    tenants_behind(*CANARY_FLEET)
    _break(engine, "bravo")

    result = _run(db_url, tool, args)

    assert result.returncode == 5, _output(result)
    assert "tenant_bravo" in result.stderr
    assert "Traceback" not in result.stderr
    assert _migrated(engine) == {"alpha"}
    run_id = _run_ids(engine)[-1]
    assert _run_row(engine, run_id)[0] == "aborted"
    assert _steps(engine, run_id) == {
        "tenant_alpha": "done",
        "tenant_bravo": "failed",
        "tenant_charlie": "pending",
        "tenant_delta": "pending",
    }


def test_with_healthy_canaries_every_tenant_is_migrated_canaries_first(
    db_url, engine, tenants_behind
):
    tenants_behind(*CANARY_FLEET)

    result = _tenantctl(db_url, "migrate", "up", "--canary", "2", "--json")

    assert result.returncode == 0, _output(result)
    done = [event["schema"] for event in _events(result) if event["event"] == "schema_done"]
    assert done[:2] == ["tenant_alpha", "tenant_bravo"]
    assert sorted(done) == sorted(f"tenant_{sub}" for sub in CANARY_FLEET)
    assert _migrated(engine) == set(CANARY_FLEET)


# -- dry runs and invalid options ------------------------------------------------------------


def _database_state(engine: Engine) -> tuple[list, dict, list[int]]:
    """Every user table, every tenant's revisions and every journaled run."""
    tables = _sql(
        engine,
        "SELECT schemaname, tablename FROM pg_tables "
        "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
    )
    columns = _sql(
        engine,
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_schema LIKE 'tenant%' ORDER BY 1, 2, 3",
    )
    return tables + columns, _versions(engine), _run_ids(engine)


def test_dry_run_prints_the_plan_grouped_by_from_revision_and_changes_nothing(
    db_url, engine, make_tenants, tree
):
    make_tenants("ant", "bee", "cat")
    downgrade_all(engine, "tenant@base", tenants=["cat"])
    add_tenant_revision(tree, NEW, NOTE_UP, NOTE_DOWN)
    before = _database_state(engine)

    table = _tenantctl(db_url, "migrate", "up", "--dry-run")
    as_json = _tenantctl(db_url, "migrate", "up", "--dry-run", "--json")
    via_x = alembic(db_url, "-x", "dry_run=true", "upgrade", "heads")

    for result in (table, as_json, via_x):
        assert result.returncode == 0, _output(result)
    assert "dry run" in table.stdout
    # columns: from, apply, to, via, schemas, e.g.
    rows = {row[0]: row for row in _table_rows(table.stdout)}
    assert set(rows) == {OLD[0], "base"}
    assert rows[OLD[0]][2] == rows["base"][2] == NEW
    assert (rows[OLD[0]][4], rows["base"][4]) == ("2", "1")
    assert rows["base"][5] == "tenant_cat"
    (started,) = _events(as_json)
    assert started["event"] == "run_started"
    assert started["dry_run"] is True
    assert started["planned"] == 3
    groups = {tuple(group["from_revisions"]): group["schemas"] for group in started["groups"]}
    assert groups == {OLD: 2, (): 1}
    names = {tuple(group["from_revisions"]): group["schema_names"] for group in started["groups"]}
    assert names == {OLD: ["tenant_ant", "tenant_bee"], (): ["tenant_cat"]}
    # alembic prints the same plan: a line per group, naming its revisions and schemas.
    plan = [line.strip() for line in via_x.stdout.splitlines() if " via " in line]
    assert len(plan) == 2, via_x.stdout
    old_group = next(line for line in plan if line.startswith(f"{OLD[0]} -> {NEW}"))
    base_group = next(line for line in plan if line.startswith(f"base -> {NEW}"))
    assert "2 schema(s): tenant_ant, tenant_bee" in old_group
    assert "1 schema(s): tenant_cat" in base_group
    assert _database_state(engine) == before


INVALID = [
    pytest.param("tenantctl", ["migrate", "up", "--shard", "4/3"], "4/3", id="shard-4/3"),
    pytest.param("tenantctl", ["migrate", "up", "--where", "color=red"], "color=red", id="where"),
    pytest.param("alembic", ["-x", "canary=0", "upgrade", "heads"], "canary='0'", id="x-canary-0"),
    pytest.param("alembic", ["-x", "bogus=1", "upgrade", "heads"], "bogus", id="x-bogus"),
    pytest.param("alembic", ["-x", "shard=0/2", "upgrade", "heads"], "0/2", id="x-shard-0/2"),
    pytest.param(
        "alembic",
        ["-x", "where=plan=pro", "-x", "where=status=active", "upgrade", "heads"],
        "-x where is given more than once",
        id="x-where-twice",
    ),
    pytest.param(
        "alembic",
        ["-x", "tenant=ant", "-x", "tenants=bee", "upgrade", "heads"],
        "-x tenants is given more than once (-x tenant=ant, -x tenants=bee)",
        id="x-tenant-and-tenants",
    ),
]


@pytest.mark.parametrize(("tool", "args", "named"), INVALID)
def test_an_invalid_option_exits_2_in_one_line_naming_it_and_changes_nothing(
    db_url, engine, tenants_behind, tool, args, named
):
    tenants_behind("ant", "bee")
    before = _database_state(engine)

    result = _run(db_url, tool, args)

    assert result.returncode == 2, _output(result)
    one_line_error(result, named, prefix="FAILED: " if tool == "alembic" else "error: ")
    assert _database_state(engine) == before


# -- resume ----------------------------------------------------------------------------------


def test_resume_migrates_only_the_failed_and_not_started_tenants_of_a_run(
    db_url, engine, tenants_behind
):
    tenants_behind(*CANARY_FLEET)
    _break(engine, "bravo")
    failed = _tenantctl(db_url, "migrate", "up", "--fail-fast")
    assert failed.returncode == 5, _output(failed)
    run_id = _run_ids(engine)[-1]
    assert f"tenantctl migrate resume {run_id}" in failed.stderr
    assert _migrated(engine) == {"alpha"}
    _repair(engine, "bravo")

    resumed = _tenantctl(db_url, "migrate", "resume", str(run_id))

    assert resumed.returncode == 0, _output(resumed)
    new_run = _run_ids(engine)[-1]
    assert new_run != run_id
    assert _run_row(engine, new_run) == ("succeeded", run_id)
    assert _steps(engine, new_run) == {
        "tenant_bravo": "done",
        "tenant_charlie": "done",
        "tenant_delta": "done",
    }
    assert _migrated(engine) == set(CANARY_FLEET)


def test_resume_keeps_the_runs_order_so_an_unfixed_failure_stops_it_first(engine, tenants_behind):
    tenants_behind(*CANARY_FLEET)
    _break(engine, "bravo")
    with pytest.raises(MigrationFailed) as failed:
        upgrade_all(engine)
    reached: list[str] = []

    with pytest.raises(MigrationFailed):
        resume_run(
            engine,
            failed.value.run_id,
            on_event=lambda event: reached.append(getattr(event, "schema", "")),
        )

    assert [schema for schema in reached if schema] == ["tenant_bravo"]
    assert _migrated(engine) == {"alpha"}


def test_resuming_a_successful_run_has_nothing_to_do(db_url, engine, tenants_behind):
    tenants_behind("ant", "bee")
    assert _tenantctl(db_url, "migrate", "up").returncode == 0
    run_id = _run_ids(engine)[-1]

    result = _tenantctl(db_url, "migrate", "resume", str(run_id))

    assert result.returncode == 0, _output(result)
    assert "nothing to resume" in result.stdout
    assert _run_ids(engine)[-1] == run_id


def test_resuming_an_unknown_run_exits_1_naming_it(db_url, engine, tenants_behind):
    tenants_behind("ant")
    before = _database_state(engine)

    result = _tenantctl(db_url, "migrate", "resume", "987654")

    assert result.returncode == 1, _output(result)
    one_line_error(result, "987654", "migrate history")
    assert _database_state(engine) == before


def test_retry_failed_resumes_the_latest_run(db_url, engine, tenants_behind):
    tenants_behind("ant", "bee", "cat")
    _break(engine, "bee")
    failed = _tenantctl(db_url, "migrate", "up", "--continue-on-error")
    assert failed.returncode == 4, _output(failed)
    run_id = _run_ids(engine)[-1]
    assert _migrated(engine) == {"ant", "cat"}
    _repair(engine, "bee")

    retried = _tenantctl(db_url, "migrate", "up", "--retry-failed")

    assert retried.returncode == 0, _output(retried)
    new_run = _run_ids(engine)[-1]
    assert _run_row(engine, new_run) == ("succeeded", run_id)
    assert _steps(engine, new_run) == {"tenant_bee": "done"}
    assert _migrated(engine) == {"ant", "bee", "cat"}

    again = _tenantctl(db_url, "migrate", "up", "--retry-failed")
    assert again.returncode == 0, _output(again)
    assert "the latest run finished; nothing to resume" in again.stdout
    as_json = _tenantctl(db_url, "migrate", "up", "--retry-failed", "--json")
    assert _events(as_json) == [{"event": "nothing_to_resume", "run_id": None}]
    assert _run_ids(engine)[-1] == new_run


def test_resume_takes_new_timeouts_and_keeps_the_runs_target_and_tenants(
    db_url, engine, tenants_behind
):
    tenants_behind("ant", "bee", "cat")
    _break(engine, "bee")
    failed = _tenantctl(db_url, "migrate", "up", "--continue-on-error", "--lock-timeout", "2")
    assert failed.returncode == 4, _output(failed)
    run_id = _run_ids(engine)[-1]
    _repair(engine, "bee")

    args = ["--lock-timeout", "7.5", "--statement-timeout", "90", "--lock-retries", "1"]
    resumed = _tenantctl(db_url, "migrate", "resume", str(run_id), *args, "--lock-wait", "4")

    assert resumed.returncode == 0, _output(resumed)
    new_run = _run_ids(engine)[-1]
    assert _steps(engine, new_run) == {"tenant_bee": "done"}
    ((recorded,),) = _sql(
        engine, "SELECT options FROM core.migration_runs WHERE id = :id", id=new_run
    )
    assert (recorded["lock_timeout"], recorded["statement_timeout"]) == (7.5, 90.0)
    assert (recorded["lock_retries"], recorded["lock_wait"]) == (1, 4.0)
    assert recorded["on_error"] == "continue"  # the run's own policy
    assert recorded["selection"]["tenants"] == ["bee"]


# -- history ---------------------------------------------------------------------------------


@pytest.fixture
def aborted_then_resumed(engine, tenants_behind) -> tuple[int, int]:
    """A run aborted at bravo (of alpha..delta), then its resume: their run ids."""
    tenants_behind(*CANARY_FLEET)
    _break(engine, "bravo")
    with pytest.raises(MigrationFailed) as failed:
        upgrade_all(engine)
    _repair(engine, "bravo")
    report = resume_run(engine, failed.value.run_id)
    assert report is not None
    assert report.finished is not None
    assert failed.value.run_id is not None
    assert report.finished.run_id is not None
    return failed.value.run_id, report.finished.run_id


def test_history_lists_runs_newest_first_with_outcome_and_counts(
    db_url, engine, aborted_then_resumed
):
    aborted, resumed = aborted_then_resumed

    table = _tenantctl(db_url, "migrate", "history")
    as_json = _tenantctl(db_url, "migrate", "history", "--json")

    assert table.returncode == as_json.returncode == 0, _output(table) + _output(as_json)
    runs = json.loads(as_json.stdout)
    assert [run["id"] for run in runs] == sorted(_run_ids(engine), reverse=True)
    counts = {
        run["id"]: (run["outcome"], run["done"], run["failed"], run["pending"]) for run in runs
    }
    assert counts[aborted] == ("aborted", 1, 1, 2)
    assert counts[resumed] == ("succeeded", 3, 0, 0)
    assert runs[0]["resumed_from"] == aborted
    # Who ran it, where, when, with what: as the journal recorded it.
    for run in runs:
        assert (run["started_by"], run["host"]) == (getpass.getuser(), socket.gethostname())
        assert (run["command"], run["target"]) == ("upgrade", "heads")
        assert run["started_at"] < run["finished_at"]
    assert runs[1]["options"]["on_error"] == "stop"
    assert runs[0]["options"]["resume_run"] == aborted
    # columns: run, command, target, started, by, outcome, done, failed, left
    rows = _table_rows(table.stdout)
    assert [int(row[0]) for row in rows] == [run["id"] for run in runs]
    assert [row[5:] for row in rows[:2]] == [
        ["succeeded", "3", "0", "0"],
        ["aborted", "1", "1", "2"],
    ]


def test_history_of_one_tenant_lists_its_steps_newest_first(db_url, aborted_then_resumed):
    aborted, resumed = aborted_then_resumed

    result = _tenantctl(db_url, "migrate", "history", "--tenant", "bravo", "--json")

    assert result.returncode == 0, _output(result)
    steps = json.loads(result.stdout)
    assert [(s["run_id"], s["schema"], s["status"]) for s in steps] == [
        (resumed, "tenant_bravo", "done"),
        (aborted, "tenant_bravo", "failed"),
    ]
    assert all(s["from_revisions"] == list(OLD) and s["to_revisions"] == [NEW] for s in steps)
    assert "DuplicateColumn" in steps[1]["error"]
    assert steps[0]["error"] is None


def test_history_of_one_run_lists_each_schema_with_its_status(db_url, aborted_then_resumed):
    aborted, _ = aborted_then_resumed

    as_json = _tenantctl(db_url, "migrate", "history", "--run", str(aborted), "--json")
    table = _tenantctl(db_url, "migrate", "history", "--run", str(aborted))

    assert as_json.returncode == table.returncode == 0, _output(as_json) + _output(table)
    assert {s["schema"]: s["status"] for s in json.loads(as_json.stdout)} == {
        "tenant_alpha": "done",
        "tenant_bravo": "failed",
        "tenant_charlie": "pending",
        "tenant_delta": "pending",
    }
    # columns: run, schema, from, to, status, ms, error
    rows = {row[1]: row for row in _table_rows(table.stdout)}
    assert set(rows) == {f"tenant_{sub}" for sub in CANARY_FLEET}
    assert rows["tenant_bravo"][2:5] == [OLD[0], NEW, "failed"]
    assert "DuplicateColumn" in rows["tenant_bravo"][6]


# -- verify ----------------------------------------------------------------------------------


def test_verify_flags_an_applied_revision_whose_file_was_edited_or_deleted(
    db_url, engine, tenants_behind
):
    path = tenants_behind("ant", "bee")
    assert _tenantctl(db_url, "migrate", "up").returncode == 0
    recorded = set(_sql(engine, "SELECT revision, branch FROM core.revision_checksums"))
    assert {("0001core", "core"), ("0002core", "core"), (NEW, "tenant")} <= recorded

    clean = _tenantctl(db_url, "migrate", "verify")
    assert clean.returncode == 0, _output(clean)

    path.write_text(path.read_text() + "# edited after it ran\n")
    edited = _tenantctl(db_url, "migrate", "verify")
    assert edited.returncode == 3, _output(edited)
    assert [row[0] for row in _table_rows(edited.stdout)] == [NEW]

    path.unlink()
    deleted = _tenantctl(db_url, "migrate", "verify", "--json")
    assert deleted.returncode == 3, _output(deleted)
    assert [(c["revision"], c["current"]) for c in json.loads(deleted.stdout)] == [(NEW, None)]
    assert "(missing)" in _tenantctl(db_url, "migrate", "verify").stdout


# -- JSON events and status ------------------------------------------------------------------


def test_json_prints_run_started_one_event_per_tenant_and_run_finished(
    db_url, engine, tenants_behind
):
    tenants_behind("ant", "bee", "cat")
    _break(engine, "bee")

    result = _tenantctl(db_url, "migrate", "up", "--json", "--continue-on-error")

    assert result.returncode == 4, _output(result)
    started, *schemas, finished = _events(result)
    run_id = _run_ids(engine)[-1]
    assert started["event"] == "run_started"
    assert (started["run_id"], started["planned"], started["up_to_date"]) == (run_id, 3, 0)
    assert [(g["from_revisions"], g["to_revisions"], g["schemas"]) for g in started["groups"]] == [
        (list(OLD), [NEW], 3)
    ]
    assert "schema_names" not in started["groups"][0]  # only a dry run lists them
    assert sorted((event["event"], event["schema"]) for event in schemas) == [
        ("schema_done", "tenant_ant"),
        ("schema_done", "tenant_cat"),
        ("schema_failed", "tenant_bee"),
    ]
    (failure,) = [event for event in schemas if not event["ok"]]
    assert "DuplicateColumn" in failure["error"]
    assert finished["event"] == "run_finished"
    assert finished["run_id"] == run_id
    assert (finished["outcome"], finished["done"], finished["failed"]) == ("failed", 2, 1)
    assert finished["not_reached"] == 0


def test_status_groups_tenants_by_revision_and_lists_those_whose_last_step_failed(
    db_url, engine, tenants_behind
):
    tenants_behind("ant", "bee", "cat", "dog")
    _break(engine, "cat")
    run = _tenantctl(db_url, "migrate", "up", "--tenants", "ant,bee,cat", "--continue-on-error")
    assert run.returncode == 4, _output(run)
    run_id = _run_ids(engine)[-1]

    as_json = _tenantctl(db_url, "migrate", "status", "--json")
    table = _tenantctl(db_url, "migrate", "status")

    assert as_json.returncode == table.returncode == 3, _output(as_json) + _output(table)
    status = json.loads(as_json.stdout)
    groups = {tuple(g["revisions"]): (g["tenants"], g["at_head"]) for g in status["groups"]}
    assert groups == {(NEW,): (2, True), OLD: (2, False)}
    assert [(f["schema"], f["run_id"]) for f in status["failing"]] == [("tenant_cat", run_id)]
    assert "DuplicateColumn" in status["failing"][0]["error"]
    rows = _table_rows(table.stdout)
    assert [NEW, "2", "at head"] in rows
    assert [OLD[0], "2", "behind"] in rows
    assert any(row[:2] == ["tenant_cat", str(run_id)] for row in rows)

    # Failed again: listed once, with its latest run.
    again = _tenantctl(db_url, "migrate", "up", "--tenants", "cat")
    assert again.returncode == 4, _output(again)
    failing = json.loads(_tenantctl(db_url, "migrate", "status", "--json").stdout)["failing"]
    assert [(f["schema"], f["run_id"]) for f in failing] == [("tenant_cat", _run_ids(engine)[-1])]

    _repair(engine, "cat")
    assert _tenantctl(db_url, "migrate", "up").returncode == 0
    healed = _tenantctl(db_url, "migrate", "status", "--json")
    assert healed.returncode == 0, _output(healed)
    assert json.loads(healed.stdout)["failing"] == []


# -- rendered SQL and revisions that need Alembic --------------------------------------------

COUNT_UP = """
count = op.get_bind().execute(sa.text("SELECT count(*) FROM users")).scalar_one()
counts = op.create_table("user_counts", sa.Column("n", sa.Integer(), nullable=False))
op.bulk_insert(counts, [{"n": count}])
"""


@pytest.mark.parametrize("render_as_sql", [False, True], ids=["opted-out", "fails-offline"])
def test_a_revision_that_reads_data_runs_through_alembic_with_each_tenants_rows(
    db_url, engine, make_tenants, tree, render_as_sql
):
    users = {"ant": 0, "bee": 1, "cat": 3}
    make_tenants(*users)
    for subdomain, count in users.items():
        _add_users(engine, subdomain, count)
    add_tenant_revision(
        tree, "0002count", COUNT_UP, 'op.drop_table("user_counts")', render_as_sql=render_as_sql
    )

    result = _tenantctl(db_url, "migrate", "up", "--json")

    assert result.returncode == 0, _output(result)
    (group,) = _events(result)[0]["groups"]
    assert group["rendered"] is False
    counted = {
        sub: _sql(engine, f'SELECT n FROM "tenant_{sub}".user_counts')[0][0] for sub in users
    }
    assert counted == users


@pytest.mark.parametrize("render_as_sql", [True, False], ids=["rendered", "through-alembic"])
def test_a_run_reads_the_revision_files_once_however_many_tenants_it_migrates(
    engine, make_tenants, tree, monkeypatch, render_as_sql
):
    make_tenants("ant", "bee", "cat", "dog", "eel")
    add_tenant_revision(
        tree, "0002count", COUNT_UP, 'op.drop_table("user_counts")', render_as_sql=render_as_sql
    )
    reads: list[str] = []
    load_revisions = ScriptDirectory._load_revisions

    def counted(script: ScriptDirectory) -> Iterator[Script]:
        reads.append(script.dir)  # each call reads every revision file
        yield from load_revisions(script)

    monkeypatch.setattr(ScriptDirectory, "_load_revisions", counted)

    report = upgrade_all(engine)

    assert report.finished is not None
    assert report.finished.done == 5
    assert len(reads) == 1  # one revision map for the run, not one per tenant


def _shape(engine: Engine, schema: str) -> dict[str, list]:
    """Columns, indexes, constraints and user rows of a schema, with its name taken out."""
    queries = {
        "columns": "SELECT table_name, column_name, data_type, is_nullable, column_default "
        "FROM information_schema.columns WHERE table_schema = :schema",
        "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes "
        "WHERE schemaname = :schema",
        "constraints": "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) "
        "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
        "WHERE k.connamespace = CAST(:schema AS regnamespace)",
        "users": f"SELECT to_jsonb(u) - 'created_at' - 'updated_at' "
        f'FROM "{schema}".users u ORDER BY id',
    }
    shape = {}
    for name, query in queries.items():
        rows = _sql(engine, query, schema=schema)
        shape[name] = sorted(
            [str(value).replace(f"{schema}.", "SCHEMA.") for value in row] for row in rows
        )
    return shape


ADD_COLUMN_AND_INDEX = """
op.add_column(
    "users", sa.Column("nickname", sa.String(80), server_default="anon", nullable=False)
)
op.create_index(op.f("ix_users_nickname"), "users", ["nickname"])
"""
CONSTRAINTS = """
op.add_column("users", sa.Column("handle", sa.String(80), unique=True))
op.create_check_constraint("handle_not_blank", "users", "handle <> ''")
"""
SQL_BEGINNING_WITH_A_COMMENT = r"""
op.add_column("users", sa.Column("nickname", sa.String(80)))
op.execute("-- backfill: every user gets a nickname\nUPDATE users SET nickname = 'user' || id")
"""


@pytest.mark.parametrize(
    "upgrade",
    [
        pytest.param(ADD_COLUMN_AND_INDEX, id="add-column-and-index"),
        pytest.param(
            CONSTRAINTS,
            id="constraints-named-by-the-convention",
        ),
        pytest.param(
            SQL_BEGINNING_WITH_A_COMMENT,
            id="sql-beginning-with-a-comment",
        ),
    ],
)
def test_rendered_sql_leaves_a_tenant_exactly_as_alembic_would(
    db_url, engine, make_tenants, tree, tmp_path, upgrade
):
    make_tenants("rendered", "reference")
    for subdomain in ("rendered", "reference"):
        _add_users(engine, subdomain, 2)
    twin = make_scratch_ini(tmp_path / "twin")  # the same revision, opted out of rendering
    add_tenant_revision(tree, "0002same", upgrade)
    add_tenant_revision(twin, "0002same", upgrade, render_as_sql=False)

    via_sql = _tenantctl(db_url, "migrate", "up", "--tenants", "rendered", "--json")
    via_alembic = _tenantctl(
        db_url, "migrate", "up", "--tenants", "reference", "--json", TENANTCTL_ALEMBIC_INI=str(twin)
    )

    assert via_sql.returncode == via_alembic.returncode == 0, _output(via_sql) + _output(
        via_alembic
    )
    assert [g["rendered"] for g in _events(via_sql)[0]["groups"]] == [True]
    assert [g["rendered"] for g in _events(via_alembic)[0]["groups"]] == [False]
    assert _versions(engine) == {"rendered": ("0002same",), "reference": ("0002same",)}
    assert _shape(engine, "tenant_rendered") == _shape(engine, "tenant_reference")


# -- nothing to do ---------------------------------------------------------------------------


def test_a_run_with_everything_at_head_plans_nothing_and_touches_no_tenant(
    db_url, engine, make_tenants
):
    schemas = make_tenants("ant", "bee")
    runs_before = _run_ids(engine)

    # A tenant transaction locks the version row FOR UPDATE: with these locks held it would
    # time out and fail. Reading the versions to plan is still allowed.
    with engine.connect() as blocker, blocker.begin():
        for schema in schemas:
            blocker.execute(text(f'LOCK TABLE "{schema}".alembic_version IN EXCLUSIVE MODE'))
        via_alembic = alembic(
            db_url, "-x", "lock_timeout=0.5", "-x", "lock_retries=0", "upgrade", "heads"
        )
        via_tenantctl = _tenantctl(
            db_url, "migrate", "up", "--json", "--lock-timeout", "0.5", "--lock-retries", "0"
        )

    assert via_alembic.returncode == 0, _output(via_alembic)
    assert via_tenantctl.returncode == 0, _output(via_tenantctl)
    started, finished = _events(via_tenantctl)
    assert (started["planned"], started["up_to_date"], started["groups"]) == (0, 2, [])
    assert started["core"] is None
    assert (finished["outcome"], finished["done"], finished["failed"]) == ("succeeded", 0, 0)
    new_runs = [run for run in _run_ids(engine) if run not in runs_before]
    assert len(new_runs) == 2
    assert all(_run_row(engine, run)[0] == "succeeded" for run in new_runs)
    assert all(_steps(engine, run) == {} for run in new_runs)


def test_retry_failed_refuses_options_it_would_ignore(db_url, tree):
    result = _tenantctl(db_url, "migrate", "up", "--retry-failed", "--dry-run")

    assert result.returncode == 2
    assert "--retry-failed" in result.stderr
    assert "Traceback" not in result.stderr
