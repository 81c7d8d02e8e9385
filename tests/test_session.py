"""tenant_session isolation: a tenant's rows are never visible as another tenant, even
through one pooled connection reused after errors and rollbacks."""

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.orm import Session

from models import Tenant, User
from toolkit import InvalidSubdomain, make_engine, tenant_session


@pytest.fixture
def single_connection_engine(db_url):
    engine = make_engine(db_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _emails(engine, tenant):
    with tenant_session(engine, tenant) as session:
        return sorted(session.scalars(select(User.email)))


def test_rows_written_as_one_tenant_are_invisible_to_another(engine, make_tenants):
    make_tenants("acme", "globex")
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="owner@acme.test", role="owner"))
    with tenant_session(engine, "globex") as session, session.begin():
        session.add(User(email="owner@globex.test", role="owner"))
    assert _emails(engine, "acme") == ["owner@acme.test"]
    assert _emails(engine, "globex") == ["owner@globex.test"]
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT email FROM tenant_acme.users")).scalars().all()
    assert stored == ["owner@acme.test"]


def test_pool_of_one_after_error_and_rollback_keeps_tenants_apart(
    single_connection_engine, make_tenants
):
    engine = single_connection_engine
    make_tenants("acme", "globex")
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="a@acme.test"))
    written: list[str] = []
    for round_ in range(3):
        with tenant_session(engine, "acme") as session:
            session.add(User(email="a@acme.test"))  # duplicate: fails, rolls back
            with pytest.raises(IntegrityError):
                session.commit()
            session.rollback()
        with tenant_session(engine, "globex") as session, session.begin():
            assert sorted(session.scalars(select(User.email))) == written
            written.append(f"g{round_}@globex.test")
            session.add(User(email=written[-1]))
    assert _emails(engine, "acme") == ["a@acme.test"]
    assert _emails(engine, "globex") == ["g0@globex.test", "g1@globex.test", "g2@globex.test"]
    with engine.connect() as connection:
        assert connection.execute(text("SHOW search_path")).scalar() == '"$user", public'


def test_core_models_in_a_tenant_session_still_hit_core(engine, make_tenants):
    make_tenants("acme")
    with tenant_session(engine, "acme") as session:
        assert session.scalars(select(Tenant.subdomain)).all() == ["acme"]


def test_tenant_models_without_a_tenant_fail_instead_of_reading_some_tenant(engine, make_tenants):
    make_tenants("acme")
    with Session(engine) as session, pytest.raises(ProgrammingError, match="users"):
        session.scalars(select(User.email)).all()


@pytest.mark.parametrize("tenant", ["Acme", "acme;drop table x", "tenant_", "pg_catalog", ""])
def test_invalid_tenant_names_are_refused_before_any_sql(tenant):
    unreachable = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(InvalidSubdomain):
        tenant_session(unreachable, tenant)
