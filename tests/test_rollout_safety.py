"""Rollout safety on a real PostgreSQL: the run lock, failure policies, timeouts, kills, workers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from subprocess import PIPE, Popen
from typing import Any, NamedTuple, TypeVar

import psycopg
import pytest
from cli_runner import PROJECT_ROOT, alembic, run_cli
from scratch_scripts import add_tenant_revision
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from toolkit.exit_codes import EXIT_ABORTED, EXIT_LOCKED, EXIT_OK, EXIT_TENANTS_FAILED
from toolkit.migrations.apply import GroupScript, Limits, TenantMigrator, TenantTask, WorkerPlan
from toolkit.migrations.lock import (
    APPLICATION_NAME,
    ROLLOUT_LOCK_KEY,
    WORK_APPLICATION_NAME,
    lock_holder_pid,
)
from toolkit.migrations.status import Heads, read_versions

TENANTCTL = [sys.executable, "-m", "toolkit.cli"]
BASE = Heads.from_scripts().tenant  # the project's tenant head, before scratch revisions
HANG = 90.0  # seconds; only stops a hung test, never a measured expectation
T = TypeVar("T")


# -- running tenantctl on a scratch revision tree --------------------------------------------


def _url_text(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _tenantctl(url: URL, ini: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``tenantctl ARGS`` with the revisions of ``ini``, to completion."""
    return run_cli([*TENANTCTL, *args], url, TENANTCTL_ALEMBIC_INI=str(ini))


@pytest.fixture
def start_tenantctl(db_url: URL, scratch_ini: Path) -> Iterator[Callable[..., Popen[str]]]:
    """Start ``tenantctl ARGS`` on the scratch tree in the background; killed if left running."""
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(DATABASE_URL=_url_text(db_url), TENANTCTL_ALEMBIC_INI=str(scratch_ini))
    started: list[Popen[str]] = []

    def start(*args: str) -> Popen[str]:
        process = Popen(
            [*TENANTCTL, *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=PIPE,
            stderr=PIPE,
            text=True,
            preexec_fn=_default_sigint,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _default_sigint() -> None:
    """Give the child Ctrl-C back: a suite started in the background by a non-interactive shell
    inherits SIGINT ignored, and Python then never turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Finished(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


def _finish(process: Popen[str]) -> Finished:
    stdout, stderr = process.communicate(timeout=HANG)
    return Finished(process.returncode, stdout, stderr)


def _one_error_line(stderr: str) -> str:
    """The only non-empty line of ``stderr``; fails on a traceback or on several lines."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def _wait_for(condition: Callable[[], T], what: str, process: Popen[str] | None = None) -> T:
    """Poll ``condition`` until it is truthy; fail if ``process`` ends first or on a hang."""
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            out = _finish(process)
            pytest.fail(f"run ended (exit {out.returncode}) before {what}: {out.stderr}")
        time.sleep(0.02)
    pytest.fail(f"gave up waiting for {what}")


# -- scratch revisions -----------------------------------------------------------------------


def _add_column_revision(
    ini: Path, revision: str, column: str, *, sleep: float = 0.0, render_as_sql: bool = True
) -> None:
    """A tenant revision adding ``orders.<column>`` (after ``pg_sleep(sleep)`` if given)."""
    upgrade = f'op.add_column("orders", sa.Column("{column}", sa.Text()))'
    if sleep:
        upgrade = f'op.execute("SELECT pg_sleep({sleep})")\n{upgrade}'
    downgrade = f'op.drop_column("orders", "{column}")'
    add_tenant_revision(ini, revision, upgrade, downgrade, render_as_sql=render_as_sql)


# -- what the database holds -----------------------------------------------------------------


class Step(NamedTuple):
    run_id: int
    schema: str
    status: str
    attempts: int
    error: str | None


def _state(
    engine: Engine, schemas: Sequence[str], columns: Sequence[str]
) -> dict[str, tuple[tuple[str, ...], frozenset[str]]]:
    """Each schema's revisions and which of ``columns`` its ``orders`` table has."""
    with engine.connect() as connection:
        versions = read_versions(connection, list(schemas))
        rows = connection.execute(
            text(
                "SELECT table_schema, column_name FROM information_schema.columns "
                "WHERE table_name = 'orders' AND table_schema = ANY(:schemas) "
                "AND column_name = ANY(:columns)"
            ),
            {"schemas": list(schemas), "columns": list(columns)},
        ).all()
    present: dict[str, set[str]] = {schema: set() for schema in schemas}
    for schema, column in rows:
        present[schema].add(column)
    return {s: (versions.get(s, ()), frozenset(present[s])) for s in schemas}


def _steps(engine: Engine, run_id: int | None = None) -> list[Step]:
    """Journaled tenant steps (of one run, or of every run), oldest first."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT run_id, schema_name, status, attempts, error FROM core.migration_steps "
                "WHERE schema_name <> 'core' AND (CAST(:run AS bigint) IS NULL OR run_id = :run) "
                "ORDER BY id"
            ),
            {"run": run_id},
        ).all()
    return [Step(*row) for row in rows]


def _statuses(steps: Sequence[Step]) -> dict[str, str]:
    return {step.schema: step.status for step in steps}


@pytest.fixture
def runs(engine: Engine) -> Callable[[], list[tuple[int, str]]]:
    """``(id, outcome)`` of the runs journaled since the test began, oldest first.

    The template database already holds one: the run that migrated core.
    """
    query = "SELECT id, outcome FROM core.migration_runs WHERE id > :before ORDER BY id"
    with engine.connect() as connection:
        before = connection.execute(text("SELECT max(id) FROM core.migration_runs")).scalar()

    def journaled() -> list[tuple[int, str]]:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query), {"before": before or 0})]

    return journaled


def _lock_holder(engine: Engine) -> int | None:
    with engine.connect() as connection:
        return lock_holder_pid(connection)


def _sleeping_backends(engine: Engine) -> list[int]:
    """Backends of this database (other than the asking one) inside a ``pg_sleep``."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND wait_event = 'PgSleep'"
                )
            ).scalars()
        )


