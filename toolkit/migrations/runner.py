"""Upgrade and downgrade core and the tenants from Python: the API behind ``tenantctl migrate``.

Every call runs the real Alembic command, so ``alembic upgrade heads`` and ``upgrade_all``
take the same path through env.py: the lock, the plan, the workers and the journal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from alembic import command
from alembic.util import CommandError
from sqlalchemy import Connection, Engine

from models import CORE_SCHEMA, RunOutcome
from toolkit.db import connect
from toolkit.errors import MigrationFailed, RunNotFound, SchemaNotReady, TenantctlError
from toolkit.migrations import journal
from toolkit.migrations.branches import TENANT
from toolkit.migrations.config import alembic_config
from toolkit.migrations.events import Event, EventHandler, RunFinished, RunStarted, SchemaOutcome
from toolkit.migrations.journal import journal_exists
from toolkit.migrations.options import OnError, RunOptions, Tuning, options_from_json
from toolkit.migrations.status import read_versions
from toolkit.migrations.targeting import Selection


@dataclass
class RunReport:
    """What a run did: the plan it announced, one outcome per schema, and how it ended."""

    started: RunStarted | None = None
    outcomes: list[SchemaOutcome] = field(default_factory=list)
    finished: RunFinished | None = None

    @property
    def failed(self) -> list[SchemaOutcome]:
        """The schemas that failed and were rolled back."""
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def record(self, event: Event) -> None:
        """Keep ``event`` in the report."""
        if isinstance(event, RunStarted):
            self.started = event
        elif isinstance(event, SchemaOutcome):
            self.outcomes.append(event)
        else:
            self.finished = event


def upgrade_within(connection: Connection, subdomain: str) -> None:
    """Migrate one registered tenant, whatever its status, to tenant head inside the
    caller's open transaction (env.py runs it in a savepoint of it, without lock or
    journal): for a schema that is being created or restored, which no run may see yet."""
    options = RunOptions(selection=Selection(tenants=(subdomain,)))
    command.upgrade(alembic_config(connection=connection, options=options), f"{TENANT}@head")


def upgrade_all(
    engine: Engine,
    target: str = "heads",
    *,
    tenants: Sequence[str] | None = None,
    on_error: OnError | None = None,
    options: RunOptions | None = None,
    on_event: EventHandler | None = None,
) -> RunReport:
    """Upgrade core, then the selected tenants, each in its own transaction.

    ``tenants`` and ``on_error`` are shortcuts for the same fields of ``options``. Raises
    MigrationFailed (carrying every failure) if any schema failed, LockBusy if another run
    holds the lock for longer than ``options.lock_wait``.
    """
    return _run(command.upgrade, engine, target, _merge(options, tenants, on_error), on_event)


def downgrade_all(
    engine: Engine,
    target: str,
    *,
    tenants: Sequence[str] | None = None,
    on_error: OnError | None = None,
    options: RunOptions | None = None,
    on_event: EventHandler | None = None,
) -> RunReport:
    """Downgrade to ``target`` (e.g. ``tenant@-1``, ``core@base``), schema by schema."""
    return _run(command.downgrade, engine, target, _merge(options, tenants, on_error), on_event)


def _merge(
    options: RunOptions | None, tenants: Sequence[str] | None, on_error: OnError | None
) -> RunOptions:
    merged = options or RunOptions()
    if tenants is not None:
        merged = replace(merged, selection=replace(merged.selection, tenants=tuple(tenants)))
    if on_error is not None:
        merged = replace(merged, on_error=on_error)
    return merged


def _run(
    alembic_command: Callable[..., object],
    engine: Engine,
    target: str,
    options: RunOptions,
    on_event: EventHandler | None,
) -> RunReport:
    report = RunReport()

    def record(event: Event) -> None:
        report.record(event)
        if on_event is not None:
            on_event(event)

    config = alembic_config(
        url=engine.url.render_as_string(hide_password=False), options=options, on_event=record
    )
    try:
        alembic_command(config, target)
    except CommandError as exc:
        raise TenantctlError(f"alembic refused {target!r}: {exc}") from None
    return report


def resume_run(
    engine: Engine,
    run_id: int | None = None,
    *,
    tuning: Tuning | None = None,
    on_event: EventHandler | None = None,
) -> RunReport | None:
    """Run again what run ``run_id`` (default: the latest) left failed or never reached.

    The same command, target and options, limited to the tenants whose steps are failed or
    pending in the journal (and not since done by a resume of it), in the run's order. A run
    that ended before it planned any step (it was killed early), or whose core step failed,
    is run again whole. ``tuning`` changes how it runs (workers, timeouts): a run whose
    tenants timed out may be resumed with longer ones. Returns None if the run has nothing
    left to do. Raises RunNotFound for an unknown run.
    """
    with connect(engine) as connection:
        if not journal_exists(connection):
            raise SchemaNotReady("core has no migration journal yet: run `tenantctl migrate up`")
        run_id = run_id if run_id is not None else journal.latest_run_id(connection)
        found = journal.runs(connection, run_id=run_id, limit=1) if run_id is not None else []
        if not found:
            raise RunNotFound(
                f"no migration run {run_id}: `tenantctl migrate history` lists the runs"
                if run_id is not None
                else "no migration run was ever journaled: nothing to resume"
            )
        run = found[0]
        left = journal.leftovers(connection, run.id)
        # Only tenants still where the run found them: a relative target such as
        # tenant@-1 must never move a tenant that something else has moved since.
        connection.commit()  # read_versions then reads in short transactions of its own
        versions = read_versions(connection, [step.schema for step in left.steps], recorded=True)
    whole_run = any(step.schema == CORE_SCHEMA for step in left.steps) or (
        not left.planned_any and run.outcome != RunOutcome.SUCCEEDED.value
    )
    subdomains = tuple(
        step.subdomain
        for step in left.steps
        if step.subdomain and versions.get(step.schema, ()) == tuple(sorted(step.from_revisions))
    )
    if not whole_run and not subdomains:
        return None
    options = replace(options_from_json(run.options), resume_run=run.id)
    if not whole_run:
        selection = replace(options.selection, tenants=subdomains, canary=None)
        options = replace(options, selection=selection)
    if tuning is not None:
        options = tuning.applied_to(options)
    commands: dict[str, Callable[..., object]] = {
        "upgrade": command.upgrade,
        "downgrade": command.downgrade,
        "stamp": command.stamp,
    }
    if run.command not in commands:
        raise TenantctlError(f"run {run.id} ran {run.command!r}, which cannot be resumed")
    return _run(commands[run.command], engine, run.target, options, on_event)


__all__ = ["MigrationFailed", "RunReport", "downgrade_all", "resume_run", "upgrade_all"]
