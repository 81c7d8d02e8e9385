"""The audit log: every insert, update and delete of tenant data, by the ORM or by raw SQL, is
recorded by the database in the tenant's own audit_log, with who, when, what, old and new."""

from __future__ import annotations

import json

import pytest
from cli_runner import tenantctl
from sqlalchemy import select, text

from models import TenantBase, User
from toolkit import (
    InvalidOption,
    SchemaNotReady,
    TenantNotFound,
    downgrade_all,
    make_engine,
    tenant_session,
    upgrade_all,
)
from toolkit.actor import acting_as
from toolkit.audit_actor import set_actor
from toolkit.audit_log import audit_trail

NOT_AUDITED = {"audit_log", "alembic_version"}


@pytest.fixture
def single_connection_engine(db_url):
    engine = make_engine(db_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _db_role(engine) -> str:
    with engine.connect() as connection:
        return connection.execute(text("SELECT current_user")).scalar_one()


def _log(engine, schema: str = "tenant_acme") -> list[tuple]:
    """(actor, operation, table, row id) of every entry, oldest first."""
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text(
                    f"SELECT actor, operation, table_name, row_id FROM {schema}.audit_log "
                    "ORDER BY id"
                )
            )
        ]


def _add_ann(engine) -> int:
    with tenant_session(engine, "acme") as session, session.begin():
        ann = User(email="ann@acme.test")
        session.add(ann)
        session.flush()
        return ann.id


# -- the ORM ---------------------------------------------------------------------------------


def test_orm_insert_update_and_delete_are_recorded_with_actor_and_values(engine, make_tenants):
    make_tenants("acme")
    with acting_as("alice"), tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="ann@acme.test", full_name="Ann"))
    with acting_as("bob"), tenant_session(engine, "acme") as session, session.begin():
        session.scalars(select(User)).one().full_name = "Ann B."
    with acting_as("carol"), tenant_session(engine, "acme") as session, session.begin():
        session.delete(session.scalars(select(User)).one())

    update, insert = audit_trail(engine, "acme", table="users", limit=3)[1:]
    delete = audit_trail(engine, "acme", limit=1)[0]
    assert (insert.actor, insert.operation, insert.table_name) == ("alice", "INSERT", "users")
    assert insert.old_values is None
    assert insert.new_values is not None
    assert insert.new_values["email"] == "ann@acme.test"
    assert insert.new_values["created_by"] == "alice"
    assert (update.actor, update.operation, update.row_id) == ("bob", "UPDATE", insert.row_id)
    changed = update.changes
    assert changed["full_name"] == ("Ann", "Ann B.")
    assert changed["updated_by"] == (None, "bob")
    assert "email" not in changed
    assert (delete.actor, delete.operation, delete.row_id) == ("carol", "DELETE", insert.row_id)
    assert delete.new_values is None
    assert delete.old_values is not None
    assert delete.old_values["full_name"] == "Ann B."
    assert insert.row_id == str(insert.new_values["id"])
    assert insert.db_role == _db_role(engine)


def test_a_soft_delete_is_recorded_as_an_update_of_deleted_at(engine, make_tenants):
    make_tenants("acme")
    ann_id = _add_ann(engine)
    with acting_as("alice"), tenant_session(engine, "acme") as session, session.begin():
        session.get(User, ann_id).soft_delete()

    (entry, _insert) = audit_trail(engine, "acme", table="users", row_id=ann_id)
    assert (entry.actor, entry.operation) == ("alice", "UPDATE")
    assert entry.changes["deleted_at"][0] is None
    assert entry.changes["deleted_at"][1] is not None


def test_without_an_actor_the_database_role_is_recorded(engine, make_tenants):
    make_tenants("acme")
    _add_ann(engine)
    assert _log(engine) == [(_db_role(engine), "INSERT", "users", "1")]


