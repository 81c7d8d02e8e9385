"""The billing report, anomalies and ``tenantctl usage``: JSON, CSV, exit codes, one-line errors."""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json

import pytest
from cli_runner import one_line_error, tenantctl
from sqlalchemy import text

from toolkit.errors import InvalidUsage, TenantNotFound
from toolkit.usage.anomalies import AnomalyRule, elapsed_fraction, find_anomalies, judge
from toolkit.usage.limits import change_limits
from toolkit.usage.metrics import UsageMetric
from toolkit.usage.plans import GIB
from toolkit.usage.recorder import record_now
from toolkit.usage.report import billing_report

OCT = datetime.date(2026, 10, 1)
AFTER = datetime.datetime(2026, 11, 30, 12, tzinfo=datetime.UTC)


def _month(month: int, year: int = 2026) -> datetime.date:
    return datetime.date(year, month, 1)


@pytest.fixture
def billed(engine, make_tenants):
    """acme (free) past several limits in October; globex (pro) with unlimited API calls."""
    make_tenants("acme", "globex")
    with engine.begin() as connection:
        connection.execute(text("UPDATE core.tenants SET plan = 'pro' WHERE subdomain = 'globex'"))
    change_limits(engine, "globex", set_={"api_calls_per_month": None})
    record_now(engine, "acme", "api_calls", 12_500, at=OCT)
    record_now(engine, "acme", "api_calls", 99_999, at=_month(11))  # another month
    record_now(engine, "acme", "storage_bytes", 2 * GIB + 1, at=_month(9))  # carried over
    record_now(engine, "acme", "active_users", 30, at=OCT)
    record_now(engine, "globex", "api_calls", 2_000_000, at=OCT)
    record_now(engine, "globex", "mockups_generated", 10, at=OCT)
    return engine


def _lines(bill):
    return {line.metric: line for line in bill.lines}


def test_the_report_compares_each_metric_with_the_plan_and_prices_the_overage(billed):
    report = billing_report(billed, OCT)
    assert report.month == "2026-10"
    acme, globex = report.tenants
    assert (acme.tenant, acme.plan, globex.tenant, globex.plan) == ("acme", "free", "globex", "pro")
    api = _lines(acme)["api_calls"]
    assert (api.used, api.included, api.overage) == (12_500, 10_000, 2_500)
    assert api.overage_charge == decimal.Decimal("0.30")  # 3 started blocks of 1,000
    storage = _lines(acme)["storage_bytes"]
    assert (storage.used, storage.included, storage.overage) == (2 * GIB + 1, GIB, GIB + 1)
    assert storage.overage_charge == decimal.Decimal("0.20")
    users = _lines(acme)["active_users"]
    assert (users.used, users.included, users.overage_charge) == (30, 25, decimal.Decimal("25.00"))
    assert _lines(acme)["mockups_generated"].used == 0
    assert acme.overage_charge == decimal.Decimal("25.50")
    unlimited = _lines(globex)["api_calls"]
    assert (unlimited.used, unlimited.included, unlimited.overage) == (2_000_000, None, 0)
    assert globex.overage_charge == decimal.Decimal("0.00")
    assert report.overage_charge == decimal.Decimal("25.50")
    only = billing_report(billed, OCT, tenant="tenant_globex")
    assert [bill.tenant for bill in only.tenants] == ["globex"]
    with pytest.raises(TenantNotFound, match="'ghost'"):
        billing_report(billed, OCT, tenant="ghost")


@pytest.fixture
def histories(engine, make_tenants):
    """Usage histories for the anomaly rule; October 2026 is the month examined."""
    make_tenants("acme", "globex", "initech")
    series = {
        ("acme", "api_calls"): {4: 1000, 5: 1100, 7: 900, 9: 1050, 10: 9000},  # spike
        ("acme", "orders_synced"): {6: 2, 7: 2, 8: 2, 10: 15},  # 7.5x, but under the floor
        ("acme", "storage_bytes"): {7: 5 * GIB, 8: 5 * GIB, 9: 5 * GIB},  # no level in Oct
        ("globex", "mockups_generated"): {7: 300, 8: 320, 9: 310, 10: 10},  # drop
        ("globex", "api_calls"): {7: 5000, 8: 5000, 9: 5000},  # no row in Oct: used 0, drop
        ("initech", "api_calls"): {8: 100, 9: 100, 10: 100_000},  # too little history
        ("initech", "orders_synced"): {1: 5000, 2: 5000, 3: 5000, 10: 0},  # outside the window
    }
    for (sub, metric), months in series.items():
        for month, quantity in months.items():
            record_now(engine, sub, metric, quantity, at=_month(month))
    return engine


def test_anomalies_flag_spikes_and_drops_against_the_tenants_own_median(histories):
    found = find_anomalies(histories, OCT, now=AFTER)
    assert [(a.tenant, a.metric, a.direction) for a in found] == [
        ("acme", "api_calls", "spike"),
        ("globex", "api_calls", "drop"),
        ("globex", "mockups_generated", "drop"),
    ]
    spike = found[0]
    assert (spike.current, spike.baseline, spike.expected) == (9000, 1025.0, 1025.0)
    assert spike.history == {"2026-04": 1000, "2026-05": 1100, "2026-07": 900, "2026-09": 1050}
    assert find_anomalies(histories, OCT, tenant="initech", now=AFTER) == []
    assert find_anomalies(histories, OCT, rule=AnomalyRule(factor=10), now=AFTER) == [
        found[1],
        found[2],
    ]


