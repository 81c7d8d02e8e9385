"""The SQL comment tag: statements sent with a tenant in scope start with /* tenant=... */, as
the server itself sees them, only when asked for, and no tenant name can break out of it."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from toolkit import InvalidSubdomain, Settings, TenantScope, make_engine, tenant_scope
from toolkit.db import make_engine_from_settings
from toolkit.sql_tag import tag_statements, tags_statements, tenant_comment

CURRENT_QUERY = text("SELECT current_query()")


def _server_sees(engine):
    """The text of the statement as the server received it."""
    with engine.connect() as connection:
        return connection.execute(CURRENT_QUERY).scalar_one()


@pytest.fixture
def tagged(db_url):
    engine = make_engine(db_url, tag_sql=True)
    yield engine
    engine.dispose()


def test_statements_in_a_tenant_scope_carry_the_tag(tagged):
    with tenant_scope("acme-shop"):
        assert _server_sees(tagged) == "/* tenant=acme-shop */ SELECT current_query()"
    with tenant_scope("tenant_globex"):  # a schema name scopes its subdomain
        assert _server_sees(tagged).startswith("/* tenant=globex */ ")


def test_no_tenant_in_scope_means_no_tag(tagged):
    assert _server_sees(tagged) == "SELECT current_query()"
    with tenant_scope("acme"), tenant_scope(None):
        assert _server_sees(tagged) == "SELECT current_query()"


def test_the_tag_is_visible_to_other_sessions_in_pg_stat_activity(tagged, engine):
    with tenant_scope("acme"), tagged.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with engine.connect() as observer:
            query = observer.execute(
                text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar_one()
    assert query == "/* tenant=acme */ SELECT pg_backend_pid()"


def test_engines_do_not_tag_unless_asked(engine):
    with tenant_scope("acme"):
        assert _server_sees(engine) == "SELECT current_query()"
    assert not tags_statements(engine)


def test_settings_turn_the_tag_on(db_url):
    url = db_url.render_as_string(hide_password=False)
    settings = Settings.from_env({"DATABASE_URL": url, "TENANTCTL_SQL_TENANT_TAG": "1"})
    engine = make_engine_from_settings(settings)
    try:
        assert tags_statements(engine)
        tag_statements(engine)  # a second call adds no second listener
        with tenant_scope("acme"):
            assert _server_sees(engine) == "/* tenant=acme */ SELECT current_query()"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "hostile",
    [
        "acme */ DROP SCHEMA core CASCADE; /*",
        "acme*/",
        "acme\n",
        "ACME",
        "tenant_acme */",
    ],
)
def test_hostile_tenant_names_never_reach_the_comment(tagged, hostile):
    with pytest.raises(InvalidSubdomain), tenant_scope(hostile):
        pass
    with pytest.raises(InvalidSubdomain):
        TenantScope(subdomain=hostile, schema="tenant_acme")
    with pytest.raises(InvalidSubdomain, match="cannot tag SQL"):
        tenant_comment(hostile)
    # The engine is untouched: no tenant in scope, no tag.
    assert _server_sees(tagged) == "SELECT current_query()"


def test_a_forged_scope_is_refused_before_the_statement_is_sent(tagged):
    forged = object.__new__(TenantScope)  # skips the validation of __post_init__
    object.__setattr__(forged, "subdomain", "x */ SELECT 1; /*")
    object.__setattr__(forged, "schema", "tenant_x")
    with tenant_scope(forged), pytest.raises(InvalidSubdomain, match="cannot tag SQL"):
        _server_sees(tagged)
