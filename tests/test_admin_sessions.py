"""Tenant admin login and sessions on both stores: PostgreSQL (default) and a real Redis."""

from __future__ import annotations

import datetime
import hashlib
import time
import uuid

import pytest
import redis
from argon2 import PasswordHasher
from sqlalchemy import insert, select, text

import toolkit.admin_sessions.service as service
from models import TenantAdminSession, TenantUser
from toolkit.admin_sessions import (
    AccountDisabled,
    AdminSessions,
    InvalidCredentials,
    InvalidSession,
    PostgresSessionStore,
    RedisSessionStore,
    SessionPolicy,
    session_store,
)
from toolkit.errors import InvalidOption
from toolkit.passwords import dummy_hash, hash_password, needs_rehash, verify_password

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
PASSWORD = "correct horse battery staple"
POLICY = SessionPolicy(idle=datetime.timedelta(minutes=10), absolute=datetime.timedelta(minutes=25))


class Clock:
    """A clock the test moves by hand, starting at the real time."""

    def __init__(self) -> None:
        self.now = datetime.datetime.now(datetime.UTC)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += datetime.timedelta(**delta)


@pytest.fixture
def redis_client():
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    client.ping()
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client):
    """A key prefix of this test alone; every key under it is deleted afterwards."""
    prefix = f"tenantctl-test:{uuid.uuid4().hex}:"
    yield prefix
    stale = list(redis_client.scan_iter(match=f"{prefix}*"))
    if stale:
        redis_client.delete(*stale)


@pytest.fixture(params=["postgres", "redis"])
def store(request, engine):
    if request.param == "postgres":
        return PostgresSessionStore(engine)
    client = request.getfixturevalue("redis_client")
    return RedisSessionStore(client, request.getfixturevalue("redis_prefix"))


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sessions(engine, store, clock):
    return AdminSessions(engine, store, POLICY, clock=clock)


def add_admin(
    engine, subdomain, email, *, password=PASSWORD, role="admin", active=True, hashed=None
):
    with engine.begin() as connection:
        return connection.execute(
            insert(TenantUser)
            .from_select(
                ["tenant_id", "email", "password_hash", "role", "is_active"],
                select(
                    text("id"),
                    text(":email"),
                    text(":hash"),
                    text(":role"),
                    text(":active"),
                )
                .select_from(text("core.tenants"))
                .where(text("subdomain = :subdomain")),
            )
            .returning(TenantUser.id),
            {
                "email": email,
                "hash": hashed or hash_password(password),
                "role": role,
                "active": active,
                "subdomain": subdomain,
            },
        ).scalar_one()


@pytest.fixture
def owner(engine, make_tenants):
    make_tenants("acme", "globex")
    return add_admin(engine, "acme", "owner@acme.example")


def _sql(engine, statement, **params):
    with engine.begin() as connection:
        return connection.execute(text(statement), params)


# -- login -----------------------------------------------------------------------------------


def test_login_issues_a_256_bit_token_and_verify_says_whose_it_is(sessions, owner):
    issued = sessions.login("acme", "owner@acme.example", PASSWORD)
    assert issued.token.startswith("tcs_")
    assert len(issued.token) == len("tcs_") + 43
    assert issued.session.token_hash == hashlib.sha256(issued.token[4:].encode()).hexdigest()
    assert issued.token not in repr(issued)
    session = sessions.verify(issued.token)
    assert (session.user_id, session.role) == (owner, "admin")
    assert session.absolute_expires_at - session.created_at == POLICY.absolute


def test_login_matches_the_email_whatever_its_case(sessions, owner):
    assert sessions.login("acme", "  Owner@ACME.example ", PASSWORD).session.user_id == owner


def test_wrong_password_unknown_email_and_unknown_tenant_are_refused_alike(
    sessions, owner, monkeypatch
):
    checked = []

    def spy(password, encoded):
        checked.append(encoded)
        return verify_password(password, encoded)

    monkeypatch.setattr(service, "verify_password", spy)
    messages = set()
    for tenant, email, password in [
        ("acme", "owner@acme.example", PASSWORD + "!"),
        ("acme", "nobody@acme.example", PASSWORD),
        ("globex", "owner@acme.example", PASSWORD),  # right email, other tenant
        ("nowhere", "owner@acme.example", PASSWORD),
        ("Not A Subdomain", "owner@acme.example", PASSWORD),
    ]:
        with pytest.raises(InvalidCredentials) as caught:
            sessions.login(tenant, email, password)
        messages.add(str(caught.value))
    assert len(messages) == 1
    # Every attempt paid for one argon2 verification; unknown admins against the dummy hash.
    assert checked[0] != dummy_hash()
    assert checked[1:] == [dummy_hash()] * 4


