"""API keys tc_<id>_<secret>: created once, found by id, refused alike when unknown or wrong."""

from __future__ import annotations

import datetime
import hashlib

import pytest
from sqlalchemy import event, select, text

from models import TenantApiKey
from toolkit.api_keys import (
    ApiKeyNotFound,
    ApiKeyScopeDenied,
    ApiKeyStateError,
    InvalidApiKey,
    create,
    list_keys,
    parse_key,
    revoke,
    rotate,
    verify,
)
from toolkit.errors import InvalidOption, InvalidSubdomain, TenantNotFound

KEY_FORMAT = r"tc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}"


def _row(engine, key_id):
    with engine.connect() as connection:
        return connection.execute(
            select(TenantApiKey.__table__).where(TenantApiKey.key_id == key_id)
        ).one()


def _sql(engine, statement, **params):
    with engine.begin() as connection:
        connection.execute(text(statement), params)


def _refusal(engine, plaintext):
    with pytest.raises(InvalidApiKey) as caught:
        verify(engine, plaintext)
    return str(caught.value)


@pytest.fixture
def acme(make_tenants):
    make_tenants("acme", "globex")
    return "acme"


def test_created_key_stores_only_its_id_and_the_sha256_of_its_secret(engine, acme):
    created = create(engine, acme, "storefront sync", ["orders:read", "designs:read"])
    assert created.subdomain == "acme"
    key_id, secret = parse_key(created.plaintext)
    assert created.plaintext == f"tc_{key_id}_{secret}"
    assert len(secret) == 43  # secrets.token_urlsafe(32): 256 bits
    assert created.info.key_id == key_id
    assert created.info.scopes == ("orders:read", "designs:read")
    assert (created.info.state, created.info.expires_at) == ("active", None)
    row = _row(engine, key_id)
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in repr(tuple(row))
    assert created.plaintext not in repr(created)


def test_two_keys_never_share_an_id_or_a_secret(engine, acme):
    keys = [parse_key(create(engine, acme, f"k{n}").plaintext) for n in range(20)]
    assert len({key.key_id for key in keys}) == 20
    assert len({key.secret for key in keys}) == 20


def test_verify_says_whose_key_it_is_and_records_the_use(engine, acme):
    created = create(engine, acme, "ci", ["orders:read"])
    assert _row(engine, created.info.key_id).last_used_at is None
    identity = verify(engine, created.plaintext, required_scope="orders:read")
    assert identity.subdomain == "acme"
    assert identity.tenant_status == "active"
    assert identity.key_id == created.info.key_id
    assert identity.scopes == ("orders:read",)
    with engine.connect() as connection:
        tenant_id = connection.execute(
            text("SELECT id FROM core.tenants WHERE subdomain = 'acme'")
        ).scalar_one()
    assert identity.tenant_id == tenant_id
    assert _row(engine, created.info.key_id).last_used_at is not None


def test_verify_reports_a_suspended_tenant_for_the_caller_to_refuse(engine, acme):
    created = create(engine, acme, "ci")
    _sql(engine, "UPDATE core.tenants SET status = 'suspended' WHERE subdomain = 'acme'")
    assert verify(engine, created.plaintext).tenant_status == "suspended"


def test_unknown_id_wrong_secret_revoked_and_expired_keys_get_one_message(engine, acme):
    good = create(engine, acme, "good")
    key_id, secret = parse_key(good.plaintext)
    wrong_secret = f"tc_{key_id}_{'A' * 43}"
    unknown_id = f"tc_{'0' * 16}_{secret}"
    revoked = create(engine, acme, "revoked")
    revoke(engine, acme, revoked.info.key_id)
    expired = create(engine, acme, "expired", expires=datetime.timedelta(days=1))
    _sql(
        engine,
        "UPDATE core.tenant_api_keys SET expires_at = now() - interval '1 second' "
        "WHERE key_id = :key_id",
        key_id=expired.info.key_id,
    )
    messages = {
        _refusal(engine, key)
        for key in (wrong_secret, unknown_id, revoked.plaintext, expired.plaintext)
    }
    assert len(messages) == 1
    (message,) = messages
    assert "unknown, wrong, revoked or expired" in message
    assert secret not in message
    assert verify(engine, good.plaintext).key_id == key_id  # the good key still works
    assert _row(engine, revoked.info.key_id).last_used_at is None


@pytest.mark.parametrize(
    "plaintext",
    [
        "",
        "tc_",
        "x" * 63,
        "tk_0123456789abcdef_" + "a" * 43,  # wrong prefix
        "tc_0123456789ABCDEF_" + "a" * 43,  # key ids are lower-case hex
        "tc_0123456789abcdef_" + "a" * 42 + "!",  # a character no secret has
        "tc_0123456789abcdef_" + "a" * 44,  # one too long
        "tc_0123456789abcdef_" + "a" * 10_000,
        "tc_0123456789abcdef_" + "a" * 42 + "\n",
        "tc_0123456789abcde_" + "a" * 44,  # id one short, secret one long
    ],
)
def test_malformed_keys_are_refused_before_any_sql(engine, plaintext):
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with pytest.raises(InvalidApiKey, match="malformed API key"):
        verify(engine, plaintext)
    assert statements == []


