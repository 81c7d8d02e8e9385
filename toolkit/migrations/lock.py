"""One migration run at a time: a PostgreSQL advisory lock on a dedicated connection.

The lock belongs to a session of its own, so it is released when the run ends or when its
process dies and the server closes that session. It needs a direct connection: behind
PgBouncer in transaction mode a session lock would not stay with the run.
"""

from __future__ import annotations

import contextlib
import logging
import select
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from toolkit.db import connect, disable_idle_timeout, make_engine
from toolkit.errors import LockBusy, LockLost, one_line

log = logging.getLogger("tenantctl.migrations")

# "tntc" as a 32-bit key: classid 0, objid 0x746e7463 in pg_locks.
ROLLOUT_LOCK_KEY = 0x746E7463
APPLICATION_NAME = "tenantctl migrations"  # the session holding the lock
# Every other session of a run: its core and tenant work, in the runner and in its workers.
WORK_APPLICATION_NAME = "tenantctl migrations: work"
# The connect_args that name a work session so.
WORK_SESSION = {"application_name": WORK_APPLICATION_NAME}
_POLL_SECONDS = 0.2
_LEFTOVER_POLL_SECONDS = 0.05


@dataclass(frozen=True)
class HeldLock:
    """The rollout lock, held by ``connection``'s session."""

    connection: Connection

    def verify(self) -> None:
        """Raise LockLost if the lock's session has ended (terminated, timed out, dropped).

        A session-level advisory lock is held until it is released or its session ends, and
        nothing releases it before the run does: a live session is a held lock. The session
        is idle, so the server sends it nothing unless it ends it (an error, then the socket
        closes): while its socket has nothing to read, the session is alive, which costs a
        ``select`` instead of a round trip before every chunk of tenants. Anything to read is
        checked with a ``SELECT 1``.
        """
        try:
            if not _has_input(self.connection):
                return
            self.connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:  # the session ended, or was already found dead
            raise _lost(one_line(exc)) from None


def _has_input(connection: Connection) -> bool:
    """True if the server sent the connection's socket something, or it cannot be polled."""
    driver = connection.connection.driver_connection
    if driver is None or getattr(driver, "closed", True):
        return True
    readable, _, _ = select.select([driver.fileno()], [], [], 0)
    return bool(readable)


@contextlib.contextmanager
def rollout_lock(url: str | URL, *, wait: float) -> Iterator[HeldLock]:
    """Hold the rollout lock for the block, waiting up to ``wait`` seconds for it, and for
    what an earlier run may have left busy in the server (``_wait_for_earlier_work``).

    Raises LockBusy, naming the holder's backend pid and client, if it stays taken, or the
    earlier run's busy backend if that outlasts the wait.
    """
    engine = make_engine(
        url, poolclass=NullPool, connect_args={"application_name": APPLICATION_NAME}
    )
    try:
        with connect(engine) as connection:
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            disable_idle_timeout(connection)
            deadline = time.monotonic() + wait
            while not _try_lock(connection):
                if time.monotonic() >= deadline:
                    raise LockBusy(
                        f"another migration run holds the lock ({_holder(connection)}); waited "
                        f"{wait:g}s. Let it finish, or raise --lock-wait (-x lock_wait=SECONDS)"
                    )
                time.sleep(_POLL_SECONDS)
            try:
                _wait_for_earlier_work(connection, deadline, wait)
                yield HeldLock(connection)
            finally:
                _unlock(connection)
    finally:
        engine.dispose()


def _wait_for_earlier_work(connection: Connection, deadline: float, wait: float) -> None:
    """Wait until no session of an earlier run is busy in the server; LockBusy at ``deadline``.

    A run killed mid-tenant frees the lock at once, but the statements it had sent go on in
    the server: a tenant's one message runs to its end and commits. A run planned meanwhile
    would see that tenant where it was, wait for its row lock, then find it moved and fail
    it. Holding the lock, this run has not opened any work session of its own yet, so every
    busy session named WORK_APPLICATION_NAME is an earlier run's.
    """
    while busy := _earlier_work(connection):
        if time.monotonic() >= deadline:
            pid, since = busy[0]
            raise LockBusy(
                f"an earlier migration run is still busy in the server (backend pid {pid}, "
                f"busy since {since:%Y-%m-%d %H:%M:%S}); waited {wait:g}s. Its process is "
                "gone or has lost the lock, and the statement it sent is still running: let "
                f"it finish, end it with SELECT pg_terminate_backend({pid}), or raise --lock-wait "
                "(-x lock_wait=SECONDS)"
            )
        time.sleep(_LEFTOVER_POLL_SECONDS)


def _earlier_work(connection: Connection) -> list[tuple[int, datetime]]:
    """Busy work sessions (running, or inside a transaction) of this database: pid and
    since when, oldest first."""
    rows = connection.execute(
        text(
            "SELECT pid, coalesce(xact_start, query_start, backend_start) AS since "
            "FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = :name "
            "AND state <> 'idle' AND pid <> pg_backend_pid() ORDER BY since"
        ),
        {"name": WORK_APPLICATION_NAME},
    )
    return [(row.pid, row.since) for row in rows]


def _unlock(connection: Connection) -> None:
    """Release the lock; if the session is gone, so is the lock, and that is no error."""
    try:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ROLLOUT_LOCK_KEY})
    except SQLAlchemyError as exc:
        log.warning("could not release the rollout lock (its session is gone): %s", exc)


def _lost(reason: str) -> LockLost:
    return LockLost(
        f"this run lost the migration lock ({reason}); it stopped so that no other run "
        "migrates the same tenants at once. Tenants finished so far are journaled: run "
        "`tenantctl migrate up --retry-failed` to go on"
    )


def lock_holder_pid(connection: Connection) -> int | None:
    """The backend pid holding the rollout lock, or None if it is free."""
    return connection.execute(
        text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = 0 AND objid = :key AND objsubid = 1 AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"key": ROLLOUT_LOCK_KEY},
    ).scalar()


def _try_lock(connection: Connection) -> bool:
    taken = connection.execute(
        text("SELECT pg_try_advisory_lock(:key)"), {"key": ROLLOUT_LOCK_KEY}
    ).scalar()
    return bool(taken)


def _holder(connection: Connection) -> str:
    pid = lock_holder_pid(connection)
    if pid is None:
        return "holder unknown"
    row = connection.execute(
        text(
            "SELECT application_name, client_addr, backend_start FROM pg_stat_activity "
            "WHERE pid = :pid"
        ),
        {"pid": pid},
    ).first()
    if row is None:
        return f"backend pid {pid}"
    name = row.application_name or "no application name"
    return f"backend pid {pid}, {name}, since {row.backend_start:%Y-%m-%d %H:%M:%S}"