def test_an_inactive_admin_cannot_log_in_but_learns_it_only_with_the_right_password(
    engine, sessions, owner
):
    add_admin(engine, "acme", "gone@acme.example", active=False)
    with pytest.raises(InvalidCredentials):
        sessions.login("acme", "gone@acme.example", "wrong")
    with pytest.raises(AccountDisabled, match="the admin is deactivated"):
        sessions.login("acme", "gone@acme.example", PASSWORD)


def test_admins_of_a_suspended_tenant_cannot_log_in(engine, sessions, owner):
    _sql(engine, "UPDATE core.tenants SET status = 'suspended' WHERE subdomain = 'acme'")
    with pytest.raises(AccountDisabled, match="the tenant is suspended"):
        sessions.login("acme", "owner@acme.example", PASSWORD)


def test_login_records_the_time_and_rehashes_an_outdated_hash(engine, make_tenants, store):
    make_tenants("acme")
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    user_id = add_admin(engine, "acme", "old@acme.example", hashed=weak)
    AdminSessions(engine, store).login("acme", "old@acme.example", PASSWORD)
    stored, last_login = _sql(
        engine,
        "SELECT password_hash, last_login_at FROM core.tenant_users WHERE id = :id",
        id=user_id,
    ).one()
    assert stored != weak
    assert not needs_rehash(stored)
    assert verify_password(PASSWORD, stored)
    assert last_login is not None


# -- expiry ------------------------------------------------------------------------------------


def test_each_use_moves_the_idle_deadline_but_never_past_the_absolute_one(sessions, owner, clock):
    issued = sessions.login("acme", "owner@acme.example", PASSWORD)
    start = clock.now
    assert issued.session.idle_expires_at == start + POLICY.idle
    clock.advance(minutes=9)
    assert sessions.verify(issued.token).idle_expires_at == start + datetime.timedelta(minutes=19)
    clock.advance(minutes=9)
    assert sessions.verify(issued.token).idle_expires_at == start + POLICY.absolute  # capped
    clock.advance(minutes=6, seconds=59)
    assert sessions.verify(issued.token)
    clock.advance(seconds=1)  # exactly the absolute deadline
    with pytest.raises(InvalidSession, match="log in again"):
        sessions.verify(issued.token)


def test_an_idle_session_ends_and_is_removed_from_the_store(sessions, store, owner, clock):
    issued = sessions.login("acme", "owner@acme.example", PASSWORD)
    clock.advance(minutes=10)
    with pytest.raises(InvalidSession):
        sessions.verify(issued.token)
    assert store.remove(issued.session.token_hash) is None


def test_malformed_tokens_are_refused(sessions, owner):
    issued = sessions.login("acme", "owner@acme.example", PASSWORD)
    for token in ["", "tcs_", issued.token[:-1], issued.token + "x", "tc_" + issued.token[4:]]:
        with pytest.raises(InvalidSession):
            sessions.verify(token)
        assert sessions.revoke(token) is False
    assert sessions.verify(issued.token)


def test_a_policy_must_be_positive_with_idle_within_absolute():
    with pytest.raises(InvalidOption, match="idle must not exceed absolute"):
        SessionPolicy(idle=datetime.timedelta(hours=2), absolute=datetime.timedelta(hours=1))


# -- renew and revoke --------------------------------------------------------------------------


def test_renewal_after_a_role_change_issues_a_new_token_and_ends_the_old_one(
    engine, sessions, owner, clock
):
    issued = sessions.login("acme", "owner@acme.example", PASSWORD)
    _sql(engine, "UPDATE core.tenant_users SET role = 'owner' WHERE id = :id", id=owner)
    clock.advance(minutes=5)
    renewed = sessions.renew(issued.token)
    assert renewed.token != issued.token
    assert renewed.session.role == "owner"
    assert renewed.session.absolute_expires_at == issued.session.absolute_expires_at
    with pytest.raises(InvalidSession):
        sessions.verify(issued.token)
    assert sessions.verify(renewed.token).role == "owner"


def test_renewal_of_a_deactivated_admin_ends_the_session(engine, sessions, owner):
    issued = sessions.login("acme", "owner@acme.example", PASSWORD)
    _sql(engine, "UPDATE core.tenant_users SET is_active = false WHERE id = :id", id=owner)
    with pytest.raises(AccountDisabled):
        sessions.renew(issued.token)
    with pytest.raises(InvalidSession):
        sessions.verify(issued.token)


