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
from toolkit.settings import Settings
from toolkit.sql_tag import tag_statements

CONNECT_TIMEOUT_SECONDS = 5
# psycopg's connect() keyword: run a statement this many times before preparing it; None: never.
PREPARE_THRESHOLD = "prepare_threshold"
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


def make_engine(
    url: str | URL,
    *,
    transaction_pooler: bool = False,
    tag_sql: bool = False,
    **engine_options: Any,
) -> Engine:
    """A SQLAlchemy engine for ``url`` with a bounded connect timeout.

    With ``tag_sql`` every statement sent while a tenant is in scope starts with
    ``/* tenant=acme */`` (``toolkit.sql_tag``), for slow-query logs and ``pg_stat_activity``.

    Pass ``transaction_pooler=True`` when ``url`` points at a pooler in transaction mode
    (PgBouncer ``pool_mode = transaction``). Such a pooler hands each transaction whichever
    server connection is free, while psycopg prepares a statement on its server session after
    it has run a few times (``prepare_threshold``, 5 by default) and then refers to it by
    name: on another server connection that name is missing ("prepared statement ... does
    not exist") or already taken by another client ("... already exists"). The flag sets
    ``prepare_threshold=None``, so psycopg never prepares. PgBouncer tracks prepared
    statements only from 1.21 on, and only with ``max_prepared_statements`` set; Debian
    bookworm ships 1.18. Tenant sessions need nothing more: ``tenant_session`` keeps no
    state on the connection. (A migration run's session lock still needs a direct URL.)
    """
    parsed = parse_url(url)
    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    if transaction_pooler:
        connect_args[PREPARE_THRESHOLD] = None
    extra = engine_options.pop("connect_args", {})
    if transaction_pooler and extra.get(PREPARE_THRESHOLD, None) is not None:
        raise ConfigurationError(
            f"connect_args {PREPARE_THRESHOLD}={extra[PREPARE_THRESHOLD]!r} contradicts "
            f"transaction_pooler=True for {mask_url(parsed)}: a transaction pooler cannot "
            f"keep prepared statements; drop {PREPARE_THRESHOLD} from connect_args"
        )
    connect_args.update(extra)
    engine = create_engine(parsed, connect_args=connect_args, **engine_options)
    if tag_sql:
        tag_statements(engine)
    return engine


def make_engine_from_settings(settings: Settings, **engine_options: Any) -> Engine:
    """The engine ``settings`` describe: its URL, pool, timeouts, pooler mode and SQL tag.

    Pool size, overflow, checkout timeout, recycle and pre-ping go to SQLAlchemy's pool; the
    connect timeout to libpq; the statement timeout travels as the start-up option ``-c
    statement_timeout=...``, which the server applies to the session as its default, with
    no ``SET`` sent (a migration's ``SET LOCAL`` limits still win inside its transactions).
    ``engine_options`` override any of these; with a ``poolclass`` of its own (e.g.
    ``NullPool``) the queue's sizing is left out. Raises ConfigurationError when there is
    no database URL.
    """
    options: dict[str, Any] = {
        "pool_recycle": -1 if settings.pool_recycle is None else settings.pool_recycle,
        "pool_pre_ping": settings.pool_pre_ping,
    }
    if "poolclass" not in engine_options:
        options.update(
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout,
        )
    connect_args: dict[str, Any] = {"connect_timeout": settings.connect_timeout}
    if settings.statement_timeout is not None:
        milliseconds = max(1, round(settings.statement_timeout * 1000))
        connect_args["options"] = f"-c statement_timeout={milliseconds}"
    options.update(engine_options)
    options["connect_args"] = {**connect_args, **options.get("connect_args", {})}
    return make_engine(
        settings.require_database_url(),
        transaction_pooler=settings.transaction_pooler,
        tag_sql=settings.sql_tenant_tag,
        **options,
    )


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
