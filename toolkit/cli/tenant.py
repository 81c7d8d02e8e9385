"""``tenantctl tenant``: create, list and drop tenants."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from toolkit.cli.context import state, user_errors
from toolkit.cli.render import console, print_error, print_json, table
from toolkit.db import connect
from toolkit.exit_codes import EXIT_USAGE
from toolkit.provisioning import create_tenant, drop_tenant
from toolkit.registry import list_tenants

app = typer.Typer(help="Create, list and drop tenants.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command("create")
def create(
    ctx: typer.Context,
    subdomain: Annotated[str, typer.Argument(help="Tenant subdomain, e.g. acme.")],
    company: Annotated[str | None, typer.Option(help="Company name (default: subdomain).")] = None,
    plan: Annotated[str, typer.Option(help="Billing plan.")] = "free",
    as_json: JsonFlag = False,
) -> None:
    """Register a tenant, create its schema and migrate it to head: all or nothing."""
    with user_errors():
        record = create_tenant(state(ctx).engine(), subdomain, company_name=company, plan=plan)
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


@app.command("drop")
def drop(
    ctx: typer.Context,
    subdomain: Annotated[str, typer.Argument(help="Tenant subdomain or schema name.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: this deletes the tenant's data.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Drop a tenant's schema and its core rows. Requires --yes."""
    if not yes:
        print_error(f"dropping {subdomain!r} deletes its schema and data; add --yes to confirm")
        raise typer.Exit(EXIT_USAGE)
    with user_errors():
        record = drop_tenant(state(ctx).engine(), subdomain)
    if as_json:
        print_json(dataclasses.asdict(record))
    else:
        console.print(
            f"dropped tenant {record.subdomain} and schema {record.database_schema}",
            highlight=False,
        )
