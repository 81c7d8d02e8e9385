"""Options of one migration run, from ``-x key=value`` arguments or from the toolkit's API."""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from alembic.config import Config

from toolkit.errors import ConfigurationError
from toolkit.settings import DATABASE_URL_ENV

# Keys of ``Config.attributes`` through which the toolkit hands options to env.py.
CONNECTION_ATTR = "tenantctl.connection"
URL_ATTR = "tenantctl.url"
TENANTS_ATTR = "tenantctl.tenants"
ON_ERROR_ATTR = "tenantctl.on_error"
ON_SCHEMA_DONE_ATTR = "tenantctl.on_schema_done"
RAISE_ERRORS_ATTR = "tenantctl.raise_errors"

X_ARGUMENTS = ("tenant", "tenants", "on_error")


class OnError(enum.StrEnum):
    """What a run does after a tenant fails (that tenant is always rolled back)."""

    STOP = "stop"
    CONTINUE = "continue"


@dataclass(frozen=True)
class SchemaOutcome:
    """How one schema's migration ended."""

    schema: str
    ok: bool
    seconds: float
    error: str | None = None


@dataclass(frozen=True)
class RunOptions:
    """Everything env.py needs to know beyond Alembic's own command arguments."""

    tenants: tuple[str, ...] | None
    on_error: OnError
    raise_errors: bool
    on_schema_done: Callable[[SchemaOutcome], None] | None
    database_url: str | None

    @classmethod
    def from_config(cls, config: Config, x_arguments: Mapping[str, str]) -> RunOptions:
        """Merge ``-x`` arguments with what the toolkit put in ``config.attributes``."""
        unknown = sorted(set(x_arguments) - set(X_ARGUMENTS))
        if unknown:
            raise ConfigurationError(
                f"unknown -x option {', '.join(unknown)}: the options are "
                "-x tenant=SUB[,SUB...] and -x on_error=stop|continue"
            )
        attributes: dict[str, Any] = config.attributes
        tenants = attributes.get(TENANTS_ATTR)
        for key in ("tenant", "tenants"):
            if key in x_arguments:
                tenants = tuple(ref.strip() for ref in x_arguments[key].split(",") if ref.strip())
                if not tenants:
                    raise ConfigurationError(f"-x {key}= names no tenant; e.g. -x {key}=acme")
        on_error_text = x_arguments.get("on_error", attributes.get(ON_ERROR_ATTR, OnError.STOP))
        try:
            on_error = OnError(on_error_text)
        except ValueError:
            raise ConfigurationError(
                f"invalid -x on_error={on_error_text!r}: use stop or continue"
            ) from None
        return cls(
            tenants=tuple(tenants) if tenants is not None else None,
            on_error=on_error,
            raise_errors=bool(attributes.get(RAISE_ERRORS_ATTR, False)),
            on_schema_done=attributes.get(ON_SCHEMA_DONE_ATTR),
            database_url=attributes.get(URL_ATTR)
            or os.environ.get(DATABASE_URL_ENV)
            or config.get_main_option("sqlalchemy.url")
            or None,
        )
