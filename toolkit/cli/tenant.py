"""``tenantctl tenant``: create and list tenants, and the lifecycle steps after creation."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from toolkit.cli.context import state, user_errors
from toolkit.cli.render import console, print_error, print_json, table
from toolkit.db import connect
from toolkit.exit_codes import EXIT_USAGE
from toolkit.lifecycle import (
    LifecycleResult,
    archive_tenant,
    drop_tenant,
    rename_tenant,
    resume_tenant,
    suspend_tenant,
)
from toolkit.provisioning import create_tenant
from toolkit.registry import list_tenants

app = typer.Typer(help="Create, list, back up and retire tenants.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
SubdomainArgument = Annotated[str, typer.Argument(help="Tenant subdomain (or schema name).")]
BackupOutput = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Backup file (default: $TENANTCTL_BACKUP_DIR or ./backups, SUB-TIMESTAMP.tenant.tar).",
    ),
]


@app.command("create")
def create(
    ctx: typer.Context,
    subdomain: Annotated[str, typer.Argument(help="Tenant subdomain, e.g. acme.")],
    company: Annotated[str | None, typer.Option(help="Company name (default: subdomain).")] = None,
    plan: Annotated[str, typer.Option(help="Billing plan.")] = "free",
    resume: Annotated[
        bool,
        typer.Option(
            "--resume", help="Finish a tenant left in 'provisioning' (e.g. registered by hand)."
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Register a tenant and create its schema at head from the tenant template: all or
    nothing."""
    with user_errors():
        record = create_tenant(
            state(ctx).engine(), subdomain, company_name=company, plan=plan, resume=resume
        )
    if as_json:
        print_json(dataclasses.asdict(record))
    else:
        console.print(
            f"created tenant {record.subdomain} in schema {record.database_schema} (at head)",
            highlight=False,
        )


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List every tenant with its schema, status and plan."""
    with user_errors(), connect(state(ctx).engine()) as connection:
        records = list_tenants(connection)
    if as_json:
        print_json([dataclasses.asdict(record) for record in records])
        return
    rows = [[r.subdomain, r.database_schema, r.status, r.plan, r.company_name] for r in records]
    console.print(
        table(
            f"{len(records)} tenant(s)", ["subdomain", "schema", "status", "plan", "company"], rows
        )
    )


@app.command("suspend")
def suspend(ctx: typer.Context, subdomain: SubdomainArgument, as_json: JsonFlag = False) -> None:
    """Suspend an active tenant: its data stays and migrations still run; it may not log in."""
    with user_errors():
        result = suspend_tenant(state(ctx).engine(), subdomain)
    _report(result, "suspended", as_json)


@app.command("resume")
def resume(ctx: typer.Context, subdomain: SubdomainArgument, as_json: JsonFlag = False) -> None:
    """Make a suspended or archived tenant active again (an archived one is upgraded first)."""
    with user_errors():
        result = resume_tenant(state(ctx).engine(), subdomain)
    _report(result, "resumed", as_json)


@app.command("archive")
def archive(
    ctx: typer.Context,
    subdomain: SubdomainArgument,
    output: BackupOutput = None,
    as_json: JsonFlag = False,
) -> None:
    """Back a tenant up, then archive it: the schema stays until dropped, migrations skip it."""
    with user_errors():
        result = archive_tenant(state(ctx).engine(), subdomain, backup_to=output)
    _report(result, "archived", as_json)


@app.command("drop")
def drop(
    ctx: typer.Context,
    subdomain: SubdomainArgument,
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: this deletes the tenant's data.")
    ] = False,
    no_backup: Annotated[
        bool, typer.Option("--no-backup", help="Drop without taking a backup first.")
    ] = False,
    output: BackupOutput = None,
    as_json: JsonFlag = False,
) -> None:
    """Back a tenant up, then drop its schema (in batches) and its core rows. Needs --yes."""
    if not yes:
        print_error(f"dropping {subdomain!r} deletes its schema and data; add --yes to confirm")
        raise typer.Exit(EXIT_USAGE)
    with user_errors():
        result = drop_tenant(state(ctx).engine(), subdomain, backup=not no_backup, backup_to=output)
    _report(result, "dropped", as_json)


@app.command("rename")
def rename(
    ctx: typer.Context,
    subdomain: SubdomainArgument,
    new_subdomain: Annotated[str, typer.Argument(help="The new subdomain.")],
    as_json: JsonFlag = False,
) -> None:
    """Change a tenant's subdomain; its schema is renamed in the same transaction."""
    with user_errors():
        result = rename_tenant(state(ctx).engine(), subdomain, new_subdomain)
    _report(result, f"renamed from {subdomain} to", as_json)


def _report(result: LifecycleResult, done: str, as_json: bool) -> None:
    tenant = result.tenant
    if as_json:
        backup = str(result.backup) if result.backup else None
        print_json({"tenant": dataclasses.asdict(tenant), "backup": backup})
        return
    line = f"{done} tenant {tenant.subdomain} (schema {tenant.database_schema})"
    if result.backup is not None:
        line += f"; backup: {result.backup}"
    console.print(line, highlight=False, soft_wrap=True)
