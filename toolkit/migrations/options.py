"""Options of one migration run, from ``-x key=value`` arguments or from the toolkit's API.

Every option has one name, used both as ``-x NAME=...`` for ``alembic`` and (with dashes)
as ``tenantctl migrate up --NAME``; ``RunOptions`` is the one place that parses them.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from alembic.config import Config

from toolkit.errors import InvalidOption
from toolkit.migrations.apply import Limits
from toolkit.migrations.targeting import Selection
from toolkit.settings import DATABASE_URL_ENV, Settings

# Keys of ``Config.attributes`` through which the toolkit hands options to env.py.
CONNECTION_ATTR = "tenantctl.connection"
URL_ATTR = "tenantctl.url"
OPTIONS_ATTR = "tenantctl.options"
ON_EVENT_ATTR = "tenantctl.on_event"
RAISE_ERRORS_ATTR = "tenantctl.raise_errors"


class OnError(enum.StrEnum):
    """What a run does after a tenant fails (that tenant is always rolled back).

    ``stop`` is fail-fast: no new tenant starts, the ones in flight finish.
    """

    STOP = "stop"
    CONTINUE = "continue"


_T = TypeVar("_T")


@dataclass(frozen=True)
class Tuning:
    """How a run goes about its work, as opposed to what it migrates: what a caller may
    change in a run's options, a resume's included. None keeps the value as it is."""

    workers: int | None = None
    lock_wait: float | None = None
    lock_timeout: float | None = None
    statement_timeout: float | None = None
    lock_retries: int | None = None

    def applied_to(self, options: RunOptions) -> RunOptions:
        """``options`` with every value given here in place of its own."""
        limits = options.limits
        return replace(
            options,
            workers=_given(self.workers, options.workers),
            lock_wait=_given(self.lock_wait, options.lock_wait),
            limits=replace(
                limits,
                lock_timeout=_given(self.lock_timeout, limits.lock_timeout),
                statement_timeout=_given(self.statement_timeout, limits.statement_timeout),
                lock_retries=_given(self.lock_retries, limits.lock_retries),
            ),
        )


def _given(value: _T | None, otherwise: _T) -> _T:
    return otherwise if value is None else value


@dataclass(frozen=True)
class RunOptions:
    """Everything a run needs to know beyond Alembic's own command arguments."""

    selection: Selection = field(default_factory=Selection)
    on_error: OnError = OnError.STOP
    workers: int = 1
    lock_wait: float = 30.0
    limits: Limits = field(default_factory=Limits)
    dry_run: bool = False
    resume_run: int | None = None

    def with_x_arguments(self, x_arguments: Sequence[str]) -> RunOptions:
        """These options overridden by ``-x NAME=VALUE`` arguments, as Alembic lists them;
        InvalidOption names a bad one."""
        options = self
        for name, value in _x_pairs(x_arguments).items():
            options = _X_PARSERS[name](options, name, value)
        return options

    def as_json(self) -> dict[str, Any]:
        """The options as recorded in the run journal."""
        return {
            "selection": self.selection.as_json(),
            "on_error": self.on_error.value,
            "workers": self.workers,
            "lock_wait": self.lock_wait,
            "lock_timeout": self.limits.lock_timeout,
            "statement_timeout": self.limits.statement_timeout,
            "lock_retries": self.limits.lock_retries,
            "dry_run": self.dry_run,
            "resume_run": self.resume_run,
        }


def options_from_json(recorded: Mapping[str, Any]) -> RunOptions:
    """Options as ``RunOptions.as_json`` recorded them in the journal (for ``migrate resume``)."""
    selection = recorded.get("selection") or {}
    limits = Limits(
        lock_timeout=float(recorded.get("lock_timeout", Limits.lock_timeout)),
        statement_timeout=float(recorded.get("statement_timeout", Limits.statement_timeout)),
        lock_retries=int(recorded.get("lock_retries", Limits.lock_retries)),
    )
    tenants = selection.get("tenants")
    where = selection.get("where") or {}
    return RunOptions(
        selection=Selection(
            tenants=tuple(tenants) if tenants is not None else None,
            where=tuple((name, tuple(values)) for name, values in where.items()),
            shard=_shard_pair(selection.get("shard")),
            canary=selection.get("canary"),
        ),
        on_error=OnError(recorded.get("on_error", OnError.STOP)),
        workers=int(recorded.get("workers", 1)),
        lock_wait=float(recorded.get("lock_wait", RunOptions.lock_wait)),
        limits=limits,
    )


def run_options_from_settings(settings: Settings) -> RunOptions:
    """Default options of a run as the settings say (``TENANTCTL_MIGRATE_*``): workers,
    lock wait, and the per-tenant limits. Flags and ``-x`` arguments override them."""
    return RunOptions(
        workers=settings.migrate_workers,
        lock_wait=settings.migrate_lock_wait,
        limits=Limits(
            lock_timeout=settings.migrate_lock_timeout,
            statement_timeout=settings.migrate_statement_timeout,
            lock_retries=settings.migrate_lock_retries,
        ),
    )


