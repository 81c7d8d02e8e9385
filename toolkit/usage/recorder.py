"""Recording usage cheaply on the hot path: an in-process buffer flushed in one statement.

``UsageRecorder.record`` validates its input and adds it to a dict keyed by (tenant, metric,
month): no SQL, no I/O. The buffer is written by ``flush`` with one upsert
(``toolkit.usage.store``), which runs:

- when the buffer holds ``max_keys`` distinct keys, or its oldest entry is ``max_age``
  seconds old (checked by the next ``record``; there is no background thread);
- when ``flush()`` or ``close()`` is called, or the ``with`` block ends;
- at process exit (``atexit``; in a ``multiprocessing`` child, which skips ``atexit``,
  through ``multiprocessing.util.Finalize``).

A forked child starts with an empty buffer (what the parent had pending stays the parent's
to write), so nothing is counted twice. A flush that ``record`` triggers never raises a
database error into the caller: it logs a warning, keeps the entries for the next flush and
waits ``max_age`` before trying again; an explicit ``flush()`` raises. Usage of a subdomain
missing from ``core.tenants`` is dropped with a warning (``FlushResult.unknown_tenants``).

Writes run as the engine's role: with ``tenantctl security enable`` the usage table has
row-level security, which the toolkit's own (BYPASSRLS) role passes; a tenant role must use
``record_now`` inside a transaction where ``set_local_tenant`` was called.
"""

from __future__ import annotations

import atexit
import datetime
import logging
import multiprocessing.util
import os
import threading
import time
import weakref
from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from toolkit.errors import InvalidUsage, TenantNotFound
from toolkit.naming import normalize_tenant_ref
from toolkit.tenant_context import TenantScope
from toolkit.usage.metrics import UsageMetric, check_quantity, is_gauge, parse_metric, period_of
from toolkit.usage.store import UsageKey, WriteResult, write_usage

log = logging.getLogger("tenantctl.usage")

DEFAULT_MAX_KEYS = 500
DEFAULT_MAX_AGE = 10.0
FlushResult = WriteResult

TenantRef = str | TenantScope
Moment = datetime.datetime | datetime.date | None


def usage_key(tenant: TenantRef, metric: str | UsageMetric, quantity: int, at: Moment) -> UsageKey:
    """Validate one record's input (no SQL) and return its buffer key."""
    if isinstance(tenant, TenantScope):
        subdomain = tenant.subdomain
    elif isinstance(tenant, str):
        subdomain = normalize_tenant_ref(tenant)
    else:
        raise InvalidUsage(
            f"usage tenant {tenant!r} is not a subdomain: pass a subdomain such as 'acme', "
            "a schema name or a TenantScope"
        )
    parsed = parse_metric(metric)
    check_quantity(parsed, quantity)
    return (subdomain, parsed, period_of(at))


