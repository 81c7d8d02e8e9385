"""The ``tenantctl`` root command: global options and the command groups.

Exit codes are those of ``toolkit.exit_codes``: 0 success, 1 error, 2 invalid input, 3 a
check failed, 4 some tenants failed, 5 run aborted, 6 migration lock busy.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer

from toolkit.cli import audit as _audit  # noqa: F401  (registers tenant purge-deleted/audit)
from toolkit.cli import backup as _backup  # noqa: F401  (registers tenant backup/restore/clone)
from toolkit.cli import key, migrate, security, tenant, usage
from toolkit.cli.context import CliState
from toolkit.cli.doctor import doctor
from toolkit.cli.health import health
from toolkit.cli.seed import seed
from toolkit.process_exit import exit_now
from toolkit.settings import Settings

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
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="DATABASE_URL",
            help="SQLAlchemy URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/app.",
            show_envvar=True,
        ),
    ] = None,
) -> None:
    """Global options shared by every command."""
    cli = CliState(Settings.from_env(database_url=database_url))
    ctx.obj = cli
    ctx.call_on_close(cli.close)


def main() -> NoReturn:
    """Console-script entry point; the process ends through ``exit_now`` (no module teardown)."""
    try:
        app()
    except SystemExit as done:
        exit_now(done.code)
    exit_now(0)
