"""What a migration run reports as it goes: its start, each schema's outcome, its end.

The CLI turns these into a progress bar or into one JSON object per line (``--json``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# How many of a plan group's schemas a dry run shows a person (its JSON lists them all).
_SHOWN_SCHEMAS = 5


@dataclass(frozen=True)
class PlanGroup:
    """Tenants that share a from-revision, and the revisions a run applies to them."""

    from_revisions: tuple[str, ...]
    to_revisions: tuple[str, ...]
    revisions: tuple[str, ...]
    rendered: bool
    schemas: tuple[str, ...]


@dataclass(frozen=True)
class RunStarted:
    """A run holds the lock and knows its plan; ``run_id`` is None when nothing is journaled."""

    run_id: int | None
    command: str
    target: str
    core: PlanGroup | None
    groups: tuple[PlanGroup, ...]
    up_to_date: int
    workers: int
    dry_run: bool

    @property
    def planned(self) -> int:
        """How many tenant schemas have work to do."""
        return sum(len(group.schemas) for group in self.groups)


@dataclass(frozen=True)
class SchemaOutcome:
    """How one schema's migration ended; a failed schema was rolled back."""

    schema: str
    ok: bool
    seconds: float
    error: str | None = None
    from_revisions: tuple[str, ...] = ()
    to_revisions: tuple[str, ...] = ()
    attempts: int = 1
    retry_in: float | None = None  # a lock timeout to retry after this many seconds


@dataclass(frozen=True)
class RunFinished:
    """The end of a run: its outcome and its counts."""

    run_id: int | None
    outcome: str
    done: int
    failed: int
    not_reached: int
    seconds: float


Event = RunStarted | SchemaOutcome | RunFinished
EventHandler = Callable[[Event], None]

_EVENT_NAMES: dict[type[Any], str] = {
    RunStarted: "run_started",
    SchemaOutcome: "schema_done",
    RunFinished: "run_finished",
}


def event_as_json(event: Event) -> dict[str, Any]:
    """One event as a JSON object with an ``event`` key naming its kind."""
    body = dataclasses.asdict(event)
    if isinstance(event, SchemaOutcome) and not event.ok:
        name = "schema_failed"
    else:
        name = _EVENT_NAMES[type(event)]
    if isinstance(event, RunStarted):
        body["planned"] = event.planned
        for group in [body["core"], *body["groups"]]:
            if group is not None:  # a count, not thousands of names on every run's first line
                names = group.pop("schemas")
                group["schemas"] = len(names)
                if event.dry_run:  # the plan is what a dry run is for: every schema it names
                    group["schema_names"] = names
    return {"event": name, **body}


def plan_lines(event: RunStarted) -> list[str]:
    """A dry run's plan as plain text lines (for ``alembic -x dry_run=true``)."""
    lines = [f"plan: {event.command} {event.target} (dry run, nothing changed)"]
    for group in [event.core] if event.core else []:
        lines.append(_group_line(group))
    lines.extend(_group_line(group) for group in event.groups)
    lines.append(f"{event.up_to_date} tenant(s) already at the target")
    return lines


def schemas_preview(group: PlanGroup) -> str:
    """The first few schemas of a plan group, for a person to read (JSON lists them all)."""
    shown = ", ".join(group.schemas[:_SHOWN_SCHEMAS])
    return shown + (" ..." if len(group.schemas) > _SHOWN_SCHEMAS else "")


def _group_line(group: PlanGroup) -> str:
    start = ", ".join(group.from_revisions) or "base"
    end = ", ".join(group.to_revisions) or "base"
    via = "sql" if group.rendered else "alembic"
    return (
        f"  {start} -> {end}: apply {' '.join(group.revisions)} via {via} "
        f"to {len(group.schemas)} schema(s): {schemas_preview(group)}"
    )
