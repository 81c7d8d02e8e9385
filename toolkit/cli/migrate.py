"""``tenantctl migrate``: where core and each tenant stand against head."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.context import EXIT_BEHIND, state, user_errors
from toolkit.cli.render import console, print_json, table
from toolkit.db import connect
from toolkit.migrations.status import MigrationStatus, migration_status

app = typer.Typer(help="Inspect migrations across core and every tenant.")


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Show core's and each tenant's revision against head; exit 3 if anything is behind."""
    with user_errors(), connect(state(ctx).engine()) as connection:
        result = migration_status(connection)
    if as_json:
        print_json(_as_json(result))
    else:
        _print_tables(result)
    if not result.up_to_date:
        raise typer.Exit(EXIT_BEHIND)


def _as_json(result: MigrationStatus) -> dict[str, object]:
    return {
        "up_to_date": result.up_to_date,
        "core": {
            "revisions": list(result.core_revisions),
            "head": list(result.heads.core),
            "at_head": result.core_at_head,
        },
        "tenant_head": list(result.heads.tenant),
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
    }


def _print_tables(result: MigrationStatus) -> None:
    def mark(ok: bool) -> str:
        return "[green]at head[/]" if ok else "[red]behind[/]"

    core_row = [
        "core",
        ", ".join(result.core_revisions) or "base",
        ", ".join(result.heads.core),
        mark(result.core_at_head),
    ]
    rows = [core_row] + [
        [
            f"{v.tenant.subdomain} ({v.tenant.status})",
            ", ".join(v.revisions) or "base",
            ", ".join(result.heads.tenant),
            mark(v.at_head),
        ]
        for v in result.tenants
    ]
    console.print(table("migration status", ["schema", "current", "head", "state"], rows))
    behind = len(result.tenants_behind) + (0 if result.core_at_head else 1)
    console.print(
        "everything is at head" if behind == 0 else f"[red]{behind} schema(s) behind head[/]"
    )
