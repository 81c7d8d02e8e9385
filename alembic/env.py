"""Alembic environment of tenantctl: core first, then every tenant schema.

All the work is in ``toolkit.migrations.environment``; this file only hands over and turns
the toolkit's errors into one ``FAILED:`` line and the exit codes of ``toolkit.exit_codes``.
Logging follows alembic.ini, unless ``TENANTCTL_LOG_FORMAT`` or ``TENANTCTL_LOG_LEVEL`` is
set: then it is tenantctl's own (text or JSON lines naming tenant and run, workers included).
"""

import logging.config
import os
import sys

from alembic import context

from toolkit.errors import TenantctlError
from toolkit.exit_codes import exit_code_for
from toolkit.logging_setup import configure_logging
from toolkit.migrations.environment import run_migrations
from toolkit.migrations.options import RAISE_ERRORS_ATTR
from toolkit.settings import SETTINGS_BY_FIELD, Settings

config = context.config
_LOG_SETTINGS = ("log_format", "log_level")


def _configure_logging() -> None:
    """tenantctl's logging when a TENANTCTL_LOG_* variable asks for it, else alembic.ini's."""
    if any(os.environ.get(SETTINGS_BY_FIELD[name].env) for name in _LOG_SETTINGS):
        settings = Settings.from_env(only=_LOG_SETTINGS)
        configure_logging(settings.log_format, settings.log_level)
    elif config.config_file_name is not None:
        logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


try:
    if not config.attributes.get(RAISE_ERRORS_ATTR):  # a plain `alembic` command
        _configure_logging()
    # ``alembic.context`` is a module proxy; the toolkit needs the EnvironmentContext behind it
    # to read the command's step function and arguments.
    run_migrations(context._proxy)
except TenantctlError as exc:
    if config.attributes.get(RAISE_ERRORS_ATTR):
        raise
    print(f"FAILED: {exc}", file=sys.stderr)
    raise SystemExit(exit_code_for(exc)) from None
