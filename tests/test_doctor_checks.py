"""The doctor's newer checks: each condition is made for real in PostgreSQL, then found."""

import json
import math

from cli_runner import tenantctl
from sqlalchemy import text

from toolkit import archive_tenant, downgrade_all
from toolkit.doctor import Severity, diagnose, problems
from toolkit.doctor.indexes import SCAN_BYTES
from toolkit.doctor.locks import NEAR, suggested_setting
from toolkit.exit_codes import EXIT_CHECK_FAILED, EXIT_OK
from toolkit.migrations.status import version_of
from toolkit.provisioning import project_heads


def _findings(engine, check):
    with engine.connect() as connection:
        return [f for f in diagnose(connection, project_heads()) if f.check == check]


def _scalar(engine, sql, **params):
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


def _relations(engine, schema):
    return _scalar(
        engine,
        "SELECT count(*) FROM pg_class WHERE relnamespace = CAST(:s AS regnamespace)",
        s=schema,
    )


def test_tenants_behind_head_are_problems_and_archived_ones_are_expected(
    db_url, engine, make_tenants
):
    make_tenants("acme", "globex", "initech", "old")
    archive_tenant(engine, "old")
    downgrade_all(engine, "tenant@-1", tenants=["globex", "initech", "old"])
    with engine.connect() as connection:
        previous = ", ".join(version_of(connection, "tenant_globex"))

    skew = _findings(engine, "version-skew")

    assert [(f.subject, f.severity, f.figures) for f in skew] == [
        ("globex, initech", Severity.PROBLEM, {"tenants": 2}),
        ("old", Severity.INFO, {"tenants": 1}),
    ]
    assert f"2 active or suspended tenant(s) at {previous}," in skew[0].problem
    assert "at 2 different revisions" in skew[0].problem
    assert skew[0].fix.startswith("tenantctl migrate up")
    assert "expected, rollouts skip archived tenants" in skew[1].problem
    assert tenantctl(db_url, "doctor").returncode == EXIT_CHECK_FAILED


def test_archived_tenants_behind_alone_do_not_fail_the_doctor(db_url, engine, make_tenants):
    make_tenants("acme", "old")
    archive_tenant(engine, "old")
    downgrade_all(engine, "tenant@-1", tenants=["old"])

    result = tenantctl(db_url, "doctor", "--json")

    assert result.returncode == EXIT_OK
    found = [f for f in json.loads(result.stdout) if f["check"] == "version-skew"]
    assert [(f["subject"], f["severity"]) for f in found] == [("old", "info")]


def test_core_behind_head_is_a_problem(engine):
    downgrade_all(engine, "core@-1")
    with engine.connect() as connection:
        current = ", ".join(version_of(connection, "core"))

    skew = _findings(engine, "version-skew")

    assert [(f.subject, f.severity) for f in skew] == [("core", Severity.PROBLEM)]
    assert skew[0].problem.startswith(f"core is at {current}, not at head")


def _fill(engine, table, rows):
    """Grow ``table`` past the doctor's SCAN_BYTES with rows whose key is NULL."""
    with engine.begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO {table} (id, pad) "
                "SELECT g, repeat('x', 80) FROM generate_series(1, :n) AS g"
            ),
            {"n": rows},
        )


def test_foreign_keys_without_an_index_are_found_in_core_and_the_reference_tenant(
    engine, make_tenants
):
    make_tenants("acme", "globex")
    assert problems(_findings(engine, "foreign-key-index")) == []
    with engine.begin() as connection:
        connection.execute(text("DROP INDEX tenant_acme.ix_mockups_design_id"))
        connection.execute(
            text(
                "CREATE TABLE core.doctor_probe (id int PRIMARY KEY, "
                "tenant_id uuid REFERENCES core.tenants (id), kind text, pad text)"
            )
        )
        connection.execute(
            text(
                "CREATE TABLE tenant_acme.doctor_probe (id int PRIMARY KEY, "
                "user_id bigint REFERENCES tenant_acme.users (id), pad text)"
            )
        )
    _fill(engine, "core.doctor_probe", 20_000)
    _fill(engine, "tenant_acme.doctor_probe", 20_000)

    found = {f.subject: f for f in _findings(engine, "foreign-key-index")}

    small, core, tenant = (
        found["tenant_acme.mockups"],
        found["core.doctor_probe"],
        found["tenant_acme.doctor_probe"],
    )
    assert "(design_id)" in small.problem
    assert "reference tenant acme" in small.problem
    assert small.severity is Severity.INFO  # an empty table: cheap for now
    assert 'CREATE INDEX ON "mockups" ("design_id")' in small.fix
    assert "make revision-tenant" in small.fix
    assert (core.severity, tenant.severity) == (Severity.PROBLEM, Severity.PROBLEM)
    assert core.figures["table_bytes"] >= SCAN_BYTES
    assert 'CREATE INDEX ON core."doctor_probe" ("tenant_id")' in core.fix
    assert "(user_id)" in tenant.problem

    with engine.begin() as connection:
        # An index that starts with the key's columns covers it; a partial one does not.
        connection.execute(text("CREATE INDEX ON core.doctor_probe (tenant_id, kind)"))
        connection.execute(
            text("CREATE INDEX ON tenant_acme.doctor_probe (user_id) WHERE user_id > 0")
        )
    after = {f.subject for f in problems(_findings(engine, "foreign-key-index"))}
    assert after == {"tenant_acme.doctor_probe"}


