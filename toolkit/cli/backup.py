"""``tenantctl tenant backup|restore|clone``: one tenant to a file and back, or copied."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer

from toolkit.backup import backup_tenant, clone_tenant, default_backup_path, restore_tenant
from toolkit.cli.context import state, user_errors
from toolkit.cli.render import console, print_json
from toolkit.cli.tenant import JsonFlag, app


@app.command("backup")
def backup(
    ctx: typer.Context,
    subdomain: Annotated[str, typer.Argument(help="Tenant subdomain, e.g. acme.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (default: $TENANTCTL_BACKUP_DIR or ./backups, "
            "SUB-TIMESTAMP.tenant.tar). Never overwritten.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Back up one tenant (schema dump, core rows, manifest) into one file."""
    with user_errors():
        path = output or default_backup_path(subdomain)
        manifest = backup_tenant(state(ctx).engine(), subdomain, path)
    if as_json:
        print_json({"path": str(path), "manifest": manifest.as_json()})
        return
    rows = sum(digest.rows for digest in manifest.tables.values())
    console.print(
        f"backed up tenant {manifest.subdomain} ({rows} rows in {len(manifest.tables)} tables, "
        f"revision {', '.join(manifest.tenant_revisions)}) to {path}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("restore")
def restore(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A backup written by `tenantctl tenant backup`.")],
    as_subdomain: Annotated[
        str | None,
        typer.Option("--as", help="Restore as this new subdomain (API keys are not copied)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Restore a tenant from a backup file, checked in full before anything changes."""
    with user_errors():
        record = restore_tenant(state(ctx).engine(), file, as_subdomain=as_subdomain)
    if as_json:
        print_json(dataclasses.asdict(record))
    else:
        console.print(
            f"restored tenant {record.subdomain} in schema {record.database_schema} "
            f"(at head) from {file}",
            highlight=False,
            soft_wrap=True,
        )


@app.command("clone")
def clone(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Tenant to copy.")],
    new_subdomain: Annotated[str, typer.Argument(help="Subdomain of the copy.")],
    with_data: Annotated[
        bool, typer.Option("--with-data", help="Copy the rows too (default: schema only).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Create a tenant from another's schema; no admin users, API keys or usage are copied."""
    with user_errors():
        record = clone_tenant(state(ctx).engine(), source, new_subdomain, with_data=with_data)
    if as_json:
        print_json(dataclasses.asdict(record))
    else:
        what = "schema and data" if with_data else "schema"
        console.print(
            f"cloned tenant {source} ({what}) as {record.subdomain} "
            f"in schema {record.database_schema}",
            highlight=False,
        )