def _busy_backends(engine: Engine) -> list[int]:
    """Backends of this database (other than the asking one) running or in a transaction.

    A tenant's message keeps running in the server after its runner is killed, and commits
    or rolls back as a whole: a test must wait for it before it reads the tenants.
    """
    with engine.connect() as connection:
        return list(
            connection.execute(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
                    "AND state IS DISTINCT FROM 'idle'"
                )
            ).scalars()
        )


def _done_count(engine: Engine) -> int:
    return sum(step.status == "done" for step in _steps(engine))


@contextlib.contextmanager
def _session(url: URL, *, autocommit: bool = True) -> Iterator[psycopg.Connection[Any]]:
    """A plain psycopg session of the test's own, closed (its locks released) at the end."""
    conninfo = _url_text(url.set(drivername="postgresql"))
    with psycopg.connect(conninfo, autocommit=autocommit) as connection:
        yield connection


@contextlib.contextmanager
def _rollout_lock_held(url: URL) -> Iterator[int]:
    """Hold the rollout lock in a session of our own; yields that session's backend pid."""
    with _session(url) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (ROLLOUT_LOCK_KEY,))
        row = holder.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        yield row[0]


@contextlib.contextmanager
def _busy(engine: Engine, session: psycopg.Connection[Any], application_name: str) -> Iterator[int]:
    """``session``, named ``application_name``, inside a 3 s ``pg_sleep`` for the block;
    yields its backend pid."""
    session.execute("SELECT set_config('application_name', %s, false)", (application_name,))
    pid = session.info.backend_pid
    sleeper = threading.Thread(target=session.execute, args=("SELECT pg_sleep(3)",))
    sleeper.start()
    try:
        _wait_for(lambda: pid in _sleeping_backends(engine), "the session to be busy")
        yield pid
    finally:
        sleeper.join()


@contextlib.contextmanager
def _orders_locked(url: URL, schema: str) -> Iterator[psycopg.Connection[Any]]:
    """An open transaction holding ACCESS EXCLUSIVE on ``schema.orders``."""
    with _session(url, autocommit=False) as blocker:
        blocker.execute(f'LOCK TABLE "{schema}".orders IN ACCESS EXCLUSIVE MODE')
        try:
            yield blocker
        finally:
            blocker.rollback()


def _waiting_for_a_lock(engine: Engine, schema: str) -> bool:
    """True while some backend waits for a lock on ``schema.orders``."""
    with engine.connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT EXISTS (SELECT FROM pg_locks WHERE NOT granted "
                    "AND relation = to_regclass(:table))"
                ),
                {"table": f'"{schema}".orders'},
            ).scalar()
        )


# -- processes ------------------------------------------------------------------------


