"""Tenant admin login and sessions: log in, verify, renew, revoke one, revoke all.

Admins are ``core.tenant_users`` rows with argon2 password hashes (``toolkit.passwords``).
A login that names an unknown tenant or email is checked against a dummy hash, so it
costs what a wrong password costs, and both get the same InvalidCredentials. Only after
the password is right does an inactive admin, or a tenant that is not active, get
AccountDisabled. Deactivating an admin should go with ``revoke_all`` (sessions do not
re-read the admin row on every use: that is what lets the Redis store skip the database).
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, case, func, select, update

from models import Tenant, TenantStatus, TenantUser
from toolkit.admin_sessions.postgres_store import PostgresSessionStore
from toolkit.admin_sessions.records import (
    SESSION_REFUSED,
    AdminSession,
    IssuedSession,
    SessionPolicy,
    SessionStore,
    new_token,
    token_hash,
)
from toolkit.admin_sessions.redis_store import RedisSessionStore
from toolkit.db import connect
from toolkit.errors import AccountDisabled, InvalidCredentials, InvalidSession, InvalidSubdomain
from toolkit.naming import normalize_tenant_ref
from toolkit.passwords import dummy_hash, hash_password, needs_rehash, verify_password
from toolkit.settings import SETTINGS_BY_FIELD, Settings

log = logging.getLogger("tenantctl.admin_sessions")

REDIS_URL_ENV = SETTINGS_BY_FIELD["redis_url"].env
LOGIN_REFUSED = "login refused: unknown tenant or email, or wrong password; check them and retry"


def utc_now() -> datetime.datetime:
    """The current time in UTC: the default clock of AdminSessions."""
    return datetime.datetime.now(datetime.UTC)


def session_store(engine: Engine, environ: Mapping[str, str] | None = None) -> SessionStore:
    """Redis at ``$REDIS_URL`` when it is set, else ``core.tenant_admin_sessions``.

    ``environ`` defaults to ``os.environ``; a REDIS_URL that is not a Redis URL raises
    InvalidSetting.
    """
    url = Settings.from_env(environ, only=("redis_url",)).redis_url
    if url:
        return RedisSessionStore.from_url(url)
    return PostgresSessionStore(engine)


# An admin's row as login and renewal need it, labelled as the fields of _Admin.
_ADMIN_QUERY = select(
    TenantUser.id.label("user_id"),
    TenantUser.tenant_id,
    Tenant.subdomain,
    Tenant.status.label("tenant_status"),
    TenantUser.password_hash,
    TenantUser.role,
    TenantUser.is_active,
).join(Tenant, Tenant.id == TenantUser.tenant_id)


@dataclass(frozen=True)
class _Admin:
    """The row of an admin as login and renewal need it."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    subdomain: str
    tenant_status: str
    password_hash: str
    role: str
    is_active: bool


