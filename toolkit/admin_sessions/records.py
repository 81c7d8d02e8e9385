"""What a tenant admin session is, how long it lives, and what a store of them must do.

A session is found by the SHA-256 digest of its token (``token_hash``); the token itself
goes to the client and nowhere else. Two deadlines end it: ``idle_expires_at``, moved to
now + idle by each use but never past ``absolute_expires_at``, and ``absolute_expires_at``,
fixed at login.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import uuid
from typing import Protocol

from toolkit.errors import InvalidOption, InvalidSession
from toolkit.secret_tokens import SECRET_ALPHABET, SECRET_LENGTH, random_secret, secret_digest

TOKEN_PREFIX = "tcs_"  # noqa: S105  (a public prefix, not a secret)
_TOKEN = re.compile(rf"{TOKEN_PREFIX}[{SECRET_ALPHABET}]{{{SECRET_LENGTH}}}")
SESSION_REFUSED = (
    "invalid or expired admin session: it is unknown, revoked, idle too long or past its "
    "lifetime; log in again"
)


@dataclasses.dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives: ``idle`` between uses, ``absolute`` since login."""

    idle: datetime.timedelta = datetime.timedelta(minutes=30)
    absolute: datetime.timedelta = datetime.timedelta(hours=12)

    def __post_init__(self) -> None:
        if not datetime.timedelta(0) < self.idle <= self.absolute:
            raise InvalidOption(
                f"session policy idle={self.idle} absolute={self.absolute}: both must be "
                "positive and idle must not exceed absolute"
            )


@dataclasses.dataclass(frozen=True)
class AdminSession:
    """One live session: whose it is, with the role it was issued for, and its deadlines."""

    token_hash: str
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: str
    created_at: datetime.datetime
    idle_expires_at: datetime.datetime
    absolute_expires_at: datetime.datetime

    def live_at(self, now: datetime.datetime) -> bool:
        """True if neither deadline has passed at ``now``."""
        return now < self.idle_expires_at and now < self.absolute_expires_at

    def touched(self, now: datetime.datetime, idle: datetime.timedelta) -> AdminSession:
        """This session after a use at ``now``: idle deadline moved, capped by the absolute."""
        return dataclasses.replace(self, idle_expires_at=min(now + idle, self.absolute_expires_at))


@dataclasses.dataclass(frozen=True)
class IssuedSession:
    """A new session and its token, to hand to the client once (not part of ``repr``)."""

    session: AdminSession
    token: str = dataclasses.field(repr=False)


class SessionStore(Protocol):
    """Where sessions live: PostgreSQL (``core.tenant_admin_sessions``) or Redis."""

    def add(self, session: AdminSession) -> None:
        """Store a new session until its first deadline."""

    def touch(
        self, token_hash: str, now: datetime.datetime, idle: datetime.timedelta
    ) -> AdminSession | None:
        """The live session ``token_hash`` after a use at ``now`` (its idle deadline moved);
        None if there is none or it has expired (an expired one is removed)."""

    def remove(self, token_hash: str) -> AdminSession | None:
        """Remove one session; the session removed, or None if there was none."""

    def remove_user(self, user_id: uuid.UUID) -> int:
        """Remove every session of one admin; how many there were."""


def new_token() -> tuple[str, str]:
    """A new session token (``tcs_`` and 256 random bits) and the digest to store for it."""
    secret = random_secret()
    return f"{TOKEN_PREFIX}{secret}", secret_digest(secret)


def token_hash(token: str) -> str:
    """The digest a store keeps for ``token``; InvalidSession if it is not a token's shape."""
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise InvalidSession(SESSION_REFUSED)
    return secret_digest(token.removeprefix(TOKEN_PREFIX))
