"""Writes and reads of the migration journal (``core.migration_runs`` and ``_steps``).

A tenant's step row is marked done inside the tenant's own transaction (``finish_step``),
so a run killed at any point leaves a journal that never claims more than the schemas hold.
"""

from __future__ import annotations

import contextlib
import datetime
import getpass
import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Text,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from models import RunOutcome, StepStatus, migration_runs, migration_steps

_TEXT_ARRAY = ARRAY(Text)
_runs = migration_runs.c
_steps = migration_steps.c


@dataclass(frozen=True)
class PlannedStep:
    """A schema a run is about to move, before it has moved."""

    schema: str
    subdomain: str | None
    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]


@dataclass(frozen=True)
class RunRecord:
    """One journaled run, with its step counts."""

    id: int
    command: str
    target: str
    options: dict[str, Any]
    started_by: str
    host: str
    started_at: datetime.datetime
    finished_at: datetime.datetime | None
    outcome: str
    resumed_from: int | None
    done: int
    failed: int
    pending: int


@dataclass(frozen=True)
class StepRecord:
    """One journaled step of one schema."""

    run_id: int
    schema: str
    subdomain: str | None
    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]
    status: str
    error: str | None
    attempts: int
    duration_ms: int | None
    finished_at: datetime.datetime | None


def journal_exists(connection: Connection) -> bool:
    """True once core has the journal tables (core revision 0002core or later)."""
    found = connection.execute(text("SELECT to_regclass('core.migration_steps') IS NOT NULL"))
    return bool(found.scalar())


def start_run(
    connection: Connection,
    *,
    command: str,
    target: str,
    options: dict[str, Any],
    resumed_from: int | None,
) -> int:
    """Record a new run as running; marks runs left ``running`` by a dead process interrupted.

    Call it while holding the rollout lock: no other run can then be running.
    """
    with _fresh_transaction(connection):
        connection.execute(
            update(migration_runs)
            .where(_runs.outcome == RunOutcome.RUNNING.value)
            .values(outcome=RunOutcome.INTERRUPTED.value)
        )
        run_id = connection.execute(
            insert(migration_runs)
            .values(
                command=command,
                target=target,
                options=options,
                started_by=getpass.getuser(),
                host=socket.gethostname(),
                pid=os.getpid(),
                resumed_from=resumed_from,
            )
            .returning(_runs.id)
        ).scalar_one()
    return int(run_id)


def add_steps(connection: Connection, run_id: int, steps: Sequence[PlannedStep]) -> dict[str, int]:
    """Record ``steps`` as pending; returns each schema's step id.

    One ``INSERT ... SELECT unnest(...)`` per pair of from/to revisions: a few statements
    for thousands of tenants, where a row per parameter set costs a tenth of a second more.
    """
    by_revisions: dict[tuple[tuple[str, ...], tuple[str, ...]], list[PlannedStep]] = {}
    for step in steps:
        by_revisions.setdefault((step.from_revisions, step.to_revisions), []).append(step)
    step_ids: dict[str, int] = {}
    with _fresh_transaction(connection):
        for (from_revisions, to_revisions), members in by_revisions.items():
            rows = select(
                literal(run_id, BigInteger),
                func.unnest(literal([step.schema for step in members], _TEXT_ARRAY)),
                func.unnest(literal([step.subdomain for step in members], _TEXT_ARRAY)),
                literal(list(from_revisions), _TEXT_ARRAY),
                literal(list(to_revisions), _TEXT_ARRAY),
            )
            columns = ["run_id", "schema_name", "subdomain", "from_revisions", "to_revisions"]
            result = connection.execute(
                insert(migration_steps)
                .from_select(columns, rows)
                .returning(_steps.id, _steps.schema_name)
            )
            step_ids.update({schema: int(step_id) for step_id, schema in result})
    return step_ids


def record_step(
    connection: Connection,
    run_id: int,
    step: PlannedStep,
    *,
    error: str | None,
    duration_ms: int,
) -> None:
    """Record a finished step (used for core, which is migrated before steps are planned)."""
    with _fresh_transaction(connection):
        connection.execute(
            insert(migration_steps).values(
                run_id=run_id,
                schema_name=step.schema,
                subdomain=step.subdomain,
                from_revisions=list(step.from_revisions),
                to_revisions=list(step.to_revisions),
                status=StepStatus.FAILED.value if error else StepStatus.DONE.value,
                error=error,
                attempts=1,
                duration_ms=duration_ms,
                finished_at=func.clock_timestamp(),
            )
        )


def finish_run(connection: Connection, run_id: int, outcome: RunOutcome) -> None:
    """Record how a run ended."""
    with _fresh_transaction(connection):
        connection.execute(
            update(migration_runs)
            .where(_runs.id == run_id)
            .values(outcome=outcome.value, finished_at=func.clock_timestamp())
        )


@contextlib.contextmanager
def _fresh_transaction(connection: Connection) -> Iterator[None]:
    """A transaction of its own on the run's journal connection, committed at the end.

    The journal connection belongs to the run, so reads it did before (which began a
    transaction implicitly) are committed first.
    """
    if connection.in_transaction():
        connection.commit()
    with connection.begin():
        yield


