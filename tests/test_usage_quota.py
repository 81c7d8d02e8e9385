"""Plan limits enforced where data is created: the ORM hook, check_quota and consume_quota."""

from __future__ import annotations

import datetime
import pickle
import threading

import pytest
from sqlalchemy import event, func, select, text

from models import CanvasConfig, DesignImage, EtsyProductTemplate, Mockup, User
from toolkit import tenant_scope, tenant_session, tenant_sessionmaker
from toolkit.errors import InvalidUsage, QuotaExceeded
from toolkit.usage.limits import change_limits, limits_report
from toolkit.usage.metrics import period_of
from toolkit.usage.plans import PLAN_LIMITS, EffectiveLimit, Limit, effective_limits
from toolkit.usage.quota import check_quota, consume_quota


def _count(engine, sub, model):
    with tenant_session(engine, sub) as session:
        return session.scalar(
            select(func.count()).select_from(model).execution_options(include_deleted=True)
        )


def _mockups_used(engine, sub):
    with engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT coalesce(sum(quantity), 0) FROM core.tenant_usage u "
                "JOIN core.tenants t ON t.id = u.tenant_id "
                "WHERE t.subdomain = :sub AND metric = 'mockups_generated' AND period_start = :p"
            ),
            {"sub": sub, "p": period_of()},
        ).scalar()


def _flush_refused(session) -> QuotaExceeded:
    """Flush ``session``, which must be refused; roll back and return the error."""
    with pytest.raises(QuotaExceeded) as caught:
        session.flush()
    session.rollback()
    return caught.value


def test_overrides_replace_the_plans_limits_and_null_means_unlimited():
    limits = effective_limits("pro", {"max_users": 3, "max_designs": None, "junk": 1})
    assert limits[Limit.MAX_USERS] == EffectiveLimit(Limit.MAX_USERS, 3, "override")
    assert limits[Limit.MAX_DESIGNS] == EffectiveLimit(Limit.MAX_DESIGNS, None, "override")
    assert limits[Limit.MOCKUPS_PER_MONTH].allowed == PLAN_LIMITS["pro"][Limit.MOCKUPS_PER_MONTH]
    assert limits[Limit.MOCKUPS_PER_MONTH].source == "plan"
    custom = effective_limits("enterprise-2027", {"max_users": 500, "max_designs": -4})
    assert custom[Limit.MAX_USERS].allowed == 500
    assert custom[Limit.MAX_DESIGNS] == EffectiveLimit(Limit.MAX_DESIGNS, None, "none")


def test_a_user_past_max_users_raises_quota_exceeded_and_writes_nothing(engine, make_tenants):
    make_tenants("acme")
    change_limits(engine, "acme", set_={"max_users": 2})
    with tenant_session(engine, "acme") as session, session.begin():
        session.add_all([User(email="a@acme.test"), User(email="b@acme.test")])
    with tenant_session(engine, "acme") as session:
        session.add(User(email="c@acme.test"))
        error = _flush_refused(session)
    assert (error.limit, error.current, error.requested, error.allowed) == ("max_users", 2, 1, 2)
    assert "tenant 'acme' would exceed its limit max_users" in str(error)
    assert "tenantctl usage limits acme --set max_users=N" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.allowed) == (QuotaExceeded, str(error), 2)
    assert _count(engine, "acme", User) == 2


def test_two_new_users_in_one_flush_count_as_two(engine, make_tenants):
    make_tenants("acme")
    change_limits(engine, "acme", set_={"max_users": 3})
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="a@acme.test"))
    with tenant_session(engine, "acme") as session:
        session.add_all([User(email=f"{n}@acme.test") for n in "xyz"])
        error = _flush_refused(session)
    assert "max_users: 1 in use, 3 more requested, 3 allowed" in str(error)
    assert _count(engine, "acme", User) == 1


def test_soft_deleted_users_free_their_place_and_restoring_one_takes_it_again(engine, make_tenants):
    make_tenants("acme")
    change_limits(engine, "acme", set_={"max_users": 1})
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="old@acme.test"))
    with tenant_session(engine, "acme") as session, session.begin():
        session.scalars(select(User)).one().deleted_at = datetime.datetime.now(datetime.UTC)
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="new@acme.test"))
    with tenant_session(engine, "acme") as session:
        old = session.scalars(
            select(User)
            .where(User.email == "old@acme.test")
            .execution_options(include_deleted=True)
        ).one()
        old.deleted_at = None
        error = _flush_refused(session)
    assert "max_users: 1 in use, 1 more requested" in str(error)


def test_designs_are_limited_by_max_designs_in_context_sessions_too(engine, make_tenants):
    make_tenants("acme", "globex")
    change_limits(engine, "acme", set_={"max_designs": 1})
    sessions = tenant_sessionmaker(engine)

    def design(name):
        return DesignImage(file_path=f"{name}.png", checksum=name, width=10, height=10)

    with tenant_scope("acme"), sessions() as session, session.begin():
        session.add(design("one"))
    with tenant_scope("acme"), sessions() as session:
        session.add(design("two"))
        error = _flush_refused(session)
    assert "max_designs: 1 in use, 1 more requested" in str(error)
    with tenant_scope("globex"), sessions() as session, session.begin():  # its own limits
        session.add_all([design("g1"), design("g2")])
    assert (_count(engine, "acme", DesignImage), _count(engine, "globex", DesignImage)) == (1, 2)


def _mockup_parts(session):
    template = EtsyProductTemplate(title="Poster", price=10)
    design = DesignImage(file_path="d.png", checksum="d", width=10, height=10)
    canvas = CanvasConfig(name="A4", product_type="poster", width=10, height=10)
    session.add_all([template, design, canvas])
    session.flush()
    return template.id, design.id, canvas.id


