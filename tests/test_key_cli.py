"""``tenantctl key``: the key printed once, lists without secrets, clear one-line errors."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from cli_runner import one_line_error, tenantctl

from toolkit.api_keys import InvalidApiKey, parse_key, verify
from toolkit.durations import parse_duration
from toolkit.errors import InvalidOption

KEY = re.compile(r"tc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", datetime.timedelta(days=90)),
        ("24h", datetime.timedelta(hours=24)),
        ("30m", datetime.timedelta(minutes=30)),
        ("45s", datetime.timedelta(seconds=45)),
        ("2w", datetime.timedelta(weeks=2)),
        (" 7d ", datetime.timedelta(days=7)),
    ],
)
def test_durations_are_a_number_and_a_unit(text, expected):
    assert parse_duration(text, option="--expires") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "write a whole number followed by one unit"),
        ("90", "write a whole number followed by one unit"),
        ("d", "write a whole number followed by one unit"),
        ("1.5h", "write a whole number followed by one unit"),
        ("-1d", "write a whole number followed by one unit"),
        ("10y", "write a whole number followed by one unit"),
        ("1d2h", "write a whole number followed by one unit"),
        ("0d", "it must be longer than 0"),
        ("4000d", "at most 3660d"),
    ],
)
def test_bad_durations_name_the_option_and_the_value(text, message):
    with pytest.raises(InvalidOption, match=re.escape(f"{text!r} for --expires: ")) as caught:
        parse_duration(text, option="--expires")
    assert message in str(caught.value)


def test_zero_is_a_duration_only_where_allowed():
    assert parse_duration("0s", option="--grace", allow_zero=True) == datetime.timedelta(0)


def test_create_prints_the_key_once_then_list_rotate_and_revoke(db_url, engine, make_tenants):
    make_tenants("acme")
    out = _ok(
        tenantctl(
            db_url,
            "key",
            "create",
            "acme",
            "--name",
            "CI deploys",
            "--scopes",
            "orders:read,designs:read",
            "--expires",
            "90d",
        )
    )
    (plaintext,) = KEY.findall(out)
    assert f"\n{plaintext}\n" in f"\n{out}"  # on a line of its own
    assert "cannot be shown again" in out
    key_id = parse_key(plaintext).key_id
    identity = verify(engine, plaintext, required_scope="designs:read")
    assert identity.scopes == ("orders:read", "designs:read")

    listed = _ok(tenantctl(db_url, "key", "list", "acme", "--json"))
    (entry,) = json.loads(listed)
    assert (entry["key_id"], entry["name"], entry["state"]) == (key_id, "CI deploys", "active")
    assert entry["scopes"] == ["orders:read", "designs:read"]
    assert parse_key(plaintext).secret not in listed
    table = _ok(tenantctl(db_url, "key", "list", "acme"))
    assert key_id in table
    assert not KEY.search(table)

    rotated = json.loads(
        _ok(tenantctl(db_url, "key", "rotate", "acme", key_id, "--grace", "1h", "--json"))
    )
    assert KEY.fullmatch(rotated["key"])
    assert rotated["replaced"]["key_id"] == key_id
    assert rotated["name"] == "CI deploys"
    assert verify(engine, plaintext).key_id == key_id  # still valid in its grace period
    assert verify(engine, rotated["key"]).key_id == rotated["key_id"]

    revoked = _ok(tenantctl(db_url, "key", "revoke", "acme", key_id))
    assert f"revoked API key {key_id}" in revoked
    with pytest.raises(InvalidApiKey):
        verify(engine, plaintext)
    states = {
        k["key_id"]: k["state"]
        for k in json.loads(_ok(tenantctl(db_url, "key", "list", "acme", "--json")))
    }
    assert states == {key_id: "revoked", rotated["key_id"]: "active"}


def test_create_json_has_the_key_and_its_metadata(db_url, engine, make_tenants):
    make_tenants("acme")
    created = json.loads(_ok(tenantctl(db_url, "key", "create", "acme", "--name", "ci", "--json")))
    assert created["tenant"] == "acme"
    assert created["expires_at"] is None
    assert created["scopes"] == []
    assert verify(engine, created["key"]).key_id == created["key_id"]


def test_bad_input_exits_2_with_one_line(db_url, make_tenants):
    make_tenants("acme")
    bad_duration = tenantctl(db_url, "key", "create", "acme", "--name", "ci", "--expires", "90x")
    assert bad_duration.returncode == 2
    one_line_error(bad_duration, "invalid duration '90x' for --expires")
    bad_scope = tenantctl(db_url, "key", "create", "acme", "--name", "ci", "--scopes", "Read All")
    assert bad_scope.returncode == 2
    one_line_error(bad_scope, "invalid API key scope(s) 'Read All'")
    bad_grace = tenantctl(db_url, "key", "rotate", "acme", "0123456789abcdef", "--grace", "soon")
    assert bad_grace.returncode == 2
    one_line_error(bad_grace, "invalid duration 'soon' for --grace")
    bad_id = tenantctl(db_url, "key", "revoke", "acme", "tc_0123")
    assert bad_id.returncode == 2
    one_line_error(bad_id, "invalid key id 'tc_0123'")
    whole_key = "tc_0123456789abcdef_" + "s" * 43
    pasted = tenantctl(db_url, "key", "revoke", "acme", whole_key)
    assert pasted.returncode == 2
    one_line_error(pasted, "invalid key id (too long, not shown)")
    assert "s" * 43 not in pasted.stderr
    assert _ok(tenantctl(db_url, "key", "list", "acme", "--json")).strip() == "[]"


def test_unknown_tenant_or_key_exits_1_with_one_line(db_url, make_tenants):
    make_tenants("acme")
    no_tenant = tenantctl(db_url, "key", "create", "nobody", "--name", "ci")
    assert no_tenant.returncode == 1
    one_line_error(no_tenant, "unknown tenant 'nobody'")
    no_key = tenantctl(db_url, "key", "revoke", "acme", "0123456789abcdef")
    assert no_key.returncode == 1
    one_line_error(
        no_key, "tenant 'acme' has no API key 0123456789abcdef", "tenantctl key list acme"
    )