# -- reads ----------------------------------------------------------------------------------


def _count(status: StepStatus) -> Any:
    return func.count().filter(_steps.status == status.value)


def runs(connection: Connection, *, limit: int = 20, run_id: int | None = None) -> list[RunRecord]:
    """The latest runs, newest first (or the one run ``run_id``), with their step counts."""
    counts = (
        select(
            _steps.run_id,
            _count(StepStatus.DONE).label("done"),
            _count(StepStatus.FAILED).label("failed"),
            _count(StepStatus.PENDING).label("pending"),
        )
        .group_by(_steps.run_id)
        .subquery()
    )
    query = (
        select(
            _runs.id,
            _runs.command,
            _runs.target,
            _runs.options,
            _runs.started_by,
            _runs.host,
            _runs.started_at,
            _runs.finished_at,
            _runs.outcome,
            _runs.resumed_from,
            func.coalesce(counts.c.done, 0).label("done"),
            func.coalesce(counts.c.failed, 0).label("failed"),
            func.coalesce(counts.c.pending, 0).label("pending"),
        )
        .outerjoin(counts, counts.c.run_id == _runs.id)
        .order_by(_runs.id.desc())
        .limit(limit)
    )
    if run_id is not None:
        query = query.where(_runs.id == run_id)
    return [RunRecord(**row._asdict()) for row in connection.execute(query)]


_STEP_COLUMNS = (
    _steps.run_id,
    _steps.schema_name,
    _steps.subdomain,
    _steps.from_revisions,
    _steps.to_revisions,
    _steps.status,
    _steps.error,
    _steps.attempts,
    _steps.duration_ms,
    _steps.finished_at,
)


def _step_record(values: dict[str, Any]) -> StepRecord:
    return StepRecord(
        run_id=values["run_id"],
        schema=values["schema_name"],
        subdomain=values["subdomain"],
        from_revisions=tuple(values["from_revisions"]),
        to_revisions=tuple(values["to_revisions"]),
        status=values["status"],
        error=values["error"],
        attempts=values["attempts"],
        duration_ms=values["duration_ms"],
        finished_at=values["finished_at"],
    )


def steps(
    connection: Connection,
    *,
    schema: str | None = None,
    run_id: int | None = None,
    limit: int | None = None,
) -> list[StepRecord]:
    """Journaled steps, newest first, of one schema and/or one run."""
    query = select(*_STEP_COLUMNS).order_by(_steps.id.desc())
    if schema is not None:
        query = query.where(_steps.schema_name == schema)
    if run_id is not None:
        query = query.where(_steps.run_id == run_id)
    if limit is not None:
        query = query.limit(limit)
    return [_step_record(row._asdict()) for row in connection.execute(query)]


def failing_schemas(connection: Connection) -> list[StepRecord]:
    """The latest step of every schema whose latest journaled step failed, by schema.

    Starts from the failed steps (a partial index holds just those, ``0010core``) and keeps
    each one that no later step of its schema follows: the cost grows with the failures,
    not with the journal, which gains a step per tenant in every run.
    """
    later = migration_steps.alias("later")
    query = (
        select(*_STEP_COLUMNS)
        .where(
            _steps.status == StepStatus.FAILED.value,
            ~exists().where(later.c.schema_name == _steps.schema_name, later.c.id > _steps.id),
        )
        .order_by(_steps.schema_name)
    )
    return [_step_record(row._asdict()) for row in connection.execute(query)]


@dataclass(frozen=True)
class Leftovers:
    """What a run left to do: whether it planned any step, and the steps not done."""

    planned_any: bool
    steps: tuple[PlannedStep, ...]


def leftovers(connection: Connection, run_id: int) -> Leftovers:
    """Schemas whose step in run ``run_id`` is pending or failed, in the run's order.

    A schema that a resume of this run (``resumed_from``) has since migrated is done.
    """
    resumed_done = (
        select(_steps.schema_name)
        .join(migration_runs, _runs.id == _steps.run_id)
        .where(
            _runs.resumed_from == run_id,
            _steps.status == StepStatus.DONE.value,
        )
    )
    unfinished = connection.execute(
        select(
            _steps.schema_name,
            _steps.subdomain,
            _steps.from_revisions,
            _steps.to_revisions,
        )
        .where(
            _steps.run_id == run_id,
            _steps.status.in_([StepStatus.PENDING.value, StepStatus.FAILED.value]),
            _steps.schema_name.not_in(resumed_done),
        )
        .order_by(_steps.id)
    ).all()
    planned_any = connection.execute(
        select(func.count()).where(_steps.run_id == run_id)
    ).scalar_one()
    return Leftovers(
        planned_any=planned_any > 0,
        steps=tuple(
            PlannedStep(row[0], row[1], tuple(row[2]), tuple(row[3])) for row in unfinished
        ),
    )


def latest_run_id(connection: Connection) -> int | None:
    """The id of the newest run, or None if nothing was ever journaled."""
    return connection.execute(select(func.max(_runs.id))).scalar()
