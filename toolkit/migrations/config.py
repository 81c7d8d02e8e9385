"""The Alembic Config the toolkit runs commands with, and where the script directory is."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from alembic.config import Config
from sqlalchemy import Connection

from toolkit.errors import ConfigurationError
from toolkit.migrations.options import (
    CONNECTION_ATTR,
    ON_ERROR_ATTR,
    ON_SCHEMA_DONE_ATTR,
    RAISE_ERRORS_ATTR,
    TENANTS_ATTR,
    URL_ATTR,
    OnError,
    SchemaOutcome,
)

ALEMBIC_INI_ENV = "TENANTCTL_ALEMBIC_INI"
_PROJECT_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def alembic_ini_path() -> Path:
    """``alembic.ini`` of this project, or the one ``TENANTCTL_ALEMBIC_INI`` names."""
    path = Path(os.environ.get(ALEMBIC_INI_ENV) or _PROJECT_INI)
    if not path.is_file():
        raise ConfigurationError(
            f"alembic.ini not found at {path}: run from a checkout of tenantctl installed with "
            f"`make install`, or set {ALEMBIC_INI_ENV} to the file's path"
        )
    return path


def alembic_config(
    *,
    url: str | None = None,
    connection: Connection | None = None,
    tenants: Sequence[str] | None = None,
    on_error: OnError = OnError.STOP,
    on_schema_done: Callable[[SchemaOutcome], None] | None = None,
) -> Config:
    """A Config whose env.py run uses ``connection`` (or ``url``) and raises typed errors."""
    config = Config(str(alembic_ini_path()))
    config.attributes[RAISE_ERRORS_ATTR] = True
    config.attributes[ON_ERROR_ATTR] = on_error
    if url is not None:
        config.attributes[URL_ATTR] = url
    if connection is not None:
        config.attributes[CONNECTION_ATTR] = connection
    if tenants is not None:
        config.attributes[TENANTS_ATTR] = tuple(tenants)
    if on_schema_done is not None:
        config.attributes[ON_SCHEMA_DONE_ATTR] = on_schema_done
    return config
