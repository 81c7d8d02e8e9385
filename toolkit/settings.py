"""The one settings object of tenantctl: read from the environment, overridden by CLI flags.

Every field of :class:`Settings` has one entry in ``SETTINGS``: its environment variable
(``DATABASE_URL``, ``REDIS_URL`` or ``TENANTCTL_*``), its type and range, an example and its
meaning. The README's configuration table is that list (``configuration_table``). Values are
parsed and range-checked when the settings are built, so a bad value stops a command at
start-up with InvalidSetting naming the variable or flag, the value and a good example,
instead of failing later in the middle of a run.

This module imports nothing heavy: the CLI reads it before it knows which command runs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigurationError, InvalidSetting
from toolkit.setting_kinds import Choice, Duration, Flag, Kind, Location, Url, Whole, mask_secret

DATABASE_URL_ENV = "DATABASE_URL"
REDIS_URL_ENV = "REDIS_URL"
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class Settings:
    """What the toolkit needs to know about its environment; one field per setting.

    Build it with :meth:`from_env` (environment, then CLI flags on top). The constructor
    checks every value against the same ranges, so ``Settings(pool_size=0)`` is refused too.
    Durations are in seconds; None means "unset" (no URL) or "off" (no timeout, no recycle).
    ``database_url`` is a SQLAlchemy URL such as
    ``postgresql+psycopg://postgres@127.0.0.1:5432/app``; ``postgresql://`` is accepted too.
    """

    database_url: str | None = None
    redis_url: str | None = None
    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout: float = 30.0
    pool_recycle: float | None = None
    pool_pre_ping: bool = False
    connect_timeout: int = 5
    statement_timeout: float | None = None
    transaction_pooler: bool = False
    sql_tenant_tag: bool = False
    log_format: str = "text"
    log_level: str = "warning"
    migrate_workers: int = 1
    migrate_lock_wait: float = 30.0
    migrate_lock_timeout: float = 5.0
    migrate_statement_timeout: float = 600.0
    migrate_lock_retries: int = 3
    tenant_cache_ttl: float = 5.0
    backup_dir: Path = Path("backups")
    alembic_ini: Path | None = None

    def __post_init__(self) -> None:
        for spec in SETTINGS:
            value = getattr(self, spec.field)
            if value is spec.default:  # valid by construction (tested); keeps one-field reads cheap
                continue
            if not spec.kind.accepts(value):
                raise InvalidSetting(
                    f"invalid Settings({spec.field}={mask_secret(repr(value))}): expected "
                    f"{spec.kind.describe()}; e.g. {spec.field}={spec.example}"
                )
        if self.statement_timeout is not None and self.transaction_pooler:
            raise InvalidSetting(
                "TENANTCTL_STATEMENT_TIMEOUT cannot be combined with "
                "TENANTCTL_TRANSACTION_POOLER=1: the timeout travels as a connection start-up "
                "option, which a transaction pooler such as PgBouncer refuses or drops; set it "
                "on the database role instead (ALTER ROLE app SET statement_timeout = '30s') "
                "and unset TENANTCTL_STATEMENT_TIMEOUT"
            )

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        database_url: str | None = None,
        flags: Mapping[str, object] | None = None,
        only: Collection[str] | None = None,
    ) -> Settings:
        """Settings from ``environ`` (default ``os.environ``), with ``flags`` on top.

        ``flags`` maps field names to what the CLI's options received (None or "": not
        given); ``database_url`` is the same for that one field. An empty variable counts
        as unset. ``only`` limits parsing to those fields (the others keep their defaults),
        for a caller that needs one value and must not trip over an unrelated one. Raises
        InvalidSetting naming the variable or flag, the value, and a good example.
        """
        env = os.environ if environ is None else environ
        given = dict(flags or {})
        if database_url is not None:
            given.setdefault("database_url", database_url)
        unknown = sorted(set(given) - set(SETTINGS_BY_FIELD))
        if unknown:
            raise TypeError(f"no setting named {', '.join(unknown)}; see toolkit.settings")
        values: dict[str, Any] = {}
        for spec in SETTINGS:
            if only is not None and spec.field not in only:
                continue
            flag_value = given.get(spec.field)
            if flag_value is not None and str(flag_value).strip():
                values[spec.field] = spec.read(str(flag_value).strip(), spec.flag, flag=True)
            elif env.get(spec.env, "").strip():
                values[spec.field] = spec.read(env[spec.env].strip(), spec.env, flag=False)
        return cls(**values)

    def __repr__(self) -> str:
        """Every field, with the password of any URL masked (settings end up in logs)."""
        shown = ", ".join(f"{field}={mask_secret(repr(getattr(self, field)))}" for field in _FIELDS)
        return f"Settings({shown})"

    def require_database_url(self) -> str:
        """The database URL, or a ConfigurationError that says how to provide one."""
        if not self.database_url:
            raise ConfigurationError(
                "no database URL: pass --database-url or set DATABASE_URL, e.g. "
                "DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/app "
                "(`make db` starts a local server and prints one)"
            )
        return self.database_url


# -- the settings -----------------------------------------------------------------------------


class SettingSpec:
    """One setting: its field of Settings, environment variable, kind, example and meaning.

    A plain class (not a dataclass) to keep the CLI's start-up short.
    """

    __slots__ = ("env", "example", "field", "kind", "meaning")

    def __init__(self, field: str, env: str, kind: Kind, example: str, meaning: str) -> None:
        self.field, self.env, self.kind, self.example, self.meaning = (
            field,
            env,
            kind,
            example,
            meaning,
        )

    @property
    def flag(self) -> str:
        """The CLI option that would set this field (only some are root options)."""
        return "--" + self.field.replace("_", "-")

    def read(self, text: str, source: str, *, flag: bool) -> object:
        """The value of ``text`` given through ``source``, or InvalidSetting naming both."""
        try:
            value = self.kind.convert(text)
        except ValueError:
            value = _UNACCEPTABLE
        if value is _UNACCEPTABLE or not self.kind.accepts(value):
            shown = mask_secret(text if len(text) <= 80 else text[:77] + "...")
            given, example = (
                (f"{source} {shown!r}", f"{source} {self.example}")
                if flag
                else (f"{source}={shown!r}", f"{source}={self.example}")
            )
            raise InvalidSetting(
                f"invalid {given}: expected {self.kind.describe()}; e.g. {example}"
            )
        return value

    @property
    def default(self) -> object:
        """The value the field has when neither the environment nor a flag sets it."""
        return _FIELDS[self.field].default

    def default_text(self) -> str:
        """The default as an operator would write it (for the docs)."""
        return self.kind.show(self.default)


_UNACCEPTABLE = object()
_FIELDS = {field.name: field for field in dataclasses.fields(Settings)}
_POSTGRES = Url(("postgresql",), driver_suffix=True)

SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "database_url",
        DATABASE_URL_ENV,
        _POSTGRES,
        "postgresql+psycopg://postgres@127.0.0.1:5432/app",
        "The PostgreSQL database (SQLAlchemy URL; postgresql:// means psycopg 3). "
        "Flag: --database-url.",
    ),
    SettingSpec(
        "redis_url",
        REDIS_URL_ENV,
        Url(("redis", "rediss", "unix")),
        "redis://127.0.0.1:6379/0",
        "Redis for admin sessions and the tenant cache; unset: sessions in PostgreSQL, "
        "the cache in process.",
    ),
    SettingSpec(
        "pool_size",
        "TENANTCTL_POOL_SIZE",
        Whole(1, 1000),
        "5",
        "Connections the engine keeps open (SQLAlchemy pool_size). Flag: --pool-size.",
    ),
    SettingSpec(
        "max_overflow",
        "TENANTCTL_MAX_OVERFLOW",
        Whole(0, 1000),
        "10",
        "Connections opened beyond pool_size under load, closed when returned.",
    ),
    SettingSpec(
        "pool_timeout",
        "TENANTCTL_POOL_TIMEOUT",
        Duration(0.001, 3600.0),
        "30s",
        "How long a checkout waits for a free connection before it fails.",
    ),
    SettingSpec(
        "pool_recycle",
        "TENANTCTL_POOL_RECYCLE",
        Duration(1.0, 86400.0, can_be_off=True),
        "30m",
        "Replace a pooled connection older than this (set it below a firewall's or "
        "pooler's idle cut-off); off: never.",
    ),
    SettingSpec(
        "pool_pre_ping",
        "TENANTCTL_POOL_PRE_PING",
        Flag(),
        "1",
        "Test each connection on checkout and replace a dead one (after a server restart "
        "or failover), at one round trip per checkout.",
    ),
    SettingSpec(
        "connect_timeout",
        "TENANTCTL_CONNECT_TIMEOUT",
        Whole(1, 300),
        "5",
        "Seconds to wait for a new connection (libpq connect_timeout).",
    ),
    SettingSpec(
        "statement_timeout",
        "TENANTCTL_STATEMENT_TIMEOUT",
        Duration(0.001, 86400.0, can_be_off=True),
        "30s",
        "statement_timeout of the engine's sessions, sent as a start-up option (not a SET); "
        "migrations use their own limits. off: the server's default.",
    ),
    SettingSpec(
        "transaction_pooler",
        "TENANTCTL_TRANSACTION_POOLER",
        Flag(),
        "1",
        "DATABASE_URL points at PgBouncer in transaction mode: psycopg never prepares "
        "statements (make_engine(transaction_pooler=True)).",
    ),
    SettingSpec(
        "sql_tenant_tag",
        "TENANTCTL_SQL_TENANT_TAG",
        Flag(),
        "1",
        "Prefix each statement run with a tenant in scope with /* tenant=acme */, for "
        "slow-query logs and pg_stat_activity.",
    ),
    SettingSpec(
        "log_format",
        "TENANTCTL_LOG_FORMAT",
        Choice(LOG_FORMATS),
        "json",
        "Log lines on stderr: text for people, json for one object per line. Flag: --log-format.",
    ),
    SettingSpec(
        "log_level",
        "TENANTCTL_LOG_LEVEL",
        Choice(LOG_LEVELS),
        "info",
        "Lowest level logged by tenantctl's loggers (others log warnings and up). "
        "Flag: --log-level.",
    ),
    SettingSpec(
        "migrate_workers",
        "TENANTCTL_MIGRATE_WORKERS",
        Whole(1, 64),
        "4",
        "Default of migrate up/down --workers (and alembic -x workers): processes that "
        "migrate tenants.",
    ),
    SettingSpec(
        "migrate_lock_wait",
        "TENANTCTL_MIGRATE_LOCK_WAIT",
        Duration(0.0, 86400.0),
        "30s",
        "Default of --lock-wait: how long a run waits for another run's lock.",
    ),
    SettingSpec(
        "migrate_lock_timeout",
        "TENANTCTL_MIGRATE_LOCK_TIMEOUT",
        Duration(0.001, 3600.0),
        "5s",
        "Default of --lock-timeout: lock_timeout of each tenant's migration transaction.",
    ),
    SettingSpec(
        "migrate_statement_timeout",
        "TENANTCTL_MIGRATE_STATEMENT_TIMEOUT",
        Duration(0.001, 86400.0),
        "10m",
        "Default of --statement-timeout: statement_timeout of each tenant's migration transaction.",
    ),
    SettingSpec(
        "migrate_lock_retries",
        "TENANTCTL_MIGRATE_LOCK_RETRIES",
        Whole(0, 100),
        "3",
        "Default of --lock-retries: retries, with backoff, of a tenant that hit its lock_timeout.",
    ),
    SettingSpec(
        "tenant_cache_ttl",
        "TENANTCTL_TENANT_CACHE_TTL",
        Duration(0.001, 3600.0),
        "5",
        "How long a tenant lookup stays cached for request routing.",
    ),
    SettingSpec(
        "backup_dir",
        "TENANTCTL_BACKUP_DIR",
        Location(),
        "/var/backups/tenantctl",
        "Where tenant backup writes when no file is named (also before drop and archive).",
    ),
    SettingSpec(
        "alembic_ini",
        "TENANTCTL_ALEMBIC_INI",
        Location(optional=True),
        "/srv/app/alembic.ini",
        "The alembic.ini whose script directory migrations use; unset: the project's own.",
    ),
)
SETTINGS_BY_FIELD = {spec.field: spec for spec in SETTINGS}


def configuration_table() -> str:
    """The settings as a Markdown table: variable, type, default, meaning (for the README)."""
    rows = ["| Variable | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    for spec in SETTINGS:
        kind = f"{spec.kind.type_name}: {spec.kind.describe()}"
        rows.append(f"| `{spec.env}` | {kind} | `{spec.default_text()}` | {spec.meaning} |")
    return "\n".join(rows)
