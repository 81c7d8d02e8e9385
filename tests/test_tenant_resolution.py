"""resolve_tenant: host or API key to an active tenant, with 404/403/410/401 errors that
repeat no input, hostile input refused before any SQL, and a cache that status changes
invalidate."""

from __future__ import annotations

import secrets
import time

import pytest
from redis_service import REDIS_URL
from sqlalchemy import event

from toolkit import archive_tenant, drop_tenant, rename_tenant, resume_tenant, suspend_tenant
from toolkit.api_keys import create as create_key
from toolkit.errors import (
    ApiKeyScopeDenied,
    InvalidApiKey,
    TenantArchived,
    TenantNotResolved,
    TenantSuspended,
)
from toolkit.tenant_cache import MemoryTenantCache, RedisTenantCache, cache_key
from toolkit.tenant_resolution import resolve_tenant

BASE = "example.com"
HOSTILE_HOSTS = [
    "",
    "example.com",
    ".example.com",
    "acme.other.com",
    "a.b.example.com",
    "acme'.example.com",
    "acme;drop.example.com",
    'ac"me.example.com',
    "pg_acme.example.com",
    "\u0430cme.example.com",  # Cyrillic a
    "acme\x00.example.com",
    " acme.example.com",
    "x" * 64 + ".example.com",
    "x" * 300,
    "-acme.example.com",
    "acme_co.example.com",
]


@pytest.fixture
def statements(engine):
    """A list that records every SQL statement sent through ``engine``."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def _resolve(engine, cache, **request):
    return resolve_tenant(engine, base_domain=BASE, cache=cache, **request)


def test_the_subdomain_of_the_host_names_the_tenant(engine, make_tenants):
    make_tenants("acme", "globex")
    cache = MemoryTenantCache()

    for host in ("acme.example.com", "ACME.Example.com:8443", "acme.example.com."):
        resolved = _resolve(engine, cache, host=host)
        assert (resolved.subdomain, resolved.tenant.schema) == ("acme", "tenant_acme")
    assert _resolve(engine, cache, host="globex.example.com").subdomain == "globex"


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_hostile_or_foreign_hosts_are_404_before_any_sql(engine, statements, host):
    with pytest.raises(TenantNotResolved) as refused:
        _resolve(engine, MemoryTenantCache(), host=host)

    assert statements == []
    assert refused.value.http_status == 404
    assert str(refused.value) == "no tenant answers at this address"


def test_unknown_and_provisioning_tenants_get_the_same_404(engine, make_tenants):
    make_tenants("acme")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO core.tenants (subdomain, company_name, database_schema) "
            "VALUES ('newco', 'New', 'tenant_newco')"
        )
    errors = []
    for host in ("nobody.example.com", "newco.example.com"):
        with pytest.raises(TenantNotResolved) as refused:
            _resolve(engine, MemoryTenantCache(), host=host)
        errors.append(str(refused.value))

    assert errors[0] == errors[1]
    assert "nobody" not in errors[0]


def test_status_decides_the_answer_and_every_change_is_seen_at_once(engine, make_tenants):
    make_tenants("acme")
    host = {"host": "acme.example.com"}
    _resolve(engine, None, **host)  # cached in the default cache, as a server would

    suspend_tenant(engine, "acme")
    with pytest.raises(TenantSuspended) as suspended:
        _resolve(engine, None, **host)
    resume_tenant(engine, "acme")
    assert _resolve(engine, None, **host).subdomain == "acme"
    archive_tenant(engine, "acme")
    with pytest.raises(TenantArchived) as archived:
        _resolve(engine, None, **host)
    resume_tenant(engine, "acme")
    rename_tenant(engine, "acme", "acme-two")
    with pytest.raises(TenantNotResolved):
        _resolve(engine, None, **host)
    assert _resolve(engine, None, host="acme-two.example.com").subdomain == "acme-two"
    drop_tenant(engine, "acme-two", backup=False)
    with pytest.raises(TenantNotResolved):
        _resolve(engine, None, host="acme-two.example.com")

    assert (suspended.value.http_status, archived.value.http_status) == (403, 410)


def test_lookups_are_cached_unknown_ones_too_until_the_ttl(engine, make_tenants, statements):
    make_tenants("acme")
    cache = MemoryTenantCache(ttl=0.5)
    statements.clear()

    for _ in range(3):
        _resolve(engine, cache, host="acme.example.com")
        with pytest.raises(TenantNotResolved):
            _resolve(engine, cache, host="nobody.example.com")
    assert len(statements) == 2
    time.sleep(0.6)
    _resolve(engine, cache, host="acme.example.com")
    assert len(statements) == 3


def test_an_api_key_names_its_tenant_and_must_match_the_host(engine, make_tenants):
    make_tenants("acme", "globex")
    key = create_key(engine, "acme", "ci", scopes=["orders:read"]).plaintext
    cache = MemoryTenantCache()

    resolved = _resolve(engine, cache, api_key=key)
    assert resolved.subdomain == "acme"
    assert resolved.api_key is not None
    assert resolved.api_key.scopes == ("orders:read",)
    assert _resolve(engine, cache, api_key=key, host="acme.example.com").subdomain == "acme"
    refusals = []
    for request in (
        {"api_key": key, "host": "globex.example.com"},  # another tenant's host
        {"api_key": key[:-1] + ("A" if key[-1] != "A" else "B")},  # wrong secret
        {"api_key": "tc_0123456789abcdef_" + secrets.token_urlsafe(32)},  # unknown id
    ):
        with pytest.raises(InvalidApiKey) as refused:
            _resolve(engine, cache, **request)
        refusals.append(str(refused.value))
    assert len(set(refusals)) == 1
    with pytest.raises(ApiKeyScopeDenied):
        _resolve(engine, cache, api_key=key, required_scope="billing:write")


@pytest.mark.parametrize(
    "key", ["", "'; DROP TABLE core.tenants; --", "tc_\u0430bc_def", "x" * 5000, "tc_live_x"]
)
def test_hostile_keys_are_401_before_any_sql(engine, statements, key):
    with pytest.raises(InvalidApiKey):
        _resolve(engine, MemoryTenantCache(), api_key=key)
    assert statements == []


def test_a_suspended_tenants_key_is_refused_with_403(engine, make_tenants):
    make_tenants("acme")
    key = create_key(engine, "acme", "ci").plaintext
    suspend_tenant(engine, "acme")

    with pytest.raises(TenantSuspended):
        _resolve(engine, MemoryTenantCache(), api_key=key)


def test_with_redis_a_status_change_reaches_every_process(engine, make_tenants, monkeypatch):
    subdomain = "r" + secrets.token_hex(6)  # Redis is shared: a name no other run uses
    make_tenants(subdomain)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    host = {"host": f"{subdomain}.example.com"}
    web_1, web_2 = RedisTenantCache(REDIS_URL), RedisTenantCache(REDIS_URL)
    try:
        assert _resolve(engine, web_1, **host).tenant.status == "active"
        key = cache_key(engine, subdomain)
        assert web_2.get(key).tenant.status == "active"  # filled by the other process

        suspend_tenant(engine, subdomain)  # invalidates through $REDIS_URL

        assert web_2.get(key) is None
        with pytest.raises(TenantSuspended):
            _resolve(engine, web_2, **host)
    finally:
        web_1.invalidate(cache_key(engine, subdomain))