def test_an_actor_entered_mid_transaction_is_told_to_the_database(engine, make_tenants):
    make_tenants("acme")
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="nobody@acme.test"))
        session.flush()
        with acting_as("alice"):
            session.add(User(email="alice@acme.test"))
            session.flush()
            with acting_as("bob"):
                session.execute(
                    text("UPDATE tenant_acme.users SET full_name = 'x' WHERE email LIKE 'a%'")
                )
        session.add(User(email="after@acme.test"))
    role = _db_role(engine)
    assert [(actor, op) for actor, op, _table, _id in _log(engine)] == [
        (role, "INSERT"),
        ("alice", "INSERT"),
        ("bob", "UPDATE"),
        (role, "INSERT"),
    ]


def test_the_actor_does_not_outlive_its_transaction_on_a_pooled_connection(
    single_connection_engine, make_tenants
):
    engine = single_connection_engine
    make_tenants("acme")
    with acting_as("alice"), tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="alice@acme.test"))
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="later@acme.test"))
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO tenant_acme.users (email) VALUES ('raw@acme.test')"))
    role = _db_role(engine)
    assert [actor for actor, *_ in _log(engine)] == ["alice", role, role]


def test_every_transaction_of_a_session_is_told_the_actor(engine, make_tenants):
    """The setting ends with each transaction; the next one is told again when it begins."""
    make_tenants("acme")
    with acting_as("alice"), tenant_session(engine, "acme") as session:
        session.add(User(email="a@acme.test"))
        session.commit()
        session.add(User(email="b@acme.test"))
        session.commit()
        session.execute(text("UPDATE tenant_acme.users SET role = 'owner'"))
        session.commit()
    assert [actor for actor, *_ in _log(engine)] == ["alice"] * 4


def test_an_actor_undone_by_a_savepoint_rollback_is_told_again(engine, make_tenants):
    make_tenants("acme")
    with tenant_session(engine, "acme") as session, session.begin():
        session.execute(select(User)).all()  # the transaction begins without an actor
        with acting_as("alice"):
            savepoint = session.begin_nested()
            session.execute(select(User)).all()  # tells the database inside the savepoint
            savepoint.rollback()  # ... which undoes set_config
            session.add(User(email="alice@acme.test"))
            session.flush()
    assert [actor for actor, *_ in _log(engine)] == ["alice"]


def test_changes_of_one_transaction_share_its_id_and_time(engine, make_tenants):
    make_tenants("acme")
    with tenant_session(engine, "acme") as session, session.begin():
        session.add_all([User(email="a@acme.test"), User(email="b@acme.test")])
    _add_ann(engine)
    second, first_b, first_a = audit_trail(engine, "acme")
    assert first_a.transaction_id == first_b.transaction_id != second.transaction_id
    assert first_a.occurred_at == first_b.occurred_at <= second.occurred_at


# -- raw SQL ---------------------------------------------------------------------------------


def test_raw_sql_is_audited_with_the_actor_set_by_the_helper(engine, make_tenants):
    make_tenants("acme")
    with engine.begin() as connection:
        set_actor(connection, "dba-dave")
        connection.execute(text("INSERT INTO tenant_acme.users (email) VALUES ('raw@acme.test')"))
        connection.execute(text("UPDATE tenant_acme.users SET role = 'owner'"))
        connection.execute(text("DELETE FROM tenant_acme.users"))

    delete, update, insert = audit_trail(engine, "acme")
    assert [e.actor for e in (insert, update, delete)] == ["dba-dave"] * 3
    assert [e.operation for e in (insert, update, delete)] == ["INSERT", "UPDATE", "DELETE"]
    assert update.changes == {"role": ("designer", "owner")}
    assert delete.old_values is not None
    assert delete.old_values["role"] == "owner"


def test_raw_sql_sets_the_actor_the_way_psql_would(engine, make_tenants):
    make_tenants("acme")
    with engine.begin() as connection:
        connection.execute(text("SELECT set_config('app.actor', 'psql-pat', true)"))
        connection.execute(
            text(
                "INSERT INTO tenant_acme.orders (platform, external_id, total,"
                " ordered_at) VALUES ('etsy', 'E-1', 5, now())"
            )
        )
    assert _log(engine) == [("psql-pat", "INSERT", "orders", "1")]


