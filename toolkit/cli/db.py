"""``tenantctl db``: upgrade core and every tenant, as ``alembic upgrade heads`` does."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy import Engine

from toolkit.cli.context import state, user_errors
from toolkit.cli.render import console, print_error
from toolkit.db import connect
from toolkit.migrations.options import OnError, SchemaOutcome
from toolkit.migrations.runner import upgrade_all
from toolkit.registry import tenants_to_migrate

app = typer.Typer(help="Upgrade the database: core first, then every tenant schema.")


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    tenant: Annotated[
        list[str] | None,
        typer.Option("--tenant", "-t", help="Only this tenant (repeatable). Default: all."),
    ] = None,
    on_error: Annotated[
        OnError, typer.Option(help="After a tenant fails: stop, or continue with the rest.")
    ] = OnError.STOP,
) -> None:
    """Upgrade core and each tenant to head; each tenant commits or rolls back alone."""
    with user_errors():
        engine = state(ctx).engine()
        total = 1 + _count_tenants(engine, tenant)
        with Progress(
            TextColumn("[bold]upgrading"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("", total=total)

            def advance(outcome: SchemaOutcome) -> None:
                progress.update(task, advance=1, description=outcome.schema)
                if not outcome.ok:
                    print_error(f"{outcome.schema}: {outcome.error}")

            report = upgrade_all(
                engine, tenants=tenant or None, on_error=on_error, on_schema_done=advance
            )
        console.print(
            f"core and {len(report.outcomes) - 1} tenant schema(s) are at head", highlight=False
        )


def _count_tenants(engine: Engine, refs: list[str] | None) -> int:
    """How many tenants the run will visit, for the progress bar (0 on a fresh database)."""
    with connect(engine) as connection:
        return len(tenants_to_migrate(connection, refs or None))
