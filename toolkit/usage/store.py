"""Writing usage into ``core.tenant_usage``: one statement for any number of rows.

Every write is one ``INSERT ... ON CONFLICT (tenant_id, metric, period_start) DO UPDATE``:
a counter adds to the row's quantity (``quantity = core.tenant_usage.quantity +
excluded.quantity``), a gauge replaces it. The increment happens inside the row's lock,
so concurrent writers from any number of processes never lose one. Rows are written in
the order of their key, so two writers whose batches overlap take the row locks in the same
order and cannot deadlock. Tenants are named by subdomain and resolved in the statement.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, text

from toolkit.usage.metrics import GAUGES, UsageMetric

UsageKey = tuple[str, UsageMetric, datetime.date]
"""(subdomain, metric, period_start): one row of ``core.tenant_usage``."""

_UPSERT = text(
    """
    WITH entry AS (
        SELECT *
        FROM unnest(
            CAST(:subdomains AS text[]),
            CAST(:metrics AS text[]),
            CAST(:periods AS date[]),
            CAST(:quantities AS bigint[])
        ) AS entry(subdomain, metric, period_start, quantity)
    ),
    written AS (
        INSERT INTO core.tenant_usage AS usage (tenant_id, metric, period_start, quantity)
        SELECT tenant.id, entry.metric, entry.period_start, entry.quantity
        FROM entry JOIN core.tenants AS tenant ON tenant.subdomain = entry.subdomain
        ORDER BY tenant.id, entry.metric, entry.period_start
        ON CONFLICT (tenant_id, metric, period_start) DO UPDATE
        SET quantity = CASE
                WHEN excluded.metric = ANY (CAST(:gauges AS text[])) THEN excluded.quantity
                ELSE usage.quantity + excluded.quantity
            END,
            updated_at = now()
        RETURNING 1
    )
    SELECT DISTINCT entry.subdomain
    FROM entry
    WHERE NOT EXISTS (SELECT 1 FROM core.tenants AS t WHERE t.subdomain = entry.subdomain)
    ORDER BY entry.subdomain
    """
)
_GAUGE_NAMES = sorted(metric.value for metric in GAUGES)


@dataclass(frozen=True)
class WriteResult:
    """What one write stored: how many rows, and which tenants were unknown (not stored)."""

    rows: int
    unknown_tenants: tuple[str, ...]


def write_usage(connection: Connection, entries: Mapping[UsageKey, int]) -> WriteResult:
    """Add (counters) or set (gauges) ``entries`` in one statement, in ``connection``'s
    transaction. Entries of subdomains missing from ``core.tenants`` are not stored and are
    named in the result. Keys must be distinct (they are dict keys) and already validated.
    """
    if not entries:
        return WriteResult(rows=0, unknown_tenants=())
    keys = sorted(entries)
    unknown = connection.execute(
        _UPSERT,
        {
            "subdomains": [key[0] for key in keys],
            "metrics": [key[1].value for key in keys],
            "periods": [key[2] for key in keys],
            "quantities": [entries[key] for key in keys],
            "gauges": _GAUGE_NAMES,
        },
    ).scalars()
    missing = tuple(unknown)
    stored = sum(1 for key in keys if key[0] not in missing)
    return WriteResult(rows=stored, unknown_tenants=missing)
