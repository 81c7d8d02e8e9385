"""``tenantctl security``: tenant roles on or off, and what the database enforces."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from toolkit.cli.context import state, user_errors
from toolkit.cli.render import console, print_error, print_json, table
from toolkit.db import connect
from toolkit.exit_codes import EXIT_CHECK_FAILED, EXIT_USAGE
from toolkit.isolation import (
    IsolationStatus,
    disable_tenant_roles,
    enable_tenant_roles,
    isolation_status,
)

app = typer.Typer(help="Database-enforced isolation: tenant roles and row-level security.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@app.command("enable")
def enable(
    ctx: typer.Context,
    role_prefix: Annotated[
        str | None,
        typer.Option(help="Start of every tenant role name (default: from the database name)."),
    ] = None,
    app_role: Annotated[
        str | None,
        typer.Option(help="The app's NOINHERIT login role, made a member of every tenant role."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Give every tenant its own role (now and at every create), turn row-level security on
    for the tenant-scoped core tables, and close schema public.

    Idempotent: a re-run repairs tenants restored, cloned or created from SQL.
    Exits 3 if problems remain.
    """
    with user_errors():
        status = enable_tenant_roles(
            state(ctx).engine(), role_prefix=role_prefix, app_role=app_role
        )
    _render(status, as_json)


@app.command("disable")
def disable(
    ctx: typer.Context,
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: this drops every tenant role.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Drop every tenant role, stop creating them, and turn row-level security off."""
    if not yes:
        print_error("disabling drops every tenant role of this database; add --yes to confirm")
        raise typer.Exit(EXIT_USAGE)
    with user_errors():
        dropped = disable_tenant_roles(state(ctx).engine())
    if as_json:
        print_json({"dropped_roles": list(dropped)})
    else:
        console.print(f"tenant roles disabled; dropped {len(dropped)} role(s)", highlight=False)


@app.command("status")
def status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Show tenant roles, row-level security and schema public; exit 3 on any problem."""
    with user_errors(), connect(state(ctx).engine()) as connection:
        result = isolation_status(connection)
    _render(result, as_json)


def _render(status: IsolationStatus, as_json: bool) -> None:
    if as_json:
        print_json(dataclasses.asdict(status))
    else:
        enabled = f"enabled (prefix {status.role_prefix})" if status.enabled else "disabled"
        console.print(f"tenant roles: {enabled}", highlight=False)
        console.print(f"app role: {status.app_role or '-'}", highlight=False)
        console.print(
            f"running as {status.current_role} "
            f"({'bypasses' if status.current_role_bypasses_rls else 'subject to'} RLS); "
            f"CREATE on schema public for PUBLIC: "
            f"{'revoked' if status.public_create_revoked else 'granted'}",
            highlight=False,
        )
        rows = [[t.table, str(t.enabled), str(t.forced), str(t.policies)] for t in status.tables]
        console.print(
            table("row-level security", ["core table", "enabled", "forced", "policies"], rows)
        )
        roles = [[sub, role] for sub, role in status.tenant_roles.items()]
        roles += [[sub, "-"] for sub in status.tenants_without_role]
        console.print(table(f"{len(roles)} tenant(s)", ["tenant", "role"], roles))
        for problem in status.problems:
            print_error(problem)
    if status.problems:
        raise typer.Exit(EXIT_CHECK_FAILED)
