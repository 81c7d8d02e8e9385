"""``tenantctl migrate``: roll migrations out over core and the tenants, and inspect them."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated

import typer

from toolkit.cli.context import state, user_errors
from toolkit.cli.progress import RunDisplay
from toolkit.cli.render import console, print_json, table
from toolkit.db import connect
from toolkit.errors import InvalidOption, RunNotFound, SchemaNotReady
from toolkit.exit_codes import EXIT_CHECK_FAILED
from toolkit.migrations import journal
from toolkit.migrations.branches import BranchIndex
from toolkit.migrations.checksums import changed_revisions
from toolkit.migrations.options import OnError, RunOptions, Tuning, run_options_from_settings
from toolkit.migrations.runner import downgrade_all, resume_run, upgrade_all
from toolkit.migrations.status import MigrationStatus, migration_status
from toolkit.migrations.targeting import Selection
from toolkit.naming import normalize_tenant_ref, schema_for
from toolkit.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(help="Migrate core and the tenants, and inspect where they stand.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (one event per line).")]
Tenants = Annotated[
    str | None, typer.Option("--tenants", help="Only these tenants: acme,globex (any status).")
]
Where = Annotated[
    list[str] | None,
    typer.Option("--where", help="Filter: plan=pro, status=active (repeatable; ANDed)."),
]
Canary = Annotated[
    int | None, typer.Option(min=1, help="Migrate N tenants first; stop if any of them fails.")
]
Shard = Annotated[str | None, typer.Option(help="Only shard I/N of the tenants, e.g. 2/4.")]
Workers = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Processes migrating tenants "
        "(default: TENANTCTL_MIGRATE_WORKERS or 1; resuming: the run's).",
    ),
]
ContinueOnError = Annotated[
    bool,
    typer.Option(
        "--continue-on-error/--fail-fast",
        help="After a tenant fails: migrate the rest, or start no other tenant (default).",
    ),
]
LockWait = Annotated[
    float | None,
    typer.Option(
        min=0,
        help="Seconds to wait for another run's lock before giving up "
        "(default: TENANTCTL_MIGRATE_LOCK_WAIT or 30; resuming: the run's).",
    ),
]
LockTimeout = Annotated[
    float | None,
    typer.Option(
        min=0.001,
        help="lock_timeout per tenant transaction, in seconds "
        "(default: TENANTCTL_MIGRATE_LOCK_TIMEOUT or 5; resuming: the run's).",
    ),
]
StatementTimeout = Annotated[
    float | None,
    typer.Option(
        min=0.001,
        help="statement_timeout per tenant transaction, in seconds "
        "(default: TENANTCTL_MIGRATE_STATEMENT_TIMEOUT or 600; resuming: the run's).",
    ),
]
LockRetries = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Retries, with backoff, of a tenant that hit lock_timeout "
        "(default: TENANTCTL_MIGRATE_LOCK_RETRIES or 3; resuming: the run's).",
    ),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the plan; change nothing.")]


def _tuning(
    workers: int | None,
    lock_wait: float | None,
    lock_timeout: float | None,
    statement_timeout: float | None,
    lock_retries: int | None,
) -> Tuning:
    """The flags that say how a run goes about its work (None: not given)."""
    for flag, seconds in (
        ("--lock-wait", lock_wait),
        ("--lock-timeout", lock_timeout),
        ("--statement-timeout", statement_timeout),
    ):
        if seconds is not None and not math.isfinite(seconds):
            raise InvalidOption(f"invalid {flag} {seconds}: use a finite number of seconds")
    return Tuning(workers, lock_wait, lock_timeout, statement_timeout, lock_retries)


def _options(
    settings: Settings,
    tenants: str | None,
    where: list[str] | None,
    canary: int | None,
    shard: str | None,
    continue_on_error: bool,
    dry_run: bool,
    tuning: Tuning,
) -> RunOptions:
    """The run's options: each flag given, else its setting (``TENANTCTL_MIGRATE_*``)."""
    defaults = run_options_from_settings(settings)
    selection = Selection(canary=canary)
    if tenants is not None:
        selection = selection.with_tenants(tenants)
    for condition in where or []:
        selection = selection.with_where(condition)
    if shard is not None:
        selection = selection.with_shard(shard)
    on_error = OnError.CONTINUE if continue_on_error else OnError.STOP
    chosen = replace(defaults, selection=selection, on_error=on_error, dry_run=dry_run)
    return tuning.applied_to(chosen)