def _shard_pair(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    index, _, count = text.partition("/")
    return int(index), int(count)


def database_url(config: Config) -> str | None:
    """The URL a run uses: the toolkit's, else ``DATABASE_URL``, else ``sqlalchemy.url``."""
    attributes: dict[str, Any] = config.attributes
    return (
        attributes.get(URL_ATTR)
        or os.environ.get(DATABASE_URL_ENV)
        or config.get_main_option("sqlalchemy.url")
        or None
    )


def options_from_config(config: Config, x_arguments: Sequence[str]) -> RunOptions:
    """The toolkit's options from ``config.attributes``, overridden by ``-x`` arguments.

    A plain ``alembic`` command has none: its defaults come from the settings in the
    environment (``TENANTCTL_MIGRATE_*``), as ``tenantctl migrate``'s do.
    """
    base = config.attributes.get(OPTIONS_ATTR)
    if base is None:
        base = run_options_from_settings(Settings.from_env(only=_MIGRATE_SETTINGS))
    if not isinstance(base, RunOptions):
        raise TypeError(f"{OPTIONS_ATTR} must hold RunOptions, not {type(base).__name__}")
    return base.with_x_arguments(x_arguments)


_MIGRATE_SETTINGS = (
    "migrate_workers",
    "migrate_lock_wait",
    "migrate_lock_timeout",
    "migrate_statement_timeout",
    "migrate_lock_retries",
)


def _x_pairs(x_arguments: Sequence[str]) -> dict[str, str]:
    """``-x`` arguments as names and values, each name known and given once.

    Alembic's own dictionary keeps the last of a repeated name, so ``-x where=plan=pro -x
    where=status=active`` would quietly select every active tenant; here it is an error.
    """
    pairs: dict[str, str] = {}
    given: dict[str, str] = {}  # the option, by the name it was given as (tenant: tenants)
    for argument in x_arguments:
        name, _, value = argument.partition("=")
        if name not in _X_PARSERS:
            raise InvalidOption(
                f"unknown -x option {name!r} (in -x {argument}): the options are "
                + ", ".join(f"-x {known}=..." for known in _X_PARSERS)
            )
        option = _X_ALIASES.get(name, name)
        if option in given:
            raise InvalidOption(
                f"-x {name} is given more than once (-x {given[option]}, -x {argument}): give "
                f"each -x option once; {_X_ONCE_HINT}"
            )
        given[option] = argument
        pairs[name] = value
    return pairs


# -- -x parsers: each takes the options, the -x name and its text, and returns new options ----


def _number(name: str, value: str, *, minimum: float, integer: bool = False) -> float:
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        number = minimum - 1
    if not math.isfinite(number) or number < minimum:
        kind = "a whole number" if integer else "a number"
        raise InvalidOption(f"invalid -x {name}={value!r}: use {kind} >= {minimum:g}")
    return number


def _tenants(options: RunOptions, name: str, value: str) -> RunOptions:
    return replace(options, selection=options.selection.with_tenants(value))


def _where(options: RunOptions, name: str, value: str) -> RunOptions:
    return replace(options, selection=options.selection.with_where(value))


def _canary(options: RunOptions, name: str, value: str) -> RunOptions:
    count = int(_number(name, value, minimum=1, integer=True))
    return replace(options, selection=replace(options.selection, canary=count))


def _shard(options: RunOptions, name: str, value: str) -> RunOptions:
    return replace(options, selection=options.selection.with_shard(value))


def _on_error(options: RunOptions, name: str, value: str) -> RunOptions:
    try:
        return replace(options, on_error=OnError(value))
    except ValueError:
        raise InvalidOption(f"invalid -x {name}={value!r}: use stop or continue") from None


def _flag(options: RunOptions, name: str, value: str) -> RunOptions:
    truth = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
    if value.lower() not in truth:
        raise InvalidOption(f"invalid -x {name}={value!r}: use true or false")
    return replace(options, dry_run=truth[value.lower()])


def _workers(options: RunOptions, name: str, value: str) -> RunOptions:
    return replace(options, workers=int(_number(name, value, minimum=1, integer=True)))


def _lock_wait(options: RunOptions, name: str, value: str) -> RunOptions:
    return replace(options, lock_wait=_number(name, value, minimum=0))


def _limit(options: RunOptions, name: str, value: str) -> RunOptions:
    limits = options.limits
    if name == "lock_retries":
        retries = int(_number(name, value, minimum=0, integer=True))
        return replace(options, limits=replace(limits, lock_retries=retries))
    seconds = _number(name, value, minimum=0.001)
    if name == "lock_timeout":
        return replace(options, limits=replace(limits, lock_timeout=seconds))
    return replace(options, limits=replace(limits, statement_timeout=seconds))


_X_PARSERS = {
    "tenant": _tenants,
    "tenants": _tenants,
    "where": _where,
    "canary": _canary,
    "shard": _shard,
    "on_error": _on_error,
    "dry_run": _flag,
    "workers": _workers,
    "lock_wait": _lock_wait,
    "lock_timeout": _limit,
    "statement_timeout": _limit,
    "lock_retries": _limit,
}
_X_ALIASES = {"tenant": "tenants"}
_X_ONCE_HINT = (
    "several tenants go in one, comma-separated (-x tenants=acme,globex), several conditions "
    "in one, separated by ';' (-x 'where=plan=pro;status=active')"
)
