"""Plain API keys and session tokens reach neither the database nor the logs: a real
``pg_dump`` of the database and every log record (SQL with parameters and rows) are searched."""

from __future__ import annotations

import datetime
import logging

import pytest
from sqlalchemy import insert, select

from models import Tenant, TenantUser
from toolkit import create_tenant, make_engine
from toolkit.admin_sessions import AdminSessions, PostgresSessionStore
from toolkit.api_keys import InvalidApiKey, create, list_keys, parse_key, revoke, rotate, verify
from toolkit.passwords import hash_password
from toolkit.pg_client import run_client

PASSWORD = "s3cret admin password"


@pytest.fixture
def echo_engine(db_url):
    """An engine that logs every statement, its parameters and the rows it returns."""
    engine = make_engine(db_url, echo="debug")
    yield engine
    engine.dispose()


def test_plain_keys_and_tokens_never_reach_the_database_or_the_logs(
    db_url, echo_engine, caplog, capsys
):
    caplog.set_level(logging.DEBUG)
    create_tenant(echo_engine, "acme")
    with echo_engine.begin() as connection:
        tenant_id = connection.execute(select(Tenant.id).where(Tenant.subdomain == "acme")).scalar()
        connection.execute(
            insert(TenantUser).values(
                tenant_id=tenant_id,
                email="owner@acme.example",
                password_hash=hash_password(PASSWORD),
            )
        )

    created = create(echo_engine, "acme", "ci", ["orders:read"], datetime.timedelta(days=30))
    verify(echo_engine, created.plaintext, required_scope="orders:read")
    key_id, secret = parse_key(created.plaintext)
    with pytest.raises(InvalidApiKey):
        verify(echo_engine, f"tc_{key_id}_{secret[::-1]}")
    rotated = rotate(echo_engine, "acme", key_id, grace=datetime.timedelta(hours=1))
    verify(echo_engine, rotated.new.plaintext)
    list_keys(echo_engine, "acme")
    revoke(echo_engine, "acme", key_id)

    sessions = AdminSessions(echo_engine, PostgresSessionStore(echo_engine))
    issued = sessions.login("acme", "owner@acme.example", PASSWORD)
    sessions.verify(issued.token)
    renewed = sessions.renew(issued.token)

    logs = caplog.text + "".join(capsys.readouterr())
    dump = run_client("pg_dump", db_url, ["--schema=core"])
    never = {
        "api key": created.plaintext,
        "api key secret": secret,
        "rotated key": rotated.new.plaintext,
        "rotated key secret": parse_key(rotated.new.plaintext).secret,
        "session token": issued.token,
        "session token secret": issued.token[4:],
        "renewed token secret": renewed.token[4:],
        "admin password": PASSWORD,
    }
    for what, value in never.items():
        assert value not in logs, f"{what} found in the logs"
        assert value not in dump, f"{what} found in pg_dump"
    # The searches looked where the values would have been: ids, digests and SQL are there.
    stored_hashes = [created.info.key_id, rotated.new.info.key_id, renewed.session.token_hash]
    for value in stored_hashes:
        assert value in dump
        assert value in logs
    assert "UPDATE core.tenant_api_keys SET last_used_at" in logs
    assert f"created API key {key_id} for tenant acme" in caplog.text