def test_a_missing_scope_is_its_own_error_and_the_key_stays_valid(engine, acme):
    created = create(engine, acme, "reader", ["orders:read"])
    with pytest.raises(
        ApiKeyScopeDenied, match=r"lacks scope 'orders:write' \(it has: orders:read\)"
    ):
        verify(engine, created.plaintext, required_scope="orders:write")
    assert not issubclass(ApiKeyScopeDenied, InvalidApiKey)
    assert _row(engine, created.info.key_id).last_used_at is not None
    assert verify(engine, created.plaintext, required_scope="orders:read").key_id


def test_expiry_is_set_from_the_database_clock(engine, acme):
    created = create(engine, acme, "ninety days", expires=datetime.timedelta(days=90))
    row = _row(engine, created.info.key_id)
    assert row.expires_at - row.created_at == datetime.timedelta(days=90)


def test_revoke_is_immediate_and_idempotent(engine, acme):
    created = create(engine, acme, "ci")
    first = revoke(engine, acme, created.info.key_id)
    assert first.state == "revoked"
    assert first.revoked_at is not None
    again = revoke(engine, acme, created.info.key_id)
    assert again.revoked_at == first.revoked_at
    with pytest.raises(InvalidApiKey):
        verify(engine, created.plaintext)


def test_a_tenant_cannot_revoke_or_rotate_another_tenants_key(engine, acme):
    created = create(engine, "globex", "theirs")
    with pytest.raises(
        ApiKeyNotFound, match=rf"tenant 'acme' has no API key {created.info.key_id}"
    ):
        revoke(engine, acme, created.info.key_id)
    with pytest.raises(ApiKeyNotFound):
        rotate(engine, acme, created.info.key_id)
    assert verify(engine, created.plaintext).subdomain == "globex"


def test_rotation_gives_a_new_key_and_keeps_the_old_one_for_the_grace_period(engine, acme):
    old = create(engine, acme, "sync", ["orders:read"], expires=datetime.timedelta(days=90))
    rotated = rotate(engine, acme, old.info.key_id, grace=datetime.timedelta(hours=24))
    new = rotated.new
    assert new.info.key_id != old.info.key_id
    assert (new.info.name, new.info.scopes) == ("sync", ("orders:read",))
    assert new.info.expires_at - new.info.created_at == datetime.timedelta(days=90)
    assert rotated.old.expires_at - new.info.created_at == datetime.timedelta(hours=24)
    assert verify(engine, old.plaintext).key_id == old.info.key_id
    assert verify(engine, new.plaintext).key_id == new.info.key_id
    _sql(
        engine,
        "UPDATE core.tenant_api_keys SET expires_at = now() - interval '1 second' "
        "WHERE key_id = :key_id",
        key_id=old.info.key_id,
    )  # the grace period is over
    with pytest.raises(InvalidApiKey):
        verify(engine, old.plaintext)
    assert verify(engine, new.plaintext).key_id == new.info.key_id


def test_rotation_never_extends_the_old_key_and_grace_zero_ends_it_now(engine, acme):
    soon = create(engine, acme, "soon", expires=datetime.timedelta(hours=1))
    rotated = rotate(engine, acme, soon.info.key_id, grace=datetime.timedelta(hours=24))
    assert rotated.old.expires_at == soon.info.expires_at
    forever = create(engine, acme, "forever")
    now_over = rotate(engine, acme, forever.info.key_id, grace=datetime.timedelta(0))
    assert now_over.old.state == "expired"
    assert now_over.new.info.expires_at is None
    with pytest.raises(InvalidApiKey):
        verify(engine, forever.plaintext)


def test_a_revoked_or_expired_key_cannot_be_rotated(engine, acme):
    created = create(engine, acme, "ci")
    revoke(engine, acme, created.info.key_id)
    with pytest.raises(ApiKeyStateError, match="is revoked and cannot be rotated"):
        rotate(engine, acme, created.info.key_id)
    assert [key.key_id for key in list_keys(engine, acme)] == [created.info.key_id]


def test_list_shows_every_key_with_its_state_and_no_secret(engine, acme):
    live = create(engine, acme, "live", ["a"])
    gone = create(engine, acme, "gone")
    revoke(engine, acme, gone.info.key_id)
    create(engine, "globex", "not acme's")
    keys = list_keys(engine, acme)
    assert [(k.key_id, k.name, k.state) for k in keys] == [
        (live.info.key_id, "live", "active"),
        (gone.info.key_id, "gone", "revoked"),
    ]
    for created in (live, gone):
        assert parse_key(created.plaintext).secret not in repr(keys)
    assert keys[0].shown_as == f"tc_{live.info.key_id}_..."


@pytest.mark.parametrize(
    ("name", "scopes", "expires", "message"),
    [
        ("", (), None, "invalid API key name"),
        ("x" * 101, (), None, "invalid API key name"),
        ("ok", ("Orders:Read",), None, "invalid API key scope"),
        ("ok", ("orders read",), None, "invalid API key scope"),
        ("ok", (), datetime.timedelta(0), "must be in the future"),
    ],
)
def test_bad_input_is_refused_before_any_sql(engine, name, scopes, expires, message):
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with pytest.raises(InvalidOption, match=message):
        create(engine, "acme", name, scopes, expires)
    with pytest.raises(InvalidSubdomain):
        create(engine, "Not A Tenant", "ok")
    with pytest.raises(InvalidOption, match="invalid key id 'nope'"):
        revoke(engine, "acme", "nope")
    assert statements == []


def test_unknown_tenant_is_named(engine):
    with pytest.raises(TenantNotFound, match="unknown tenant 'nobody'"):
        create(engine, "nobody", "ci")
