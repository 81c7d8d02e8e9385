"""The root command's global options: settings that a flag can override for one invocation.

Each option takes text and hands it to ``Settings.from_env``, which parses flags and
environment variables alike, so ``--pool-size x`` and ``TENANTCTL_POOL_SIZE=x`` fail with the
same kind of one-line message (naming the flag or the variable). Precedence: flag, then
environment, then the default.
"""

from __future__ import annotations

from typing import Annotated, get_args

import typer

from toolkit.logging_setup import configure_logging
from toolkit.settings import LOG_FORMATS, LOG_LEVELS, Settings

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        metavar="URL",
        help="SQLAlchemy URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/app "
        "(env: DATABASE_URL).",
    ),
]
PoolSize = Annotated[
    str | None,
    typer.Option(
        "--pool-size", metavar="N", help="Connections kept in the pool (env: TENANTCTL_POOL_SIZE)."
    ),
]
LogFormat = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        metavar="|".join(LOG_FORMATS).upper(),
        help="Log lines on stderr as text or JSON (env: TENANTCTL_LOG_FORMAT; default text).",
    ),
]
LogLevel = Annotated[
    str | None,
    typer.Option(
        "--log-level",
        metavar="LEVEL",
        help=f"{', '.join(LOG_LEVELS)} (env: TENANTCTL_LOG_LEVEL; default warning).",
    ),
]


def value_option_names() -> frozenset[str]:
    """The global options' flags, each of which takes a value (``--pool-size 5``)."""
    flags: set[str] = set()
    for option in (DatabaseUrl, PoolSize, LogFormat, LogLevel):
        info = get_args(option)[1]
        # In an Annotated option typer keeps the first flag as the "default" it was given.
        declared = (info.default, *info.param_decls)
        flags.update(flag for flag in declared if isinstance(flag, str) and flag.startswith("-"))
    return frozenset(flags)


def load_settings(
    database_url: str | None,
    pool_size: str | None,
    log_format: str | None,
    log_level: str | None,
) -> Settings:
    """Settings from the environment with the given flags on top; logging configured.

    Raises InvalidSetting (exit 2) for a value that cannot be used.
    """
    settings = Settings.from_env(
        flags={
            "database_url": database_url,
            "pool_size": pool_size,
            "log_format": log_format,
            "log_level": log_level,
        }
    )
    configure_logging(settings.log_format, settings.log_level)
    return settings