def test_the_month_in_progress_is_compared_with_the_elapsed_part_of_the_baseline():
    assert elapsed_fraction(_month(11), datetime.datetime(2026, 11, 16, tzinfo=datetime.UTC)) == 0.5
    assert elapsed_fraction(_month(10), AFTER) == 1.0
    rule = AnomalyRule()
    history = [10_000, 10_000, 10_000]
    assert judge(UsageMetric.API_CALLS, 2_000, history, rule, fraction=1.0)[0] == "drop"
    assert judge(UsageMetric.API_CALLS, 2_000, history, rule, fraction=0.2) is None
    levels = [10 * GIB] * 3
    assert judge(UsageMetric.STORAGE_BYTES, 2 * GIB, levels, rule, fraction=0.2)[0] == "drop"
    assert judge(UsageMetric.API_CALLS, 5_000, [0, 0, 0], rule)[0] == "spike"
    assert judge(UsageMetric.API_CALLS, 500, [0, 0, 0], rule) is None  # under the floor
    assert judge(UsageMetric.API_CALLS, 9_000, [1_000, 1_000], rule) is None  # short history
    for bad in ({"factor": 1}, {"min_history": 0}, {"window": 2, "min_history": 3}):
        with pytest.raises(InvalidUsage):
            AnomalyRule(**bad)


def _one_line_error(result, code, *fragments):
    assert result.returncode == code, (result.stdout, result.stderr)
    one_line_error(result, *fragments)


def test_cli_report_as_json_csv_and_text(db_url, billed):
    result = tenantctl(db_url, "usage", "report", "--month", "2026-10", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["month"] == "2026-10"
    assert payload["overage_charge"] == "25.50"
    acme = payload["tenants"][0]
    api = next(line for line in acme["metrics"] if line["metric"] == "api_calls")
    assert api == {
        "metric": "api_calls",
        "used": 12500,
        "included": 10000,
        "overage": 2500,
        "overage_charge": "0.30",
    }

    result = tenantctl(
        db_url, "usage", "report", "--month", "2026-10", "--tenant", "globex", "--csv"
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {row["tenant"] for row in rows} == {"globex"}
    assert len(rows) == len(UsageMetric)
    api_row = next(row for row in rows if row["metric"] == "api_calls")
    assert (api_row["used"], api_row["included"], api_row["overage"]) == ("2000000", "", "0")

    result = tenantctl(db_url, "usage", "report", "--month", "2026-10")
    assert result.returncode == 0, result.stderr
    assert "usage in 2026-10" in result.stdout
    assert "overage total 25.50 USD" in result.stdout


def test_cli_report_errors_are_one_line_with_their_exit_code(db_url, billed):
    _one_line_error(
        tenantctl(db_url, "usage", "report", "--month", "2026-13"), 2, "'2026-13'", "YYYY-MM"
    )
    _one_line_error(tenantctl(db_url, "usage", "report", "--csv", "--json"), 2, "--csv and --json")
    _one_line_error(tenantctl(db_url, "usage", "report", "--tenant", "ghost"), 1, "'ghost'")


def test_cli_anomalies_exit_3_when_a_tenant_is_flagged(db_url, histories):
    result = tenantctl(db_url, "usage", "anomalies", "--month", "2026-10", "--json")
    assert result.returncode == 3, result.stderr
    payload = json.loads(result.stdout)
    assert (payload["rule"]["factor"], payload["rule"]["min_history"]) == (3.0, 3)
    assert [(a["tenant"], a["metric"], a["direction"]) for a in payload["anomalies"]] == [
        ("acme", "api_calls", "spike"),
        ("globex", "api_calls", "drop"),
        ("globex", "mockups_generated", "drop"),
    ]
    quiet = tenantctl(db_url, "usage", "anomalies", "--month", "2026-10", "--tenant", "initech")
    assert quiet.returncode == 0, quiet.stderr
    assert "no usage anomalies in 2026-10" in quiet.stdout
    _one_line_error(
        tenantctl(db_url, "usage", "anomalies", "--factor", "1"), 2, "factor", "greater than 1"
    )


def test_cli_limits_set_unset_and_record(db_url, engine, make_tenants):
    make_tenants("acme")
    result = tenantctl(
        db_url, "usage", "limits", "acme", "--set", "max_users=50",
        "--set", "max_designs=unlimited", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    limits = {row["limit"]: row for row in json.loads(result.stdout)["limits"]}
    assert (limits["max_users"]["allowed"], limits["max_users"]["source"]) == (50, "override")
    assert (limits["max_designs"]["allowed"], limits["max_designs"]["source"]) == (None, "override")

    shown = tenantctl(db_url, "usage", "limits", "acme")
    assert shown.returncode == 0, shown.stderr
    assert "limits of acme, plan free" in shown.stdout
    assert "override" in shown.stdout

    result = tenantctl(db_url, "usage", "limits", "acme", "--unset", "max_users", "--json")
    assert result.returncode == 0, result.stderr
    limits = {row["limit"]: row for row in json.loads(result.stdout)["limits"]}
    assert (limits["max_users"]["allowed"], limits["max_users"]["source"]) == (25, "plan")

    _one_line_error(
        tenantctl(db_url, "usage", "limits", "acme", "--set", "max_userz=1"),
        2,
        "unknown limit 'max_userz'",
    )
    _one_line_error(
        tenantctl(db_url, "usage", "limits", "acme", "--set", "max_users=-3"), 2, "'-3'"
    )

    result = tenantctl(
        db_url, "usage", "record", "acme", "mockups_generated", "7", "--month", "2026-10", "--json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["month"] == "2026-10"
    line = next(
        line
        for line in billing_report(engine, OCT).tenants[0].lines
        if line.metric == "mockups_generated"
    )
    assert line.used == 7
    _one_line_error(
        tenantctl(db_url, "usage", "record", "acme", "mockup", "1"), 2, "unknown usage metric"
    )
