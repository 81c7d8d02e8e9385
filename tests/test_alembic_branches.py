"""pytest-alembic's standard checks, per branch (core and tenant), on a real database."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from cli_runner import alembic
from registry_rows import register_unmigrated_tenant
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    ForeignKey,
    Identity,
    String,
    Table,
    text,
)

from models import TenantBase
from toolkit import downgrade_all, upgrade_all
from toolkit.migrations.branches import BRANCHES, CORE, TENANT, BranchIndex
from toolkit.migrations.config import ALEMBIC_INI_ENV, alembic_config
from toolkit.migrations.status import Heads, version_of

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VERSIONS_DIR = PROJECT_ROOT / "alembic" / "versions"


# -- helpers ---------------------------------------------------------------------------------


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _revisions_base_first(script: ScriptDirectory, branch: str) -> list[str]:
    """The revision ids of ``branch``, from its root to its head."""
    return [
        rev.revision for rev in reversed(list(script.iterate_revisions(f"{branch}@head", "base")))
    ]


def _schema_objects(engine: Engine, schema: str) -> set[tuple[str, str]]:
    """Tables, indexes, sequences, constraints, triggers (with their definitions) and
    functions of ``schema``, without Alembic's version table (a revision may add nothing but
    a function, or change nothing but a trigger's definition)."""
    with engine.connect() as connection:
        relations = connection.execute(
            text(
                "SELECT c.relkind::text, c.relname FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema"
            ),
            {"schema": schema},
        ).all()
        constraints = connection.execute(
            text(
                "SELECT 'constraint', con.conname FROM pg_constraint con "
                "JOIN pg_namespace n ON n.oid = con.connamespace WHERE n.nspname = :schema"
            ),
            {"schema": schema},
        ).all()
        triggers = connection.execute(
            text(
                "SELECT 'trigger', pg_get_triggerdef(t.oid) FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND NOT t.tgisinternal"
            ),
            {"schema": schema},
        ).all()
        functions = connection.execute(
            text(
                "SELECT 'function', p.oid::regprocedure::text FROM pg_proc p "
                "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = :schema"
            ),
            {"schema": schema},
        ).all()
    return {
        (kind, name)
        for kind, name in [*relations, *constraints, *triggers, *functions]
        if not name.startswith("alembic_version")
    }


def _version(engine: Engine, schema: str) -> tuple[str, ...]:
    with engine.connect() as connection:
        return version_of(connection, schema)


def _upgrade_body_is_empty(path: Path) -> bool:
    """True if the revision file's ``upgrade()`` does nothing (its body is ``pass``)."""
    tree = ast.parse(path.read_text())
    upgrade = next(
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "upgrade"
    )
    return all(isinstance(statement, ast.Pass) for statement in upgrade.body)


def _versions_tree() -> set[str]:
    return {
        str(path.relative_to(VERSIONS_DIR))
        for path in VERSIONS_DIR.rglob("*.py")
        if "__pycache__" not in path.parts
    }


def _generated(tmp_ini: Path, branch: str) -> list[Path]:
    """Revision files in the tmp copy of ``branch`` that the project does not have."""
    copies = tmp_ini.parent / "versions" / branch
    originals = {path.name for path in (VERSIONS_DIR / branch).glob("*.py")}
    return [path for path in copies.glob("*.py") if path.name not in originals]


# -- heads and branches ----------------------------------------------------------------------


@pytest.mark.parametrize("branch", BRANCHES)
def test_each_branch_has_exactly_one_head(branch):
    script = _script()
    heads = [
        head for head in script.get_heads() if branch in script.get_revision(head).branch_labels
    ]
    assert len(heads) == 1, f"branch {branch} has heads {heads}"
    assert getattr(Heads.from_scripts(script), branch) == tuple(heads)


def test_script_directory_has_no_head_outside_the_two_branches():
    script = _script()
    labelled = {
        head
        for head in script.get_heads()
        if script.get_revision(head).branch_labels & set(BRANCHES)
    }
    assert set(script.get_heads()) == labelled
    assert len(script.get_heads()) == len(BRANCHES)


def test_every_revision_belongs_to_exactly_one_branch():
    script = _script()
    index = BranchIndex.build(script)
    everything = {rev.revision for rev in script.walk_revisions()}
    assert index.revisions[CORE].isdisjoint(index.revisions[TENANT])
    assert index.revisions[CORE] | index.revisions[TENANT] == everything
    for rev in script.walk_revisions():
        labels = set(rev.branch_labels) & set(BRANCHES)
        assert len(labels) == 1, f"revision {rev.revision} is in branches {labels or 'none'}"
        assert index.branch_of(rev.revision) == labels.pop()


def test_tenant_revisions_name_no_schema():
    script = _script()
    for revision_id in BranchIndex.build(script).revisions[TENANT]:
        source = Path(script.get_revision(revision_id).path).read_text()
        assert "schema=" not in source, revision_id


# -- upgrade, revision by revision ------------------------------------------------------------


def test_core_upgrades_from_base_to_head_one_revision_at_a_time(blank_engine):
    script = _script()
    assert _version(blank_engine, "core") == ()
    for revision in _revisions_base_first(script, CORE):
        upgrade_all(blank_engine, target=revision)
        assert _version(blank_engine, "core") == (revision,)
    assert _version(blank_engine, "core") == Heads.from_scripts(script).core


