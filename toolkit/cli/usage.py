"""``tenantctl usage``: the billing report, anomalies, a tenant's limits, and manual records.

Exit codes: 0 done; 1 error (unknown tenant, database); 2 invalid input (a month, metric,
limit or option that cannot be used); 3 ``usage anomalies`` flagged at least one tenant.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from toolkit.cli.context import state, user_errors
from toolkit.cli.render import console, print_json, table
from toolkit.errors import InvalidOption
from toolkit.exit_codes import EXIT_CHECK_FAILED
from toolkit.usage.anomalies import DEFAULT_FLOORS, AnomalyRule, UsageAnomaly, find_anomalies
from toolkit.usage.limits import LimitsReport, change_limits, limits_report, parse_assignment
from toolkit.usage.metrics import month_label, parse_month, period_of
from toolkit.usage.plans import Limit, parse_limit
from toolkit.usage.recorder import record_now
from toolkit.usage.report import BillingReport, billing_report

app = typer.Typer(help="Usage metering: billing report, anomalies and plan limits.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
MonthOption = Annotated[
    str | None,
    typer.Option("--month", help="Month as YYYY-MM (UTC), e.g. 2026-11; default: this month."),
]
TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Only this tenant (subdomain or schema).")
]
SubdomainArgument = Annotated[str, typer.Argument(help="Tenant subdomain (or schema name).")]


def _month(value: str | None) -> datetime.date:
    return period_of() if value is None else parse_month(value)


def _amount(value: int | None) -> str:
    return "unlimited" if value is None else f"{value:,}"


@app.command("report")
def report(
    ctx: typer.Context,
    month: MonthOption = None,
    tenant: TenantOption = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV, one line per metric.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Each tenant's usage in the month against its plan: used, included, overage, price."""
    with user_errors():
        if as_csv and as_json:
            raise InvalidOption("--csv and --json exclude each other: choose one output format")
        result = billing_report(state(ctx).engine(), _month(month), tenant=tenant)
    if as_json:
        print_json(_report_json(result))
    elif as_csv:
        _print_csv(result)
    else:
        _print_report(result)


@app.command("anomalies")
def anomalies(
    ctx: typer.Context,
    month: MonthOption = None,
    tenant: TenantOption = None,
    factor: Annotated[
        float, typer.Option("--factor", help="Flag above factor x or below 1/factor of history.")
    ] = 3.0,
    window: Annotated[int, typer.Option("--window", help="Months of history to look at.")] = 6,
    min_history: Annotated[
        int, typer.Option("--min-history", help="Fewer months with usage: not examined.")
    ] = 3,
    as_json: JsonFlag = False,
) -> None:
    """Tenants whose usage this month is far from the median of their own recent months.

    Exits 3 when at least one tenant is flagged. The rule is documented in
    toolkit/usage/anomalies.py and the README.
    """
    with user_errors():
        rule = AnomalyRule(factor=factor, window=window, min_history=min_history)
        period = _month(month)
        found = find_anomalies(state(ctx).engine(), period, tenant=tenant, rule=rule)
    if as_json:
        print_json(
            {
                "month": month_label(period),
                "rule": {
                    "factor": rule.factor,
                    "window": rule.window,
                    "min_history": rule.min_history,
                    "floors": {metric.value: floor for metric, floor in DEFAULT_FLOORS.items()},
                },
                "anomalies": [dataclasses.asdict(anomaly) for anomaly in found],
            }
        )
    else:
        _print_anomalies(month_label(period), found)
    if found:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("limits")
