"""Soft delete: deleted rows are hidden from queries and relationship loads unless asked for,
come back with restore, and go for good only through a purge after the retention."""

from __future__ import annotations

import datetime
import json

import pytest
from cli_runner import tenantctl
from sqlalchemy import func, select, text
from sqlalchemy.orm import joinedload, selectinload

from models import DesignImage, EtsyProductTemplate, Mockup, User
from toolkit import InvalidOption, TenantNotFound, tenant_session
from toolkit.purge import parse_retention, purge_deleted, soft_deletable_tables

INCLUDE = {"include_deleted": True}
LONG_AGO = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)


def _template(title: str, owner: User | None = None) -> EtsyProductTemplate:
    return EtsyProductTemplate(title=title, price=10, owner=owner)


def _add_users(engine, tenant: str, *emails: str) -> None:
    with tenant_session(engine, tenant) as session, session.begin():
        session.add_all([User(email=email) for email in emails])


def _soft_delete(engine, tenant: str, email: str, at: datetime.datetime | None = None) -> None:
    with tenant_session(engine, tenant) as session, session.begin():
        session.scalars(select(User).where(User.email == email)).one().soft_delete(at)


def _emails(engine, tenant: str, **options) -> list[str]:
    with tenant_session(engine, tenant) as session:
        query = select(User.email).order_by(User.email).execution_options(**options)
        return list(session.scalars(query))


def test_soft_deleted_rows_are_hidden_from_queries_by_default(engine, make_tenants):
    make_tenants("acme")
    _add_users(engine, "acme", "ann@acme.test", "bob@acme.test")
    _soft_delete(engine, "acme", "bob@acme.test")

    assert _emails(engine, "acme") == ["ann@acme.test"]
    with tenant_session(engine, "acme") as session:
        assert session.scalar(select(func.count()).select_from(User)) == 1
        assert [u.email for u in session.scalars(select(User))] == ["ann@acme.test"]
    with engine.connect() as connection:  # the row is still there
        stored = connection.execute(
            text("SELECT email, deleted_at IS NOT NULL FROM tenant_acme.users ORDER BY email")
        ).all()
    assert stored == [("ann@acme.test", False), ("bob@acme.test", True)]


def test_include_deleted_shows_them_per_statement(engine, make_tenants):
    make_tenants("acme")
    _add_users(engine, "acme", "ann@acme.test", "bob@acme.test")
    _soft_delete(engine, "acme", "bob@acme.test")

    assert _emails(engine, "acme", include_deleted=True) == ["ann@acme.test", "bob@acme.test"]
    with tenant_session(engine, "acme") as session:
        users = session.scalars(select(User), execution_options=INCLUDE).all()
        assert {u.email: u.is_deleted for u in users} == {
            "ann@acme.test": False,
            "bob@acme.test": True,
        }
        # The option is per statement: the next query hides the row again.
        assert list(session.scalars(select(User.email))) == ["ann@acme.test"]


def test_joined_entities_are_filtered_in_the_on_clause(engine, make_tenants):
    make_tenants("acme")
    with tenant_session(engine, "acme") as session, session.begin():
        owner = User(email="ann@acme.test")
        session.add_all([_template("Poster", owner), _template("Mug", owner)])
        session.flush()
        session.scalars(
            select(EtsyProductTemplate).where(EtsyProductTemplate.title == "Mug")
        ).one().soft_delete()

    with tenant_session(engine, "acme") as session:
        rows = session.execute(
            select(User.email, EtsyProductTemplate.title)
            .join(EtsyProductTemplate, EtsyProductTemplate.owner_id == User.id)
            .order_by(EtsyProductTemplate.title)
        ).all()
    assert rows == [("ann@acme.test", "Poster")]


@pytest.mark.parametrize("loading", ["lazy", "selectin", "joined"])
def test_relationship_loads_hide_soft_deleted_children(engine, make_tenants, loading):
    make_tenants("acme")
    with tenant_session(engine, "acme") as session, session.begin():
        owner = User(email="ann@acme.test")
        session.add_all([_template("Poster", owner), _template("Mug", owner)])
    with tenant_session(engine, "acme") as session, session.begin():
        mug = session.scalars(
            select(EtsyProductTemplate).where(EtsyProductTemplate.title == "Mug")
        ).one()
        mug.soft_delete()

    with tenant_session(engine, "acme") as session:
        query = select(User)
        if loading == "selectin":
            query = query.options(selectinload(User.product_templates))
        if loading == "joined":
            query = query.options(joinedload(User.product_templates))
        owner = session.scalars(query).unique().one()
        assert [t.title for t in owner.product_templates] == ["Poster"]


