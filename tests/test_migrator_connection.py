"""A migrator replaces its own connection every RECYCLE_AFTER tenants, so that a server
session never carries the catalog cache of thousands of tenants."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine

from toolkit import RunOptions, downgrade_all, upgrade_all
from toolkit.migrations import apply


def _connections_opened(run) -> int:
    opened = []

    def count(dbapi_connection, record):
        opened.append(dbapi_connection)

    event.listen(Engine, "connect", count)
    try:
        run()
    finally:
        event.remove(Engine, "connect", count)
    return len(opened)


def test_the_migrators_connection_is_replaced_every_recycle_after_tenants(
    engine, make_tenants, monkeypatch
):
    make_tenants("a", "b", "c", "d", "e")
    one_worker = RunOptions(workers=1)

    def round_trip():
        downgrade_all(engine, "tenant@-1", options=one_worker)
        upgrade_all(engine, options=one_worker)

    monkeypatch.setattr(apply, "RECYCLE_AFTER", 1000)
    baseline = _connections_opened(round_trip)
    monkeypatch.setattr(apply, "RECYCLE_AFTER", 2)
    recycled = _connections_opened(round_trip)

    # Five tenants per run: connections for tenants 1-2, 3-4 and 5 instead of one, twice.
    assert recycled - baseline == 4
