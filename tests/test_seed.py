"""Sample data: three tenants with rows in every table, loaded once, secrets kept as hashes."""

import dataclasses
import datetime
import hashlib
import json
import re

import pytest
from cli_runner import tenantctl
from sqlalchemy import func, select, text

from models import (
    CanvasConfig,
    DesignImage,
    EtsyProductTemplate,
    Mockup,
    MockupStatus,
    Order,
    SizeConfig,
    Tenant,
    TenantApiKey,
    TenantSubscription,
    TenantUser,
    User,
)
from toolkit import create_tenant, list_tenants, tenant_session
from toolkit.api_keys import parse_key, verify
from toolkit.passwords import verify_password
from toolkit.seed import (
    DEMO_PASSWORD,
    SAMPLE_TENANTS,
    SeedFailed,
    SeedOutcome,
    seed_sample_data,
)

SUBDOMAINS = ["acme", "globex", "initech"]
API_KEY = r"tc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}"
TENANT_MODELS = (User, EtsyProductTemplate, DesignImage, CanvasConfig, SizeConfig, Mockup, Order)
CORE_MODELS = (TenantUser, TenantSubscription, TenantApiKey)


def _counts(engine, subdomain):
    """Rows per table for one tenant: its schema's tables, and its rows in core."""
    with tenant_session(engine, subdomain) as session:
        tenant_id = session.scalars(select(Tenant.id).where(Tenant.subdomain == subdomain)).one()
        counts = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in TENANT_MODELS
        }
        for model in CORE_MODELS:
            query = select(func.count()).select_from(model).where(model.tenant_id == tenant_id)
            counts[f"core.{model.__tablename__}"] = session.scalar(query)
    return counts


def _values(engine, subdomain, column):
    with tenant_session(engine, subdomain) as session:
        return list(session.scalars(select(column)))


def test_every_sample_table_gets_rows_in_each_tenant(engine, seeded):
    assert [t.subdomain for t in seeded.tenants] == SUBDOMAINS
    assert {t.outcome for t in seeded.tenants} == {SeedOutcome.CREATED}
    for tenant in seeded.tenants:
        counts = _counts(engine, tenant.subdomain)
        assert all(count > 0 for count in counts.values()), (tenant.subdomain, counts)
        assert counts == tenant.rows
    with engine.connect() as connection:
        records = list_tenants(connection)
    assert [(r.subdomain, r.status, r.plan) for r in records] == [
        ("acme", "active", "pro"),
        ("globex", "active", "business"),
        ("initech", "active", "free"),
    ]
    assert len({r.company_name for r in records}) == 3


def test_admins_are_an_owner_and_an_admin_per_tenant(engine, seeded):
    with engine.connect() as connection:
        rows = connection.execute(
            select(Tenant.subdomain, TenantUser.email, TenantUser.role)
            .join(Tenant, Tenant.id == TenantUser.tenant_id)
            .order_by(Tenant.subdomain, TenantUser.email)
        ).all()
    for tenant in seeded.tenants:
        mine = [(email, role) for sub, email, role in rows if sub == tenant.subdomain]
        assert sorted(email for email, _ in mine) == sorted(tenant.admin_emails)
        assert sorted(role for _, role in mine) == ["admin", "owner"]


def test_mockups_cover_every_status_in_each_tenant(engine, seeded):
    for subdomain in SUBDOMAINS:
        statuses = set(_values(engine, subdomain, Mockup.status))
        assert statuses == {status.value for status in MockupStatus}, subdomain


def test_finished_and_failed_mockups_say_how_they_ended(engine, seeded):
    with tenant_session(engine, "acme") as session:
        mockups = session.scalars(select(Mockup)).all()
    for mockup in mockups:
        ended = mockup.status in (MockupStatus.DONE, MockupStatus.FAILED)
        assert (mockup.finished_at is not None) == ended
        assert (mockup.result_url is not None) == (mockup.status == MockupStatus.DONE)
        assert (mockup.error is not None) == (mockup.status == MockupStatus.FAILED)


def test_orders_come_from_two_platforms_in_each_tenant(engine, seeded):
    for subdomain in SUBDOMAINS:
        assert len(set(_values(engine, subdomain, Order.platform))) == 2, subdomain


def test_second_run_adds_nothing_and_reports_tenants_skipped(engine, seeded):
    before = {sub: _counts(engine, sub) for sub in SUBDOMAINS}
    again = seed_sample_data(engine)
    assert [t.outcome for t in again.tenants] == [SeedOutcome.SKIPPED] * 3
    assert again.created == ()
    assert all(t.api_key is None and t.rows == {} for t in again.tenants)
    assert {sub: _counts(engine, sub) for sub in SUBDOMAINS} == before


