"""A scratch copy of the project's Alembic tree, where tests add revisions of their own."""

from __future__ import annotations

import configparser
import shutil
import sys
import textwrap
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from toolkit.migrations.branches import BRANCHES, TENANT, BranchIndex

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VERSIONS_DIR = PROJECT_ROOT / "alembic" / "versions"


def make_scratch_ini(directory: Path) -> Path:
    """An alembic.ini like the project's whose version_locations are a copy in ``directory``."""
    versions = directory / "versions"
    shutil.copytree(VERSIONS_DIR, versions, ignore=shutil.ignore_patterns("__pycache__"))
    parser = configparser.RawConfigParser()
    parser.read(PROJECT_ROOT / "alembic.ini")
    parser.set("alembic", "script_location", str(PROJECT_ROOT / "alembic"))
    parser.set(
        "alembic",
        "version_locations",
        " ".join(str(versions / branch) for branch in BRANCHES),
    )
    parser.set("alembic", "prepend_sys_path", str(PROJECT_ROOT))
    parser.set(
        "post_write_hooks", "ruff_format.executable", str(Path(sys.executable).parent / "ruff")
    )
    ini = directory / "alembic.ini"
    with ini.open("w") as handle:
        parser.write(handle)
    return ini


def add_tenant_revision(
    ini: Path,
    revision: str,
    upgrade: str,
    downgrade: str = "pass",
    *,
    render_as_sql: bool = True,
    data_only: bool = False,
) -> Path:
    """Write revision ``revision`` on top of the tenant head of ``ini``'s tree.

    ``upgrade`` and ``downgrade`` are Python bodies using ``op`` and ``sa``. With
    ``render_as_sql=False`` the revision opts out of rendering and runs through Alembic;
    with ``data_only=True`` it says it moves data only (new tenants skip it).
    """
    script = ScriptDirectory.from_config(Config(str(ini)))
    (head,) = BranchIndex.build(script).heads_of(script, TENANT)
    flag = "" if render_as_sql else "render_as_sql = False\n"
    if data_only:
        flag += "data_only = True\n"
    source = (
        f'"""scratch revision {revision}"""\n\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f"revision = {revision!r}\n"
        f"down_revision = {head!r}\n"
        "branch_labels = None\n"
        "depends_on = None\n"
        f"{flag}\n\n"
        "def upgrade() -> None:\n"
        f"{textwrap.indent(textwrap.dedent(upgrade).strip(), '    ')}\n\n\n"
        "def downgrade() -> None:\n"
        f"{textwrap.indent(textwrap.dedent(downgrade).strip(), '    ')}\n"
    )
    path = ini.parent / "versions" / TENANT / f"{revision}.py"
    path.write_text(source)
    return path
