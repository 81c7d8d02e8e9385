"""``tenantctl health``: reachability, latency, versions and pool (see ``toolkit.health``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from toolkit.cli.context import state, user_errors
from toolkit.cli.render import console, print_error, print_json
from toolkit.health import HealthReport, HealthState, check_health


def health(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check the database for a monitor: latency, core and tenants against head, pool.

    Exits 0 healthy, 3 degraded (core or active tenants behind head), 1 unreachable or error.
    """
    with user_errors():
        report = check_health(state(ctx).engine())
    if as_json:
        print_json(health_json(report))
    elif report.error is not None:
        print_error(report.error)
    else:
        _print(report)
    if report.state is not HealthState.HEALTHY:
        raise typer.Exit(report.state.exit_code)


def health_json(report: HealthReport) -> dict[str, Any]:
    """The report as the JSON ``tenantctl health --json`` prints."""
    latency = report.latency
    tenants = report.tenants
    pool = report.pool
    return {
        "state": report.state.value,
        "database": report.database,
        "error": report.error,
        "latency_ms": None
        if latency is None
        else {
            "connect": latency.connect_ms,
            "median": latency.median_ms,
            "max": latency.max_ms,
            "round_trips": list(latency.round_trips_ms),
        },
        "core": {
            "revisions": list(report.core_revisions),
            "head": list(report.heads.core),
            "at_head": report.core_at_head,
        },
        "tenant_head": sorted(report.heads.tenant),
        "tenants": None if tenants is None else vars(tenants),
        "pool": None if pool is None else vars(pool),
        "problems": list(report.problems),
    }


def _print(report: HealthReport) -> None:
    colour = "green" if report.state is HealthState.HEALTHY else "yellow"
    lines = [f"[{colour}]{report.state.value}[/]  {report.database}"]
    if report.latency is not None:
        latency = report.latency
        lines.append(
            f"latency  {latency.median_ms:.2f} ms median, {latency.max_ms:.2f} ms max over "
            f"{len(latency.round_trips_ms)} round trips; connect {latency.connect_ms:.1f} ms"
        )
    at_head = "at head" if report.core_at_head else f"behind head {', '.join(report.heads.core)}"
    lines.append(f"core     {', '.join(report.core_revisions) or 'base'} ({at_head})")
    if report.tenants is not None:
        t = report.tenants
        statuses = ", ".join(f"{status} {n}" for status, n in t.by_status.items()) or "none"
        lines.append(
            f"tenants  {t.total}: {t.at_head} at head, {t.behind} behind, {t.skipped_behind} "
            f"archived behind (expected), {t.unrecorded} unrecorded; by status: {statuses}"
        )
    if report.pool is not None:
        p = report.pool
        lines.append(
            f"pool     size {p.size}, checked out {p.checked_out}, idle {p.checked_in}, "
            f"overflow {p.overflow}"
        )
    lines += [f"[yellow]problem[/]  {problem}" for problem in report.problems]
    console.print("\n".join(lines), highlight=False)