def test_lazy_load_of_an_object_created_in_the_session_hides_soft_deleted_children(
    engine, make_tenants
):
    """No query loaded ``owner``, so no criteria were carried along: the listener adds them."""
    make_tenants("acme")
    with tenant_session(engine, "acme") as session, session.begin():
        owner = User(email="ann@acme.test")
        session.add(owner)
        session.flush()
        session.execute(
            text(
                "INSERT INTO tenant_acme.design_images (uploaded_by_id, file_path, checksum,"
                " width, height, deleted_at) VALUES (:id, 'a.png', 'c1', 1, 1, NULL),"
                " (:id, 'b.png', 'c2', 1, 1, now())"
            ),
            {"id": owner.id},
        )
        assert [d.file_path for d in owner.designs] == ["a.png"]


def test_a_soft_deleted_many_to_one_target_loads_as_none(engine, make_tenants):
    make_tenants("acme")
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(_template("Poster", User(email="ann@acme.test")))
    _soft_delete(engine, "acme", "ann@acme.test")

    with tenant_session(engine, "acme") as session:
        poster = session.scalars(select(EtsyProductTemplate)).one()
        assert poster.owner_id is not None
        assert poster.owner is None


def test_get_by_primary_key_hides_a_soft_deleted_row_unless_asked(engine, make_tenants):
    make_tenants("acme")
    _add_users(engine, "acme", "ann@acme.test")
    _soft_delete(engine, "acme", "ann@acme.test")
    with tenant_session(engine, "acme") as session:
        assert session.get(User, 1) is None
    with tenant_session(engine, "acme") as session:
        ann = session.get(User, 1, execution_options=INCLUDE)
        assert ann is not None
        assert ann.email == "ann@acme.test"


def test_restore_brings_a_row_back(engine, make_tenants):
    make_tenants("acme")
    _add_users(engine, "acme", "ann@acme.test")
    _soft_delete(engine, "acme", "ann@acme.test")
    assert _emails(engine, "acme") == []

    with tenant_session(engine, "acme") as session, session.begin():
        ann = session.scalars(select(User), execution_options=INCLUDE).one()
        ann.restore()
    assert _emails(engine, "acme") == ["ann@acme.test"]


def test_a_just_soft_deleted_object_can_still_be_read_after_commit(engine, make_tenants):
    """Refreshing expired attributes is a column load, which is never filtered."""
    make_tenants("acme")
    _add_users(engine, "acme", "ann@acme.test")
    with tenant_session(engine, "acme") as session:
        ann = session.scalars(select(User)).one()
        ann.soft_delete()
        session.commit()
        assert ann.email == "ann@acme.test"
        assert ann.is_deleted


def test_deleting_twice_keeps_the_first_deletion_time(engine, make_tenants):
    make_tenants("acme")
    _add_users(engine, "acme", "ann@acme.test")
    _soft_delete(engine, "acme", "ann@acme.test", at=LONG_AGO)
    with tenant_session(engine, "acme") as session, session.begin():
        ann = session.scalars(select(User), execution_options=INCLUDE).one()
        ann.soft_delete()
    with tenant_session(engine, "acme") as session:
        ann = session.scalars(select(User), execution_options=INCLUDE).one()
        assert ann.deleted_at == LONG_AGO


# -- purge -----------------------------------------------------------------------------------


def test_soft_deletable_tables_are_the_mixin_tables_referrers_first():
    names = [table.name for table in soft_deletable_tables()]
    assert sorted(names) == ["design_images", "etsy_product_templates", "users"]
    assert names.index("users") == len(names) - 1


def test_purge_removes_only_rows_soft_deleted_before_the_retention(engine, make_tenants):
    make_tenants("acme")
    _add_users(engine, "acme", "old@acme.test", "recent@acme.test", "live@acme.test")
    _soft_delete(engine, "acme", "old@acme.test", at=LONG_AGO)
    _soft_delete(engine, "acme", "recent@acme.test")

    report = purge_deleted(engine, "acme", datetime.timedelta(days=30))

    assert report.deleted == {"design_images": 0, "etsy_product_templates": 0, "users": 1}
    assert report.total == 1
    assert report.database_schema == "tenant_acme"
    assert _emails(engine, "acme", include_deleted=True) == ["live@acme.test", "recent@acme.test"]
    now = datetime.datetime.now(datetime.UTC)
    assert now - datetime.timedelta(days=31) < report.cutoff < now - datetime.timedelta(days=29)