def test_an_update_that_changes_nothing_is_not_recorded(engine, make_tenants):
    make_tenants("acme")
    _add_ann(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE tenant_acme.users SET email = email"))
    assert [op for _actor, op, *_ in _log(engine)] == ["INSERT"]


def test_truncate_is_recorded_once_per_table_it_empties(engine, make_tenants):
    make_tenants("acme")
    _add_ann(engine)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE tenant_acme.users CASCADE"))
    truncated = [e for e in audit_trail(engine, "acme") if e.operation == "TRUNCATE"]
    assert sorted(e.table_name for e in truncated) == [
        "design_images",
        "etsy_product_templates",
        "mockups",
        "users",
    ]
    assert {(e.row_id, e.old_values, e.new_values) for e in truncated} == {(None, None, None)}


def test_the_audit_log_itself_is_not_audited(engine, make_tenants):
    make_tenants("acme")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tenant_acme.audit_log (transaction_id, actor, db_role, table_name,"
                " operation) VALUES (1, 'x', 'x', 'users', 'INSERT')"
            )
        )
        connection.execute(text("DELETE FROM tenant_acme.audit_log"))
    assert _log(engine) == []


# -- per tenant ------------------------------------------------------------------------------


def test_each_tenant_has_its_own_log_and_never_sees_another_tenants_changes(engine, make_tenants):
    make_tenants("acme", "globex")
    with acting_as("alice"), tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="ann@acme.test"))
    with acting_as("gus"), tenant_session(engine, "globex") as session, session.begin():
        session.add_all([User(email="gus@globex.test"), User(email="gil@globex.test")])
    with engine.begin() as connection:
        connection.execute(text("UPDATE tenant_globex.users SET role = 'owner'"))

    acme = audit_trail(engine, "acme")
    globex = audit_trail(engine, "globex")
    assert [(e.actor, e.operation) for e in acme] == [("alice", "INSERT")]
    assert acme[0].new_values is not None
    assert acme[0].new_values["email"] == "ann@acme.test"
    assert sorted(e.operation for e in globex) == ["INSERT", "INSERT", "UPDATE", "UPDATE"]
    assert all("acme" not in json.dumps(e.new_values) for e in globex)


def test_every_tenant_table_has_the_audit_triggers(engine, make_tenants):
    """A new tenant table without them would go unaudited; its revision must add them."""
    (schema,) = make_tenants("acme")
    with engine.connect() as connection:
        triggers = connection.execute(
            text(
                "SELECT c.relname, t.tgname, p.oid::regprocedure::text FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND p.proname = 'audit_row_change'"
            ),
            {"schema": schema},
        ).all()
    expected = {
        (table, trigger, "core.audit_row_change()")
        for table in set(TenantBase.metadata.tables) - NOT_AUDITED
        for trigger in ("audit_row_change", "audit_truncate")
    }
    assert set(map(tuple, triggers)) == expected


def _audit_objects(engine, schema: str) -> tuple[int, bool]:
    """(audit triggers in ``schema``, whether its audit_log exists)."""
    with engine.connect() as connection:
        triggers = connection.execute(
            text(
                "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND t.tgname LIKE 'audit%'"
            ),
            {"schema": schema},
        ).scalar_one()
        table = connection.execute(
            text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f"{schema}.audit_log"}
        ).scalar_one()
    return triggers, table