def _descendants(root: int) -> list[int]:
    """Pids of every process below ``root`` (its workers, whatever starts them)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, pending = [], [root]
    while pending:
        below = children.get(pending.pop(), [])
        found.extend(below)
        pending.extend(below)
    return found


def _alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting to be reaped does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


# == 1. one run at a time =====================================================================


def test_second_run_waits_for_the_lock_then_exits_6_naming_the_holder(
    db_url, engine, make_tenants, scratch_ini, runs
):
    schemas = make_tenants("a", "b")
    _add_column_revision(scratch_ini, "r_note", "note")
    before = (_state(engine, schemas, ["note"]), runs())

    with _rollout_lock_held(db_url) as holder:
        cli = _tenantctl(db_url, scratch_ini, "migrate", "up", "--lock-wait", "1")
        raw = alembic(db_url, "-x", "lock_wait=1", "upgrade", "heads", ini=scratch_ini)
        assert _lock_holder(engine) == holder

    assert cli.returncode == EXIT_LOCKED, cli.stderr
    line = _one_error_line(cli.stderr)
    assert line.startswith("error: another migration run holds the lock")
    assert f"backend pid {holder}" in line
    assert raw.returncode == EXIT_LOCKED, raw.stderr
    failed = [line for line in raw.stderr.splitlines() if line.startswith("FAILED:")]
    assert len(failed) == 1, raw.stderr
    assert f"backend pid {holder}" in failed[0]
    assert "Traceback" not in raw.stderr
    assert (_state(engine, schemas, ["note"]), runs()) == before

    after = _tenantctl(db_url, scratch_ini, "migrate", "up", "--lock-wait", "1")
    assert after.returncode == EXIT_OK, after.stderr
    assert set(_state(engine, schemas, ["note"]).values()) == {(("r_note",), frozenset({"note"}))}


def test_concurrent_runs_serialize_on_the_lock_and_never_apply_a_revision_twice(
    db_url, engine, make_tenants, scratch_ini, runs, start_tenantctl
):
    schemas = make_tenants("a", "b", "c", "d", "e")
    # Each tenant takes 1 s: the first run holds the lock long after the impatient one has
    # started, even on a slow machine where starting a process takes two seconds.
    _add_column_revision(scratch_ini, "r_slow", "slow", sleep=1.0)

    first, second = (start_tenantctl("migrate", "up") for _ in range(2))
    holder = _wait_for(lambda: _lock_holder(engine), "a run to take the lock", first)
    # A third run that will not wait long is refused, naming the run that holds the lock.
    impatient = _tenantctl(db_url, scratch_ini, "migrate", "up", "--lock-wait", "0.2")
    results = [_finish(first), _finish(second)]

    assert impatient.returncode == EXIT_LOCKED, impatient.stderr
    line = _one_error_line(impatient.stderr)
    assert f"backend pid {holder}" in line
    assert APPLICATION_NAME in line
    for result in results:
        assert result.returncode == EXIT_OK, result.stderr
        assert "already exists" not in result.stdout + result.stderr
    steps = _steps(engine)
    assert sorted(step.schema for step in steps) == sorted(schemas)  # each tenant exactly once
    assert {step.status for step in steps} == {"done"}
    (_, first_outcome), (later_run, later_outcome) = runs()
    assert (first_outcome, later_outcome) == ("succeeded", "succeeded")
    assert _steps(engine, later_run) == []  # it waited, then found nothing left to do
    assert set(_state(engine, schemas, ["slow"]).values()) == {(("r_slow",), frozenset({"slow"}))}


# The rollout lock lives in an idle session of its own. When the server ends that session
# (pg_terminate_backend here), the run must stop before its next chunk, and a second run that
# starts meanwhile must not replay a revision on a tenant the first run has moved since the
# second planned: each tenant's transaction locks and checks its from-revision.
def test_a_run_that_loses_its_lock_session_never_lets_a_revision_apply_twice(
    db_url, engine, make_tenants, scratch_ini, start_tenantctl
):
    schemas = make_tenants(*(f"k{i}" for i in range(10)))
    add_tenant_revision(
        scratch_ini,
        "r_once",
        'op.execute("SELECT pg_sleep(0.3)")\n'
        'op.execute("CREATE TABLE IF NOT EXISTS applied (n int)")\n'
        'op.execute("INSERT INTO applied VALUES (1)")',
        'op.execute("DROP TABLE applied")',
    )

    first = start_tenantctl("migrate", "up")
    holder = _wait_for(
        lambda: _done_count(engine) >= 1 and _lock_holder(engine), "the first run under way", first
    )
    with engine.connect() as connection:
        ended = connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holder})
        assert ended.scalar()
    second = start_tenantctl("migrate", "up")
    results = [_finish(first), _finish(second)]
    assert results[0].returncode == 1, results[0].stderr
    assert "lost the migration lock" in results[0].stderr
    assert _tenantctl(db_url, scratch_ini, "migrate", "up").returncode == EXIT_OK

    with engine.connect() as connection:
        applied = {
            schema: connection.execute(text(f'SELECT count(*) FROM "{schema}".applied')).scalar()
            for schema in schemas
        }
    assert applied == dict.fromkeys(schemas, 1)
    for result in results:
        assert "Traceback" not in result.stderr


# == 2. failure policies ======================================================================


@pytest.mark.parametrize(
    ("flags", "broken", "exit_code", "statuses", "outcome"),
    [
        pytest.param(
            [],
            "b",
            EXIT_ABORTED,
            {"a": "done", "b": "failed", "c": "pending", "d": "pending"},
            "aborted",
            id="fail-fast",
        ),
        pytest.param(
            ["--continue-on-error"],
            "b",
            EXIT_TENANTS_FAILED,
            {"a": "done", "b": "failed", "c": "done", "d": "done"},
            "failed",
            id="continue-on-error",
        ),
        pytest.param(
            ["--fail-fast"],
            "d",
            EXIT_TENANTS_FAILED,
            {"a": "done", "b": "done", "c": "done", "d": "failed"},
            "failed",
            id="fail-fast-on-the-last-tenant-leaves-nothing-unstarted",
        ),
    ],
)
def test_failed_tenant_is_rolled_back_and_the_policy_decides_the_rest(
    db_url, engine, make_tenants, scratch_ini, runs, flags, broken, exit_code, statuses, outcome
):
    schemas = make_tenants("a", "b", "c", "d")
    _add_column_revision(scratch_ini, "r_note", "note")
    with engine.begin() as connection:  # the revision's ADD COLUMN now fails in this tenant
        connection.execute(text(f'ALTER TABLE "tenant_{broken}".orders ADD COLUMN note int'))

    result = _tenantctl(db_url, scratch_ini, "migrate", "up", *flags)

    assert result.returncode == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    assert f"tenant_{broken}" in result.stderr
    assert "DuplicateColumn" in result.stderr
    state = _state(engine, schemas, ["note"])
    for sub, status in statuses.items():
        expected = {
            "done": (("r_note",), {"note"}),
            "failed": (BASE, {"note"}),  # rolled back: only the column made beforehand
            "pending": (BASE, frozenset()),
        }[status]
        assert state[f"tenant_{sub}"] == expected, sub
    steps = _steps(engine)
    assert _statuses(steps) == {f"tenant_{sub}": status for sub, status in statuses.items()}
    (failed,) = [step for step in steps if step.status == "failed"]
    assert failed.error.startswith("DuplicateColumn:")
    assert [o for _, o in runs()] == [outcome]


def test_fail_fast_with_workers_lets_the_tenant_in_flight_finish_and_starts_no_other(
    db_url, engine, make_tenants, scratch_ini, runs, start_tenantctl
):
    schemas = make_tenants(*(f"w{i}" for i in range(8)))
    _add_column_revision(scratch_ini, "r_slow", "slow", sleep=0.2)
    args = ["--workers", "2", "--lock-timeout", "60"]

    # w1's migration waits behind our lock, then fails on the column we add under it: the
    # failure comes while the other process is busy with a tenant of its own.
    with _orders_locked(db_url, "tenant_w1") as blocker:
        blocker.execute('ALTER TABLE "tenant_w1".orders ADD COLUMN slow int')
        run = start_tenantctl("migrate", "up", *args)
        _wait_for(
            lambda: _waiting_for_a_lock(engine, "tenant_w1") and _sleeping_backends(engine),
            "one process waiting on w1 while the other migrates a tenant",
            run,
        )
        blocker.commit()
    result = _finish(run)

    assert result.returncode == EXIT_ABORTED, result.stderr
    assert "Traceback" not in result.stderr
    assert "tenant_w1: DuplicateColumn" in result.stderr
    statuses = _statuses(_steps(engine))
    assert statuses["tenant_w1"] == "failed"
    assert "done" in statuses.values()  # the tenant in flight elsewhere finished
    assert "pending" in statuses.values()
    state = _state(engine, schemas, ["slow"])
    assert state.pop("tenant_w1") == (BASE, {"slow"})  # rolled back: only our column
    for schema, found in state.items():
        done = statuses[schema] == "done"
        assert found == ((("r_slow",), {"slow"}) if done else (BASE, frozenset())), schema
    assert [o for _, o in runs()] == ["aborted"]


# Under fail-fast the runner stops its workers with SIGUSR1 (worker_process.STOP_SIGNAL). A worker
# still booting has no handler yet; it starts with the signal blocked, so a tenant failing
# in the runner before then must not kill it: exit 5 and "aborted", not a dead worker.
def test_fail_fast_with_workers_exits_5_when_a_tenant_fails_before_the_workers_are_up(
    db_url, engine, make_tenants, scratch_ini, runs
):
    schemas = make_tenants(*(f"w{i}" for i in range(6)))
    _add_column_revision(scratch_ini, "r_note", "note")
    with engine.begin() as connection:  # whoever takes the first tenant fails at once
        for schema in schemas[:2]:
            connection.execute(text(f'ALTER TABLE "{schema}".orders ADD COLUMN note int'))

    result = _tenantctl(db_url, scratch_ini, "migrate", "up", "--workers", "2")

    assert result.returncode == EXIT_ABORTED, result.stderr
    statuses = _statuses(_steps(engine))
    assert "failed" in {statuses[schema] for schema in schemas[:2]}
    assert {statuses[schema] for schema in schemas[2:]} == {"pending"}
    assert {versions for versions, _ in _state(engine, schemas, ["note"]).values()} == {BASE}
    assert [o for _, o in runs()] == ["aborted"]


# == 3. lock_timeout and statement_timeout ====================================================


def test_lock_timeout_is_retried_then_fails_that_tenant_after_three_attempts(
    db_url, engine, make_tenants, scratch_ini
):
    schemas = make_tenants("a", "b", "c")
    _add_column_revision(scratch_ini, "r_note", "note")
    args = ["--lock-timeout", "0.2", "--lock-retries", "2", "--continue-on-error"]

    with _orders_locked(db_url, "tenant_b"):
        result = _tenantctl(db_url, scratch_ini, "migrate", "up", *args)

    assert result.returncode == EXIT_TENANTS_FAILED, result.stderr
    assert "LockNotAvailable" in result.stderr
    steps = {step.schema: step for step in _steps(engine)}
    assert steps["tenant_b"].status == "failed"
    assert steps["tenant_b"].attempts == 3
    assert steps["tenant_b"].error.startswith("LockNotAvailable:")
    assert "lock timeout" in steps["tenant_b"].error
    assert [(steps[s].status, steps[s].attempts) for s in ("tenant_a", "tenant_c")] == [
        ("done", 1),
        ("done", 1),
    ]
    state = _state(engine, schemas, ["note"])
    assert state["tenant_b"] == (BASE, frozenset())
    assert state["tenant_a"] == state["tenant_c"] == (("r_note",), {"note"})


def test_a_busy_tenant_waits_its_backoff_in_the_queue_while_the_others_migrate(
    db_url, engine, make_tenants, scratch_ini
):
    make_tenants("a", "b", "c", "d")
    _add_column_revision(scratch_ini, "r_note", "note")
    args = ["--lock-timeout", "0.2", "--lock-retries", "2", "--continue-on-error", "--json"]

    with _orders_locked(db_url, "tenant_a"):
        result = _tenantctl(db_url, scratch_ini, "migrate", "up", *args)

    events = [json.loads(line) for line in result.stdout.splitlines()]
    finished = [e["schema"] for e in events if e["event"] in ("schema_done", "schema_failed")]
    # a comes first in the plan, yet it is reported last: b, c and d did not wait for it.
    assert finished == ["tenant_b", "tenant_c", "tenant_d", "tenant_a"]
    assert [e["attempts"] for e in events if e.get("schema") == "tenant_a"] == [3]
    assert result.returncode == EXIT_TENANTS_FAILED


def test_fail_fast_with_workers_treats_a_lock_timeout_retry_as_no_failure(
    db_url, engine, make_tenants, scratch_ini, start_tenantctl
):
    schemas = make_tenants(*(f"f{i}" for i in range(8)))
    _add_column_revision(scratch_ini, "r_note", "note")
    args = ["--workers", "2", "--lock-timeout", "0.2", "--lock-retries", "8"]

    # Both processes meet a locked tenant first; the locks go once both have timed out.
    with _orders_locked(db_url, schemas[0]), _orders_locked(db_url, schemas[1]):
        run = start_tenantctl("migrate", "up", *args)
        time.sleep(1.5)
    result = _finish(run)

    assert result.returncode == EXIT_OK, result.stderr
    assert _statuses(_steps(engine)) == dict.fromkeys(schemas, "done")
    assert set(_state(engine, schemas, ["note"]).values()) == {(("r_note",), frozenset({"note"}))}


def test_lock_timeout_retry_succeeds_once_the_blocker_lets_go(
    db_url, engine, make_tenants, scratch_ini, start_tenantctl
):
    schemas = make_tenants("a", "b")
    _add_column_revision(scratch_ini, "r_note", "note")
    args = ["--lock-timeout", "0.3", "--lock-retries", "5"]

    with _orders_locked(db_url, "tenant_b"):
        run = start_tenantctl("migrate", "up", *args)
        _wait_for(lambda: _waiting_for_a_lock(engine, "tenant_b"), "b's first attempt", run)
        _wait_for(lambda: not _waiting_for_a_lock(engine, "tenant_b"), "it to time out", run)
    result = _finish(run)

    assert result.returncode == EXIT_OK, result.stderr
    steps = {step.schema: step for step in _steps(engine)}
    assert steps["tenant_b"].status == "done"
    assert steps["tenant_b"].attempts >= 2
    assert set(_state(engine, schemas, ["note"]).values()) == {(("r_note",), frozenset({"note"}))}


def test_statement_timeout_cancels_a_slow_revision_and_rolls_the_tenant_back(
    db_url, engine, make_tenants, scratch_ini
):
    schemas = make_tenants("a", "b")
    _add_column_revision(scratch_ini, "r_slow", "slow", sleep=2)

    result = _tenantctl(db_url, scratch_ini, "migrate", "up", "--statement-timeout", "0.2")

    assert result.returncode == EXIT_ABORTED, result.stderr
    assert "QueryCanceled" in result.stderr
    assert "statement timeout" in result.stderr
    steps = _steps(engine)
    assert _statuses(steps) == {"tenant_a": "failed", "tenant_b": "pending"}
    assert steps[0].error.startswith("QueryCanceled:")
    assert steps[0].attempts == 1  # only lock timeouts are retried
    assert set(_state(engine, schemas, ["slow"]).values()) == {(BASE, frozenset())}


# == 4. a run killed, or a tenant's connection cut, mid-rollout ===============================

KILL_COLUMNS = ("kill_a", "kill_b")
AT_K2 = (("k2",), frozenset(KILL_COLUMNS))
UNTOUCHED = (BASE, frozenset())


def _two_slow_revisions(ini: Path, *, render_as_sql: bool = True) -> None:
    """Revisions k1 and k2, each a 0.15 s sleep and a new orders column: 0.3 s a tenant."""
    for revision, column in zip(("k1", "k2"), KILL_COLUMNS, strict=True):
        _add_column_revision(ini, revision, column, sleep=0.15, render_as_sql=render_as_sql)


def _in_flight(engine: Engine, *, done: int, busy: int = 1) -> list[int]:
    """Backends in a tenant's sleep, once ``done`` tenants are done and ``busy`` are in one."""
    backends = _sleeping_backends(engine)
    return backends if len(backends) >= busy and _done_count(engine) >= done else []