def test_purge_with_zero_retention_takes_every_soft_deleted_row_and_only_those(
    engine, make_tenants
):
    make_tenants("acme", "globex")
    with tenant_session(engine, "acme") as session, session.begin():
        ann = User(email="ann@acme.test")
        poster = _template("Poster", ann)
        design = DesignImage(file_path="p.png", checksum="c", width=1, height=1)
        session.add_all([ann, poster, design, User(email="live@acme.test")])
        session.flush()
        poster.soft_delete()
        design.soft_delete()
        ann.soft_delete()
    _add_users(engine, "globex", "gus@globex.test")
    _soft_delete(engine, "globex", "gus@globex.test", at=LONG_AGO)

    report = purge_deleted(engine, "acme", datetime.timedelta(0))

    assert report.deleted == {"design_images": 1, "etsy_product_templates": 1, "users": 1}
    assert _emails(engine, "acme", include_deleted=True) == ["live@acme.test"]
    # Another tenant's soft-deleted rows are not touched.
    assert _emails(engine, "globex", include_deleted=True) == ["gus@globex.test"]


def test_purge_takes_rows_that_reference_a_purged_row_along_their_foreign_keys(
    engine, make_tenants
):
    make_tenants("acme")
    with engine.begin() as connection:
        connection.execute(
            text(
                """
                INSERT INTO tenant_acme.etsy_product_templates (title, price, deleted_at)
                    VALUES ('Old', 1, '2020-01-01');
                INSERT INTO tenant_acme.design_images (file_path, checksum, width, height)
                    VALUES ('d.png', 'c', 1, 1);
                INSERT INTO tenant_acme.canvas_configs (name, product_type, width, height)
                    VALUES ('A4', 'poster', 1, 1);
                INSERT INTO tenant_acme.mockups (template_id, design_id, canvas_id)
                    SELECT t.id, d.id, c.id FROM tenant_acme.etsy_product_templates t,
                        tenant_acme.design_images d, tenant_acme.canvas_configs c;
                """
            )
        )

    report = purge_deleted(engine, "acme", datetime.timedelta(days=1))

    assert report.deleted["etsy_product_templates"] == 1
    with tenant_session(engine, "acme") as session:
        assert session.scalar(select(func.count()).select_from(Mockup)) == 0
        assert session.scalar(select(func.count()).select_from(DesignImage)) == 1


def test_purge_of_an_unknown_tenant_fails_naming_it(engine):
    with pytest.raises(TenantNotFound, match="'nosuch'"):
        purge_deleted(engine, "nosuch", datetime.timedelta(days=1))


@pytest.mark.parametrize(
    ("text_", "expected"),
    [("30d", 30 * 86400), ("12h", 12 * 3600), ("90m", 5400), ("45s", 45), ("2w", 14 * 86400)],
)
def test_retentions_parse(text_, expected):
    assert parse_retention(text_).total_seconds() == expected


@pytest.mark.parametrize("text_", ["30", "d", "-1d", "1.5d", "30 days", ""])
def test_bad_retentions_are_refused_naming_the_value(text_):
    with pytest.raises(InvalidOption, match="--older-than"):
        parse_retention(text_)


def test_negative_retention_is_refused(engine, make_tenants):
    make_tenants("acme")
    with pytest.raises(InvalidOption, match="negative"):
        purge_deleted(engine, "acme", datetime.timedelta(days=-1))


def test_cli_purge_deleted_reports_counts_per_table_as_json(db_url, engine, make_tenants):
    make_tenants("acme")
    _add_users(engine, "acme", "old@acme.test", "recent@acme.test")
    _soft_delete(engine, "acme", "old@acme.test", at=LONG_AGO)
    _soft_delete(engine, "acme", "recent@acme.test")

    done = tenantctl(db_url, "tenant", "purge-deleted", "acme", "--older-than", "30d", "--json")

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["deleted"] == {"design_images": 0, "etsy_product_templates": 0, "users": 1}
    assert report["total"] == 1
    assert report["subdomain"] == "acme"
    assert report["retention_seconds"] == 30 * 86400
    assert _emails(engine, "acme", include_deleted=True) == ["recent@acme.test"]


def test_cli_purge_deleted_prints_a_table(db_url, engine, make_tenants):
    make_tenants("acme")
    _add_users(engine, "acme", "old@acme.test")
    _soft_delete(engine, "acme", "old@acme.test", at=LONG_AGO)

    done = tenantctl(db_url, "tenant", "purge-deleted", "acme", "--older-than", "1d")

    assert done.returncode == 0, done.stderr
    assert "purged 1 row(s) of tenant acme" in done.stdout
    assert "users" in done.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["acme", "--older-than", "soon"], 2, "--older-than 'soon' is not a retention"),
        (["nosuch", "--older-than", "1d"], 1, "unknown tenant 'nosuch'"),
        (["Bad_Name!", "--older-than", "1d"], 2, "Bad_Name!"),
    ],
)
def test_cli_purge_deleted_fails_in_one_line(db_url, make_tenants, args, code, message):
    make_tenants("acme")

    done = tenantctl(db_url, "tenant", "purge-deleted", *args)

    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
