"""Tenant isolation through a real PgBouncer in transaction mode (issue 5, proof 2).

Two application clients (engines with a pool of one connection each) talk to PgBouncer,
which keeps ONE server connection for the database: every transaction of every client runs
on the same PostgreSQL backend. Requests as tenant A, as tenant B and on core follow one
another on that backend, through sessions bound by ``tenant_scope`` and through plain SQL with
``SET LOCAL search_path``, with failures and rollbacks in between. The control test shows
that a session-level ``SET search_path`` does leak across clients in this setup, so the main
test would catch a leak if the toolkit had one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, column, select, table, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from models import Tenant, User
from toolkit import (
    make_engine,
    set_local_tenant_search_path,
    tenant_scope,
    tenant_session,
    tenant_sessionmaker,
)
from toolkit.sql import quote_identifier

ROUNDS = 3
PROBE = text("SELECT pg_backend_pid(), current_schema(), current_setting('search_path')")


@contextlib.contextmanager
def as_tenant(engine: Engine, tenant: str) -> Iterator[Session]:
    """One request as ``tenant`` through the toolkit, as the ASGI middleware runs one: inside
    ``tenant_scope``, a context-bound session in one transaction."""
    with tenant_scope(tenant), tenant_sessionmaker(engine)() as session, session.begin():
        yield session


@contextlib.contextmanager
def as_tenant_in_sql(engine: Engine, schema: str) -> Iterator[Connection]:
    """One request in plain SQL: ``SET LOCAL search_path`` to ``schema`` in one transaction."""
    with tenant_scope(schema), engine.begin() as connection:
        set_local_tenant_search_path(connection)
        yield connection


class Observer:
    """Records the backend and the effective schema of every request, and checks them."""

    def __init__(self, default_search_path: str, default_schema: str) -> None:
        self.default_search_path = default_search_path
        self.default_schema = default_schema
        self.backends: set[int] = set()

    def probe(self, connection: Connection) -> tuple[str, str]:
        pid, schema, search_path = connection.execute(PROBE).one()
        self.backends.add(pid)
        return schema, search_path

    def assert_untouched(self, connection: Connection) -> None:
        """Nothing from an earlier request (of any client) is left on the connection."""
        assert self.probe(connection) == (self.default_schema, self.default_search_path)

    def assert_in_schema(self, connection: Connection, schema: str) -> None:
        """The effective schema is ``schema`` alone (as the server spells it in search_path)."""
        spelled = connection.scalar(text("SELECT quote_ident(:s)"), {"s": schema})
        assert self.probe(connection) == (schema, spelled)


INSERT_USER = text("INSERT INTO users (email) VALUES (:email)")


def _write_then_fail_in_sql(engine: Engine, schema: str, observer: Observer) -> None:
    """A plain-SQL request that sets its schema, writes, then hits a statement error."""
    with as_tenant_in_sql(engine, schema) as connection:
        observer.assert_in_schema(connection, schema)
        connection.execute(INSERT_USER, {"email": "lost@acme.test"})
        connection.execute(text("SELECT 1 / 0"))


def _write_then_abort_in_sql(engine: Engine, schema: str) -> None:
    """A plain-SQL request that sets its schema, writes, then fails in application code."""
    with as_tenant_in_sql(engine, schema) as connection:
        connection.execute(INSERT_USER, {"email": "aborted@acme.test"})
        raise RuntimeError("request aborted")


@pytest.fixture
def clients(pgbouncer_url) -> Iterator[tuple[Engine, Engine]]:
    """Two application clients through PgBouncer, one pooled connection each."""
    engines = tuple(
        make_engine(pgbouncer_url, transaction_pooler=True, pool_size=1, max_overflow=0)
        for _ in range(2)
    )
    yield engines
    for engine in engines:
        engine.dispose()


@pytest.fixture
def observer(engine) -> Observer:
    """Defaults read from the server directly, not through PgBouncer."""
    with engine.connect() as connection:
        schema, search_path = connection.execute(
            text("SELECT current_schema(), current_setting('search_path')")
        ).one()
    return Observer(search_path, schema)


def test_tenants_stay_apart_on_one_shared_server_connection(
    engine, make_tenants, clients, observer
):
    schema_a, schema_b = make_tenants("acme", "globex")
    web, worker = clients
    rows_a: list[str] = []
    rows_b: list[str] = []

    def b_sees_only_its_own(emails: list[str]) -> None:
        assert emails == sorted(rows_b)
        assert not set(emails) & set(rows_a)

    for round_ in range(ROUNDS):
        # Alternate which client serves which request, so the server connection changes hands.
        first, second = (web, worker) if round_ % 2 == 0 else (worker, web)

        # 1. A writes through the toolkit.
        with as_tenant(first, "acme") as session:
            observer.assert_untouched(session.connection())
            assert sorted(session.scalars(select(User.email))) == sorted(rows_a)
            rows_a.append(f"a{round_}@acme.test")
            session.add(User(email=rows_a[-1]))

        # 2. A fails (duplicate email) and rolls back.
        with tenant_session(second, "acme") as session:
            session.add(User(email=rows_a[0]))
            with pytest.raises(IntegrityError):
                session.commit()
            session.rollback()

        # 3. A in plain SQL: SET LOCAL, a write, then an error: all of it rolls back.
        with pytest.raises(DataError):
            _write_then_fail_in_sql(first, schema_a, observer)

        # 4. B in plain SQL on the other client: its own schema, none of A's rows.
        with as_tenant_in_sql(second, schema_b) as connection:
            observer.assert_in_schema(connection, schema_b)
            b_sees_only_its_own(sorted(connection.scalars(text("SELECT email FROM users"))))
            rows_b.append(f"b{round_}@globex.test")
            connection.execute(INSERT_USER, {"email": rows_b[-1]})

        # 5. A in plain SQL again, aborted by the application after SET LOCAL and a write.
        with pytest.raises(RuntimeError, match="request aborted"):
            _write_then_abort_in_sql(second, schema_a)

        # 6. B through the toolkit on the first client: SET LOCAL of A left nothing behind.
        with as_tenant(first, "globex") as session:
            observer.assert_untouched(session.connection())
            b_sees_only_its_own(sorted(session.scalars(select(User.email))))

        # 7. Core: the registry, and no tenant table reachable without a schema.
        with Session(second) as session, session.begin():
            observer.assert_untouched(session.connection())
            assert set(session.scalars(select(Tenant.subdomain))) == {"acme", "globex"}
            assert session.scalar(text("SELECT to_regclass('users')")) is None

    # Every request of both clients ran on one PostgreSQL backend: the pooler really shared it.
    assert len(observer.backends) == 1
    with engine.connect() as direct:
        for schema, expected in ((schema_a, rows_a), (schema_b, rows_b)):
            users = table("users", column("email"), schema=schema)
            assert sorted(direct.scalars(select(users.c.email))) == sorted(expected)


def test_control_a_session_level_search_path_leaks_to_another_client(
    engine, make_tenants, clients, observer
):
    """What the toolkit avoids: a plain ``SET search_path`` stays on the server connection,
    and PgBouncer hands it to the next client's transaction together with tenant A's rows."""
    schema_a, _ = make_tenants("acme", "globex")
    with as_tenant(engine, "acme") as session:
        session.add(User(email="owner@acme.test"))
    web, worker = clients

    with web.connect() as connection:
        # The deliberate mistake this test exists for: a session-level SET.
        connection.execute(text(f"SET search_path TO {quote_identifier(schema_a)}"))
        connection.commit()

    with worker.begin() as connection:
        observer.assert_in_schema(connection, schema_a)
        leaked = sorted(connection.scalars(text("SELECT email FROM users")))
    assert leaked == ["owner@acme.test"]
    assert len(observer.backends) == 1