def _assert_every_tenant_whole(engine: Engine, schemas: Sequence[str], run_id: int) -> None:
    """Each tenant is untouched or at k2 with both columns, and done in the journal iff at k2."""
    state = _state(engine, schemas, KILL_COLUMNS)
    for schema, found in state.items():
        assert found in (UNTOUCHED, AT_K2), (schema, found)
    at_k2 = {schema for schema, found in state.items() if found == AT_K2}
    assert {step.schema for step in _steps(engine, run_id) if step.status == "done"} == at_k2


def _wait_until_the_run_is_gone(engine: Engine, pids: Sequence[int]) -> None:
    _wait_for(lambda: not any(map(_alive, pids)), "the workers to die with their runner")
    _wait_for(lambda: _lock_holder(engine) is None, "the rollout lock to be released")
    _wait_for(lambda: not _busy_backends(engine), "the run's backends to finish")


def _assert_rerun_finishes(
    url: URL, ini: Path, engine: Engine, schemas: Sequence[str], *rerun_args: str
) -> None:
    rerun = _tenantctl(url, ini, "migrate", *(rerun_args or ("up",)))
    assert rerun.returncode == EXIT_OK, rerun.stderr
    assert set(_state(engine, schemas, KILL_COLUMNS).values()) == {AT_K2}


