"""``tenantctl doctor``: list what is half-done or out of place (see ``toolkit.doctor``)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from toolkit.cli.context import state, user_errors
from toolkit.cli.render import console, print_json, table
from toolkit.db import connect
from toolkit.doctor import diagnose
from toolkit.exit_codes import EXIT_CHECK_FAILED
from toolkit.provisioning import project_heads


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Report stuck, orphaned or interrupted tenants and schemas, each with its fix.

    Exits 3 if anything was found; changes nothing.
    """
    with user_errors(), connect(state(ctx).engine()) as connection:
        findings = diagnose(connection, project_heads().tenant)
    if as_json:
        print_json([dataclasses.asdict(finding) for finding in findings])
    elif not findings:
        console.print("no problems found", highlight=False)
    else:
        rows = [[f.subject, f.problem, f.fix] for f in findings]
        console.print(table(f"{len(findings)} problem(s)", ["subject", "problem", "fix"], rows))
    if findings:
        raise typer.Exit(EXIT_CHECK_FAILED)
