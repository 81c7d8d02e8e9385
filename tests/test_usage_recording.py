"""Usage recording: buffered and summed in memory, one upsert per flush, exact under concurrency."""

from __future__ import annotations

import datetime
import multiprocessing

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from toolkit import usage
from toolkit.db import make_engine
from toolkit.errors import InvalidSubdomain, InvalidUsage, TenantNotFound
from toolkit.usage import default as default_module
from toolkit.usage.metrics import UsageMetric, parse_month, period_of
from toolkit.usage.recorder import UsageRecorder, record_now

NOV = datetime.datetime(2026, 11, 15, 12, tzinfo=datetime.UTC)
DEC = datetime.datetime(2026, 12, 1, 0, 0, tzinfo=datetime.UTC)


def _usage(engine):
    """{(subdomain, metric, 'YYYY-MM-DD'): quantity} of every usage row."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT t.subdomain, u.metric, u.period_start, u.quantity "
                "FROM core.tenant_usage u JOIN core.tenants t ON t.id = u.tenant_id"
            )
        ).all()
    return {(sub, metric, str(day)): quantity for sub, metric, day, quantity in rows}


@pytest.fixture
def statements(engine):
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


def test_records_are_summed_in_memory_and_written_by_one_statement(
    engine, make_tenants, statements
):
    make_tenants("acme", "globex")
    statements.clear()
    recorder = UsageRecorder(engine, max_keys=100, max_age=3600)
    for _ in range(250):
        recorder.record("acme", "api_calls", 2, at=NOV)
    recorder.record("tenant_globex", UsageMetric.MOCKUPS_GENERATED, 3, at=NOV)
    recorder.record("acme", "api_calls", 1, at=DEC)  # another month, another row
    assert statements == []
    assert len(recorder.pending()) == 3

    result = recorder.flush()

    assert (result.rows, result.unknown_tenants) == (3, ())
    assert len([sql for sql in statements if "tenant_usage" in sql]) == 1
    assert len(statements) == 1
    assert recorder.pending() == {}
    assert _usage(engine) == {
        ("acme", "api_calls", "2026-11-01"): 500,
        ("acme", "api_calls", "2026-12-01"): 1,
        ("globex", "mockups_generated", "2026-11-01"): 3,
    }


def test_a_flush_adds_to_the_stored_count_and_a_gauge_keeps_the_last_level(engine, make_tenants):
    make_tenants("acme")
    recorder = UsageRecorder(engine, max_age=3600)
    recorder.record("acme", "orders_synced", 5, at=NOV)
    recorder.record("acme", "storage_bytes", 900, at=NOV)
    recorder.record("acme", "storage_bytes", 700, at=NOV)  # a level: the last one counts
    recorder.flush()
    recorder.record("acme", "orders_synced", 4, at=NOV)
    recorder.record("acme", "storage_bytes", 650, at=NOV)
    recorder.flush()
    assert _usage(engine) == {
        ("acme", "orders_synced", "2026-11-01"): 9,
        ("acme", "storage_bytes", "2026-11-01"): 650,
    }


@pytest.mark.parametrize(
    ("tenant", "metric", "quantity", "error", "message"),
    [
        ("acme", "api_call", 1, InvalidUsage, "unknown usage metric 'api_call'"),
        ("acme", "api_calls", -1, InvalidUsage, "must be from 0 to"),
        ("acme", "api_calls", 1.5, InvalidUsage, "not a whole number"),
        ("acme", "api_calls", True, InvalidUsage, "not a whole number"),
        ("acme", "api_calls", 10**16, InvalidUsage, "out of range"),
        ("Acme;DROP", "api_calls", 1, InvalidSubdomain, "Acme;DROP"),
        (42, "api_calls", 1, InvalidUsage, "is not a subdomain"),
    ],
)
def test_bad_input_is_refused_before_anything_is_buffered(
    engine, statements, tenant, metric, quantity, error, message
):
    recorder = UsageRecorder(engine)
    with pytest.raises(error, match=message.replace("(", r"\(")):
        recorder.record(tenant, metric, quantity)
    assert recorder.pending() == {}
    assert statements == []


def test_a_naive_datetime_is_refused_and_months_start_on_the_first_in_utc():
    with pytest.raises(InvalidUsage, match="naive datetime"):
        period_of(datetime.datetime(2026, 11, 30, 23))
    late = datetime.datetime(
        2026, 11, 30, 23, 30, tzinfo=datetime.timezone(-datetime.timedelta(hours=2))
    )
    assert period_of(late) == datetime.date(2026, 12, 1)
    assert parse_month("2026-02") == datetime.date(2026, 2, 1)
    for bad in ("2026-13", "2026-1", "26-01", "2026-00", "nov"):
        with pytest.raises(InvalidUsage, match="write YYYY-MM"):
            parse_month(bad)


def test_usage_of_an_unknown_tenant_is_dropped_and_named(engine, make_tenants):
    make_tenants("acme")
    recorder = UsageRecorder(engine)
    recorder.record("acme", "api_calls", 1, at=NOV)
    recorder.record("ghost", "api_calls", 7, at=NOV)
    result = recorder.flush()
    assert (result.rows, result.unknown_tenants) == (1, ("ghost",))
    assert _usage(engine) == {("acme", "api_calls", "2026-11-01"): 1}


def test_the_buffer_flushes_itself_when_full_or_old(engine, make_tenants):
    make_tenants("acme")
    by_size = UsageRecorder(engine, max_keys=2, max_age=3600)
    by_size.record("acme", "api_calls", 1, at=NOV)
    assert _usage(engine) == {}
    by_size.record("acme", "orders_synced", 1, at=NOV)  # the second key fills it
    assert by_size.pending() == {}
    assert _usage(engine) == {
        ("acme", "api_calls", "2026-11-01"): 1,
        ("acme", "orders_synced", "2026-11-01"): 1,
    }

    now = [1000.0]
    by_age = UsageRecorder(engine, max_keys=100, max_age=10, clock=lambda: now[0])
    by_age.record("acme", "api_calls", 5, at=NOV)
    now[0] += 9
    by_age.record("acme", "api_calls", 5, at=NOV)
    assert _usage(engine)[("acme", "api_calls", "2026-11-01")] == 1
    now[0] += 1  # the oldest entry is 10 s old now
    by_age.record("acme", "api_calls", 5, at=NOV)
    assert by_age.pending() == {}
    assert _usage(engine)[("acme", "api_calls", "2026-11-01")] == 16


def test_a_failed_flush_loses_nothing_and_the_hot_path_does_not_raise(engine, db_url, make_tenants):
    make_tenants("acme")
    unreachable = make_engine(db_url.set(database="tenantctl_no_such_database"))
    now = [0.0]
    recorder = UsageRecorder(unreachable, max_keys=1, max_age=5, clock=lambda: now[0])
    recorder.record("acme", "api_calls", 3, at=NOV)  # triggers a flush that fails: logged
    recorder.record("acme", "api_calls", 4, at=NOV)  # backing off: no new attempt
    assert recorder.pending() == {("acme", UsageMetric.API_CALLS, datetime.date(2026, 11, 1)): 7}
    with pytest.raises(OperationalError, match="tenantctl_no_such_database"):
        recorder.flush()  # an explicit flush raises
    assert sum(recorder.pending().values()) == 7
    recorder.engine = engine
    recorder.flush()
    assert _usage(engine) == {("acme", "api_calls", "2026-11-01"): 7}
    unreachable.dispose()


def test_record_now_joins_the_callers_transaction_and_names_unknown_tenants(engine, make_tenants):
    make_tenants("acme")
    with engine.connect() as connection:
        record_now(connection, "acme", "api_calls", 5, at=NOV)
        connection.rollback()
    assert _usage(engine) == {}
    record_now(engine, "acme", "api_calls", 5, at=NOV)
    record_now(engine, "acme", "api_calls", 6, at=NOV)
    assert _usage(engine) == {("acme", "api_calls", "2026-11-01"): 11}
    with pytest.raises(TenantNotFound, match="'ghost'"):
        record_now(engine, "ghost", "api_calls", 1)


def test_a_closed_recorder_refuses_records(engine, make_tenants):
    make_tenants("acme")
    with UsageRecorder(engine) as recorder:
        recorder.record("acme", "api_calls", 2, at=NOV)
    assert _usage(engine) == {("acme", "api_calls", "2026-11-01"): 2}
    with pytest.raises(InvalidUsage, match="closed"):
        recorder.record("acme", "api_calls", 1)


WORKERS = 4
RECORDS_PER_WORKER = 400


def _hammer(url: str, worker: int) -> None:
    """One process: many small flushes, so the processes' upserts collide all the time."""
    engine = make_engine(url)
    recorder = UsageRecorder(engine, max_keys=3, max_age=3600)  # a 3-row flush per round
    for i in range(RECORDS_PER_WORKER):
        recorder.record("acme", "api_calls", 1, at=NOV)
        recorder.record("globex" if i % 2 else "acme", "mockups_generated", 2, at=NOV)
        recorder.record("acme", "orders_synced", worker + 1, at=NOV)
    recorder.close()
    engine.dispose()


