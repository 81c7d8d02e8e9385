"""The usage metrics tenantctl knows, and the monthly periods usage is counted in.

A metric is a *counter* or a *gauge*:

- a counter (API calls, mockups generated, orders synced) adds up: each ``record`` adds its
  quantity to the period's total;
- a gauge (storage bytes, active users) is a level: each ``record`` reports the current
  level and the period keeps the last level reported (concurrent reports: the last write wins).

A period is a calendar month in UTC; ``core.tenant_usage.period_start`` is its first day.
"""

from __future__ import annotations

import datetime
import enum
import re

from toolkit.errors import InvalidUsage


class UsageMetric(enum.StrEnum):
    """The names a usage row may carry in ``core.tenant_usage.metric``."""

    API_CALLS = "api_calls"
    MOCKUPS_GENERATED = "mockups_generated"
    ORDERS_SYNCED = "orders_synced"
    STORAGE_BYTES = "storage_bytes"
    ACTIVE_USERS = "active_users"


GAUGES: frozenset[UsageMetric] = frozenset({UsageMetric.STORAGE_BYTES, UsageMetric.ACTIVE_USERS})
# Largest quantity one record may carry: far above any real event, far below bigint's range,
# so a sum of many records cannot overflow the column.
MAX_QUANTITY = 10**15
_MONTH = re.compile(r"(\d{4})-(\d{2})")


def is_gauge(metric: UsageMetric) -> bool:
    """True for a level (kept as the last value reported), False for a counter (summed)."""
    return metric in GAUGES


def parse_metric(metric: str | UsageMetric) -> UsageMetric:
    """``metric`` as a UsageMetric; InvalidUsage naming the known metrics otherwise."""
    if isinstance(metric, UsageMetric):
        return metric
    try:
        return UsageMetric(metric)
    except ValueError:
        known = ", ".join(member.value for member in UsageMetric)
        raise InvalidUsage(
            f"unknown usage metric {metric!r}: use one of {known} (toolkit.usage.UsageMetric)"
        ) from None


def check_quantity(metric: UsageMetric, quantity: int) -> int:
    """``quantity`` if it is a whole number from 0 to MAX_QUANTITY; InvalidUsage otherwise."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidUsage(
            f"usage quantity {quantity!r} for {metric.value} is not a whole number; pass an int"
        )
    if not 0 <= quantity <= MAX_QUANTITY:
        what = "a level" if is_gauge(metric) else "an amount to add"
        raise InvalidUsage(
            f"usage quantity {quantity} for {metric.value} is out of range: it is {what} and "
            f"must be from 0 to {MAX_QUANTITY}"
        )
    return quantity


def period_of(moment: datetime.datetime | datetime.date | None = None) -> datetime.date:
    """The first day of the UTC month that ``moment`` falls in (default: now).

    A datetime must carry a timezone (a naive one would be read in whatever zone the process
    runs in); a date is taken as it is.
    """
    if moment is None:
        moment = datetime.datetime.now(datetime.UTC)
    if isinstance(moment, datetime.datetime):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise InvalidUsage(
                f"naive datetime {moment.isoformat()} for a usage period: pass an aware one, "
                "e.g. datetime.now(datetime.UTC)"
            )
        moment = moment.astimezone(datetime.UTC).date()
    return moment.replace(day=1)


def parse_month(text: str, *, option: str = "--month") -> datetime.date:
    """``YYYY-MM`` as the first day of that month; InvalidUsage naming ``option`` otherwise."""
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1:
        raise InvalidUsage(f"invalid month {text!r} for {option}: write YYYY-MM, e.g. 2026-11")
    return datetime.date(int(match.group(1)), int(match.group(2)), 1)


def add_months(period: datetime.date, months: int) -> datetime.date:
    """The first day of the month ``months`` after (or before, if negative) ``period``'s."""
    index = period.year * 12 + (period.month - 1) + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def month_label(period: datetime.date) -> str:
    """``YYYY-MM`` of ``period``."""
    return f"{period.year:04d}-{period.month:02d}"