class UsageRecorder:
    """Sums usage per (tenant, metric, month) in memory and writes it in one statement.

    Thread-safe. ``engine`` is where ``flush`` writes; ``owns_engine`` says whether the
    recorder may dispose of it (in a forked child, and on ``close``).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        max_age: float = DEFAULT_MAX_AGE,
        owns_engine: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_keys < 1 or max_age < 0:
            raise InvalidUsage(
                f"invalid UsageRecorder bounds max_keys={max_keys}, max_age={max_age}: "
                "max_keys must be at least 1 and max_age at least 0 seconds"
            )
        self.engine = engine
        self.max_keys = max_keys
        self.max_age = max_age
        self.owns_engine = owns_engine
        self._clock = clock
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending: dict[UsageKey, int] = {}
        self._oldest: float | None = None
        self._retry_at: float | None = None
        self._closed = False
        _RECORDERS.add(self)
        multiprocessing.util.register_after_fork(self, UsageRecorder._exit_flush_in_child)
        if multiprocessing.parent_process() is not None:  # made inside a multiprocessing child
            self._exit_flush_in_child()

    def record(
        self, tenant: TenantRef, metric: str | UsageMetric, quantity: int = 1, *, at: Moment = None
    ) -> None:
        """Count ``quantity`` of ``metric`` for ``tenant`` in the month of ``at`` (default now).

        For a gauge, ``quantity`` is the current level. Raises InvalidUsage for an unknown
        metric, a bad subdomain or quantity, before anything is buffered.
        """
        key = usage_key(tenant, metric, quantity, at)
        with self._lock:
            if self._closed:
                raise InvalidUsage(
                    "this UsageRecorder is closed: record into a new one, or the default one "
                    "(toolkit.usage.record)"
                )
            if is_gauge(key[1]):
                self._pending[key] = quantity
            else:
                self._pending[key] = self._pending.get(key, 0) + quantity
            now = self._clock()
            if self._oldest is None:
                self._oldest = now
            due = len(self._pending) >= self.max_keys or now - self._oldest >= self.max_age
            if due and self._retry_at is not None and now < self._retry_at:
                due = False
        if due:
            self._flush_quietly()

    def pending(self) -> dict[UsageKey, int]:
        """A copy of what is buffered and not yet written."""
        with self._lock:
            return dict(self._pending)

    def flush(self) -> FlushResult:
        """Write everything buffered now, in one statement and one transaction.

        On a database error the entries go back into the buffer (nothing is lost or
        counted twice) and the error is raised.
        """
        with self._flush_lock:
            with self._lock:
                batch, self._pending, self._oldest = self._pending, {}, None
            if not batch:
                return FlushResult(rows=0, unknown_tenants=())
            try:
                with self.engine.begin() as connection:
                    result = write_usage(connection, batch)
            except BaseException:
                self._restore(batch)
                raise
            with self._lock:
                self._retry_at = None
        if result.unknown_tenants:
            log.warning(
                "usage of unknown tenant(s) %s dropped: no such subdomain in core.tenants "
                "(renamed or dropped after the usage was recorded?)",
                ", ".join(result.unknown_tenants),
            )
        return result

    def close(self) -> FlushResult:
        """Flush, then refuse further records; disposes of the engine if the recorder owns it."""
        result = self.flush()
        with self._lock:
            self._closed = True
        _RECORDERS.discard(self)
        if self.owns_engine:
            self.engine.dispose()
        return result

    def __enter__(self) -> UsageRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _restore(self, batch: dict[UsageKey, int]) -> None:
        """Put a batch that could not be written back in front of newer entries."""
        with self._lock:
            for key, quantity in batch.items():
                if is_gauge(key[1]):
                    self._pending.setdefault(key, quantity)  # a newer level wins
                else:
                    self._pending[key] = self._pending.get(key, 0) + quantity
            if self._pending and self._oldest is None:
                self._oldest = self._clock()

    def _flush_quietly(self) -> None:
        """Flush; on a database error log it and back off for ``max_age`` (hot path, exit)."""
        try:
            self.flush()
        except SQLAlchemyError as exc:
            with self._lock:
                self._retry_at = self._clock() + self.max_age
                count = len(self._pending)
            log.warning(
                "usage flush failed, %d row(s) kept for the next attempt: %s",
                count,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            )

    def _reset_in_child(self) -> None:
        """After fork: the parent's pending usage is the parent's; start empty."""
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._pending = {}
        self._oldest = None
        self._retry_at = None
        if self.owns_engine:
            self.engine.dispose(close=False)  # the parent's connections stay the parent's

    def _exit_flush_in_child(self) -> None:
        """In a multiprocessing child (which skips atexit): flush when the child exits."""
        multiprocessing.util.Finalize(self, self._flush_quietly, exitpriority=10)


_RECORDERS: weakref.WeakSet[UsageRecorder] = weakref.WeakSet()


def _reset_all_in_child() -> None:
    for recorder in list(_RECORDERS):
        recorder._reset_in_child()


def _flush_all_at_exit() -> None:
    for recorder in list(_RECORDERS):
        recorder._flush_quietly()


os.register_at_fork(after_in_child=_reset_all_in_child)
atexit.register(_flush_all_at_exit)


def record_now(
    target: Engine | Connection,
    tenant: TenantRef,
    metric: str | UsageMetric,
    quantity: int = 1,
    *,
    at: Moment = None,
) -> None:
    """Write one usage record at once, without the buffer.

    With a Connection it joins that connection's transaction (so it commits or rolls back
    with the caller's work); with an Engine it commits on its own. Raises TenantNotFound if
    the tenant is not registered, InvalidUsage for bad input (before any SQL).
    """
    key = usage_key(tenant, metric, quantity, at)
    if isinstance(target, Connection):
        result = write_usage(target, {key: quantity})
    else:
        with target.begin() as connection:
            result = write_usage(connection, {key: quantity})
    if result.unknown_tenants:
        raise TenantNotFound(
            f"unknown tenant {key[0]!r}: no such row in core.tenants, so its usage cannot be "
            "recorded; `tenantctl tenant list` shows the tenants"
        )
