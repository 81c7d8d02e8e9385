"""Admin sessions in PostgreSQL: one row per session in ``core.tenant_admin_sessions``.

The default store. Each call is one short transaction; a use is a single ``UPDATE ...
RETURNING`` that checks the deadlines and moves the idle one, so two requests racing a
revocation never revive a session. Deleting an admin (or its tenant) deletes its sessions
through the foreign keys. Expired rows are removed when presented, and ``purge_expired``
removes the rest (run it from a periodic job).
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from sqlalchemy import Engine, delete, func, insert, update

from models import TenantAdminSession
from toolkit.admin_sessions.records import AdminSession
from toolkit.db import connect

_T = TenantAdminSession
_COLUMNS = (
    _T.token_hash,
    _T.user_id,
    _T.tenant_id,
    _T.role,
    _T.created_at,
    _T.idle_expires_at,
    _T.absolute_expires_at,
)


class PostgresSessionStore:
    """A SessionStore on ``core.tenant_admin_sessions`` of ``engine``'s database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, session: AdminSession) -> None:
        """Insert the session's row."""
        with connect(self.engine) as connection, connection.begin():
            connection.execute(
                insert(_T).values(
                    token_hash=session.token_hash,
                    user_id=session.user_id,
                    tenant_id=session.tenant_id,
                    role=session.role,
                    created_at=session.created_at,
                    last_seen_at=session.created_at,
                    idle_expires_at=session.idle_expires_at,
                    absolute_expires_at=session.absolute_expires_at,
                )
            )

    def touch(
        self, token_hash: str, now: datetime.datetime, idle: datetime.timedelta
    ) -> AdminSession | None:
        """Move the idle deadline of a live session in one statement; drop an expired one."""
        with connect(self.engine) as connection, connection.begin():
            row = connection.execute(
                update(_T)
                .where(
                    _T.token_hash == token_hash,
                    _T.idle_expires_at > now,
                    _T.absolute_expires_at > now,
                )
                .values(
                    last_seen_at=now,
                    idle_expires_at=func.least(now + idle, _T.absolute_expires_at),
                )
                .returning(*_COLUMNS)
            ).one_or_none()
            if row is None:
                connection.execute(delete(_T).where(_T.token_hash == token_hash))
                return None
        return _session(row._mapping)

    def remove(self, token_hash: str) -> AdminSession | None:
        """Delete one session's row."""
        with connect(self.engine) as connection, connection.begin():
            row = connection.execute(
                delete(_T).where(_T.token_hash == token_hash).returning(*_COLUMNS)
            ).one_or_none()
        return None if row is None else _session(row._mapping)

    def remove_user(self, user_id: uuid.UUID) -> int:
        """Delete every session row of one admin."""
        with connect(self.engine) as connection, connection.begin():
            removed = connection.execute(
                delete(_T).where(_T.user_id == user_id).returning(_T.id)
            ).all()
        return len(removed)

    def purge_expired(self, now: datetime.datetime) -> int:
        """Delete the rows of sessions that expired by ``now``; how many there were."""
        with connect(self.engine) as connection, connection.begin():
            removed = connection.execute(
                delete(_T)
                .where((_T.idle_expires_at <= now) | (_T.absolute_expires_at <= now))
                .returning(_T.id)
            ).all()
        return len(removed)


def _session(row: Any) -> AdminSession:
    return AdminSession(**{column.key: row[column.key] for column in _COLUMNS})