def test_downgrading_core_then_tenants_removes_the_audit_and_upgrading_restores_it(
    engine, make_tenants
):
    """The order of a rollout downgrade: core first (its CASCADE takes the triggers)."""
    (schema,) = make_tenants("acme")
    audited = 2 * (len(TenantBase.metadata.tables) - 1)
    assert _audit_objects(engine, schema) == (audited, True)

    downgrade_all(engine, "0006core")  # the core revision below the audit function
    assert _audit_objects(engine, schema) == (0, True)
    _add_ann(engine)  # tenant writes still work, unaudited
    downgrade_all(engine, "0002tenant")  # the tenant revision below the audit log
    assert _audit_objects(engine, schema) == (0, False)

    upgrade_all(engine)
    assert _audit_objects(engine, schema) == (audited, True)
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="bob@acme.test"))
    assert _log(engine) == [(_db_role(engine), "INSERT", "users", "2")]


def test_tenants_created_from_the_template_and_seeded_are_audited(engine, seeded):
    for tenant in seeded.tenants:
        entries = audit_trail(engine, tenant.subdomain, limit=10_000)
        inserted = {e.table_name for e in entries if e.operation == "INSERT"}
        assert {"users", "orders", "mockups"} <= inserted, tenant.subdomain


# -- the reader ------------------------------------------------------------------------------


def test_audit_trail_filters_by_table_and_row_newest_first(engine, make_tenants):
    make_tenants("acme")
    ann_id = _add_ann(engine)
    with tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="bob@acme.test"))
        session.get(User, ann_id).full_name = "Ann"

    ann = audit_trail(engine, "acme", table="users", row_id=ann_id)
    assert [(e.operation, e.row_id) for e in ann] == [
        ("UPDATE", str(ann_id)),
        ("INSERT", str(ann_id)),
    ]
    assert len(audit_trail(engine, "acme", table="users")) == 3
    assert audit_trail(engine, "acme", table="orders") == []
    assert len(audit_trail(engine, "acme", limit=2)) == 2


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"limit": 0}, InvalidOption, "limit 0"),
        ({"row_id": 1}, InvalidOption, "pass the table too"),
        ({"tenant": "nosuch"}, TenantNotFound, "'nosuch'"),
    ],
)
def test_audit_trail_refuses_bad_arguments(engine, make_tenants, options, error, message):
    make_tenants("acme")
    tenant = options.pop("tenant", "acme")
    with pytest.raises(error, match=message):
        audit_trail(engine, tenant, **options)


def test_audit_trail_of_a_tenant_below_the_audit_revision_says_to_migrate(engine, make_tenants):
    make_tenants("acme")
    downgrade_all(engine, "0002tenant")
    with pytest.raises(SchemaNotReady, match="tenantctl migrate up"):
        audit_trail(engine, "acme")


def test_cli_audit_prints_json_entries(db_url, engine, make_tenants):
    make_tenants("acme")
    with acting_as("alice"), tenant_session(engine, "acme") as session, session.begin():
        session.add(User(email="ann@acme.test"))

    done = tenantctl(db_url, "tenant", "audit", "acme", "--table", "users", "--json")

    assert done.returncode == 0, done.stderr
    (entry,) = json.loads(done.stdout)
    assert (entry["actor"], entry["operation"], entry["row_id"]) == ("alice", "INSERT", "1")
    assert entry["new_values"]["email"] == "ann@acme.test"

    table = tenantctl(db_url, "tenant", "audit", "acme")
    assert table.returncode == 0, table.stderr
    assert "1 audit entry of acme" in table.stdout


def test_cli_purge_deleted_records_its_actor_in_the_audit_log(db_url, engine, make_tenants):
    make_tenants("acme")
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO tenant_acme.users (email, deleted_at) VALUES ('x@a.test', now())")
        )

    done = tenantctl(
        db_url, "tenant", "purge-deleted", "acme", "--older-than", "0s", "--actor", "ops-olga"
    )

    assert done.returncode == 0, done.stderr
    purge = audit_trail(engine, "acme", limit=1)[0]
    assert (purge.actor, purge.operation, purge.table_name) == ("ops-olga", "DELETE", "users")
    assert purge.old_values is not None
    assert purge.old_values["email"] == "x@a.test"
