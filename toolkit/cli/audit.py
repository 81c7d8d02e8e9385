"""``tenantctl tenant purge-deleted|audit``: retention of soft-deleted rows, and the audit log."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer
from rich.markup import escape

from toolkit.actor import bind_actor, reset_actor
from toolkit.audit_log import DEFAULT_LIMIT, AuditEntry, audit_trail
from toolkit.cli.context import state, user_errors
from toolkit.cli.render import console, print_json, table
from toolkit.cli.tenant import JsonFlag, SubdomainArgument, app
from toolkit.purge import PurgeReport, parse_retention, purge_deleted

ActorOption = Annotated[
    str | None,
    typer.Option(
        "--actor", help="Who the audit log names for these deletions (default: the database role)."
    ),
]


@app.command("purge-deleted")
def purge(
    ctx: typer.Context,
    subdomain: SubdomainArgument,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", help="Retention: purge rows soft-deleted longer ago, e.g. 30d, 12h."
        ),
    ],
    actor: ActorOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Delete for good the tenant's rows soft-deleted longer ago than the retention.

    One transaction for the tenant; every deleted row is recorded in its audit log.
    """
    with user_errors():
        retention = parse_retention(older_than)
        token = bind_actor(actor)
        try:
            report = purge_deleted(state(ctx).engine(), subdomain, retention)
        finally:
            reset_actor(token)
    if as_json:
        print_json({**dataclasses.asdict(report), "total": report.total})
    else:
        _print_purge(report)


@app.command("audit")
def audit(
    ctx: typer.Context,
    subdomain: SubdomainArgument,
    table_name: Annotated[str | None, typer.Option("--table", help="Only this table.")] = None,
    row_id: Annotated[
        str | None, typer.Option("--row-id", help="Only this row (needs --table).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many entries.")] = (
        DEFAULT_LIMIT
    ),
    as_json: JsonFlag = False,
) -> None:
    """Show the tenant's most recent audit log entries, newest first."""
    with user_errors():
        entries = audit_trail(
            state(ctx).engine(), subdomain, table=table_name, row_id=row_id, limit=limit
        )
    if as_json:
        print_json([dataclasses.asdict(entry) for entry in entries])
        return
    rows = [
        [
            str(entry.id),
            entry.occurred_at.isoformat(timespec="seconds"),
            escape(entry.actor),
            entry.operation,
            escape(entry.table_name),
            escape(entry.row_id or ""),
            escape(_summary(entry)),
        ]
        for entry in entries
    ]
    console.print(
        table(
            f"{len(entries)} audit entr{'y' if len(entries) == 1 else 'ies'} of {subdomain}",
            ["id", "when", "actor", "operation", "table", "row", "changes"],
            rows,
        )
    )


def _print_purge(report: PurgeReport) -> None:
    rows = [[name, str(count)] for name, count in report.deleted.items()]
    console.print(table("rows purged", ["table", "rows"], rows))
    console.print(
        f"purged {report.total} row(s) of tenant {report.subdomain} soft-deleted before "
        f"{report.cutoff.isoformat(timespec='seconds')}",
        highlight=False,
        soft_wrap=True,
    )


def _summary(entry: AuditEntry) -> str:
    """The changed columns of an UPDATE; nothing for the other operations (see --json)."""
    if entry.operation != "UPDATE":
        return ""
    return json.dumps({column: new for column, (_old, new) in entry.changes.items()}, default=str)