class AdminSessions:
    """Sessions of tenant admins, kept in ``store`` under ``policy``.

    ``clock`` returns the current time (timezone-aware); tests pass their own.
    """

    def __init__(
        self,
        engine: Engine,
        store: SessionStore,
        policy: SessionPolicy | None = None,
        clock: Callable[[], datetime.datetime] = utc_now,
    ) -> None:
        self.engine = engine
        self.store = store
        self.policy = policy or SessionPolicy()
        self.clock = clock

    @classmethod
    def from_env(cls, engine: Engine, policy: SessionPolicy | None = None) -> AdminSessions:
        """Sessions in the store ``session_store`` picks (Redis if ``REDIS_URL`` is set)."""
        return cls(engine, session_store(engine), policy)

    def login(self, tenant: str, email: str, password: str) -> IssuedSession:
        """A new session for the admin ``email`` of ``tenant`` whose password is ``password``.

        Raises InvalidCredentials (unknown tenant or email, wrong password: one message,
        similar time) or AccountDisabled (right password, inactive admin or tenant).
        Records ``last_login_at`` and replaces a hash made with outdated parameters.
        """
        fallback = dummy_hash()
        admin = self._find_admin(tenant, email)
        password_ok = verify_password(password, admin.password_hash if admin else fallback)
        if admin is None or not password_ok:
            log.info("admin login refused for tenant %r", tenant)
            raise InvalidCredentials(LOGIN_REFUSED)
        if not admin.is_active or admin.tenant_status != TenantStatus.ACTIVE:
            reason = "the admin is deactivated" if not admin.is_active else None
            raise AccountDisabled(
                f"login refused for tenant {admin.subdomain!r}: "
                f"{reason or f'the tenant is {admin.tenant_status}'}; "
                "ask the tenant's owner (or support) to reactivate it"
            )
        self._record_login(admin, password)
        issued = self._issue(admin.user_id, admin.tenant_id, admin.role, absolute=None)
        log.info("admin %s of tenant %s logged in", admin.user_id, admin.subdomain)
        return issued

    def verify(self, token: str) -> AdminSession:
        """The live session of ``token``, its idle deadline moved; InvalidSession if none."""
        session = self.store.touch(token_hash(token), self.clock(), self.policy.idle)
        if session is None:
            raise InvalidSession(SESSION_REFUSED)
        return session

    def renew(self, token: str) -> IssuedSession:
        """Replace ``token`` by a new one after a change of privileges; the old one ends.

        The new session carries the admin's current role and keeps the old absolute
        deadline. Raises InvalidSession if ``token`` is not live and AccountDisabled (after
        ending the session) if the admin or tenant is no longer active.
        """
        old = self.verify(token)
        admin = self._admin_by_id(old.user_id)
        if admin is None or not admin.is_active or admin.tenant_status != TenantStatus.ACTIVE:
            self.store.remove(old.token_hash)
            raise AccountDisabled(
                f"session of admin {old.user_id} not renewed: the admin or its tenant is no "
                "longer active; ask the tenant's owner to reactivate it"
            )
        issued = self._issue(
            admin.user_id, admin.tenant_id, admin.role, absolute=old.absolute_expires_at
        )
        if self.store.remove(old.token_hash) is None:  # revoked while we renewed it
            self.store.remove(issued.session.token_hash)
            raise InvalidSession(SESSION_REFUSED)
        log.info("session of admin %s renewed (role %s)", admin.user_id, admin.role)
        return issued

    def revoke(self, token: str) -> bool:
        """End the session of ``token`` (log out); False if it was not live."""
        try:
            digest = token_hash(token)
        except InvalidSession:
            return False
        return self.store.remove(digest) is not None

    def revoke_all(self, user_id: uuid.UUID) -> int:
        """End every session of admin ``user_id``; how many there were."""
        removed = self.store.remove_user(user_id)
        log.info("revoked %d session(s) of admin %s", removed, user_id)
        return removed

    def revoke_tenant(self, tenant: str) -> int:
        """End every session of every admin of ``tenant`` (e.g. when it is suspended)."""
        subdomain = normalize_tenant_ref(tenant)
        with connect(self.engine) as connection:
            user_ids = connection.scalars(
                select(TenantUser.id)
                .join(Tenant, Tenant.id == TenantUser.tenant_id)
                .where(Tenant.subdomain == subdomain)
            ).all()
        return sum(self.revoke_all(user_id) for user_id in user_ids)

    def _issue(
        self,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID,
        role: str,
        *,
        absolute: datetime.datetime | None,
    ) -> IssuedSession:
        now = self.clock()
        ends = absolute or now + self.policy.absolute
        token, digest = new_token()
        session = AdminSession(
            token_hash=digest,
            user_id=user_id,
            tenant_id=tenant_id,
            role=role,
            created_at=now,
            idle_expires_at=min(now + self.policy.idle, ends),
            absolute_expires_at=ends,
        )
        self.store.add(session)
        return IssuedSession(session=session, token=token)

    def _find_admin(self, tenant: str, email: str) -> _Admin | None:
        try:
            subdomain = normalize_tenant_ref(tenant)
        except InvalidSubdomain:
            return None
        wanted = email.strip()
        query = (
            _ADMIN_QUERY.where(
                Tenant.subdomain == subdomain, func.lower(TenantUser.email) == wanted.lower()
            )
            .order_by((TenantUser.email == wanted).desc())
            .limit(1)
        )
        with connect(self.engine) as connection:
            row = connection.execute(query).one_or_none()
        return None if row is None else _Admin(**row._mapping)

    def _admin_by_id(self, user_id: uuid.UUID) -> _Admin | None:
        with connect(self.engine) as connection:
            row = connection.execute(_ADMIN_QUERY.where(TenantUser.id == user_id)).one_or_none()
        return None if row is None else _Admin(**row._mapping)

    def _record_login(self, admin: _Admin, password: str) -> None:
        """Set ``last_login_at``; rehash the password if its hash's parameters are outdated
        (unless the hash changed since it was read: a new password wins)."""
        values: dict[str, Any] = {"last_login_at": func.now()}
        if needs_rehash(admin.password_hash):
            values["password_hash"] = case(
                (TenantUser.password_hash == admin.password_hash, hash_password(password)),
                else_=TenantUser.password_hash,
            )
        with connect(self.engine) as connection, connection.begin():
            connection.execute(
                update(TenantUser).where(TenantUser.id == admin.user_id).values(**values)
            )
