"""Alembic environment of tenantctl: core first, then every tenant schema.

All the work is in ``toolkit.migrations.environment``; this file only hands over and turns
the toolkit's errors into one ``FAILED:`` line and the exit codes of ``toolkit.exit_codes``.
"""

import logging.config
import sys

from alembic import context

from toolkit.errors import TenantctlError
from toolkit.exit_codes import exit_code_for
from toolkit.migrations.environment import run_migrations
from toolkit.migrations.options import RAISE_ERRORS_ATTR

config = context.config
if config.config_file_name is not None and not config.attributes.get(RAISE_ERRORS_ATTR):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)

try:
    # ``alembic.context`` is a module proxy; the toolkit needs the EnvironmentContext behind it
    # to read the command's step function and arguments.
    run_migrations(context._proxy)
except TenantctlError as exc:
    if config.attributes.get(RAISE_ERRORS_ATTR):
        raise
    print(f"FAILED: {exc}", file=sys.stderr)
    raise SystemExit(exit_code_for(exc)) from None
