"""set_local_tenant_search_path: raw SQL reaches the tenant in scope for one transaction only,
and is refused (before any SQL) without a tenant or without a transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import event, text

from toolkit import (
    NoTenantInScope,
    NoTransactionOpen,
    TenantScope,
    TenantScopeChanged,
    make_engine,
    set_local_tenant_search_path,
    tenant_scope,
    tenant_sessionmaker,
)

DEFAULT_PATH = '"$user", public'
EMAILS = text("SELECT email FROM users ORDER BY email")


@pytest.fixture
def one_connection(db_url, make_tenants, engine):
    """A pool of one connection on a database with acme and globex, one user each."""
    make_tenants("acme", "globex")
    with engine.begin() as connection:
        for tenant in ("acme", "globex"):
            connection.execute(
                text(f"INSERT INTO tenant_{tenant}.users (email) VALUES ('owner@{tenant}.test')")
            )
    single = make_engine(db_url, pool_size=1, max_overflow=0)
    yield single
    single.dispose()


def test_raw_sql_reaches_the_tenant_for_the_transaction_only(one_connection):
    engine = one_connection
    for tenant in ("acme", "globex"):
        with tenant_scope(tenant), engine.connect() as connection:
            with connection.begin():
                assert set_local_tenant_search_path(connection) == TenantScope.of(tenant)
                assert connection.execute(EMAILS).scalars().all() == [f"owner@{tenant}.test"]
                schemas = connection.execute(text("SELECT current_schemas(true)")).scalar()
                assert schemas == ["pg_catalog", f"tenant_{tenant}"]
            assert connection.execute(text("SHOW search_path")).scalar() == DEFAULT_PATH
            connection.rollback()
    with engine.connect() as connection:  # the same pooled connection, back at the default
        assert connection.execute(text("SHOW search_path")).scalar() == DEFAULT_PATH


def _failing_request(connection) -> None:
    with connection.begin():
        set_local_tenant_search_path(connection)
        raise RuntimeError("request failed")


def test_the_path_ends_with_a_rolled_back_transaction_too(one_connection):
    engine = one_connection
    with tenant_scope("acme"), engine.connect() as connection:
        with pytest.raises(RuntimeError, match="request failed"):
            _failing_request(connection)
        assert connection.execute(text("SHOW search_path")).scalar() == DEFAULT_PATH


def test_context_sessions_run_raw_sql_in_their_tenant(one_connection):
    make_session = tenant_sessionmaker(one_connection)
    with tenant_scope("globex"), make_session() as session, session.begin():
        set_local_tenant_search_path(session)
        assert session.execute(EMAILS).scalars().all() == ["owner@globex.test"]
    with make_session() as session:
        assert session.execute(text("SHOW search_path")).scalar() == DEFAULT_PATH


def test_refusals_send_no_sql(one_connection):
    engine = one_connection
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    with engine.connect() as connection:
        with pytest.raises(NoTenantInScope, match="set_local_tenant_search_path"):
            set_local_tenant_search_path(connection)
        with tenant_scope("acme"), pytest.raises(NoTransactionOpen, match="'acme'"):
            set_local_tenant_search_path(connection)
    make_session = tenant_sessionmaker(engine)
    with (
        tenant_scope("acme"),
        make_session() as session,
        pytest.raises(NoTransactionOpen, match=r"session\.begin"),
    ):
        set_local_tenant_search_path(session)
    assert sent == []


def test_autocommit_connections_are_refused(one_connection):
    with (
        tenant_scope("acme"),
        one_connection.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
    ):
        connection.begin()
        with pytest.raises(NoTransactionOpen, match="AUTOCOMMIT"):
            set_local_tenant_search_path(connection)


def test_a_session_bound_to_another_tenant_is_refused(one_connection):
    make_session = tenant_sessionmaker(one_connection)
    with make_session() as session:
        with tenant_scope("acme"):
            session.begin()
        with tenant_scope("globex"), pytest.raises(TenantScopeChanged, match="'acme'"):
            set_local_tenant_search_path(session)
