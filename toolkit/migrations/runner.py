"""Upgrade and downgrade core and every tenant from Python: the API behind ``tenantctl db``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from alembic import command
from alembic.util import CommandError
from sqlalchemy import Engine

from toolkit.db import connect
from toolkit.errors import MigrationFailed, TenantctlError
from toolkit.migrations.config import alembic_config
from toolkit.migrations.options import OnError, SchemaOutcome


@dataclass
class RunReport:
    """What a run did: one outcome per schema, in order."""

    outcomes: list[SchemaOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[SchemaOutcome]:
        """The schemas that failed and were rolled back."""
        return [outcome for outcome in self.outcomes if not outcome.ok]


def upgrade_all(
    engine: Engine,
    target: str = "heads",
    *,
    tenants: Sequence[str] | None = None,
    on_error: OnError = OnError.STOP,
    on_schema_done: Callable[[SchemaOutcome], None] | None = None,
) -> RunReport:
    """Upgrade core, then each tenant (or only ``tenants``), each in its own transaction.

    Raises MigrationFailed, carrying the report's failures, if any schema failed.
    """
    return _run(command.upgrade, engine, target, tenants, on_error, on_schema_done)


def downgrade_all(
    engine: Engine,
    target: str,
    *,
    tenants: Sequence[str] | None = None,
    on_error: OnError = OnError.STOP,
    on_schema_done: Callable[[SchemaOutcome], None] | None = None,
) -> RunReport:
    """Downgrade to ``target`` (e.g. ``tenant@-1``, ``core@base``), schema by schema."""
    return _run(command.downgrade, engine, target, tenants, on_error, on_schema_done)


def _run(
    alembic_command: Callable[..., object],
    engine: Engine,
    target: str,
    tenants: Sequence[str] | None,
    on_error: OnError,
    on_schema_done: Callable[[SchemaOutcome], None] | None,
) -> RunReport:
    report = RunReport()

    def record(outcome: SchemaOutcome) -> None:
        report.outcomes.append(outcome)
        if on_schema_done is not None:
            on_schema_done(outcome)

    with connect(engine) as connection:
        config = alembic_config(
            connection=connection, tenants=tenants, on_error=on_error, on_schema_done=record
        )
        try:
            alembic_command(config, target)
        except CommandError as exc:
            raise TenantctlError(f"alembic refused {target!r}: {exc}") from None
    return report


__all__ = ["MigrationFailed", "RunReport", "downgrade_all", "upgrade_all"]
