"""``tenantctl doctor`` names each half-done or stray thing with its fix, and changes nothing."""

import json

from cli_runner import tenantctl
from sqlalchemy import text

from toolkit import find_tenant
from toolkit.doctor import Severity, diagnose, problems
from toolkit.exit_codes import EXIT_CHECK_FAILED, EXIT_OK
from toolkit.lifecycle import _begin_drop
from toolkit.provisioning import project_heads


def _findings(engine):
    """The problems found, by subject (information is left out: its figures may move)."""
    with engine.connect() as connection:
        found = problems(diagnose(connection, project_heads()))
    return {f.subject: (f.problem, f.fix) for f in found}


def test_a_healthy_database_has_only_information(db_url, engine, make_tenants):
    make_tenants("acme")
    with engine.connect() as connection:
        findings = diagnose(connection, project_heads())
    assert {f.severity for f in findings} == {Severity.INFO}
    result = tenantctl(db_url, "doctor")
    assert result.returncode == EXIT_OK
    assert result.stdout.strip().endswith("no problems found")


def test_each_problem_is_reported_with_its_fix(db_url, engine, make_tenants):
    make_tenants("acme", "gone", "dropping", "stale")
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE tenant_stale.alembic_version DISABLE TRIGGER ALL"))
        connection.execute(text("UPDATE tenant_stale.alembic_version SET version_num = 'x1'"))
        connection.execute(text("ALTER TABLE tenant_stale.alembic_version ENABLE TRIGGER ALL"))
        connection.execute(
            text(
                "INSERT INTO core.tenants (subdomain, company_name, database_schema) "
                "VALUES ('stuck', 'Stuck', 'tenant_stuck')"
            )
        )
        connection.execute(text("DROP SCHEMA tenant_gone CASCADE"))
        connection.execute(text("CREATE SCHEMA tenant_stray"))
        connection.execute(text("CREATE SCHEMA tenantctl_restore_0123"))
        connection.execute(text("DELETE FROM core.tenant_template"))
        record = find_tenant(connection, "dropping")
    _begin_drop(engine, record, None)

    findings = _findings(engine)

    assert findings["stuck"][1] == "tenantctl tenant create stuck --resume"
    assert "schema tenant_gone is missing" in findings["gone"][0]
    assert findings["dropping"][1] == "tenantctl tenant drop dropping --yes"
    assert "DROP SCHEMA tenant_stray CASCADE" in findings["tenant_stray"][1]
    assert "interrupted restore" in findings["tenantctl_restore_0123"][0]
    assert findings["core.tenant_template"][1].startswith("tenantctl migrate up")
    assert "holds x1" in findings["stale"][0]
    assert findings["stale"][1].startswith("UPDATE tenant_stale.alembic_version")
    assert "acme" not in findings
    result = tenantctl(db_url, "doctor", "--json")
    assert result.returncode == EXIT_CHECK_FAILED
    checks = {(f["subject"], f["check"], f["severity"]) for f in json.loads(result.stdout)}
    assert {
        ("stuck", "stuck-provisioning", "problem"),
        ("gone", "orphan-row", "problem"),
        ("tenant_stray", "orphan-schema", "problem"),
        ("dropping", "interrupted", "problem"),
    } <= checks
    assert _findings(engine) == findings  # the doctor changed nothing
