"""What every command shares: the settings, an engine built on demand, and the error policy."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import typer
from sqlalchemy import Engine

from toolkit.cli.render import print_error
from toolkit.db import make_engine
from toolkit.errors import InvalidSubdomain, TenantctlError
from toolkit.settings import Settings

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BEHIND = 3


@dataclass
class CliState:
    """Per-invocation state kept on typer's context object."""

    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    def engine(self) -> Engine:
        """The engine for the configured URL, created once per invocation."""
        if self._engine is None:
            self._engine = make_engine(self.settings.require_database_url())
        return self._engine

    def close(self) -> None:
        """Release pooled connections."""
        if self._engine is not None:
            self._engine.dispose()


def state(ctx: typer.Context) -> CliState:
    """The CliState the root callback stored on the context."""
    value = ctx.obj
    if not isinstance(value, CliState):
        raise TypeError("tenantctl's root callback did not run")
    return value


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn the toolkit's errors into one red line and an exit code, never a traceback.

    Invalid input (a bad subdomain) exits 2 like any usage error; everything else exits 1.
    """
    try:
        yield
    except InvalidSubdomain as exc:
        print_error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    except TenantctlError as exc:
        print_error(str(exc))
        raise typer.Exit(EXIT_ERROR) from None