@pytest.mark.parametrize(
    ("workers", "done_before_kill", "render_as_sql", "resume"),
    [
        pytest.param(1, 0, True, False, id="first-tenant"),
        pytest.param(1, 3, True, True, id="fourth-tenant-then-resume"),
        pytest.param(2, 2, True, False, id="two-workers"),
        pytest.param(1, 2, False, True, id="through-alembic-then-resume"),
    ],
)
def test_sigkill_mid_rollout_leaves_each_tenant_whole_and_a_rerun_finishes(
    db_url,
    engine,
    make_tenants,
    scratch_ini,
    runs,
    start_tenantctl,
    workers,
    done_before_kill,
    render_as_sql,
    resume,
):
    schemas = make_tenants(*(f"k{i}" for i in range(8)))
    _two_slow_revisions(scratch_ini, render_as_sql=render_as_sql)

    run = start_tenantctl("migrate", "up", "--workers", str(workers))
    _wait_for(
        lambda: _in_flight(engine, done=done_before_kill, busy=workers),
        f"{done_before_kill} tenant(s) done and {workers} in flight",
        run,
    )
    worker_pids = _descendants(run.pid)
    assert worker_pids or workers == 1, "two workers need a second process"
    run.send_signal(signal.SIGKILL)
    assert _finish(run).returncode == -signal.SIGKILL

    _wait_until_the_run_is_gone(engine, worker_pids)
    ((killed_run, outcome),) = runs()
    assert outcome == "running"  # nobody was left to record the end
    _assert_every_tenant_whole(engine, schemas, killed_run)
    done = _done_count(engine)
    assert done_before_kill <= done < len(schemas)

    rerun_args = ("resume", str(killed_run)) if resume else ("up",)
    _assert_rerun_finishes(db_url, scratch_ini, engine, schemas, *rerun_args)
    assert [outcome for _, outcome in runs()] == ["interrupted", "succeeded"]
    rerun_id = runs()[-1][0]
    assert len(_steps(engine, rerun_id)) == len(schemas) - done  # only what the kill left


