"""Creating, listing, revoking and rotating a tenant's API keys in ``core.tenant_api_keys``.

Each function runs in one transaction of its own. Times (expiry, revocation) come from the
database's clock, the same clock ``verify`` compares them with. The plain key exists only
in the value ``create`` and ``rotate`` return; nothing here logs it or stores it.
"""

from __future__ import annotations

import datetime
import logging
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, case, func, insert, literal, select, update

from models import Tenant, TenantApiKey
from toolkit.api_keys.keys import KEY_ID_LENGTH, KEY_PREFIX, generate_key, is_key_id
from toolkit.db import connect
from toolkit.errors import ApiKeyNotFound, ApiKeyStateError, InvalidOption, TenantNotFound
from toolkit.naming import normalize_tenant_ref
from toolkit.registry import require_registry

log = logging.getLogger("tenantctl.api_keys")

NAME_MAX_LENGTH = 100
SCOPE_PATTERN = re.compile(r"[a-z][a-z0-9_.:-]{0,63}")
DEFAULT_GRACE = datetime.timedelta(hours=24)

ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"
_STATE = case(
    (TenantApiKey.revoked_at.is_not(None), literal(REVOKED)),
    (TenantApiKey.expires_at <= func.now(), literal(EXPIRED)),
    else_=literal(ACTIVE),
).label("state")
_INFO_COLUMNS = (
    TenantApiKey.key_id,
    TenantApiKey.name,
    TenantApiKey.scopes,
    TenantApiKey.created_at,
    TenantApiKey.expires_at,
    TenantApiKey.revoked_at,
    TenantApiKey.last_used_at,
    _STATE,
)


@dataclass(frozen=True)
class ApiKeyInfo:
    """What may be shown about a key: everything but its secret (of which nothing is kept).

    ``state`` is ``active``, ``expired`` or ``revoked``, as of the database's clock.
    """

    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime.datetime
    expires_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    last_used_at: datetime.datetime | None
    state: str

    @property
    def shown_as(self) -> str:
        """How the key starts, e.g. ``tc_1a2b3c4d5e6f7a8b_...``: enough to recognise it."""
        return f"{KEY_PREFIX}{self.key_id}_..."


@dataclass(frozen=True)
class CreatedKey:
    """A new key: ``plaintext`` is shown to the caller once (it is left out of ``repr``)."""

    subdomain: str
    info: ApiKeyInfo
    plaintext: str = field(repr=False)


@dataclass(frozen=True)
class RotatedKey:
    """The key that replaces ``old``, and ``old`` with its shortened expiry."""

    new: CreatedKey
    old: ApiKeyInfo


def create(
    engine: Engine,
    tenant: str,
    name: str,
    scopes: Iterable[str] = (),
    expires: datetime.timedelta | None = None,
) -> CreatedKey:
    """Create a key for ``tenant`` (subdomain or schema): valid for ``expires``, or forever.

    ``scopes`` are lower-case words such as ``orders:read`` (order kept, repeats dropped).
    Raises InvalidOption for a bad name, scope or expiry and InvalidSubdomain before any
    SQL; TenantNotFound if the tenant does not exist.
    """
    subdomain = normalize_tenant_ref(tenant)
    clean_name = _check_name(name)
    clean_scopes = _check_scopes(scopes)
    if expires is not None and expires <= datetime.timedelta(0):
        raise InvalidOption(f"expiry {expires} of a new API key must be in the future")
    with connect(engine) as connection, connection.begin():
        tenant_id = _tenant_id(connection, subdomain)
        created = _insert_key(connection, tenant_id, subdomain, clean_name, clean_scopes, expires)
    log.info("created API key %s for tenant %s", created.info.key_id, subdomain)
    return created


def list_keys(engine: Engine, tenant: str) -> list[ApiKeyInfo]:
    """Every key of ``tenant``, oldest first, whatever its state; never a secret."""
    subdomain = normalize_tenant_ref(tenant)
    with connect(engine) as connection:
        tenant_id = _tenant_id(connection, subdomain)
        rows = connection.execute(
            select(*_INFO_COLUMNS)
            .where(TenantApiKey.tenant_id == tenant_id)
            .order_by(TenantApiKey.created_at, TenantApiKey.key_id)
        ).all()
    return [_info(row._mapping) for row in rows]


def revoke(engine: Engine, tenant: str, key_id: str) -> ApiKeyInfo:
    """Revoke key ``key_id`` of ``tenant`` now; a key already revoked keeps its first time.

    Raises ApiKeyNotFound if the tenant has no such key.
    """
    subdomain, clean_id = normalize_tenant_ref(tenant), _check_key_id(key_id)
    with connect(engine) as connection, connection.begin():
        tenant_id = _tenant_id(connection, subdomain)
        row = connection.execute(
            update(TenantApiKey)
            .where(TenantApiKey.tenant_id == tenant_id, TenantApiKey.key_id == clean_id)
            .values(revoked_at=func.coalesce(TenantApiKey.revoked_at, func.now()))
            .returning(*_INFO_COLUMNS)
        ).one_or_none()
    if row is None:
        raise _not_found(subdomain, clean_id)
    log.info("revoked API key %s of tenant %s", clean_id, subdomain)
    return _info(row._mapping)


