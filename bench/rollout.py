"""Benchmark: one tenant revision rolled out over N tenants, against the raw-SQL floor.

For each N, in one run on a fresh database ``tenantctl_bench_<N>`` (or, with ``--reuse``, on
the one a previous run left, when it still holds exactly N tenants at tenant head):

(a) floor: the SQL Alembic emits for the revision (its DDL and the version row's
    ``UPDATE``, as ``alembic upgrade --sql`` prints them), replayed per tenant over one
    psycopg connection, one transaction per tenant, no Alembic, no journal, no version
    record; the same over two connections in two processes, half the tenants each (what
    two processes can gain at best on this machine: the ceiling for (c) against (b)); and,
    for reference, the DDL alone, without the version row;
(b) ``tenantctl migrate up --workers 1``, as a user runs it (a new process);
(c) ``tenantctl migrate up --workers 2``;
(d) no-op: ``alembic upgrade heads`` and ``tenantctl migrate status`` with all at head.

Between measurements the revision is undone (not timed), so the database ends where it
started, and before each one the server is settled (``CHECKPOINT``, not timed), so that no
checkpoint's disk work lands in it. (a), (b) and (c) run interleaved ``--repeat`` times
(default 3) and the medians are reported. Prints a table; then the tenant phase of (b) and
(c) alone, read from the journal (from the run's entry, made once the process has started
up and planned, to its last tenant's commit), which tells start-up from per-tenant cost;
then JSON with ratios against (a) and the peak RSS of the largest process of (b)/(c).

The project's modules and revision files are compiled to bytecode first, as pip does when it
installs a package, so that no measured process compiles them (on a machine with
PYTHONDONTWRITEBYTECODE set, every process would).

    .venv/bin/python bench/rollout.py --tenants 1000 10000 [--reuse]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT / "tests"))  # the scratch revision tree helpers

from bench_database import (  # noqa: E402
    add_database_url_option,
    database_url,
    fresh_database,
    libpq_url,
    rollout_database,
    settle,
)
from floor import replay, replay_in_two_processes  # noqa: E402
from scratch_scripts import add_tenant_revision, make_scratch_ini  # noqa: E402

from toolkit import (  # noqa: E402
    DatabaseUnreachable,
    RunOptions,
    SchemaNotReady,
    make_engine,
    migration_status,
    upgrade_all,
)
from toolkit.db import connect  # noqa: E402
from toolkit.migrations.branches import TENANT, BranchIndex  # noqa: E402
from toolkit.migrations.render import render_statements  # noqa: E402
from toolkit.migrations.version_record import SKIP_TRIGGER  # noqa: E402
from toolkit.sql import quote_identifier  # noqa: E402

REVISION = "bench0001"
UPGRADE = """
op.add_column("orders", sa.Column("bench_note", sa.Text(), nullable=True))
op.create_index("ix_orders_bench_note", "orders", ["bench_note"])
"""
DOWNGRADE = """
op.drop_index("ix_orders_bench_note", table_name="orders")
op.drop_column("orders", "bench_note")
"""
PLANS = ("free", "pro", "business")
# The floor's version row is a plain Alembic version table's: tenantctl's trigger on it
# (which keeps core's version record, and compiles once per table and session) stays out,
# as it does in a rollout, which writes the record itself.
_FLOOR_SETTINGS = (SKIP_TRIGGER,)
_TENANT_PHASE = (
    "SELECT extract(epoch FROM max(s.finished_at) - r.started_at)"
    " FROM core.migration_runs r JOIN core.migration_steps s ON s.run_id = r.id"
    " WHERE r.id = (SELECT max(id) FROM core.migration_runs) GROUP BY r.started_at"
)
# Every round adds the bench column four times and drops it again, and PostgreSQL keeps a
# dropped column in the table for good: DDL on the table slows as they pile up. A reused
# database past this many (a few runs' worth) is provisioned afresh instead.
_REUSE_DROPPED_MAX = 40
_DROPPED_COLUMNS = (
    "SELECT count(*) FROM pg_attribute WHERE attisdropped"
    " AND attrelid = to_regclass('tenant_t00000.orders')"
)


@dataclass
class Result:
    """Figures for one N."""

    tenants: int
    provision_seconds: float
    floor_seconds: float
    floor_two_processes_seconds: float
    floor_ddl_only_seconds: float  # the floor without the version row's UPDATE
    one_worker_seconds: float
    two_workers_seconds: float
    one_worker_tenants_seconds: float  # the tenant phase alone (see _tenant_phase)
    two_workers_tenants_seconds: float
    noop_alembic_seconds: float
    status_seconds: float
    peak_rss_mb: float
    noop_peak_rss_mb: float
    repeat: int
    rounds: dict[str, list[float]]  # every round's seconds, per measurement

    @property
    def ratios(self) -> dict[str, float]:
        """Ratios against the floor, and the speed-up of two workers over one."""
        return {
            "one_worker_vs_floor": self.one_worker_seconds / self.floor_seconds,
            "two_workers_vs_floor": self.two_workers_seconds / self.floor_seconds,
            "one_worker_vs_ddl_only_floor": self.one_worker_seconds / self.floor_ddl_only_seconds,
            "two_workers_speedup": self.one_worker_seconds / self.two_workers_seconds,
            "one_worker_tenants_vs_floor": self.one_worker_tenants_seconds / self.floor_seconds,
            "two_workers_tenants_speedup": (
                self.one_worker_tenants_seconds / self.two_workers_tenants_seconds
            ),
            "floor_two_processes_speedup": self.floor_seconds / self.floor_two_processes_seconds,
        }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[1000])
    parser.add_argument("--repeat", type=int, default=3, help="rounds per N; times are the medians")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the tenants of an earlier run's database when it fits (saves provisioning)",
    )
    add_database_url_option(parser)
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="tenantctl-bench-") as scratch:
        ini = make_scratch_ini(Path(scratch))
        for count in args.tenants:
            results.append(_bench(args.database_url, ini, count, args.repeat, reuse=args.reuse))
    _print(results)
    return 0


def _compile_bytecode(scratch: Path) -> None:
    """Bytecode for the project and the scratch revisions, as an installed package has."""
    for directory in (PROJECT / "toolkit", PROJECT / "models", PROJECT / "alembic", scratch):
        compileall.compile_dir(directory, quiet=1)


def _bench(server_url: str, ini: Path, count: int, repeat: int, *, reuse: bool) -> Result:
    name = rollout_database(count)
    url = _reusable(server_url, name, count) if reuse else None
    provision = 0.0
    if url is None:
        url = fresh_database(server_url, name)
        engine = make_engine(url)
        try:
            started = time.perf_counter()
            upgrade_all(engine)  # core
            _register_tenants(url, count)
            upgrade_all(engine, options=RunOptions(workers=2))  # every tenant from base to head
            provision = time.perf_counter() - started
        finally:
            engine.dispose()
    path = add_tenant_revision(ini, REVISION, UPGRADE, DOWNGRADE)
    _compile_bytecode(ini.parent)
    try:
        floor = floor_sql(ini)
        schemas = [f"tenant_t{i:05d}" for i in range(count)]
        env = {"DATABASE_URL": url, "TENANTCTL_ALEMBIC_INI": str(ini)}
        rounds: dict[str, list[float]] = defaultdict(list)  # seconds, per measurement
        rss: list[float] = []
        # Rounds interleave the measurements, so that drift in the server hits all of them;
        # each measurement starts on a settled server (settle: a checkpoint, untimed).
        for _ in range(repeat):
            settle(url)
            rounds["floor"].append(replay(url, schemas, floor.up, _FLOOR_SETTINGS))
            replay(url, schemas, floor.down, _FLOOR_SETTINGS)
            settle(url)
            rounds["floor_two_processes"].append(
                replay_in_two_processes(url, schemas, floor.up, _FLOOR_SETTINGS)
            )
            replay(url, schemas, floor.down, _FLOOR_SETTINGS)
            settle(url)
            rounds["floor_ddl_only"].append(replay(url, schemas, floor.ddl_up))
            replay(url, schemas, floor.ddl_down)
            settle(url)
            seconds, peak = _timed(["tenantctl", "migrate", "up", "--workers", "1"], env)
            rounds["one_worker"].append(seconds)
            rounds["one_worker_tenants"].append(_tenant_phase(url))
            rss.append(peak)
            _undo(env)
            settle(url)
            seconds, peak = _timed(["tenantctl", "migrate", "up", "--workers", "2"], env)
            rounds["two_workers"].append(seconds)
            rounds["two_workers_tenants"].append(_tenant_phase(url))
            rss.append(peak)
            settle(url)
            noop, noop_rss = _timed(["alembic", "-c", str(ini), "upgrade", "heads"], env)
            rounds["noop_alembic"].append(noop)
            rounds["status"].append(_timed(["tenantctl", "migrate", "status"], env)[0])
            _undo(env)
    finally:
        path.unlink()
    medians = {name: statistics.median(seconds) for name, seconds in rounds.items()}
    return Result(
        tenants=count,
        provision_seconds=provision,
        floor_seconds=medians["floor"],
        floor_two_processes_seconds=medians["floor_two_processes"],
        floor_ddl_only_seconds=medians["floor_ddl_only"],
        one_worker_seconds=medians["one_worker"],
        two_workers_seconds=medians["two_workers"],
        one_worker_tenants_seconds=medians["one_worker_tenants"],
        two_workers_tenants_seconds=medians["two_workers_tenants"],
        noop_alembic_seconds=medians["noop_alembic"],
        status_seconds=medians["status"],
        peak_rss_mb=max(rss),
        noop_peak_rss_mb=noop_rss,
        repeat=repeat,
        rounds=dict(rounds),
    )


def _reusable(server_url: str, name: str, count: int) -> str | None:
    """The URL of database ``name`` if it exists with ``count`` tenants, all at head, whose
    tables have not yet piled up the dropped columns of many earlier rounds."""
    url = database_url(server_url, name)
    engine = make_engine(url)
    try:
        with connect(engine) as connection:
            report = migration_status(connection)
            dropped = connection.execute(text(_DROPPED_COLUMNS)).scalar() or 0
    except (SchemaNotReady, DatabaseUnreachable):
        return None
    finally:
        engine.dispose()
    if dropped > _REUSE_DROPPED_MAX:
        print(f"{name}: not reused, its tables carry {dropped} dropped columns", file=sys.stderr)
        return None
    fits = len(report.tenants) == count and report.up_to_date
    return url if fits else None


def _register_tenants(url: str, count: int) -> None:
    """Registry rows and empty schemas for ``count`` active tenants (the rollout fills them)."""
    with psycopg.connect(libpq_url(url)) as connection:
        rows = [
            (f"t{i:05d}", f"Tenant {i}", f"tenant_t{i:05d}", PLANS[i % 3]) for i in range(count)
        ]
        with connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO core.tenants (subdomain, company_name, database_schema, plan, status)"
                " VALUES (%s, %s, %s, %s, 'active')",
                rows,
            )
            for _, _, schema, _ in rows:
                cursor.execute(f"CREATE SCHEMA {quote_identifier(schema)}")


@dataclass(frozen=True)
class FloorSql:
    """The statements the floor replays: the revision's up and down as Alembic renders them
    (DDL and version row), and the DDL alone."""

    up: list[str]
    down: list[str]
    down_revision: str  # the tenant head the revision goes on top of

    @property
    def ddl_up(self) -> list[str]:
        return _without_version_row(self.up)

    @property
    def ddl_down(self) -> list[str]:
        return _without_version_row(self.down)


def floor_sql(ini: Path) -> FloorSql:
    """The bench revision up and down, as Alembic renders them."""
    script = ScriptDirectory.from_config(Config(str(ini)))
    (head,) = BranchIndex.build(script).heads_of(script, TENANT)
    down_revision = str(script.get_revision(REVISION).down_revision)
    up = render_statements(list(script._upgrade_revs(REVISION, down_revision)), (down_revision,))
    down = render_statements(list(script._downgrade_revs(down_revision, head)), (head,))
    if up is None or down is None:
        raise SystemExit("bench revision did not render")
    return FloorSql(up=up, down=down, down_revision=down_revision)


def _without_version_row(statements: list[str]) -> list[str]:
    return [statement for statement in statements if "alembic_version" not in statement]


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time of a console command of the venv, and the peak RSS (MB) of its processes."""
    executable = str(Path(sys.executable).parent / command[0])
    environment = {**os.environ, **env}
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603
        [executable, *command[1:]],
        cwd=PROJECT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}): {stderr[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def _tenant_phase(url: str) -> float:
    """The tenant phase of the newest run: seconds from its journal entry (made once its
    process has started up and planned) to the commit of its last tenant, both server
    clock readings. What a run took beyond that is its start-up and its end."""
    with psycopg.connect(libpq_url(url)) as connection:
        row = connection.execute(_TENANT_PHASE).fetchone()
    if row is None:
        raise SystemExit("the rollout journaled no tenant")
    return float(row[0])


def _undo(env: dict[str, str]) -> None:
    _timed(["tenantctl", "migrate", "down", "tenant@-1", "--workers", "2"], env)


def _print(results: list[Result]) -> None:
    header = (
        f"{'tenants':>8} {'floor s':>8} {'floor 2p':>8} {'1 worker':>9} {'ratio':>6} "
        f"{'2 workers':>9} {'ratio':>6} {'speedup':>7} {'noop s':>7} {'status s':>8} "
        f"{'rss MB':>7} {'DDL only':>8} {'1w ratio':>8}"
    )
    print(header)
    for r in results:
        ratios = r.ratios
        print(
            f"{r.tenants:>8} {r.floor_seconds:>8.2f} {r.floor_two_processes_seconds:>8.2f} "
            f"{r.one_worker_seconds:>9.2f} "
            f"{ratios['one_worker_vs_floor']:>6.2f} {r.two_workers_seconds:>9.2f} "
            f"{ratios['two_workers_vs_floor']:>6.2f} {ratios['two_workers_speedup']:>7.2f} "
            f"{r.noop_alembic_seconds:>7.2f} {r.status_seconds:>8.2f} "
            f"{r.peak_rss_mb:>7.0f} {r.floor_ddl_only_seconds:>8.2f} "
            f"{ratios['one_worker_vs_ddl_only_floor']:>8.2f}"
        )
    print("\ntenant phase of (b) and (c), from the run's journal entry to its last tenant:")
    print(
        f"{'tenants':>8} {'1 worker':>9} {'vs floor':>8} {'2 workers':>9} {'speedup':>7} "
        f"{'floor 2p speedup':>16}"
    )
    for r in results:
        ratios = r.ratios
        print(
            f"{r.tenants:>8} {r.one_worker_tenants_seconds:>9.2f} "
            f"{ratios['one_worker_tenants_vs_floor']:>8.2f} "
            f"{r.two_workers_tenants_seconds:>9.2f} {ratios['two_workers_tenants_speedup']:>7.2f} "
            f"{ratios['floor_two_processes_speedup']:>16.2f}"
        )
    payload = [{**asdict(r), **r.ratios} for r in results]
    if len(results) > 1:
        smallest, largest = results[0], results[-1]
        payload.append(
            {
                "peak_rss_growth": largest.peak_rss_mb / smallest.peak_rss_mb,
                "from_tenants": smallest.tenants,
                "to_tenants": largest.tenants,
            }
        )
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    raise SystemExit(main())
