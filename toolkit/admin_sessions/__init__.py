"""Tenant admin sessions: argon2 login, tokens stored as digests, PostgreSQL or Redis.

``records`` defines a session, its policy and the SessionStore protocol;
``postgres_store`` and ``redis_store`` implement it; ``service`` logs admins in and checks,
renews and revokes their sessions.
"""

from __future__ import annotations

from toolkit.admin_sessions.postgres_store import PostgresSessionStore
from toolkit.admin_sessions.records import (
    TOKEN_PREFIX,
    AdminSession,
    IssuedSession,
    SessionPolicy,
    SessionStore,
)
from toolkit.admin_sessions.redis_store import RedisSessionStore
from toolkit.admin_sessions.service import REDIS_URL_ENV, AdminSessions, session_store
from toolkit.errors import AccountDisabled, InvalidCredentials, InvalidSession

__all__ = [
    "REDIS_URL_ENV",
    "TOKEN_PREFIX",
    "AccountDisabled",
    "AdminSession",
    "AdminSessions",
    "InvalidCredentials",
    "InvalidSession",
    "IssuedSession",
    "PostgresSessionStore",
    "RedisSessionStore",
    "SessionPolicy",
    "SessionStore",
    "session_store",
]
