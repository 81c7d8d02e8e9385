"""Admin sessions in Redis: one key per session with a TTL, one set per admin.

Chosen when ``REDIS_URL`` is set. ``<prefix>session:<token hash>`` holds the session as
JSON and expires (Redis TTL) at its nearest deadline, so Redis itself forgets idle and
finished sessions; the deadlines are also checked on every use. ``<prefix>admin:<user id>``
is the set of an admin's token hashes, kept until that admin's latest absolute deadline,
so all of an admin's sessions can be revoked at once.
"""

from __future__ import annotations

import datetime
import json
import math
import uuid
from typing import Any

import redis

from toolkit.admin_sessions.records import AdminSession

DEFAULT_PREFIX = "tenantctl:"


class RedisSessionStore:
    """A SessionStore on a Redis server; ``prefix`` starts every key it writes."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX) -> RedisSessionStore:
        """A store on the Redis server at ``url`` (e.g. ``redis://127.0.0.1:6379/0``)."""
        return cls(redis.Redis.from_url(url), prefix)

    def add(self, session: AdminSession) -> None:
        """Write the session with its TTL and add it to its admin's set, atomically.

        TTLs count from ``created_at``, the time the session was issued.
        """
        now = session.created_at
        pipe = self.client.pipeline(transaction=True)
        pipe.set(self._session_key(session.token_hash), _encode(session), px=_ttl_ms(session, now))
        admin_key = self._admin_key(session.user_id)
        pipe.sadd(admin_key, session.token_hash)
        lifetime = max(1, math.ceil((session.absolute_expires_at - now).total_seconds()))
        pipe.expire(admin_key, lifetime, nx=True)  # a new set has no TTL yet
        pipe.expire(admin_key, lifetime, gt=True)  # an existing one lives as long as its newest
        pipe.execute()

    def touch(
        self, token_hash: str, now: datetime.datetime, idle: datetime.timedelta
    ) -> AdminSession | None:
        """Move the idle deadline and the TTL; ``SET XX`` fails if the key vanished meanwhile."""
        key = self._session_key(token_hash)
        raw = self.client.get(key)
        if raw is None:
            return None
        session = _decode(raw)
        if not session.live_at(now):
            self._forget(session)
            return None
        used = session.touched(now, idle)
        if not self.client.set(key, _encode(used), xx=True, px=_ttl_ms(used, now)):
            return None  # revoked between the read and the write
        return used

    def remove(self, token_hash: str) -> AdminSession | None:
        """Delete one session (``GETDEL``) and its entry in its admin's set."""
        raw = self.client.getdel(self._session_key(token_hash))
        if raw is None:
            return None
        session = _decode(raw)
        self.client.srem(self._admin_key(session.user_id), token_hash)
        return session

    def remove_user(self, user_id: uuid.UUID) -> int:
        """Delete every session in the admin's set, and those entries from the set.

        Only the members read are removed from the set, so a login racing this call keeps
        its entry (and can still be revoked later).
        """
        admin_key = self._admin_key(user_id)
        hashes = [_text(member) for member in self.client.smembers(admin_key)]
        if not hashes:
            return 0
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(*(self._session_key(h) for h in hashes))
        pipe.srem(admin_key, *hashes)
        removed, _ = pipe.execute()
        return int(removed)

    def _forget(self, session: AdminSession) -> None:
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(self._session_key(session.token_hash))
        pipe.srem(self._admin_key(session.user_id), session.token_hash)
        pipe.execute()

    def _session_key(self, token_hash: str) -> str:
        return f"{self.prefix}session:{token_hash}"

    def _admin_key(self, user_id: uuid.UUID) -> str:
        return f"{self.prefix}admin:{user_id}"


def _ttl_ms(session: AdminSession, now: datetime.datetime) -> int:
    """Milliseconds from ``now`` to the session's nearest deadline (at least 1)."""
    deadline = min(session.idle_expires_at, session.absolute_expires_at)
    return max(1, math.ceil((deadline - now).total_seconds() * 1000))


def _encode(session: AdminSession) -> str:
    return json.dumps(
        {
            "token_hash": session.token_hash,
            "user_id": str(session.user_id),
            "tenant_id": str(session.tenant_id),
            "role": session.role,
            "created_at": session.created_at.isoformat(),
            "idle_expires_at": session.idle_expires_at.isoformat(),
            "absolute_expires_at": session.absolute_expires_at.isoformat(),
        }
    )


def _decode(raw: Any) -> AdminSession:
    data = json.loads(_text(raw))
    return AdminSession(
        token_hash=data["token_hash"],
        user_id=uuid.UUID(data["user_id"]),
        tenant_id=uuid.UUID(data["tenant_id"]),
        role=data["role"],
        created_at=datetime.datetime.fromisoformat(data["created_at"]),
        idle_expires_at=datetime.datetime.fromisoformat(data["idle_expires_at"]),
        absolute_expires_at=datetime.datetime.fromisoformat(data["absolute_expires_at"]),
    )


def _text(value: Any) -> str:
    """A reply as text, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)
