"""The names ``toolkit`` re-exports all resolve, lazily, to the objects of their modules."""

from __future__ import annotations

import subprocess
import sys

import pytest

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


def test_a_rollout_worker_imports_neither_alembic_nor_the_models():
    code = (
        "import sys, toolkit.migrations.worker; "
        "print(any(m == 'alembic' or m.startswith(('alembic.', 'models')) for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