@pytest.mark.parametrize("render_as_sql", [True, False], ids=["one-message", "through-alembic"])
def test_a_rerun_right_after_sigkill_waits_for_the_killed_runs_backend_then_finishes(
    db_url, engine, make_tenants, scratch_ini, runs, start_tenantctl, render_as_sql
):
    schemas = make_tenants("a", "b", "c")
    # 1.5 s in the server: the killed run's tenant is still running when the re-run plans.
    _add_column_revision(scratch_ini, "r_long", "long", sleep=1.5, render_as_sql=render_as_sql)

    run = start_tenantctl("migrate", "up")
    _wait_for(lambda: _sleeping_backends(engine), "a tenant in flight", run)
    run.send_signal(signal.SIGKILL)
    assert _finish(run).returncode == -signal.SIGKILL
    rerun = _tenantctl(db_url, scratch_ini, "migrate", "up")  # at once: no waiting here

    assert rerun.returncode == EXIT_OK, rerun.stderr
    at_head = (("r_long",), frozenset({"long"}))
    assert set(_state(engine, schemas, ["long"]).values()) == {at_head}
    (killed_run, _), (rerun_id, outcome) = runs()
    assert outcome == "succeeded"
    # The killed run's tenant ended as the server finished it, and the re-run planned after:
    # one message commits as a whole (done, so not planned again); Alembic's transaction
    # ends with its client (rolled back, so planned again). Never both, never a failure.
    done_by_killed = {step.schema for step in _steps(engine, killed_run) if step.status == "done"}
    assert done_by_killed == ({"tenant_a"} if render_as_sql else set())
    rerun_steps = _steps(engine, rerun_id)
    assert _statuses(rerun_steps) == {s: "done" for s in schemas if s not in done_by_killed}


