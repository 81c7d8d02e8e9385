"""Structured logs: every record carries the tenant in scope, the acting user and the run id.

``ContextFilter`` reads three context variables when a record is made: the tenant
(``toolkit.tenant_context``), the actor (``toolkit.actor``) and the migration run (bound
here by the rollout, and by each worker process for the run it serves). ``configure_logging``
installs one stderr handler with that filter and a text or JSON-lines formatter; the CLI calls
it from the settings (``TENANTCTL_LOG_FORMAT``, ``TENANTCTL_LOG_LEVEL``). A service with its
own logging set-up can add ``ContextFilter()`` and ``JsonFormatter()`` to its own handlers.

The run id variable is shaped like the tenant's: ``bind_run_id`` returns a token,
``reset_run_id`` takes it back, ``run_scope`` does both around a block.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar, Token
from typing import IO

from toolkit.actor import current_actor
from toolkit.errors import InvalidSetting
from toolkit.settings import LOG_FORMATS, LOG_LEVELS
from toolkit.tenant_context import current_tenant

# The loggers of the toolkit are "tenantctl" and its children; the level applies to them.
TOOLKIT_LOGGER = "tenantctl"
CONTEXT_FIELDS = ("tenant", "actor", "run_id")

_RUN_ID: ContextVar[int | None] = ContextVar("tenantctl_run_id", default=None)


def current_run_id() -> int | None:
    """The journal id of the migration run this work belongs to, or None."""
    return _RUN_ID.get()


def bind_run_id(run_id: int | None) -> Token[int | None]:
    """Make ``run_id`` the current run (None: no run); returns the token for ``reset_run_id``."""
    if run_id is not None and (isinstance(run_id, bool) or not isinstance(run_id, int)):
        raise TypeError(f"a run id is the journal's integer id, not {run_id!r}")
    return _RUN_ID.set(run_id)


def reset_run_id(token: Token[int | None]) -> None:
    """Restore the run that was current before the ``bind_run_id`` that returned ``token``."""
    _RUN_ID.reset(token)


@contextlib.contextmanager
def run_scope(run_id: int | None) -> Iterator[int | None]:
    """Within the block ``run_id`` is the current run; the previous one comes back after.

    Rebinding inside the block (the rollout learns its id once the journal row exists) is
    undone at the end as well.
    """
    token = bind_run_id(run_id)
    try:
        yield run_id
    finally:
        reset_run_id(token)


class ContextFilter(logging.Filter):
    """Adds ``tenant`` (subdomain), ``actor`` and ``run_id`` to every record it sees.

    A value passed explicitly (``log.info(..., extra={"tenant": "acme"})``) is kept. Attach
    it to a handler, not a logger: a logger's filters miss records of its children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate ``record``; never drops one."""
        fields = record.__dict__  # LogRecord takes extra attributes; its type declares none
        if "tenant" not in fields:
            scope = current_tenant()
            fields["tenant"] = scope.subdomain if scope is not None else None
        fields.setdefault("actor", current_actor())
        fields.setdefault("run_id", current_run_id())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, tenant, actor, run_id,
    pid, and the traceback as text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON (newlines inside values are escaped)."""
        moment = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        payload: dict[str, object] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            payload[name] = getattr(record, name, None)
        payload["pid"] = record.process
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger [tenant=acme run=12 actor=ops] message``; unset fields omitted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(context)s%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, with the context fields that are set in brackets."""
        shown = [
            f"{label}={value}"
            for label, value in (
                ("tenant", getattr(record, "tenant", None)),
                ("run", getattr(record, "run_id", None)),
                ("actor", getattr(record, "actor", None)),
            )
            if value is not None
        ]
        record.__dict__["context"] = f"[{' '.join(shown)}] " if shown else ""
        return super().format(record)


class LogConfig:
    """What ``configure_logging`` was asked for; worker processes of a run repeat it.

    A small slotted class (picklable, compared by value) rather than a dataclass, to keep
    the CLI's start-up short.
    """

    __slots__ = ("format", "level")

    def __init__(self, format: str = "text", level: str = "warning") -> None:
        self.format, self.level = format, level

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogConfig):
            return NotImplemented
        return (self.format, self.level) == (other.format, other.level)

    def __hash__(self) -> int:
        return hash((self.format, self.level))

    def __repr__(self) -> str:
        return f"LogConfig(format={self.format!r}, level={self.level!r})"


_installed: logging.Handler | None = None
_active: LogConfig | None = None


def configure_logging(
    format: str = "text",
    level: str = "warning",
    *,
    stream: IO[str] | None = None,
) -> LogConfig:
    """Send log records to ``stream`` (default stderr) as ``text`` or ``json`` lines.

    ``level`` (debug, info, warning, error, critical) applies to the toolkit's loggers;
    other libraries log warnings and above. Calling it again replaces the handler it
    installed before, so it never doubles lines. Raises InvalidSetting for an unknown
    format or level.
    """
    global _installed, _active
    chosen_format, chosen_level = format.lower(), level.lower()
    if chosen_format not in LOG_FORMATS:
        raise InvalidSetting(
            f"invalid log format {format!r}: use {' or '.join(LOG_FORMATS)}, e.g. json"
        )
    if chosen_level not in LOG_LEVELS:
        raise InvalidSetting(f"invalid log level {level!r}: use {', '.join(LOG_LEVELS)}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if chosen_format == "json" else TextFormatter())
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger(TOOLKIT_LOGGER).setLevel(chosen_level.upper())
    _installed = handler
    _active = LogConfig(chosen_format, chosen_level)
    return _active


def active_log_config() -> LogConfig | None:
    """What ``configure_logging`` last set up in this process, or None if it never ran."""
    return _active
