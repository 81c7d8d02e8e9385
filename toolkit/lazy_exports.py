"""Packages that re-export names and import each from its module only on first use (PEP 562).

``toolkit`` and ``toolkit.usage`` re-export what their modules define; importing all of those
modules up front would cost every process their import time (and ``toolkit.usage`` may not
import ``models`` eagerly at all). A package sets ``__getattr__ = lazy_exports(...)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, module_of: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: the name from the module ``module_of`` names,
    kept in ``namespace`` (the package's globals) so that it loads once."""

    def load(name: str) -> Any:
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return load