@app.command("up")
def up(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Revision target.")] = "heads",
    tenants: Tenants = None,
    where: Where = None,
    canary: Canary = None,
    shard: Shard = None,
    workers: Workers = None,
    continue_on_error: ContinueOnError = False,
    lock_wait: LockWait = None,
    lock_timeout: LockTimeout = None,
    statement_timeout: StatementTimeout = None,
    lock_retries: LockRetries = None,
    dry_run: DryRun = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Resume the latest run instead.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Upgrade core, then the selected tenants (default: all active and suspended) to TARGET."""
    with user_errors():
        engine = state(ctx).engine()
        tuning = _tuning(workers, lock_wait, lock_timeout, statement_timeout, lock_retries)
        if retry_failed:
            chosen = (target != "heads", tenants, where, canary, shard, continue_on_error, dry_run)
            if any(chosen):
                raise InvalidOption(
                    "--retry-failed resumes the latest run with its own target, tenants and "
                    "failure policy; besides --json it takes only --workers, --lock-wait, "
                    "--lock-timeout, --statement-timeout and --lock-retries (or use "
                    "`migrate resume RUN_ID`)"
                )
            _resume(engine, None, tuning, as_json)
            return
        options = _options(
            state(ctx).settings, tenants, where, canary, shard, continue_on_error, dry_run, tuning
        )
        with _display(as_json) as display:
            upgrade_all(engine, target, options=options, on_event=display.handle)


@app.command("down")
def down(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Revision target, e.g. tenant@-1.")],
    tenants: Tenants = None,
    where: Where = None,
    canary: Canary = None,
    shard: Shard = None,
    workers: Workers = None,
    continue_on_error: ContinueOnError = False,
    lock_wait: LockWait = None,
    lock_timeout: LockTimeout = None,
    statement_timeout: StatementTimeout = None,
    lock_retries: LockRetries = None,
    dry_run: DryRun = False,
    as_json: JsonFlag = False,
) -> None:
    """Downgrade the selected tenants (and core, if TARGET names it) to TARGET."""
    with user_errors():
        tuning = _tuning(workers, lock_wait, lock_timeout, statement_timeout, lock_retries)
        options = _options(
            state(ctx).settings, tenants, where, canary, shard, continue_on_error, dry_run, tuning
        )
        with _display(as_json) as display:
            downgrade_all(state(ctx).engine(), target, options=options, on_event=display.handle)


@app.command("resume")
def resume(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(help="The run to resume (see `migrate history`).")],
    workers: Workers = None,
    lock_wait: LockWait = None,
    lock_timeout: LockTimeout = None,
    statement_timeout: StatementTimeout = None,
    lock_retries: LockRetries = None,
    as_json: JsonFlag = False,
) -> None:
    """Re-run only what run RUN_ID left failed or never reached, with its target and
    tenants; workers and timeouts may be changed."""
    with user_errors():
        tuning = _tuning(workers, lock_wait, lock_timeout, statement_timeout, lock_retries)
        _resume(state(ctx).engine(), run_id, tuning, as_json)


def _resume(engine: Engine, run_id: int | None, tuning: Tuning, as_json: bool) -> None:
    """Resume run ``run_id`` (None: the latest); say so if it left nothing to do, as an
    event of its own with ``--json`` so that stdout stays one JSON object per line."""
    with _display(as_json) as display:
        report = resume_run(engine, run_id, tuning=tuning, on_event=display.handle)
    if report is not None:
        return
    if as_json:
        print(json.dumps({"event": "nothing_to_resume", "run_id": run_id}), flush=True)
        return
    which = "the latest run" if run_id is None else f"run {run_id}"
    console.print(f"{which} finished; nothing to resume", highlight=False)


@contextlib.contextmanager
def _display(as_json: bool) -> Iterator[RunDisplay]:
    display = RunDisplay(as_json=as_json)
    try:
        yield display
    finally:
        display.close()


@app.command("status")
def status(
    ctx: typer.Context,
    all_tenants: Annotated[
        bool, typer.Option("--all", help="List every tenant, not only groups and problems.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Tenants grouped by revision, failing tenants, and what is behind; exit 3 if any is."""
    with user_errors(), connect(state(ctx).engine()) as connection:
        result = migration_status(connection)
    if as_json:
        print_json(_status_json(result))
    else:
        _print_status(result, all_tenants=all_tenants)
    if not result.up_to_date:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _status_json(result: MigrationStatus) -> dict[str, object]:
    return {
        "up_to_date": result.up_to_date,
        "core": {
            "revisions": list(result.core_revisions),
            "head": list(result.heads.core),
            "at_head": result.core_at_head,
        },
        "tenant_head": list(result.heads.tenant),
        "groups": [
            {"revisions": list(g.revisions), "tenants": g.tenants, "at_head": g.at_head}
            for g in result.groups
        ],
        "tenants": [
            {
                "subdomain": version.tenant.subdomain,
                "schema": version.tenant.database_schema,
                "status": version.tenant.status,
                "revisions": list(version.revisions),
                "at_head": version.at_head,
            }
            for version in result.tenants
        ],
        "behind": [version.tenant.subdomain for version in result.tenants_behind],
        "failing": [
            {"schema": step.schema, "run_id": step.run_id, "error": step.error}
            for step in result.failing
        ],
    }


_SHOWN = 20


def _print_status(result: MigrationStatus, *, all_tenants: bool) -> None:
    def mark(ok: bool) -> str:
        return "[green]at head[/]" if ok else "[red]behind[/]"

    core = ", ".join(result.core_revisions) or "base"
    console.print(
        f"core: {core} ({mark(result.core_at_head)}; head {', '.join(result.heads.core)})"
    )
    rows = [
        [", ".join(group.revisions) or "base", str(group.tenants), mark(group.at_head)]
        for group in result.groups
    ]
    console.print(table("tenants by revision", ["revision", "tenants", "state"], rows))
    if result.failing:
        console.print(
            table(
                "tenants whose last migration failed",
                ["schema", "run", "error"],
                [[s.schema, str(s.run_id), s.error or ""] for s in result.failing[:_SHOWN]],
            )
        )
    behind = result.tenants_behind
    shown = result.tenants if all_tenants else behind[:_SHOWN]
    if shown:
        console.print(
            table(
                "tenants" if all_tenants else "tenants behind head",
                ["tenant", "status", "revision", "state"],
                [
                    [
                        v.tenant.subdomain,
                        v.tenant.status,
                        ", ".join(v.revisions) or "base",
                        mark(v.at_head),
                    ]
                    for v in shown
                ],
            )
        )
    if len(behind) > len(shown) and not all_tenants:
        console.print(f"... and {len(behind) - len(shown)} more (--all or --json lists them)")
    count = len(behind) + (0 if result.core_at_head else 1)
    console.print(
        "everything is at head" if count == 0 else f"[red]{count} schema(s) behind head[/]"
    )


@app.command("history")
def history(
    ctx: typer.Context,
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="One tenant's steps instead of runs.")
    ] = None,
    run: Annotated[int | None, typer.Option("--run", help="One run's steps.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many rows, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Past runs (who, when, target, outcome), or the steps of one tenant or one run."""
    with user_errors(), connect(state(ctx).engine()) as connection:
        if not journal.journal_exists(connection):
            raise SchemaNotReady("core has no migration journal yet: run `tenantctl migrate up`")
        if tenant is None and run is None:
            runs = journal.runs(connection, limit=limit)
            steps = []
        else:
            schema = schema_for(normalize_tenant_ref(tenant)) if tenant is not None else None
            if run is not None and not journal.runs(connection, run_id=run, limit=1):
                raise RunNotFound(f"no migration run {run}: `tenantctl migrate history` lists them")
            steps = journal.steps(connection, schema=schema, run_id=run, limit=limit)
            runs = []
    if as_json:
        print_json([vars(record) for record in (runs or steps)])
        return
    if runs:
        console.print(
            table(
                "migration runs",
                ["run", "command", "target", "started", "by", "outcome", "done", "failed", "left"],
                [
                    [
                        str(r.id),
                        r.command,
                        r.target,
                        f"{r.started_at:%Y-%m-%d %H:%M:%S}",
                        f"{r.started_by}@{r.host}",
                        r.outcome,
                        str(r.done),
                        str(r.failed),
                        str(r.pending),
                    ]
                    for r in runs
                ],
            )
        )
    elif steps:
        console.print(
            table(
                "migration steps",
                ["run", "schema", "from", "to", "status", "ms", "error"],
                [
                    [
                        str(s.run_id),
                        s.schema,
                        ", ".join(s.from_revisions) or "base",
                        ", ".join(s.to_revisions) or "base",
                        s.status,
                        "" if s.duration_ms is None else str(s.duration_ms),
                        s.error or "",
                    ]
                    for s in steps
                ],
            )
        )
    else:
        console.print("nothing journaled yet", highlight=False)


@app.command("verify")
def verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List revisions whose file changed after it was applied anywhere; exit 3 if any did."""
    with user_errors(), connect(state(ctx).engine()) as connection:
        if not journal.journal_exists(connection):
            raise SchemaNotReady("core has no migration journal yet: run `tenantctl migrate up`")
        script = state(ctx).scripts()
        changed = changed_revisions(connection, script, BranchIndex.build(script))
    if as_json:
        print_json([vars(change) for change in changed])
    elif changed:
        console.print(
            table(
                "revision files changed after they were applied",
                ["revision", "branch", "file", "applied as", "file now", "first applied"],
                [
                    [
                        c.revision,
                        c.branch,
                        c.path,
                        ", ".join(checksum[:12] for checksum in c.recorded),
                        c.current[:12] if c.current else "(missing)",
                        f"{c.first_applied_at:%Y-%m-%d %H:%M:%S}",
                    ]
                    for c in changed
                ],
            )
        )
    else:
        console.print("every applied revision matches its file", highlight=False)
    if changed:
        raise typer.Exit(EXIT_CHECK_FAILED)