def limits(
    ctx: typer.Context,
    subdomain: SubdomainArgument,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a limit: LIMIT=N or LIMIT=unlimited (repeatable)."),
    ] = None,
    unset: Annotated[
        list[str] | None,
        typer.Option("--unset", help="Drop an override: back to the plan's value (repeatable)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show a tenant's limits (plan, overrides, current use), or change its overrides."""
    with user_errors():
        engine = state(ctx).engine()
        if set_ or unset:
            assignments = [parse_assignment(item) for item in set_ or []]
            names = [limit for limit, _ in assignments]
            if len(set(names)) != len(names):
                raise InvalidOption("a limit is given twice with --set: give each limit once")
            overrides: dict[Limit | str, int | None] = dict(assignments)
            result = change_limits(
                engine,
                subdomain,
                set_=overrides,
                unset=[parse_limit(name) for name in unset or []],
            )
        else:
            result = limits_report(engine, subdomain)
    if as_json:
        print_json(dataclasses.asdict(result))
    else:
        _print_limits(result)


@app.command("record")
def record(
    ctx: typer.Context,
    subdomain: SubdomainArgument,
    metric: Annotated[str, typer.Argument(help="api_calls, mockups_generated, ... .")],
    quantity: Annotated[int, typer.Argument(help="Amount to add (a gauge: the level).")],
    month: MonthOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Record usage by hand (a correction, a backfill): written at once."""
    with user_errors():
        period = _month(month)
        record_now(state(ctx).engine(), subdomain, metric, quantity, at=period)
    payload = {"tenant": subdomain, "metric": metric, "quantity": quantity}
    if as_json:
        print_json({**payload, "month": month_label(period)})
    else:
        console.print(
            f"recorded {quantity} {metric} for {subdomain} in {month_label(period)}",
            markup=False,
            highlight=False,
        )


def _report_json(result: BillingReport) -> dict[str, Any]:
    return {
        "month": result.month,
        "overage_charge": result.overage_charge,
        "tenants": [
            {
                "tenant": bill.tenant,
                "plan": bill.plan,
                "status": bill.status,
                "overage_charge": bill.overage_charge,
                "metrics": [dataclasses.asdict(line) for line in bill.lines],
            }
            for bill in result.tenants
        ],
    }


CSV_COLUMNS = [
    "month",
    "tenant",
    "plan",
    "status",
    "metric",
    "used",
    "included",
    "overage",
    "overage_charge",
]


def _print_csv(result: BillingReport) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for bill in result.tenants:
        for line in bill.lines:
            writer.writerow(
                [
                    result.month,
                    bill.tenant,
                    bill.plan,
                    bill.status,
                    line.metric,
                    line.used,
                    "" if line.included is None else line.included,
                    line.overage,
                    line.overage_charge,
                ]
            )


def _print_report(result: BillingReport) -> None:
    rows = [
        [
            escape(bill.tenant),
            escape(bill.plan),
            line.metric,
            f"{line.used:,}",
            _amount(line.included),
            f"{line.overage:,}" if line.overage else "-",
            f"{line.overage_charge}" if line.overage else "-",
        ]
        for bill in result.tenants
        for line in bill.lines
    ]
    columns = ["tenant", "plan", "metric", "used", "included", "overage", "charge (USD)"]
    listing = table(f"usage in {result.month}", columns, rows)
    for column in listing.columns[:3]:
        column.no_wrap = True  # names whole; the numbers wrap instead
    console.print(listing)
    console.print(
        f"{len(result.tenants)} tenant(s); overage total {result.overage_charge} USD",
        markup=False,
        highlight=False,
    )


def _print_anomalies(month: str, found: list[UsageAnomaly]) -> None:
    if not found:
        console.print(f"no usage anomalies in {month}", markup=False, highlight=False)
        return
    rows = [
        [
            escape(anomaly.tenant),
            anomaly.metric,
            anomaly.direction,
            f"{anomaly.current:,}",
            f"{anomaly.expected:,.0f}",
            f"{anomaly.baseline:,.0f} ({len(anomaly.history)} mo)",
        ]
        for anomaly in found
    ]
    columns = ["tenant", "metric", "direction", "this month", "expected", "median"]
    console.print(
        table(
            f"{len(found)} usage anomal{'y' if len(found) == 1 else 'ies'} in {month}",
            columns,
            rows,
        )
    )


def _print_limits(result: LimitsReport) -> None:
    plan = result.plan if result.plan_known else f"{result.plan} (unknown plan: overrides only)"
    rows = [
        [
            status.limit,
            _amount(status.allowed),
            status.source,
            f"{status.used:,}",
            _amount(status.plan_value) if result.plan_known else "-",
        ]
        for status in result.limits
    ]
    columns = ["limit", "allowed", "from", "in use", "plan value"]
    console.print(table(f"limits of {escape(result.tenant)}, plan {escape(plan)}", columns, rows))
    if result.ignored_overrides:
        keys = ", ".join(sorted(result.ignored_overrides))
        console.print(
            f"ignored keys in core.tenants.limits (not a limit, or not a whole number): {keys}",
            markup=False,
            highlight=False,
        )
