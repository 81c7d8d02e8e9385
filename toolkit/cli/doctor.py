"""``tenantctl doctor``: list what is wrong or worth knowing (see ``toolkit.doctor``)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from toolkit.cli.context import state, user_errors
from toolkit.cli.render import console, print_json, table
from toolkit.db import connect
from toolkit.doctor import Finding, Severity, diagnose, problems
from toolkit.exit_codes import EXIT_CHECK_FAILED
from toolkit.provisioning import project_heads


def doctor(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Report problems (orphans, stuck or interrupted tenants, version skew, unindexed
    foreign keys, a writable public schema, the lock budget), each with its fix, and
    figures (relations, catalog size).

    Exits 3 if any finding is a problem; information alone exits 0. Changes nothing.
    """
    with user_errors(), connect(state(ctx).engine()) as connection:
        findings = diagnose(connection, project_heads())
    found = problems(findings)
    if as_json:
        print_json([dataclasses.asdict(finding) for finding in findings])
    else:
        _print(findings, found)
    if found:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _print(findings: list[Finding], found: list[Finding]) -> None:
    info = [finding for finding in findings if finding.severity is Severity.INFO]
    for finding in info:  # prose, not a table: these lines are long and read one by one
        console.print(
            f"info [{finding.check}] {finding.subject}: {finding.problem} ({finding.fix})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if found:
        rows = [[f.check, f.subject, f.problem, f.fix] for f in found]
        title = f"{len(found)} problem(s)"
        console.print(table(title, ["check", "subject", "problem", "fix"], rows))
    else:
        console.print("no problems found", highlight=False)
