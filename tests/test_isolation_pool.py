"""Isolation through one pooled connection: requests as A, B and core, with failures between
them, always reach the right schema, and a tenant only ever reads its own rows."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError

from models import Tenant, User
from toolkit import (
    NoTenantInScope,
    TenantScopeChanged,
    create_tenant,
    current_tenant,
    make_engine,
    set_local_tenant_search_path,
    tenant_scope,
    tenant_sessionmaker,
)

CURRENT_SCHEMAS = text("SELECT current_schemas(true)")
RAW_EMAILS = text("SELECT email FROM users ORDER BY email")


@pytest.fixture
def single_connection_engine(db_url):
    engine = make_engine(db_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _request(make_session, tenant, work):
    """One request: a scope, a session, a transaction; returns work's result and the pid."""
    with tenant_scope(tenant), make_session() as session, session.begin():
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
        return work(session), pid


def _as_seen(session):
    """(ORM emails, raw-SQL emails, current_schemas under the raw SQL helper)."""
    orm = sorted(session.scalars(select(User.email)))
    set_local_tenant_search_path(session)
    return (
        orm,
        session.execute(RAW_EMAILS).scalars().all(),
        session.execute(CURRENT_SCHEMAS).scalar(),
    )


def _add(email):
    def work(session):
        session.add(User(email=email))
        session.flush()

    return work


class RequestFailed(Exception):
    pass


def _fail_after(work):
    def failing(session):
        work(session)
        raise RequestFailed

    return failing


def _fail_in_scope(tenant, session, work):
    with tenant_scope(tenant):
        work(session)


def test_requests_as_a_then_b_then_core_through_one_connection(
    single_connection_engine, make_tenants
):
    make_tenants("acme", "globex")
    make_session = tenant_sessionmaker(single_connection_engine)
    pids = set()

    def run(tenant, work):
        result, pid = _request(make_session, tenant, work)
        pids.add(pid)
        return result

    run("acme", _add("a1@acme.test"))
    assert run("acme", _as_seen) == (
        ["a1@acme.test"],
        ["a1@acme.test"],
        ["pg_catalog", "tenant_acme"],
    )
    with pytest.raises(IntegrityError):
        run("acme", _add("a1@acme.test"))
    assert run("globex", _as_seen) == ([], [], ["pg_catalog", "tenant_globex"])
    run("globex", _add("b1@globex.test"))
    with pytest.raises(RequestFailed):
        run("acme", _fail_after(_add("a2@acme.test")))
    with pytest.raises(ProgrammingError):
        run("globex", lambda session: session.execute(text("SELECT * FROM no_such_table")))
    with pytest.raises(NoTenantInScope):
        run(None, lambda session: session.scalars(select(User)).all())
    core = run(
        None,
        lambda s: (s.scalars(select(Tenant.subdomain)).all(), s.execute(CURRENT_SCHEMAS).scalar()),
    )
    assert sorted(core[0]) == ["acme", "globex"]
    assert core[1] == ["pg_catalog", "public"]
    assert run("globex", _as_seen) == (
        ["b1@globex.test"],
        ["b1@globex.test"],
        ["pg_catalog", "tenant_globex"],
    )
    assert run("acme", _as_seen) == (
        ["a1@acme.test"],
        ["a1@acme.test"],
        ["pg_catalog", "tenant_acme"],
    )
    assert len(pids) == 1, "every request ran on the one pooled connection"
    with single_connection_engine.connect() as connection:
        assert connection.execute(text("SHOW search_path")).scalar() == '"$user", public'


NAMES = (f"h{number}" for number in itertools.count())
MAX_TENANTS = 3