def rotate(
    engine: Engine,
    tenant: str,
    key_id: str,
    *,
    grace: datetime.timedelta = DEFAULT_GRACE,
    expires: datetime.timedelta | None = None,
) -> RotatedKey:
    """Replace key ``key_id`` of ``tenant`` with a new one of the same name and scopes.

    The old key stays valid for ``grace`` (0 ends it now), so clients can switch over: its
    ``expires_at`` becomes now + grace unless it already expires sooner. The new key lives
    for ``expires``, or by default as long as the old one was meant to (created to
    expires_at); a key without expiry is replaced by one without expiry. Raises
    ApiKeyNotFound for an unknown key and ApiKeyStateError for a revoked or expired one.
    """
    subdomain, clean_id = normalize_tenant_ref(tenant), _check_key_id(key_id)
    if grace < datetime.timedelta(0):
        raise InvalidOption(f"grace period {grace} of a key rotation must not be negative")
    if expires is not None and expires <= datetime.timedelta(0):
        raise InvalidOption(f"expiry {expires} of a new API key must be in the future")
    with connect(engine) as connection, connection.begin():
        tenant_id = _tenant_id(connection, subdomain)
        old = connection.execute(
            select(TenantApiKey.id, TenantApiKey.created_at, *_INFO_COLUMNS)
            .where(TenantApiKey.tenant_id == tenant_id, TenantApiKey.key_id == clean_id)
            .with_for_update(of=TenantApiKey)
        ).one_or_none()
        if old is None:
            raise _not_found(subdomain, clean_id)
        if old.state != ACTIVE:
            raise ApiKeyStateError(
                f"API key {clean_id} of tenant {subdomain!r} is {old.state} and cannot be "
                f"rotated; create a new one with `tenantctl key create {subdomain} --name ...`"
            )
        lifetime = expires
        if lifetime is None and old.expires_at is not None:
            lifetime = max(old.expires_at - old.created_at, datetime.timedelta(seconds=1))
        new = _insert_key(connection, tenant_id, subdomain, old.name, tuple(old.scopes), lifetime)
        ends = func.now() + grace
        shortened = connection.execute(
            update(TenantApiKey)
            .where(TenantApiKey.id == old.id)
            .values(expires_at=func.least(func.coalesce(TenantApiKey.expires_at, ends), ends))
            .returning(*_INFO_COLUMNS)
        ).one()
    log.info(
        "rotated API key %s of tenant %s to %s (old key valid for %s)",
        clean_id,
        subdomain,
        new.info.key_id,
        grace,
    )
    return RotatedKey(new=new, old=_info(shortened._mapping))


def _insert_key(
    connection: Connection,
    tenant_id: uuid.UUID,
    subdomain: str,
    name: str,
    scopes: Sequence[str],
    expires: datetime.timedelta | None,
) -> CreatedKey:
    key = generate_key()
    row = connection.execute(
        insert(TenantApiKey)
        .values(
            tenant_id=tenant_id,
            name=name,
            key_id=key.key_id,
            key_hash=key.key_hash,
            scopes=list(scopes),
            expires_at=None if expires is None else func.now() + expires,
        )
        .returning(*_INFO_COLUMNS)
    ).one()
    return CreatedKey(subdomain=subdomain, info=_info(row._mapping), plaintext=key.plaintext)


def _tenant_id(connection: Connection, subdomain: str) -> uuid.UUID:
    require_registry(connection)
    tenant_id = connection.execute(
        select(Tenant.id).where(Tenant.subdomain == subdomain)
    ).scalar_one_or_none()
    if tenant_id is None:
        raise TenantNotFound(
            f"unknown tenant {subdomain!r}: no such row in core.tenants; "
            "`tenantctl tenant list` shows the tenants"
        )
    return tenant_id


def _info(row: Any) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_id=row["key_id"],
        name=row["name"],
        scopes=tuple(row["scopes"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
        state=row["state"],
    )


def _check_name(name: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > NAME_MAX_LENGTH or not clean.isprintable():
        raise InvalidOption(
            f"invalid API key name {name!r}: use 1 to {NAME_MAX_LENGTH} printable characters, "
            "e.g. --name 'storefront sync'"
        )
    return clean


def _check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    clean = tuple(dict.fromkeys(scope.strip() for scope in scopes if scope.strip()))
    bad = [scope for scope in clean if not SCOPE_PATTERN.fullmatch(scope)]
    if bad:
        raise InvalidOption(
            f"invalid API key scope(s) {', '.join(map(repr, bad))}: a scope is a lower-case "
            "letter then up to 63 of a-z 0-9 _ . : -, e.g. --scopes orders:read,designs:write"
        )
    return clean


def _check_key_id(key_id: str) -> str:
    clean = key_id.strip()
    if not is_key_id(clean):
        # A whole key passed by mistake must not be echoed to a terminal or a CI log.
        shown = repr(key_id) if len(key_id) <= 2 * KEY_ID_LENGTH else "(too long, not shown)"
        raise InvalidOption(
            f"invalid key id {shown}: a key id is the {KEY_ID_LENGTH} hex characters after "
            f"{KEY_PREFIX!r}, as `tenantctl key list SUB` shows them"
        )
    return clean


def _not_found(subdomain: str, key_id: str) -> ApiKeyNotFound:
    return ApiKeyNotFound(
        f"tenant {subdomain!r} has no API key {key_id}; "
        f"`tenantctl key list {subdomain}` shows its keys"
    )
