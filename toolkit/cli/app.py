"""The ``tenantctl`` root command: global options and the command groups.

Exit codes are those of ``toolkit.exit_codes``: 0 success, 1 error, 2 invalid input, 3 a
check failed, 4 some tenants failed, 5 run aborted, 6 migration lock busy.
"""

from __future__ import annotations

from typing import NoReturn

import typer

from toolkit.cli import audit as _audit  # noqa: F401  (registers tenant purge-deleted/audit)
from toolkit.cli import backup as _backup  # noqa: F401  (registers tenant backup/restore/clone)
from toolkit.cli import key, migrate, security, tenant, usage
from toolkit.cli.context import CliState, user_errors
from toolkit.cli.doctor import doctor
from toolkit.cli.global_options import DatabaseUrl, LogFormat, LogLevel, PoolSize, load_settings
from toolkit.cli.health import health
from toolkit.cli.seed import seed
from toolkit.process_exit import exit_now

app = typer.Typer(
    name="tenantctl",
    help="Schema-per-tenant PostgreSQL: provision, migrate and inspect tenants.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(tenant.app, name="tenant")
app.add_typer(migrate.app, name="migrate")
app.add_typer(key.app, name="key")
app.add_typer(security.app, name="security")
app.add_typer(usage.app, name="usage")
app.command("seed")(seed)
app.command("doctor")(doctor)
app.command("health")(health)


@app.callback()
def root(
    ctx: typer.Context,
    database_url: DatabaseUrl = None,
    pool_size: PoolSize = None,
    log_format: LogFormat = None,
    log_level: LogLevel = None,
) -> None:
    """Global options shared by every command; they override the environment's settings."""
    with user_errors():
        settings = load_settings(database_url, pool_size, log_format, log_level)
    cli = CliState(settings)
    ctx.obj = cli
    ctx.call_on_close(cli.close)


def main() -> NoReturn:
    """Console-script entry point; the process ends through ``exit_now`` (no module teardown)."""
    try:
        app()
    except SystemExit as done:
        exit_now(done.code)
    exit_now(0)