def test_a_killed_runs_backend_busy_past_lock_wait_stops_the_next_run_with_exit_6(
    db_url, engine, make_tenants, scratch_ini, runs
):
    schemas = make_tenants("a", "b")
    _add_column_revision(scratch_ini, "r_note", "note")
    before = (_state(engine, schemas, ["note"]), runs())

    # What a killed run leaves behind: a backend of its work, still busy in the server.
    with _session(db_url) as leftover, _busy(engine, leftover, WORK_APPLICATION_NAME) as pid:
        cli = _tenantctl(db_url, scratch_ini, "migrate", "up", "--lock-wait", "0.5")

    assert cli.returncode == EXIT_LOCKED, cli.stderr
    line = _one_error_line(cli.stderr)
    assert line.startswith("error: an earlier migration run is still busy in the server")
    assert f"backend pid {pid}" in line
    assert f"SELECT pg_terminate_backend({pid})" in line
    assert "--lock-wait" in line
    assert (_state(engine, schemas, ["note"]), runs()) == before
    assert _lock_holder(engine) is None


def test_ctrl_c_mid_rollout_ends_the_run_as_interrupted_and_leaves_each_tenant_whole(
    db_url, engine, make_tenants, scratch_ini, runs, start_tenantctl
):
    schemas = make_tenants(*(f"k{i}" for i in range(8)))
    _two_slow_revisions(scratch_ini)

    run = start_tenantctl("migrate", "up", "--workers", "2")
    _wait_for(lambda: _in_flight(engine, done=1, busy=2), "both processes mid-tenant", run)
    worker_pids = _descendants(run.pid)
    run.send_signal(signal.SIGINT)
    result = _finish(run)

    assert result.returncode != EXIT_OK
    assert "Traceback" not in result.stderr
    _wait_until_the_run_is_gone(engine, worker_pids)
    ((run_id, outcome),) = runs()
    assert outcome == "interrupted"  # recorded by the run itself on its way out
    _assert_every_tenant_whole(engine, schemas, run_id)
    assert _done_count(engine) < len(schemas)
    _assert_rerun_finishes(db_url, scratch_ini, engine, schemas)


def test_sigkill_of_one_worker_ends_the_run_with_an_error_and_a_rerun_finishes(
    db_url, engine, make_tenants, scratch_ini, runs, start_tenantctl
):
    schemas = make_tenants(*(f"k{i}" for i in range(8)))
    _two_slow_revisions(scratch_ini)

    run = start_tenantctl("migrate", "up", "--workers", "2")
    _wait_for(lambda: _in_flight(engine, done=1, busy=2), "both processes mid-tenant", run)
    (worker, *_) = _descendants(run.pid)
    os.kill(worker, signal.SIGKILL)
    result = _finish(run)

    assert result.returncode not in (EXIT_OK, -signal.SIGKILL), result.stderr
    assert "worker" in _one_error_line(result.stderr)
    _wait_until_the_run_is_gone(engine, [worker])
    ((run_id, outcome),) = runs()
    assert outcome not in ("running", "succeeded")
    _assert_every_tenant_whole(engine, schemas, run_id)
    assert _done_count(engine) < len(schemas)
    _assert_rerun_finishes(db_url, scratch_ini, engine, schemas)


@pytest.mark.parametrize(
    ("flags", "workers"),
    [
        pytest.param(["--continue-on-error"], 1, id="continue-on-error"),
        pytest.param(["--fail-fast"], 2, id="fail-fast-two-workers"),
    ],
)
def test_terminated_tenant_backend_fails_that_tenant_alone_and_a_rerun_finishes(
    db_url, engine, make_tenants, scratch_ini, runs, start_tenantctl, flags, workers
):
    schemas = make_tenants(*(f"t{i}" for i in range(8)))
    _two_slow_revisions(scratch_ini)

    args = ["--workers", str(workers), *flags]
    run = start_tenantctl("migrate", "up", *args)
    (victim, *_) = _wait_for(
        lambda: _in_flight(engine, done=1, busy=workers), "tenants in flight", run
    )
    with engine.connect() as connection:
        killed = connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
        assert killed.scalar()
    result = _finish(run)

    ((run_id, outcome),) = runs()
    steps = _steps(engine, run_id)
    statuses = [step.status for step in steps]
    assert statuses.count("failed") == 1, steps
    (failed,) = [step for step in steps if step.status == "failed"]
    assert _state(engine, schemas, KILL_COLUMNS)[failed.schema] == UNTOUCHED
    _assert_every_tenant_whole(engine, schemas, run_id)
    if "--continue-on-error" in flags:
        assert set(statuses) == {"done", "failed"}  # the run went on past the failure
    stopped_early = "pending" in statuses
    assert result.returncode == (EXIT_ABORTED if stopped_early else EXIT_TENANTS_FAILED)
    assert outcome == ("aborted" if stopped_early else "failed")
    assert "Traceback" not in result.stderr
    assert failed.schema in result.stderr
    assert _lock_holder(engine) is None
    _assert_rerun_finishes(db_url, scratch_ini, engine, schemas)


