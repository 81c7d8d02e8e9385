"""Engines and connectivity: one place that turns a URL into a checked SQLAlchemy engine."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from toolkit.errors import ConfigurationError, DatabaseUnreachable

CONNECT_TIMEOUT_SECONDS = 5
log = logging.getLogger("tenantctl")


def parse_url(url: str | URL) -> URL:
    """Parse a database URL, defaulting PostgreSQL URLs to the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigurationError(
            f"invalid database URL {mask_url(url)!r}: expected the SQLAlchemy form "
            "postgresql+psycopg://USER[:PASSWORD]@HOST:PORT/DBNAME"
        ) from None
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"unsupported database URL {mask_url(parsed)!r}: tenantctl needs PostgreSQL "
            "(postgresql+psycopg://...)"
        )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def mask_url(url: str | URL) -> str:
    """The URL as text with any password replaced by ``***``, safe for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def make_engine(url: str | URL, **engine_options: Any) -> Engine:
    """A SQLAlchemy engine for ``url`` with a bounded connect timeout."""
    parsed = parse_url(url)
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    connect_args.update(engine_options.pop("connect_args", {}))
    return create_engine(parsed, connect_args=connect_args, **engine_options)


@contextlib.contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A connection, or DatabaseUnreachable naming the masked URL if none can be opened."""
    try:
        connection = engine.connect()
    except OperationalError as exc:
        raise unreachable(engine.url, exc) from None
    with connection:
        yield connection


@contextlib.contextmanager
def transaction(connection: Connection) -> Iterator[None]:
    """A transaction, or a savepoint when the caller already holds one."""
    if connection.in_transaction():
        with connection.begin_nested():
            yield
    else:
        with connection.begin():
            yield


def disable_idle_timeout(connection: Connection) -> None:
    """Exempt a long-lived connection of the runner from ``idle_session_timeout``.

    The rollout lock and the journal sit idle while tenants migrate; a server-wide idle
    timeout must not end them. Servers before PostgreSQL 14 have no such setting.
    """
    try:
        with transaction(connection):
            connection.execute(text("SET idle_session_timeout = 0"))
    except DBAPIError:
        log.debug("server has no idle_session_timeout")


def check_reachable(engine: Engine) -> None:
    """Open one connection and run ``SELECT 1``, or raise DatabaseUnreachable."""
    with connect(engine) as connection:
        connection.execute(text("SELECT 1"))


def unreachable(url: URL, exc: BaseException) -> DatabaseUnreachable:
    """The error for a failed connection: masked URL, the driver's first line, and a fix."""
    cause = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
    first_line = cause[0] if cause else type(exc).__name__
    return DatabaseUnreachable(
        f"cannot connect to {mask_url(url)}: {first_line}; check that the server is running "
        "and the URL is right (DATABASE_URL or --database-url)"
    )