def test_many_processes_recording_at_once_lose_no_increment(engine, db_url, make_tenants):
    make_tenants("acme", "globex")
    url = db_url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_hammer, args=(url, n)) for n in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    assert [process.exitcode for process in processes] == [0] * WORKERS
    half = RECORDS_PER_WORKER // 2
    assert _usage(engine) == {
        ("acme", "api_calls", "2026-11-01"): WORKERS * RECORDS_PER_WORKER,
        ("acme", "mockups_generated", "2026-11-01"): WORKERS * half * 2,
        ("globex", "mockups_generated", "2026-11-01"): WORKERS * half * 2,
        ("acme", "orders_synced", "2026-11-01"): RECORDS_PER_WORKER * sum(range(1, WORKERS + 1)),
    }


def _record_and_exit(count: int) -> None:
    """A forked worker: the module-level record(), never an explicit flush."""
    for _ in range(count):
        usage.record("acme", "api_calls", 1, at=NOV)


@pytest.fixture
def default_recorder(db_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", db_url.render_as_string(hide_password=False))
    monkeypatch.setattr(default_module, "_default", None)
    yield
    recorder = default_module._default
    if recorder is not None:
        recorder.close()


def test_forked_workers_flush_at_exit_and_never_count_the_parents_buffer(
    engine, make_tenants, default_recorder
):
    make_tenants("acme")
    usage.record("acme", "api_calls", 1000, at=NOV)  # pending in the parent when it forks
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_record_and_exit, args=(50 + n,)) for n in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    assert [process.exitcode for process in processes] == [0, 0, 0]
    assert _usage(engine) == {("acme", "api_calls", "2026-11-01"): 50 + 51 + 52}
    usage.flush()
    assert _usage(engine) == {("acme", "api_calls", "2026-11-01"): 1000 + 50 + 51 + 52}