def test_public_schema_writable_by_public_is_a_problem(engine):
    assert _findings(engine, "public-schema") == []
    with engine.begin() as connection:
        connection.execute(text("GRANT CREATE ON SCHEMA public TO PUBLIC"))

    (finding,) = _findings(engine, "public-schema")

    assert finding.severity is Severity.PROBLEM
    assert finding.fix.startswith("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    with engine.begin() as connection:
        connection.execute(text(finding.fix.split(" (")[0]))  # the advice works
    assert _findings(engine, "public-schema") == []


def test_relation_counts_and_catalog_size_are_information(db_url, engine, make_tenants):
    make_tenants("acme", "globex")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE tenant_globex.extra (id int)"))
    acme, globex = _relations(engine, "tenant_acme"), _relations(engine, "tenant_globex")

    (relations,) = _findings(engine, "relations")
    (catalog,) = _findings(engine, "catalog")

    assert relations.severity is Severity.INFO
    assert relations.figures == {"relations": acme + globex, "schemas": 2}
    assert f"largest: globex {globex}, acme {acme}" in relations.problem
    assert catalog.severity is Severity.INFO
    assert catalog.figures["pg_class_rows"] == _scalar(engine, "SELECT count(*) FROM pg_class")
    assert catalog.figures["catalog_bytes"] > catalog.figures["pg_class_bytes"] > 0
    result = tenantctl(db_url, "doctor")
    assert result.returncode == EXIT_OK
    assert f"info [relations] tenant schemas: {acme + globex} relations" in result.stdout


def test_largest_tenant_near_the_lock_budget_is_a_problem(db_url, engine, make_tenants):
    make_tenants("acme", "big")
    per_transaction = int(_scalar(engine, "SELECT current_setting('max_locks_per_transaction')"))
    slots = per_transaction * int(
        _scalar(
            engine,
            "SELECT current_setting('max_connections')::int"
            " + current_setting('max_prepared_transactions')::int",
        )
    )
    (before,) = _findings(engine, "locks")
    assert before.severity is Severity.INFO  # a tenant as the project builds it fits
    near = math.ceil(NEAR * per_transaction)
    with engine.begin() as connection:
        for number in range(near - _relations(engine, "tenant_big")):
            connection.execute(text(f"CREATE TABLE tenant_big.pad_{number} (id int)"))
    relations = _relations(engine, "tenant_big")

    (finding,) = _findings(engine, "locks")

    assert finding.severity is Severity.PROBLEM
    assert finding.subject == "max_locks_per_transaction"
    assert f"the largest tenant, big, has {relations} relations" in finding.problem
    assert f"= {slots}" in finding.problem
    assert "one lock per relation" in finding.problem
    assert finding.figures == {
        "largest_tenant_relations": relations,
        "max_locks_per_transaction": per_transaction,
        "shared_lock_slots": slots,
    }
    assert f"max_locks_per_transaction = {suggested_setting(relations, per_transaction)}" in (
        finding.fix
    )
    assert tenantctl(db_url, "doctor").returncode == EXIT_CHECK_FAILED


def test_suggested_setting_is_about_twice_the_relations_and_never_lower():
    assert suggested_setting(100, 64) == 256
    assert suggested_setting(10, 64) == 64
    assert suggested_setting(100, 1024) == 1024
