"""Diagnostic: what each part of a rollout's per-tenant message costs, against the floor.

A rollout sends each tenant one message, which PostgreSQL runs as one implicit transaction
(``toolkit/migrations/apply.py``). This replays the rollout benchmark's revision over the
tenants of its database ``tenantctl_bench_<N>`` (run ``make bench`` first), one connection,
one tenant after another, building that message up one part at a time:

- floor: the rollout benchmark's floor (a transaction per tenant: the search path, then
  each statement Alembic renders for the revision, DDL and version row, on its own);
- one message: the same statements sent as one message, one round trip;
- + timeouts: ``SET LOCAL`` lock_timeout and statement_timeout first;
- + version check: ``core.require_revisions()``, which locks and reads the version row;
- + finish: ``core.finish_tenant_step()`` last, which checks the end, sets the version
  record and marks the tenant's journal step done: the message a rollout sends.

Each replay starts on a new connection and a settled server (a checkpoint, untimed) and is
undone afterwards (untimed); ``--repeat`` rounds interleave them; prints the medians in
milliseconds per tenant.

    .venv/bin/python bench/message_cost.py --tenants 1000 [--repeat 3]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psycopg
from bench_database import bench_tenants, libpq_url, settle
from floor import replay
from rollout import DOWNGRADE, PROJECT, REVISION, UPGRADE, floor_sql

from models import RunOutcome
from toolkit import make_engine
from toolkit.db import connect
from toolkit.migrations import journal
from toolkit.migrations.apply import Limits
from toolkit.migrations.finish_step import finish_sql
from toolkit.migrations.version_checks import require_versions_sql
from toolkit.migrations.version_record import SKIP_TRIGGER
from toolkit.sql import STATEMENT_SEPARATOR, set_local_search_path, text_array

sys.path.insert(0, str(PROJECT / "tests"))  # the scratch revision tree helpers
from scratch_scripts import add_tenant_revision, make_scratch_ini

# A tenant's statements, given its schema and its journal step's id.
Message = Callable[[str, int], list[str]]


def main(argv: Sequence[str] | None = None) -> int:
    bench = bench_tenants(__doc__.splitlines()[0], argv)
    url, schemas = bench.url, bench.schemas
    with tempfile.TemporaryDirectory(prefix="tenantctl-bench-") as scratch:
        ini = make_scratch_ini(Path(scratch))
        add_tenant_revision(ini, REVISION, UPGRADE, DOWNGRADE)
        revision = floor_sql(ini)
    before, after = (revision.down_revision,), (REVISION,)
    variants = _variants(revision.up, before, after)
    floors: list[float] = []
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(bench.repeat):
        settle(url)
        floors.append(replay(url, schemas, revision.up, (SKIP_TRIGGER,)))
        _undo(url, schemas, revision.down, before)
        for name, message in variants.items():
            steps = _journal_steps(url, schemas, before, after)
            settle(url)
            seconds[name].append(_one_message_each(url, schemas, steps, message))
            _undo(url, schemas, revision.down, before)
    floor = statistics.median(floors)
    print(f"{'message':<16} {'ms/tenant':>9} {'vs floor':>8}")
    medians = {"floor": floor, **{name: statistics.median(s) for name, s in seconds.items()}}
    for name, median in medians.items():
        print(f"{name:<16} {median / len(schemas) * 1000:>9.3f} {median / floor:>8.2f}")
    return 0


def _variants(
    revision_sql: list[str], before: tuple[str, ...], after: tuple[str, ...]
) -> dict[str, Message]:
    """The message part by part, each variant the one before plus one part; the revision
    moves each tenant from ``before`` to ``after``."""

    def one_message(schema: str, _step: int) -> list[str]:
        return [set_local_search_path(schema), SKIP_TRIGGER, *revision_sql]

    def with_timeouts(schema: str, step: int) -> list[str]:
        return [Limits().timeouts_sql(), *one_message(schema, step)]  # the rollout's defaults

    def with_check(schema: str, step: int) -> list[str]:
        timeouts, search_path, skip_trigger, *ddl = with_timeouts(schema, step)
        check = require_versions_sql(schema, before, "is at")
        return [timeouts, search_path, skip_trigger, check, *ddl]

    def with_finish(schema: str, step: int) -> list[str]:
        finish = finish_sql(schema, after, step, 1, in_core=True, record_version=True)
        return [*with_check(schema, step), *finish]

    return {
        "one message": one_message,
        "+ timeouts": with_timeouts,
        "+ version check": with_check,
        "+ finish": with_finish,
    }


def _one_message_each(
    url: str, schemas: Sequence[str], steps: dict[str, int], message: Message
) -> float:
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        started = time.perf_counter()
        for schema in schemas:
            statements = message(schema, steps[schema])
            connection.execute(STATEMENT_SEPARATOR.join(statements), prepare=False)
        return time.perf_counter() - started


def _journal_steps(
    url: str, schemas: Sequence[str], before: tuple[str, ...], after: tuple[str, ...]
) -> dict[str, int]:
    """A journal run with a pending step per schema, as a rollout has when it starts; the
    run is marked ended at once, so that no later run takes it for one left running."""
    engine = make_engine(url)
    try:
        with connect(engine) as connection:
            run_id = journal.start_run(
                connection,
                command="message_cost",  # the column holds 20 characters
                target=REVISION,
                options={},
                resumed_from=None,
            )
            planned = [journal.PlannedStep(schema, None, before, after) for schema in schemas]
            steps = journal.add_steps(connection, run_id, planned)
            journal.finish_run(connection, run_id, RunOutcome.SUCCEEDED)
            return steps
    finally:
        engine.dispose()


def _undo(url: str, schemas: Sequence[str], down: Sequence[str], before: tuple[str, ...]) -> None:
    """Every schema back at ``before``, and its version record with it."""
    replay(url, schemas, down, (SKIP_TRIGGER,))
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute(
            f"UPDATE core.tenant_versions SET revisions = {text_array(before)}"  # noqa: S608
        )


if __name__ == "__main__":
    raise SystemExit(main())
