"""Checking an API key presented by a client: who it is, or a typed refusal.

The key is parsed first (no SQL for junk), then its row is found by key id, and the digest
of the presented secret is compared with ``hmac.compare_digest``. An unknown id is
compared against a dummy digest, so it costs what a wrong secret costs. Unknown, wrong,
revoked and expired keys all raise the same InvalidApiKey; only a valid key without the
required scope gets ApiKeyScopeDenied (HTTP 403 rather than 401).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, update

from models import Tenant, TenantApiKey
from toolkit.api_keys.keys import parse_key
from toolkit.db import connect
from toolkit.errors import ApiKeyScopeDenied, InvalidApiKey
from toolkit.secret_tokens import digests_match, secret_digest

log = logging.getLogger("tenantctl.api_keys")

REFUSED = (
    "invalid API key: it is unknown, wrong, revoked or expired; "
    "ask the tenant's admin for a valid key (`tenantctl key create`)"
)
# Compared against when no row has the key id, so that path does the same work.
_DUMMY_DIGEST = secret_digest("no such key")


@dataclass(frozen=True)
class ApiKeyIdentity:
    """Whom a verified key belongs to. ``tenant_status`` is for the caller to act on
    (e.g. refuse a suspended tenant); a valid key is valid whatever that status."""

    tenant_id: uuid.UUID
    subdomain: str
    tenant_status: str
    key_id: str
    name: str
    scopes: tuple[str, ...]


def verify(engine: Engine, plaintext: str, required_scope: str | None = None) -> ApiKeyIdentity:
    """The identity behind ``plaintext``, after checking secret, expiry, revocation and scope.

    Records the use in ``last_used_at``. Raises InvalidApiKey (malformed keys before any
    SQL; unknown, wrong, revoked and expired keys with one message) or ApiKeyScopeDenied
    when the key lacks ``required_scope``.
    """
    parsed = parse_key(plaintext)
    with connect(engine) as connection, connection.begin():
        row = connection.execute(
            select(
                TenantApiKey.id,
                TenantApiKey.key_hash,
                TenantApiKey.name,
                TenantApiKey.scopes,
                (TenantApiKey.revoked_at.is_not(None)).label("revoked"),
                func.coalesce(TenantApiKey.expires_at <= func.now(), False).label("expired"),
                Tenant.id.label("tenant_id"),
                Tenant.subdomain,
                Tenant.status,
            )
            .join(Tenant, Tenant.id == TenantApiKey.tenant_id)
            .where(TenantApiKey.key_id == parsed.key_id)
        ).one_or_none()
        matches = digests_match(parsed.secret, row.key_hash if row else _DUMMY_DIGEST)
        refused = _refusal(row, matches)
        if row is None or refused:
            log.debug("API key %s refused: %s", parsed.key_id, refused)
            raise InvalidApiKey(REFUSED)
        connection.execute(
            update(TenantApiKey).where(TenantApiKey.id == row.id).values(last_used_at=func.now())
        )
    identity = ApiKeyIdentity(
        tenant_id=row.tenant_id,
        subdomain=row.subdomain,
        tenant_status=row.status,
        key_id=parsed.key_id,
        name=row.name,
        scopes=tuple(row.scopes),
    )
    if required_scope is not None and required_scope not in identity.scopes:
        log.debug("API key %s lacks scope %s", parsed.key_id, required_scope)
        raise ApiKeyScopeDenied(
            f"API key {parsed.key_id} of tenant {identity.subdomain!r} lacks scope "
            f"{required_scope!r} (it has: {', '.join(identity.scopes) or 'none'}); "
            "use a key with that scope or create one with --scopes"
        )
    return identity


def _refusal(row: Any, matches: bool) -> str | None:
    """Why the key is refused (for the debug log only), or None if it is good."""
    if row is None:
        return "unknown key id"
    if not matches:
        return "wrong secret"
    if row.revoked:
        return "revoked"
    if row.expired:
        return "expired"
    return None