class TenantIsolation(RuleBasedStateMachine):
    """Requests and long transactions on a pool of one; the model is what each tenant wrote."""

    engine = None  # the pool of one, set by the test
    provisioner = None  # a separate engine for create_tenant

    def __init__(self) -> None:
        super().__init__()
        self.make_session = tenant_sessionmaker(self.engine)
        self.tenants: list[str] = []
        self.rows: dict[str, set[str]] = {}
        self.current: str | None = None
        self.session = None  # an open transaction, bound to self.bound
        self.bound: str | None = None
        self.pending: set[str] = set()
        self.serial = itertools.count()

    def _email(self) -> str:
        return f"u{next(self.serial)}@{self.current}.test"

    def _open(self):
        if self.session is None:
            self.session = self.make_session()
            with tenant_scope(self.current):
                self.session.begin()
            self.bound = self.current
        return self.session

    def _end(self, commit: bool) -> None:
        if commit:
            if self.bound is not None:
                self.rows[self.bound] |= self.pending
            self.session.commit()
        else:
            self.session.rollback()
        self.session.close()
        self.session, self.bound, self.pending = None, None, set()

    @precondition(lambda self: len(self.tenants) < MAX_TENANTS)
    @rule()
    def provision(self) -> None:
        subdomain = next(NAMES)
        create_tenant(self.provisioner, subdomain)
        self.tenants.append(subdomain)
        self.rows[subdomain] = set()
        self.current = subdomain

    def _choose(self, index: int) -> None:
        choices = [*self.tenants, None]
        self.current = choices[index % len(choices)]

    @rule(index=st.integers(0, MAX_TENANTS))
    def switch(self, index: int) -> None:
        """Make the next requests run as one of the tenants, or as core (no tenant)."""
        self._choose(index)

    @rule(index=st.integers(0, MAX_TENANTS))
    def write(self, index: int) -> None:
        """Switch to a tenant (or core), then write a row in the open or a new transaction."""
        self._choose(index)
        session = self._open()
        with tenant_scope(self.current):
            user = User(email=self._email())
            session.add(user)
            expected = None
            if self.bound != self.current:
                expected = TenantScopeChanged
            elif self.current is None:
                expected = NoTenantInScope
            if expected is None:
                session.flush()
                self.pending.add(user.email)
                return
            with pytest.raises(expected):
                session.flush()
            session.expunge(user)

    @rule(index=st.integers(0, MAX_TENANTS))
    def read(self, index: int) -> None:
        """Switch to a tenant (or core), then read its rows through the ORM and raw SQL."""
        self._choose(index)
        with tenant_scope(self.current):
            if self.session is not None:
                if self.bound != self.current:
                    with pytest.raises(TenantScopeChanged):
                        self.session.scalars(select(User.email)).all()
                    return
                if self.current is None:
                    with pytest.raises(NoTenantInScope):
                        self.session.scalars(select(User.email)).all()
                    return
                expected = sorted(self.rows[self.current] | self.pending)
                assert _as_seen(self.session)[:2] == (expected, expected)
                return
            with self.make_session() as session, session.begin():
                if self.current is None:
                    with pytest.raises(NoTenantInScope):
                        session.scalars(select(User.email)).all()
                    return
                expected = sorted(self.rows[self.current])
                orm, raw, schemas = _as_seen(session)
                assert (orm, raw) == (expected, expected)
                assert schemas == ["pg_catalog", f"tenant_{self.current}"]

    @precondition(lambda self: self.session is not None)
    @rule(commit=st.booleans())
    def return_connection(self, commit: bool) -> None:
        self._end(commit)

    @rule()
    def raise_inside_scope(self) -> None:
        """A request that writes a row, then fails: its row and its transaction are gone."""
        session = self._open()
        writes = self.current is not None and self.bound == self.current
        work = _add(self._email()) if writes else lambda session: None
        with pytest.raises(RequestFailed):
            _fail_in_scope(self.current, session, _fail_after(work))
        self._end(commit=False)

    @precondition(lambda self: self.current is not None and self.rows.get(self.current))
    @rule()
    def duplicate(self) -> None:
        if self.session is not None:
            self._end(commit=False)
        session = self._open()
        with tenant_scope(self.current):
            session.add(User(email=min(self.rows[self.current])))
            with pytest.raises(IntegrityError):
                session.flush()
        self._end(commit=False)

    @invariant()
    def every_tenant_reads_exactly_what_it_committed(self) -> None:
        if self.session is not None:
            return  # it may hold the one connection; read() checks the open transaction
        for tenant in self.tenants:
            with tenant_scope(tenant), self.make_session() as session:
                assert sorted(session.scalars(select(User.email))) == sorted(self.rows[tenant])

    @invariant()
    def scope_is_restored_and_one_connection_at_most(self) -> None:
        assert current_tenant() is None
        assert self.engine.pool.checkedout() <= 1

    def teardown(self) -> None:
        if self.session is not None:
            self.session.close()


def test_a_tenant_only_ever_reads_its_own_rows(db_url, engine):
    # A short pool timeout: a connection leaked by a step fails the run instead of hanging it.
    single = make_engine(db_url, pool_size=1, max_overflow=0, pool_timeout=2)
    machine = type("Machine", (TenantIsolation,), {"engine": single, "provisioner": engine})
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=10,
                stateful_step_count=25,
                derandomize=True,
                deadline=None,
                database=None,
            ),
        )
    finally:
        single.dispose()