def test_tenant_upgrades_from_base_to_head_one_revision_at_a_time(blank_engine):
    script = _script()
    upgrade_all(blank_engine, target=f"{CORE}@head")
    schema = register_unmigrated_tenant(blank_engine, "acme")
    assert _version(blank_engine, schema) == ()
    for revision in _revisions_base_first(script, TENANT):
        upgrade_all(blank_engine, target=f"{TENANT}@+1")
        assert _version(blank_engine, schema) == (revision,)
        assert _version(blank_engine, "core") == Heads.from_scripts(script).core
    assert _version(blank_engine, schema) == Heads.from_scripts(script).tenant
    assert ("r", "users") in _schema_objects(blank_engine, schema)


# -- up/down consistency ----------------------------------------------------------------------


def test_core_revisions_upgrade_downgrade_and_upgrade_again_to_the_same_schema(blank_engine):
    script = _script()
    for revision in _revisions_base_first(script, CORE):
        before = _schema_objects(blank_engine, "core")
        previous = _version(blank_engine, "core")
        upgrade_all(blank_engine, target=revision)
        upgraded = _schema_objects(blank_engine, "core")
        assert upgraded != before, f"{revision} changed nothing"
        downgrade_all(blank_engine, f"{CORE}@-1")
        assert _version(blank_engine, "core") == previous
        assert _schema_objects(blank_engine, "core") == before, f"{revision} did not undo cleanly"
        upgrade_all(blank_engine, target=revision)
        assert _version(blank_engine, "core") == (revision,)
        assert _schema_objects(blank_engine, "core") == upgraded


def test_tenant_revisions_upgrade_downgrade_and_upgrade_again_to_the_same_schema(
    engine, make_tenants
):
    script = _script()
    (schema,) = make_tenants("acme")
    downgrade_all(engine, f"{TENANT}@base")
    assert _schema_objects(engine, schema) == set()
    for revision in _revisions_base_first(script, TENANT):
        before = _schema_objects(engine, schema)
        previous = _version(engine, schema)
        upgrade_all(engine, target=revision)
        upgraded = _schema_objects(engine, schema)
        assert upgraded != before, f"{revision} changed nothing"
        downgrade_all(engine, f"{TENANT}@-1")
        assert _version(engine, schema) == previous
        assert _schema_objects(engine, schema) == before, f"{revision} did not undo cleanly"
        upgrade_all(engine, target=revision)
        assert _version(engine, schema) == (revision,)
        assert _schema_objects(engine, schema) == upgraded
    assert _version(engine, "core") == Heads.from_scripts(script).core


# -- models match the DDL ---------------------------------------------------------------------


@pytest.mark.parametrize("branch", BRANCHES)
def test_autogenerate_at_head_finds_no_difference_between_models_and_migrations(
    branch, blank_url, blank_engine, scratch_ini
):
    upgrade_all(blank_engine)
    register_unmigrated_tenant(blank_engine, "x")
    upgrade_all(blank_engine)

    result = alembic(
        blank_url,
        "revision",
        "--autogenerate",
        "--head",
        f"{branch}@head",
        "-m",
        "check",
        ini=scratch_ini,
    )

    assert result.returncode == 0, result.stderr
    (generated,) = _generated(scratch_ini, branch)
    assert _upgrade_body_is_empty(generated), generated.read_text()
    other = TENANT if branch == CORE else CORE
    assert _generated(scratch_ini, other) == []


def test_tenant_schema_built_by_migrations_compares_equal_to_tenant_models(engine, make_tenants):
    (schema,) = make_tenants("x")

    def not_version_table(_obj, name, type_, *_rest):
        return not (type_ == "table" and name == "alembic_version")

    with engine.connect() as connection, connection.begin():
        connection.execute(text(f'SET LOCAL search_path TO "{schema}"'))
        context = MigrationContext.configure(
            connection, opts={"include_object": not_version_table, "compare_type": True}
        )
        differences = compare_metadata(context, TenantBase.metadata)

    assert differences == []


def test_autogenerate_writes_a_new_tenant_table_without_naming_any_schema(
    db_url, scratch_ini, monkeypatch
):
    tenant_head = Heads.from_scripts().tenant
    monkeypatch.setenv(ALEMBIC_INI_ENV, str(scratch_ini))
    config = alembic_config(url=db_url.render_as_string(hide_password=False))
    table = Table(
        "widgets",
        TenantBase.metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("owner_id", BigInteger, ForeignKey("users.id"), nullable=True),
        Column("label", String(50), nullable=False),
    )
    try:
        script = command.revision(
            config, message="add widgets", autogenerate=True, head=f"{TENANT}@head"
        )
    finally:
        TenantBase.metadata.remove(table)

    assert script is not None
    assert not isinstance(script, list)
    path = Path(script.path)
    assert path.parent == scratch_ini.parent / "versions" / TENANT
    source = path.read_text()
    assert "op.create_table(" in source
    assert '"widgets"' in source
    assert '["users.id"]' in source
    assert source.count("op.create_table(") == 1
    assert "op.drop_table(" in source
    assert source.count("op.drop_") == 1
    assert "schema=" not in source
    assert "tenant_" not in source
    assert (script.down_revision,) == tenant_head
    assert "widgets" not in TenantBase.metadata.tables
