"""The Alembic Config the toolkit runs commands with, and where the script directory is."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from toolkit.errors import ConfigurationError
from toolkit.migrations.events import EventHandler
from toolkit.migrations.options import (
    CONNECTION_ATTR,
    ON_EVENT_ATTR,
    OPTIONS_ATTR,
    RAISE_ERRORS_ATTR,
    URL_ATTR,
    RunOptions,
)
from toolkit.settings import SETTINGS_BY_FIELD, Settings

ALEMBIC_INI_ENV = SETTINGS_BY_FIELD["alembic_ini"].env
_PROJECT_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def alembic_ini_path() -> Path:
    """``alembic.ini`` of this project, or the one ``TENANTCTL_ALEMBIC_INI`` names."""
    path = Settings.from_env(only=("alembic_ini",)).alembic_ini or _PROJECT_INI
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
    options: RunOptions | None = None,
    on_event: EventHandler | None = None,
) -> Config:
    """A Config whose env.py run uses ``connection`` (or ``url``) and raises typed errors.

    With ``connection`` the run works inside the caller's transaction, in this process,
    without the rollout lock or the journal (that is how a new tenant is provisioned).
    """
    config = Config(str(alembic_ini_path()))
    config.attributes[RAISE_ERRORS_ATTR] = True
    if options is not None:
        config.attributes[OPTIONS_ATTR] = options
    if url is not None:
        config.attributes[URL_ATTR] = url
    if connection is not None:
        config.attributes[CONNECTION_ATTR] = connection
    if on_event is not None:
        config.attributes[ON_EVENT_ATTR] = on_event
    return config


def project_scripts() -> ScriptDirectory:
    """The script directory of ``alembic_ini_path()``, loaded once per process and file."""
    return _scripts_of(alembic_ini_path())


@functools.cache
def _scripts_of(ini_path: Path) -> ScriptDirectory:
    return ScriptDirectory.from_config(Config(str(ini_path)))