def test_mockups_consume_the_months_usage_and_stop_at_the_limit(engine, make_tenants):
    make_tenants("acme")
    change_limits(engine, "acme", set_={"mockups_per_month": 3})
    with tenant_session(engine, "acme") as session, session.begin():
        ids = _mockup_parts(session)

    def mockups(n):
        return [Mockup(template_id=ids[0], design_id=ids[1], canvas_id=ids[2]) for _ in range(n)]

    with tenant_session(engine, "acme") as session, session.begin():
        session.add_all(mockups(2))
    assert _mockups_used(engine, "acme") == 2
    with tenant_session(engine, "acme") as session:  # rolled back: not counted
        session.begin()
        session.add_all(mockups(1))
        session.flush()
        assert _mockups_used(engine, "acme") == 2  # not committed yet
        session.rollback()
    assert _mockups_used(engine, "acme") == 2
    with tenant_session(engine, "acme") as session:
        session.add_all(mockups(2))
        error = _flush_refused(session)
    assert (error.limit, error.current, error.requested, error.allowed) == (
        "mockups_per_month",
        2,
        2,
        3,
    )
    assert _mockups_used(engine, "acme") == 2
    with tenant_session(engine, "acme") as session, session.begin():
        session.add_all(mockups(1))
    assert (_mockups_used(engine, "acme"), _count(engine, "acme", Mockup)) == (3, 3)


def test_flushes_without_limited_rows_send_no_usage_sql(engine, make_tenants):
    make_tenants("acme")
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(CanvasConfig(name="A4", product_type="poster", width=1, height=1))
    assert not [sql for sql in sent if "core.tenant" in sql or "advisory" in sql]


def test_unlimited_takes_no_lock_and_never_refuses(engine, make_tenants):
    make_tenants("acme")
    change_limits(engine, "acme", set_={"max_users": None})
    with tenant_session(engine, "acme") as session, session.begin():
        session.add_all([User(email=f"u{n}@acme.test") for n in range(30)])  # free allows 25
    assert _count(engine, "acme", User) == 30


def _wait_for_lock_waiter(engine):
    """Block until some backend waits on an advisory lock (the second session's flush)."""
    for _ in range(6000):
        with engine.connect() as connection:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                    "AND database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database())"
                )
            ).scalar()
        if waiting:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the second session never waited for the quota lock")


def test_two_sessions_cannot_both_take_the_last_place(engine, make_tenants):
    make_tenants("acme")
    change_limits(engine, "acme", set_={"max_users": 1})
    outcome: list[BaseException | None] = []

    def second() -> None:
        try:
            with tenant_session(engine, "acme") as session, session.begin():
                session.add(User(email="second@acme.test"))
                session.flush()  # waits for the first session's lock, then counts its user
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    with tenant_session(engine, "acme") as first, first.begin():
        first.add(User(email="first@acme.test"))
        first.flush()  # holds (acme, max_users) until commit
        thread = threading.Thread(target=second)
        thread.start()
        _wait_for_lock_waiter(engine)
    thread.join()
    assert len(outcome) == 1
    assert isinstance(outcome[0], QuotaExceeded), outcome
    assert outcome[0].current == 1
    assert _count(engine, "acme", User) == 1


def test_raw_sql_paths_use_check_quota_and_consume_quota(engine, make_tenants):
    make_tenants("acme")
    change_limits(engine, "acme", set_={"max_users": 1, "mockups_per_month": 5})
    with engine.begin() as connection:
        assert check_quota(connection, "acme", "max_users") == 0
        connection.execute(text("INSERT INTO tenant_acme.users (email) VALUES ('raw@acme.test')"))
    with engine.begin() as connection:
        with pytest.raises(QuotaExceeded, match="max_users: 1 in use"):
            check_quota(connection, "acme", Limit.MAX_USERS)
        assert consume_quota(connection, "acme", "mockups_per_month", 4) == 4
        assert consume_quota(connection, "acme", "mockups_per_month", 1) == 5
        with pytest.raises(QuotaExceeded, match="5 in use, 1 more requested, 5 allowed"):
            consume_quota(connection, "acme", "mockups_per_month", 1)
        with pytest.raises(QuotaExceeded, match="5 in use, 9 more requested"):
            consume_quota(connection, "acme", "mockups_per_month", 9)
    assert _mockups_used(engine, "acme") == 5
    with engine.begin() as connection:
        with pytest.raises(InvalidUsage, match="cannot be consumed"):
            consume_quota(connection, "acme", "max_users")
        with pytest.raises(InvalidUsage, match="unknown limit 'max_user'"):
            check_quota(connection, "acme", "max_user")


def test_limits_report_shows_plan_override_and_use(engine, make_tenants):
    make_tenants("acme")
    report = change_limits(engine, "acme", set_={"max_users": 7, "max_designs": None})
    rows = {status.limit: status for status in report.limits}
    assert (rows["max_users"].allowed, rows["max_users"].source) == (7, "override")
    assert rows["max_users"].plan_value == PLAN_LIMITS["free"][Limit.MAX_USERS]
    assert (rows["max_designs"].allowed, rows["max_designs"].source) == (None, "override")
    assert rows["mockups_per_month"].source == "plan"
    again = change_limits(engine, "acme", unset=["max_users"])
    assert {s.limit: s.source for s in again.limits}["max_users"] == "plan"
    assert limits_report(engine, "acme") == again
    with pytest.raises(InvalidUsage, match="both set and unset"):
        change_limits(engine, "acme", set_={"max_users": 1}, unset=["max_users"])
    with pytest.raises(InvalidUsage, match="whole number >= 0"):
        change_limits(engine, "acme", set_={"max_users": -1})
