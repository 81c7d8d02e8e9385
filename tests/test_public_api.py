"""The names ``toolkit`` and ``models`` re-export resolve, lazily, to the objects of their
modules; and what a rollout's processes import at start-up."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import models
import toolkit


def test_every_exported_name_resolves_to_its_module_attribute():
    assert set(toolkit.__all__) == set(toolkit._MODULE_OF)
    for name in toolkit.__all__:
        module = sys.modules.get(toolkit._MODULE_OF[name]) or __import__(
            toolkit._MODULE_OF[name], fromlist=[name]
        )
        assert getattr(toolkit, name) is getattr(module, name)


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        toolkit.no_such_name  # noqa: B018


def _fresh_interpreter(code: str) -> str:
    """What ``code`` prints in a new interpreter, where nothing is imported yet."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_a_rollout_worker_imports_neither_alembic_nor_the_models():
    code = (
        "import sys, toolkit.migrations.worker; "
        "print(any(m == 'alembic' or m.startswith(('alembic.', 'models')) for m in sys.modules))"
    )
    assert _fresh_interpreter(code) == "False"


def test_every_model_name_resolves_to_its_module_attribute():
    assert set(models.__all__) == set(models._MODULE_OF)
    for name in models.__all__:
        module = __import__(models._MODULE_OF[name], fromlist=[name])
        assert getattr(models, name) is getattr(module, name)


def test_a_base_loads_every_model_of_its_schema_first():
    code = (
        "import models; "
        "print(len(models.CoreBase.metadata.tables), len(models.TenantBase.metadata.tables))"
    )
    for path in Path(models.__file__).parent.glob("[!_]*.py"):  # every model module, here
        importlib.import_module(f"models.{path.stem}")
    expected = f"{len(models.CoreBase.metadata.tables)} {len(models.TenantBase.metadata.tables)}"
    assert _fresh_interpreter(code) == expected


def test_the_migrate_commands_load_without_the_orm():
    code = "import sys, toolkit.cli.migrate; print('sqlalchemy.orm' in sys.modules)"
    assert _fresh_interpreter(code) == "False"
