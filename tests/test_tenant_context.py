"""tenant_scope: the tenant in scope comes back after every block (nested, on exceptions), is
per asyncio task and per thread, and hostile names are refused before any SQL is sent."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import event, select

from models import User
from toolkit import (
    InvalidSubdomain,
    NoTenantInScope,
    TenantScope,
    bind_tenant,
    current_tenant,
    require_tenant,
    reset_tenant,
    tenant_scope,
    tenant_session,
    tenant_sessionmaker,
)

ACME = TenantScope(subdomain="acme", schema="tenant_acme")
GLOBEX = TenantScope(subdomain="globex", schema="tenant_globex")


def test_no_scope_means_core_only_and_require_tenant_says_how_to_fix_it():
    assert current_tenant() is None
    with pytest.raises(NoTenantInScope, match=r"with tenant_scope\('acme'\)") as raised:
        require_tenant("reading orders")
    assert "reading orders" in str(raised.value)


def test_scope_accepts_subdomain_or_schema_and_yields_the_same_value():
    with tenant_scope("acme") as by_subdomain:
        assert current_tenant() == by_subdomain == ACME
        assert require_tenant() is by_subdomain
    with tenant_scope("tenant_acme_shop") as by_schema:
        assert by_schema == TenantScope(subdomain="acme-shop", schema="tenant_acme_shop")
    assert current_tenant() is None


def test_nested_scopes_restore_the_outer_tenant_also_on_exceptions():
    with tenant_scope("acme"):
        with tenant_scope("globex"):
            assert current_tenant() == GLOBEX
        assert current_tenant() == ACME
        with pytest.raises(RuntimeError), tenant_scope("globex"):
            raise RuntimeError("request failed")
        assert current_tenant() == ACME
        with tenant_scope(None):
            assert current_tenant() is None
        assert current_tenant() == ACME
    assert current_tenant() is None


def test_bind_and_reset_tokens_restore_the_previous_tenant():
    outer = bind_tenant("acme")
    inner = bind_tenant(GLOBEX)
    assert current_tenant() == GLOBEX
    reset_tenant(inner)
    assert current_tenant() == ACME
    reset_tenant(outer)
    assert current_tenant() is None


def test_scope_values_are_frozen_and_consistent():
    with pytest.raises(AttributeError):
        ACME.schema = "public"  # type: ignore[misc]
    with pytest.raises(InvalidSubdomain, match="inconsistent"):
        TenantScope(subdomain="acme", schema="public")


def test_concurrent_asyncio_tasks_each_see_their_own_tenant():
    async def request(tenant: str, started: asyncio.Event, other: asyncio.Event) -> list[str]:
        seen = []
        with tenant_scope(tenant):
            started.set()
            await other.wait()  # both tasks are inside their scopes now
            for _ in range(3):
                seen.append(require_tenant().subdomain)
                await asyncio.sleep(0)
        return seen

    async def main() -> tuple[list[str], list[str], TenantScope | None]:
        a_in, b_in = asyncio.Event(), asyncio.Event()
        with tenant_scope("initech"):
            a, b = await asyncio.gather(request("acme", a_in, b_in), request("globex", b_in, a_in))
            return a, b, current_tenant()

    a, b, after = asyncio.run(main())
    assert a == ["acme"] * 3
    assert b == ["globex"] * 3
    assert after == TenantScope.of("initech")


def test_a_new_thread_starts_with_no_tenant():
    seen: list[TenantScope | None] = []
    with tenant_scope("acme"):
        thread = threading.Thread(target=lambda: seen.append(current_tenant()))
        thread.start()
        thread.join()
    assert seen == [None]


def test_tasks_and_to_thread_workers_write_and_read_their_own_tenant(engine, make_tenants):
    make_tenants("acme", "globex")
    make_session = tenant_sessionmaker(engine)

    def write_then_read(email: str) -> list[str]:
        with make_session() as session, session.begin():
            session.add(User(email=email))
        with make_session() as session:
            return list(session.scalars(select(User.email)))

    async def request(tenant: str, started: asyncio.Event, other: asyncio.Event) -> list[str]:
        with tenant_scope(tenant):
            started.set()
            await other.wait()
            return await asyncio.to_thread(write_then_read, f"owner@{tenant}.test")

    async def main() -> list[list[str]]:
        a_in, b_in = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(request("acme", a_in, b_in), request("globex", b_in, a_in))

    assert asyncio.run(main()) == [["owner@acme.test"], ["owner@globex.test"]]


HOSTILE = [
    "acme'",
    'ac"me',
    'acme"; DROP SCHEMA core CASCADE; --',
    "acme;drop",
    "pg_acme",
    "pg-acme",
    "pg_catalog",
    "tenant_pg_acme",
    "\u0430cme",  # Cyrillic a
    "acm\u0435",  # Cyrillic e
    "\uff41cme",  # fullwidth a
    "acme\u200b",  # zero-width space
    "a" * 64,
    "a" * 51,
    "tenant_" + "a" * 57,
    "",
    " ",
    "acme ",
    "ac me",
    "\tacme",
    "acme\n",
    "tenant_acme\n",
    "acme\x00",
    "tenant_ac\x00me",
    "Acme",
    "TENANT_ACME",
    "public",
    "tenant_public",
    "information_schema",
    "acme.users",
    "tenant_",
]


ENTRY_POINTS = {
    "tenant_scope": lambda engine, name: tenant_scope(name).__enter__(),
    "bind_tenant": lambda engine, name: bind_tenant(name),
    "TenantScope.of": lambda engine, name: TenantScope.of(name),
    "tenant_session": lambda engine, name: tenant_session(engine, name),
}


def _accepting(engine, name: str) -> list[str]:
    """The entry points that take ``name`` or change the scope instead of refusing it."""
    accepting = []
    for label, enter in ENTRY_POINTS.items():
        with tenant_scope("globex"):  # its exit undoes whatever an accepting entry bound
            try:
                enter(engine, name)
            except InvalidSubdomain:
                if current_tenant() != GLOBEX:
                    accepting.append(f"{label} (changed the scope)")
            else:
                accepting.append(label)
    return accepting


def test_hostile_names_are_refused_before_any_sql(engine):
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    accepted = {name: found for name in HOSTILE if (found := _accepting(engine, name))}
    assert accepted == {}
    assert sent == []
    with engine.connect() as connection:  # the counter sees what is sent
        connection.exec_driver_sql("SELECT 1")
    assert sent == ["SELECT 1"]


def test_the_hostile_list_would_catch_an_accepting_entry_point(engine):
    assert _accepting(engine, "acme") == list(ENTRY_POINTS)
