"""One migration run from start to end: journal, canary, fail policy, events, the verdict.

``environment`` decides what to run (core through Alembic, tenants through a plan); this
module runs the tenant part and keeps the books: a run row, a step row per schema, one
event per schema, and at the end a RunFinished event and MigrationFailed if anything failed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Connection

from models import RunOutcome
from toolkit.errors import MigrationFailed, TenantFailure
from toolkit.logging_setup import bind_run_id
from toolkit.migrations import journal
from toolkit.migrations.apply import TenantMigrator, TenantTask, WorkerPlan
from toolkit.migrations.events import (
    EventHandler,
    PlanGroup,
    RunFinished,
    RunStarted,
    SchemaOutcome,
)
from toolkit.migrations.journal import PlannedStep
from toolkit.migrations.lock import HeldLock
from toolkit.migrations.options import OnError, RunOptions
from toolkit.migrations.plan import TenantPlan
from toolkit.migrations.workers import WorkerPool, run_tasks

log = logging.getLogger("tenantctl.migrations")


@dataclass
class Rollout:
    """The bookkeeping of one run; ``journal_connection`` is None when nothing is journaled."""

    command: str
    target: str
    options: RunOptions
    on_event: EventHandler | None
    journal_connection: Connection | None = None
    lock: HeldLock | None = None
    run_id: int | None = None
    outcomes: list[SchemaOutcome] = field(default_factory=list)
    not_reached: int = 0
    aborted: bool = False
    _started: float = field(default_factory=time.perf_counter)

    def start(self, core: PlanGroup | None, plan: TenantPlan, workers: int) -> RunStarted:
        """Open the journal's run row (when there is a journal) and announce the plan."""
        if not self.options.dry_run:
            self.open_journal()
        started = RunStarted(
            run_id=self.run_id,
            command=self.command,
            target=self.target,
            core=core,
            groups=plan.summary(),
            up_to_date=len(plan.up_to_date),
            workers=workers,
            dry_run=self.options.dry_run,
        )
        log.info(
            "%s%s to %s: %d tenant(s) to migrate in %d group(s), %d up to date, %d worker(s)",
            "dry run of " if self.options.dry_run else "",
            self.command,
            self.target,
            plan.planned,
            len(plan.groups),
            len(plan.up_to_date),
            workers,
        )
        self._emit(started)
        return started

    def open_journal(self) -> None:
        """Record the run as running, once there is a journal connection.

        From then on the run's id is the current run (``toolkit.logging_setup``), so log
        lines name it; the caller's ``run_scope`` ends that with the run.
        """
        if self.journal_connection is None or self.run_id is not None:
            return
        self.run_id = journal.start_run(
            self.journal_connection,
            command=self.command,
            target=self.target,
            options=self.options.as_json(),
            resumed_from=self.options.resume_run,
        )
        bind_run_id(self.run_id)

    def abort(self, *, not_reached: int) -> None:
        """Mark the run aborted before ``not_reached`` schemas were started."""
        self.aborted = True
        self.not_reached += not_reached

    def record_core(self, outcome: SchemaOutcome) -> None:
        """Journal and announce core's step (core runs through Alembic, before the tenants)."""
        self.outcomes.append(outcome)
        if self.journal_connection is not None and self.run_id is not None:
            journal.record_step(
                self.journal_connection,
                self.run_id,
                PlannedStep(outcome.schema, None, outcome.from_revisions, outcome.to_revisions),
                error=outcome.error,
                duration_ms=int(outcome.seconds * 1000),
            )
        self._emit(outcome)

    def migrate_tenants(
        self, plan: TenantPlan, worker_plan: WorkerPlan, migrator: TenantMigrator, pool: WorkerPool
    ) -> None:
        """Migrate the plan's tenants: canaries first, then the rest, as the policy says.

        ``migrator`` runs tenants in this process; ``pool``'s worker processes (if any) run
        some as well.
        """
        tasks = self._tasks(plan)
        canary = self.options.selection.canary or 0
        batches = [tasks[:canary], tasks[canary:]] if canary else [tasks]
        fail_fast = self.options.on_error is OnError.STOP
        pool.load(worker_plan, fail_fast)
        for position, batch in enumerate(batches):
            failed_before = len(self.failed)
            reached = 0
            outcomes = run_tasks(
                migrator,
                pool,
                batch,
                fail_fast=fail_fast,
                before_chunk=self.lock.verify if self.lock is not None else None,
            )
            for outcome in outcomes:
                reached += 1
                self.outcomes.append(outcome)
                self._emit(outcome)
            self.not_reached += len(batch) - reached
            batch_failed = len(self.failed) > failed_before
            canary_failed = batch_failed and canary > 0 and position == 0
            if canary_failed or (fail_fast and batch_failed):
                self.not_reached += sum(len(rest) for rest in batches[position + 1 :])
                self.aborted = canary_failed or self.not_reached > 0
                return

    @contextlib.contextmanager
    def closing(self) -> Iterator[None]:
        """Run the block, then ``finish``; a block that raised ends the run as interrupted.

        An unexpected error or Ctrl-C must not leave the journal saying ``running``: the
        tenants finished so far are journaled already, and ``migrate resume`` picks up the
        rest.
        """
        try:
            yield
        except BaseException:
            self._journal_outcome(RunOutcome.INTERRUPTED)
            raise
        self.finish()

    def finish(self) -> None:
        """Close the run row, announce the end, and raise MigrationFailed on any failure."""
        failed = self.failed
        if self.aborted:
            outcome = RunOutcome.ABORTED
        elif failed:
            outcome = RunOutcome.FAILED
        else:
            outcome = RunOutcome.SUCCEEDED
        self._journal_outcome(outcome)
        log.info(
            "run %s: %d done, %d failed, %d not reached",
            outcome.value,
            len(self.outcomes) - len(failed),
            len(failed),
            self.not_reached,
        )
        self._emit(
            RunFinished(
                run_id=self.run_id,
                outcome=outcome.value,
                done=len(self.outcomes) - len(failed),
                failed=len(failed),
                not_reached=self.not_reached,
                seconds=time.perf_counter() - self._started,
            )
        )
        if failed:
            raise MigrationFailed(
                [TenantFailure(o.schema, o.error or "failed") for o in failed],
                stopped_early=self.aborted,
                run_id=self.run_id,
            )

    @property
    def failed(self) -> list[SchemaOutcome]:
        """Outcomes of schemas that failed and were rolled back."""
        return [outcome for outcome in self.outcomes if not outcome.ok]

    # -- internals --------------------------------------------------------------------------

    def _tasks(self, plan: TenantPlan) -> list[TenantTask]:
        """One task per tenant, in selection order, with its journal step when journaled."""
        group_of: dict[str, int] = {}
        planned: list[PlannedStep] = []
        for number, (group, members) in enumerate(zip(plan.groups, plan.members, strict=True)):
            for record in members:
                group_of[record.database_schema] = number
                planned.append(
                    PlannedStep(
                        record.database_schema,
                        record.subdomain,
                        group.from_revisions,
                        group.to_revisions,
                    )
                )
        step_ids: dict[str, int] = {}
        if self.journal_connection is not None and self.run_id is not None:
            step_ids = journal.add_steps(self.journal_connection, self.run_id, planned)
        order = {schema: position for position, schema in enumerate(plan.order)}
        planned.sort(key=lambda step: order[step.schema])
        return [
            TenantTask(step.schema, group_of[step.schema], step_ids.get(step.schema))
            for step in planned
        ]

    def _journal_outcome(self, outcome: RunOutcome) -> None:
        if self.journal_connection is None or self.run_id is None:
            return
        try:
            journal.finish_run(self.journal_connection, self.run_id, outcome)
        # Recording the end is best effort: the next run marks a run left "running" as
        # interrupted anyway, and the error that ended this one matters more.
        except Exception as exc:
            log.warning("could not record the end of run %s: %s", self.run_id, exc)

    def _emit(self, event: RunStarted | SchemaOutcome | RunFinished) -> None:
        if self.on_event is not None:
            self.on_event(event)
