"""How ``migrate up/down/resume`` show a run: a progress bar and a summary, or JSON lines."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

from toolkit.cli.render import console, print_error, table
from toolkit.migrations.events import (
    Event,
    PlanGroup,
    RunFinished,
    RunStarted,
    SchemaOutcome,
    event_as_json,
    schemas_preview,
)

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


class RunDisplay:
    """Receives a run's events; ``--json`` prints each as one line, otherwise rich output."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._started_at = 0.0
        self._done = 0
        self._up_to_date = 0

    def handle(self, event: Event) -> None:
        """Show one event."""
        if self.as_json:
            print(json.dumps(event_as_json(event), default=str), flush=True)
        elif isinstance(event, RunStarted):
            self._started(event)
        elif isinstance(event, SchemaOutcome):
            self._schema_done(event)
        else:
            self._finished(event)

    def close(self) -> None:
        """Stop the progress bar (also when the run raised)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _started(self, event: RunStarted) -> None:
        self._up_to_date = event.up_to_date
        if event.dry_run:
            _print_plan(event)
            return
        total = event.planned + (1 if event.core else 0)
        if total == 0 or not console.is_terminal:
            return  # off a terminal: errors as they come, and the summary at the end
        # Imported only for a terminal: a run in CI or a script starts sooner without it.
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._started_at = time.monotonic()
        self._done = 0
        self._progress = Progress(
            TextColumn(f"[bold]{event.command}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task(event.command, total=total, rate="")
        self._progress.start()

    def _schema_done(self, event: SchemaOutcome) -> None:
        if not event.ok:
            print_error(f"{event.schema}: {event.error}")
        if self._progress is not None and self._task is not None:
            # Our own rate: rich's per-task speed re-reads every sample of its window on
            # each call, which grows costly over thousands of tenants.
            self._done += 1
            elapsed = time.monotonic() - self._started_at
            rate = f"{self._done / elapsed:.0f}/s" if elapsed > 0 else ""
            self._progress.update(self._task, advance=1, rate=rate)

    def _finished(self, event: RunFinished) -> None:
        self.close()
        run = f"run {event.run_id}" if event.run_id is not None else "run"
        rows = [
            [
                str(event.done),
                str(event.failed),
                str(event.not_reached),
                str(self._up_to_date),
                f"{event.seconds:.1f}s",
                event.outcome,
            ]
        ]
        columns = ["done", "failed", "not started", "already at target", "duration", "outcome"]
        console.print(table(run, columns, rows))
        sys.stdout.flush()


def _print_plan(event: RunStarted) -> None:
    groups: list[PlanGroup] = ([event.core] if event.core else []) + list(event.groups)
    rows = [
        [
            ", ".join(group.from_revisions) or "base",
            " ".join(group.revisions),
            ", ".join(group.to_revisions) or "base",
            "sql" if group.rendered else "alembic",
            str(len(group.schemas)),
            schemas_preview(group),
        ]
        for group in groups
    ]
    console.print(
        table(
            f"plan: {event.command} {event.target} (dry run, nothing changed)",
            ["from", "apply", "to", "via", "schemas", "e.g."],
            rows,
        )
    )
    console.print(f"{event.up_to_date} tenant(s) already at the target", highlight=False)