# == 5. worker processes ======================================================================


def _tenant_ddl(engine: Engine, schemas: Sequence[str]) -> dict[str, Any]:
    """Every column and index of each schema, written without the schema name."""
    with engine.connect() as connection:
        columns = connection.execute(
            text(
                "SELECT table_schema, table_name, column_name, data_type, is_nullable "
                "FROM information_schema.columns WHERE table_schema = ANY(:schemas) "
                "ORDER BY 1, 2, 3"
            ),
            {"schemas": list(schemas)},
        ).all()
        indexes = connection.execute(
            text(
                "SELECT schemaname, indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = ANY(:schemas) ORDER BY 1, 2"
            ),
            {"schemas": list(schemas)},
        ).all()
        versions = read_versions(connection, list(schemas))
    ddl: dict[str, Any] = {s: {"version": versions.get(s), "ddl": []} for s in schemas}
    for schema, *rest in columns:
        ddl[schema]["ddl"].append(tuple(rest))
    for schema, name, definition in indexes:
        ddl[schema]["ddl"].append((name, definition.replace(f"{schema}.", "")))
    return ddl


def test_two_workers_reach_the_same_end_state_as_one(
    db_url, engine, make_tenants, scratch_ini, runs
):
    schemas = make_tenants(*(f"p{i:02}" for i in range(10)))
    add_tenant_revision(
        scratch_ini,
        "r_par",
        'op.add_column("orders", sa.Column("note", sa.Text()))\n'
        'op.create_index("ix_orders_note", "orders", ["note"])',
        'op.drop_index("ix_orders_note", table_name="orders")\nop.drop_column("orders", "note")',
    )

    parallel = _tenantctl(db_url, scratch_ini, "migrate", "up", "--workers", "2")
    assert parallel.returncode == EXIT_OK, parallel.stderr
    assert set(_state(engine, schemas, ["note"]).values()) == {(("r_par",), frozenset({"note"}))}
    with_two = _tenant_ddl(engine, schemas)
    down = _tenantctl(db_url, scratch_ini, "migrate", "down", "tenant@-1", "--workers", "2")
    assert down.returncode == EXIT_OK, down.stderr
    assert set(_state(engine, schemas, ["note"]).values()) == {(BASE, frozenset())}
    serial = _tenantctl(db_url, scratch_ini, "migrate", "up", "--workers", "1")
    assert serial.returncode == EXIT_OK, serial.stderr

    assert _tenant_ddl(engine, schemas) == with_two
    (up_two, _, up_one) = [run_id for run_id, _ in runs()]
    for run_id in (up_two, up_one):
        steps = _steps(engine, run_id)
        assert sorted(step.schema for step in steps) == sorted(schemas)
        assert {step.status for step in steps} == {"done"}


# == 6. a tenant moved after planning =========================================================


@pytest.mark.parametrize("functions_in_core", [True, False], ids=["core-function", "do-block"])
def test_a_tenant_moved_since_planning_is_rolled_back_by_the_server_check(
    db_url, engine, make_tenants, functions_in_core
):
    """The rendered path checks versions in the server, inside the tenant's one message:
    through core.require_revisions(), or DO blocks on a core without it."""
    (schema,) = make_tenants("moved")
    (head,) = Heads.from_scripts().tenant
    add_note = (
        "ALTER TABLE orders ADD COLUMN note TEXT;\nUPDATE alembic_version SET version_num = 'x'"
    )
    url = db_url.render_as_string(hide_password=False)

    def attempt(from_revisions, to_revisions):
        group = GroupScript(from_revisions, to_revisions, add_note, (("x", True),), None)
        plan = WorkerPlan(
            url=url,
            ini_path=None,
            limits=Limits(),
            groups=(group,),
            functions_in_core=functions_in_core,
        )
        migrator = TenantMigrator(plan)
        try:
            return migrator.migrate(TenantTask(schema, 0, None))
        finally:
            migrator.close()

    stale = attempt(("not_" + head,), ("x",))  # planned from a revision it is not at
    wrong_end = attempt((head,), ("y",))  # would end somewhere else than planned
    for outcome, verb in ((stale, "is at"), (wrong_end, "would end at")):
        assert not outcome.ok
        assert f"PlanOutdated: {schema} {verb}" in (outcome.error or "")
    assert _state(engine, [schema], ["note"])[schema] == ((head,), frozenset())
    assert attempt((head,), ("x",)).ok
    assert _state(engine, [schema], ["note"])[schema] == (("x",), frozenset({"note"}))
