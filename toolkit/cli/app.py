"""The ``tenantctl`` root command: global options and the command groups.

Each command group lives in its own module, imported only when the command line names it
(all of them for ``--help`` or an unknown name): ``tenantctl migrate up`` pays for the
migration modules at start-up, not for the audit log's, the API keys' or the seed data's.

Exit codes are those of ``toolkit.exit_codes``: 0 success, 1 error, 2 invalid input, 3 a
check failed, 4 some tenants failed, 5 run aborted, 6 migration lock busy.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import NoReturn

import typer

from toolkit.cli.context import CliState, user_errors
from toolkit.cli.early_workers import prestart_rollout_workers
from toolkit.cli.global_options import (
    DatabaseUrl,
    LogFormat,
    LogLevel,
    PoolSize,
    load_settings,
    value_option_names,
)
from toolkit.process_exit import exit_now

app = typer.Typer(
    name="tenantctl",
    help="Schema-per-tenant PostgreSQL: provision, migrate and inspect tenants.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

# Command groups, in the order help lists them: the module whose ``app`` is the group, then
# modules that add commands to that group when imported.
_GROUPS: dict[str, tuple[str, ...]] = {
    "tenant": ("toolkit.cli.tenant", "toolkit.cli.audit", "toolkit.cli.backup"),
    "migrate": ("toolkit.cli.migrate",),
    "key": ("toolkit.cli.key",),
    "security": ("toolkit.cli.security",),
    "usage": ("toolkit.cli.usage",),
}
# Single commands: the module that defines a function of the command's name.
_COMMANDS: dict[str, str] = {
    "seed": "toolkit.cli.seed",
    "doctor": "toolkit.cli.doctor",
    "health": "toolkit.cli.health",
}


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


def named_command(argv: Sequence[str]) -> str | None:
    """The command a command line names: its first word that is neither a global option
    nor such an option's value; None if there is none."""
    position = _command_position(argv)
    return None if position is None else argv[position]


def _command_position(argv: Sequence[str]) -> int | None:
    takes_value = value_option_names()
    skip = False
    for position, word in enumerate(argv):
        if skip:
            skip = False
        elif word in takes_value:
            skip = True
        elif not word.startswith("-"):
            return position
    return None


def register(names: Iterable[str]) -> None:
    """Import the modules of the commands ``names`` and add those commands to ``app``."""
    for name in names:
        if name in _GROUPS:
            # Importing the other modules is what adds their commands to the group.
            group, *_added = [importlib.import_module(module) for module in _GROUPS[name]]
            app.add_typer(group.app, name=name)
        else:
            app.command(name)(getattr(importlib.import_module(_COMMANDS[name]), name))


def load(argv: Sequence[str]) -> None:
    """Prepare to run the command line ``argv``: import the modules of the command it names
    (all of them if it names none), and start a rollout's worker processes first thing."""
    position = _command_position(argv)
    named = None if position is None else argv[position]
    if position is not None and named == "migrate":
        prestart_rollout_workers(argv[position + 1 :])
    known = named in _GROUPS or named in _COMMANDS
    register([named] if known and named is not None else [*_GROUPS, *_COMMANDS])


def run() -> NoReturn:
    """Run the command line after ``load``; the process ends through ``exit_now`` (no module
    teardown)."""
    try:
        app()
    except SystemExit as done:
        exit_now(done.code)
    exit_now(0)
