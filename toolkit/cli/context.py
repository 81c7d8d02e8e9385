"""What every command shares: the settings, an engine built on demand, and the error policy.

Nothing heavy is imported here, nor by the root command: a rollout starts its worker
processes before the database and migration modules load (``toolkit.cli.early_workers``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

from toolkit.errors import TenantctlError
from toolkit.exit_codes import exit_code_for
from toolkit.settings import Settings

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory
    from sqlalchemy import Engine


@dataclass
class CliState:
    """Per-invocation state kept on typer's context object."""

    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    def engine(self) -> Engine:
        """The engine the settings describe, created once per invocation."""
        from toolkit.db import make_engine_from_settings  # late import: see the docstring

        if self._engine is None:
            self._engine = make_engine_from_settings(self.settings)
        return self._engine

    def scripts(self) -> ScriptDirectory:
        """The project's Alembic script directory."""
        from alembic.script import ScriptDirectory  # late import: see the docstring

        from toolkit.migrations.config import alembic_config

        return ScriptDirectory.from_config(alembic_config())

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

    The codes are those of ``toolkit.exit_codes``: invalid input exits 2 like any usage
    error, failed or aborted migrations and a busy lock have codes of their own.
    """
    try:
        yield
    except TenantctlError as exc:
        from toolkit.cli.render import print_error  # late import: see the docstring

        print_error(str(exc))
        raise typer.Exit(exit_code_for(exc)) from None
