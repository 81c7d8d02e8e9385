"""Sessions that follow the tenant in scope: bound per transaction, refusing tenant tables
without a tenant before any SQL, never switching tenants inside a transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import event, insert, select, text, update
from sqlalchemy.exc import ProgrammingError

from models import Tenant, User
from toolkit import (
    InvalidOption,
    NoTenantInScope,
    TenantContextSession,
    TenantScope,
    TenantScopeChanged,
    tenant_scope,
    tenant_session,
    tenant_sessionmaker,
)


@pytest.fixture
def tenants(engine, make_tenants):
    """acme and globex with one user each, and a decoy ``public.users`` no query may reach."""
    make_tenants("acme", "globex")
    with engine.begin() as connection:
        for tenant in ("acme", "globex"):
            connection.execute(
                text(f"INSERT INTO tenant_{tenant}.users (email) VALUES ('owner@{tenant}.test')")
            )
        connection.execute(
            text("CREATE TABLE public.users (LIKE tenant_acme.users INCLUDING DEFAULTS)")
        )
        connection.execute(text("INSERT INTO public.users (id, email) VALUES (1, 'decoy@public')"))
    return tenant_sessionmaker(engine)


@pytest.fixture
def sent(engine):
    """Every SQL string the engine sends to the server, in order."""
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def test_sessions_read_and_write_the_tenant_in_scope(engine, tenants):
    for tenant in ("acme", "globex"):
        with tenant_scope(tenant), tenants() as session, session.begin():
            assert session.tenant == TenantScope.of(tenant)
            session.add(User(email=f"second@{tenant}.test"))
    for tenant in ("acme", "globex"):
        with tenant_scope(tenant), tenants() as session:
            emails = sorted(session.scalars(select(User.email)))
            assert emails == [f"owner@{tenant}.test", f"second@{tenant}.test"]
            assert session.scalars(select(Tenant.subdomain).order_by("subdomain")).all() == [
                "acme",
                "globex",
            ]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT email FROM public.users")).scalars().all() == [
            "decoy@public"
        ]


@pytest.mark.parametrize(
    "statement",
    [
        select(User),
        select(User.email).where(User.id == 1),
        select(User.__table__),
        select(Tenant.subdomain).where(Tenant.subdomain.in_(select(User.email))),
        update(User).values(email="x"),
        insert(User).values(email="x"),
    ],
    ids=["orm-select", "orm-columns", "core-select", "core-with-subquery", "update", "insert"],
)
def test_tenant_statements_without_a_scope_raise_before_any_sql(tenants, sent, statement):
    with tenants() as session:
        with pytest.raises(NoTenantInScope, match="users"):
            session.execute(statement)
        assert session.tenant is None
    assert sent == []


def test_add_and_flush_without_a_scope_raise_before_any_sql(tenants, sent):
    with tenants() as session:
        session.add(User(email="nobody@example.test"))
        with pytest.raises(NoTenantInScope, match="flush on tenant table"):
            session.flush()
        with pytest.raises(NoTenantInScope):
            session.get(User, 1)
    assert sent == []


def test_core_models_work_without_a_scope(tenants, sent):
    with tenants() as session:
        assert session.scalars(select(Tenant.subdomain).order_by("subdomain")).all() == [
            "acme",
            "globex",
        ]
    assert len(sent) == 1


def test_a_bypass_of_the_session_checks_without_a_tenant_never_reaches_public(tenants):
    with tenants() as session, pytest.raises(ProgrammingError, match="no tenant in scope"):
        session.connection().execute(select(User.__table__)).all()


def test_scope_changes_inside_a_transaction_raise_instead_of_switching(tenants, sent):
    with tenants() as session:
        with tenant_scope("acme"):
            assert session.scalars(select(User.email)).all() == ["owner@acme.test"]
        count = len(sent)
        with tenant_scope("globex"), pytest.raises(TenantScopeChanged, match="'acme'"):
            session.scalars(select(User.email)).all()
        with pytest.raises(TenantScopeChanged, match="no tenant"):
            session.scalars(select(Tenant.subdomain)).all()
        with tenant_scope("globex"):
            session.add(User(email="late@globex.test"))
            with pytest.raises(TenantScopeChanged):
                session.flush()
        assert len(sent) == count
        session.rollback()
        with tenant_scope("globex"):
            assert session.scalars(select(User.email)).all() == ["owner@globex.test"]


def test_a_core_only_transaction_does_not_become_a_tenant_one(tenants):
    with tenants() as session:
        session.scalars(select(Tenant.subdomain)).all()
        with tenant_scope("acme"), pytest.raises(TenantScopeChanged, match="core only"):
            session.scalars(select(User.email)).all()


def test_identity_map_never_answers_for_one_tenant_with_anothers_row(engine, tenants):
    make_session = tenant_sessionmaker(engine, expire_on_commit=False)
    with make_session() as session:
        with tenant_scope("acme"):
            acme_user = session.get(User, 1)
            session.commit()
        with tenant_scope("globex"):
            globex_user = session.get(User, 1)
            session.commit()
        assert acme_user.email == "owner@acme.test"
        assert globex_user.email == "owner@globex.test"
        assert acme_user not in session


def test_changing_an_object_of_another_tenant_raises(engine, tenants):
    make_session = tenant_sessionmaker(engine, expire_on_commit=False)
    with make_session() as session:
        with tenant_scope("acme"):
            acme_user = session.get(User, 1)
            session.commit()
        with tenant_scope("globex"), pytest.raises(TenantScopeChanged, match="'acme'"):
            acme_user.email = "moved@globex.test"
        session.rollback()
    with tenant_scope("globex"), tenants() as session:
        assert session.scalars(select(User.email)).all() == ["owner@globex.test"]


def test_explicit_tenant_session_ignores_the_scope(engine, tenants):
    with tenant_scope("globex"), tenant_session(engine, "acme") as session:
        assert session.scalars(select(User.email)).all() == ["owner@acme.test"]


def test_context_sessions_need_an_engine(engine):
    with engine.connect() as connection, pytest.raises(InvalidOption, match="Engine"):
        TenantContextSession(bind=connection)