def test_revoking_one_session_leaves_the_others(sessions, owner):
    first = sessions.login("acme", "owner@acme.example", PASSWORD)
    second = sessions.login("acme", "owner@acme.example", PASSWORD)
    assert sessions.revoke(first.token) is True
    assert sessions.revoke(first.token) is False
    with pytest.raises(InvalidSession):
        sessions.verify(first.token)
    assert sessions.verify(second.token).user_id == owner


def test_revoke_all_ends_every_session_of_one_admin_only(engine, sessions, owner):
    other = add_admin(engine, "acme", "other@acme.example")
    mine = [sessions.login("acme", "owner@acme.example", PASSWORD) for _ in range(3)]
    theirs = sessions.login("acme", "other@acme.example", PASSWORD)
    sessions.revoke(mine[0].token)
    assert sessions.revoke_all(owner) == 2
    for issued in mine:
        with pytest.raises(InvalidSession):
            sessions.verify(issued.token)
    assert sessions.verify(theirs.token).user_id == other
    assert sessions.revoke_all(owner) == 0
    again = sessions.login("acme", "owner@acme.example", PASSWORD)  # new logins still work
    assert sessions.verify(again.token).user_id == owner


# -- store specifics ---------------------------------------------------------------------------


def test_postgres_keeps_only_the_digest_and_purges_expired_rows(engine, owner, clock):
    store = PostgresSessionStore(engine)
    sessions = AdminSessions(engine, store, POLICY, clock=clock)
    expiring = sessions.login("acme", "owner@acme.example", PASSWORD)
    clock.advance(minutes=5)
    staying = sessions.login("acme", "owner@acme.example", PASSWORD)
    rows = _sql(engine, "SELECT t::text FROM core.tenant_admin_sessions AS t").scalars().all()
    assert len(rows) == 2
    for issued in (expiring, staying):
        assert not any(issued.token[4:] in row for row in rows)
        assert any(issued.session.token_hash in row for row in rows)
    assert store.purge_expired(clock.now + datetime.timedelta(minutes=7)) == 1
    with engine.connect() as connection:
        left = connection.execute(select(TenantAdminSession.token_hash)).scalars().all()
    assert left == [staying.session.token_hash]


def test_postgres_sessions_go_with_their_admin(engine, owner):
    sessions = AdminSessions(engine, PostgresSessionStore(engine))
    issued = sessions.login("acme", "owner@acme.example", PASSWORD)
    _sql(engine, "DELETE FROM core.tenant_users WHERE id = :id", id=owner)
    with pytest.raises(InvalidSession):
        sessions.verify(issued.token)


def test_redis_keys_expire_by_ttl_and_hold_only_the_digest(
    engine, owner, redis_client, redis_prefix
):
    store = RedisSessionStore(redis_client, redis_prefix)
    policy = SessionPolicy(idle=datetime.timedelta(seconds=1), absolute=datetime.timedelta(hours=1))
    issued = AdminSessions(engine, store, policy).login("acme", "owner@acme.example", PASSWORD)
    key = f"{redis_prefix}session:{issued.session.token_hash}"
    assert 0 < redis_client.pttl(key) <= 1000
    assert 3500 < redis_client.ttl(f"{redis_prefix}admin:{owner}") <= 3600
    value = redis_client.get(key)
    assert issued.session.token_hash.encode() in value
    assert issued.token[4:].encode() not in value
    members = redis_client.smembers(f"{redis_prefix}admin:{owner}")
    assert members == {issued.session.token_hash.encode()}
    time.sleep(1.2)
    assert redis_client.exists(key) == 0  # Redis itself forgot the idle session


def test_the_store_is_redis_when_redis_url_is_set(engine):
    assert isinstance(session_store(engine, {}), PostgresSessionStore)
    chosen = session_store(engine, {"REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0"})
    assert isinstance(chosen, RedisSessionStore)
    assert chosen.client.ping()


def test_revoke_tenant_ends_the_sessions_of_all_its_admins_only(engine, sessions, owner):
    add_admin(engine, "acme", "second@acme.example")
    add_admin(engine, "globex", "owner@globex.example")
    acme = [
        sessions.login("acme", email, PASSWORD)
        for email in ("owner@acme.example", "second@acme.example")
    ]
    globex = sessions.login("globex", "owner@globex.example", PASSWORD)
    assert sessions.revoke_tenant("acme") == 2
    for issued in acme:
        with pytest.raises(InvalidSession):
            sessions.verify(issued.token)
    assert sessions.verify(globex.token)