def test_existing_tenant_is_left_alone_and_the_others_are_seeded(engine):
    create_tenant(engine, "globex", company_name="Real Globex", plan="free")
    report = seed_sample_data(engine)
    assert [t.outcome for t in report.tenants] == [
        SeedOutcome.CREATED,
        SeedOutcome.SKIPPED,
        SeedOutcome.CREATED,
    ]
    assert report.skipped[0].company_name == "Real Globex"
    assert _counts(engine, "globex")["orders"] == 0
    assert _counts(engine, "acme")["orders"] > 0


def test_api_key_is_stored_only_as_its_hash(engine, seeded):
    with engine.connect() as connection:
        stored = connection.execute(
            select(Tenant.subdomain, TenantApiKey.key_id, TenantApiKey.key_hash).join(
                Tenant, Tenant.id == TenantApiKey.tenant_id
            )
        ).all()
        whole_rows = connection.execute(
            text("SELECT k::text FROM core.tenant_api_keys AS k")
        ).scalars()
        dumped = "\n".join(whole_rows)
    by_subdomain = {sub: (key_id, key_hash) for sub, key_id, key_hash in stored}
    for tenant in seeded.tenants:
        plain = tenant.api_key
        key_id, secret = parse_key(plain)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        assert by_subdomain[tenant.subdomain] == (key_id, digest)
        assert plain not in dumped
        assert secret not in dumped
        assert verify(engine, plain, "orders:read").subdomain == tenant.subdomain
    assert len({t.api_key for t in seeded.tenants}) == 3


def test_admin_passwords_are_salted_hashes_that_verify(engine, seeded):
    with engine.connect() as connection:
        hashes = connection.execute(select(TenantUser.password_hash)).scalars().all()
    assert len(hashes) == 6
    assert len(set(hashes)) == 6  # a fresh salt per admin
    for stored in hashes:
        assert stored.startswith("$argon2id$")
        assert DEMO_PASSWORD not in stored
        assert verify_password(DEMO_PASSWORD, stored)
        assert not verify_password(DEMO_PASSWORD + "!", stored)
    assert seeded.admin_password == DEMO_PASSWORD


def test_each_tenants_rows_stay_in_its_own_schema(engine, seeded):
    buyers = {sub: set(_values(engine, sub, Order.buyer_name)) for sub in SUBDOMAINS}
    emails = {sub: _values(engine, sub, User.email) for sub in SUBDOMAINS}
    for sample in SAMPLE_TENANTS:
        assert buyers[sample.subdomain] == set(sample.buyers)
        assert all(e.endswith(f"@{sample.subdomain}.example") for e in emails[sample.subdomain])
    assert buyers["acme"].isdisjoint(buyers["globex"] | buyers["initech"])
    with engine.connect() as connection:
        assert connection.execute(text("SHOW search_path")).scalar() == '"$user", public'
        outside = connection.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        ).scalar()
    assert outside == 0


def test_failed_load_drops_the_new_tenant_so_a_rerun_starts_afresh(engine):
    acme = SAMPLE_TENANTS[0]
    bad_product = dataclasses.replace(acme.products[0], price="-1.00")  # violates a CHECK
    broken = dataclasses.replace(acme, subdomain="broken", products=(bad_product,))
    with pytest.raises(SeedFailed, match=r"'broken'.*dropped again"):
        seed_sample_data(engine, tenants=[broken])
    with engine.connect() as connection:
        assert [r.subdomain for r in list_tenants(connection)] == []
        schema = connection.execute(text("SELECT to_regnamespace('tenant_broken')")).scalar()
    assert schema is None


def test_same_now_loads_the_same_rows(engine):
    now = datetime.datetime(2025, 3, 14, 9, 30, tzinfo=datetime.UTC)
    first = seed_sample_data(engine, now=now, tenants=SAMPLE_TENANTS[:1])

    def content():
        with tenant_session(engine, "acme") as session:
            orders = session.execute(
                select(Order.platform, Order.external_id, Order.total, Order.ordered_at)
            ).all()
            mockups = session.execute(select(Mockup.status, Mockup.error, Mockup.finished_at)).all()
        return sorted(orders), sorted(mockups, key=repr)

    loaded = content()
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA tenant_acme CASCADE"))
        connection.execute(text("DELETE FROM core.tenants WHERE subdomain = 'acme'"))
    second = seed_sample_data(engine, now=now, tenants=SAMPLE_TENANTS[:1])
    assert content() == loaded
    assert second.tenants[0].rows == first.tenants[0].rows
    assert second.tenants[0].api_key != first.tenants[0].api_key


def test_seed_cli_prints_json_once_then_skips(db_url):
    result = tenantctl(db_url, "seed", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [t["outcome"] for t in report["tenants"]] == ["created"] * 3
    assert all(re.fullmatch(API_KEY, t["api_key"]) for t in report["tenants"])
    again = tenantctl(db_url, "seed")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("skipped") == 3
    assert not re.search(API_KEY, again.stdout)


def test_seed_cli_without_core_exits_1_with_one_line(blank_url):
    result = tenantctl(blank_url, "seed")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")
    assert "migrate up" in result.stderr
