"""``tenantctl seed``: load the three sample tenants (see ``toolkit.seed``)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import typer

from toolkit.cli.context import state, user_errors
from toolkit.cli.render import console, print_json, table
from toolkit.seed import SeedOutcome, SeedReport, seed_sample_data


def seed(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Create and fill the sample tenants acme, globex and initech; skip those that exist.

    Each new tenant's API key is printed once: only its hash is stored.
    """
    with user_errors():
        report = seed_sample_data(state(ctx).engine())
    if as_json:
        print_json(dataclasses.asdict(report))
    else:
        _print(report)


def _print(report: SeedReport) -> None:
    for tenant in report.tenants:
        title = f"{tenant.subdomain} ({tenant.company_name}, plan {tenant.plan})"
        if tenant.outcome is SeedOutcome.SKIPPED:
            _line(f"{title}: skipped, the tenant exists already")
            continue
        _line(f"{title}: created in schema {tenant.database_schema}")
        rows = [[name, str(count)] for name, count in tenant.rows.items()]
        console.print(table("rows loaded", ["table", "rows"], rows))
        _line(f"  admins: {', '.join(tenant.admin_emails)}")
        _line(f"  API key (shown once, store it now): {tenant.api_key}")
    if report.created:
        _line(f"sample admins log in with password {report.admin_password!r} (demo data only)")


def _line(text: str) -> None:
    """One unwrapped plain line: a wrapped API key would be copied wrong."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)
