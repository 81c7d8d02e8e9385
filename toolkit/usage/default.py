"""The process's default recorder, behind ``toolkit.usage.record``.

``configure(engine)`` chooses where it writes; without it, the first ``record`` builds an
engine from ``DATABASE_URL``. One recorder per process; forked children get their own
empty buffer (``toolkit.usage.recorder``).
"""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from toolkit.db import make_engine
from toolkit.settings import Settings
from toolkit.usage.metrics import UsageMetric
from toolkit.usage.recorder import (
    DEFAULT_MAX_AGE,
    DEFAULT_MAX_KEYS,
    FlushResult,
    Moment,
    TenantRef,
    UsageRecorder,
)

_lock = threading.Lock()
_default: UsageRecorder | None = None


def configure(
    engine: Engine | None = None,
    *,
    max_keys: int = DEFAULT_MAX_KEYS,
    max_age: float = DEFAULT_MAX_AGE,
) -> UsageRecorder:
    """Make a new default recorder writing to ``engine`` (default: one from DATABASE_URL).

    The previous default recorder is flushed and closed first. Returns the new one.
    """
    global _default
    owns = engine is None
    if engine is None:
        engine = make_engine(Settings.from_env().require_database_url())
    recorder = UsageRecorder(engine, max_keys=max_keys, max_age=max_age, owns_engine=owns)
    with _lock:
        previous, _default = _default, recorder
    if previous is not None:
        previous.close()
    return recorder


def default_recorder() -> UsageRecorder:
    """The default recorder, configured from DATABASE_URL on first use if need be."""
    global _default
    with _lock:
        if _default is None:
            engine = make_engine(Settings.from_env().require_database_url())
            _default = UsageRecorder(engine, owns_engine=True)
        return _default


def record(
    tenant: TenantRef, metric: str | UsageMetric, quantity: int = 1, *, at: Moment = None
) -> None:
    """Count ``quantity`` of ``metric`` for ``tenant`` (buffered; see UsageRecorder.record)."""
    default_recorder().record(tenant, metric, quantity, at=at)


def flush() -> FlushResult:
    """Write what the default recorder holds now."""
    return default_recorder().flush()
