"""Which tenant a request is for: the subdomain of its ``Host``, or its API key.

``resolve_tenant`` is the whole decision, usable from any framework; the ASGI middleware
(``toolkit.asgi``) only translates its errors into HTTP answers. Everything a caller sends
(host, key) is validated before any SQL. The errors carry fixed messages that repeat none of
the input, so an answer never tells whether some other tenant exists:

- no tenant at this host, an invalid host, or a tenant still provisioning: TenantNotResolved (404);
- a suspended tenant: TenantSuspended (403); an archived one: TenantArchived (410);
- a malformed, unknown, wrong, revoked or expired key, or a key of another tenant than the
  host's: InvalidApiKey (401); a valid key without the required scope: ApiKeyScopeDenied (403).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from models import Tenant, TenantStatus
from toolkit.api_keys import ApiKeyIdentity, verify
from toolkit.api_keys.verify import REFUSED
from toolkit.db import connect
from toolkit.errors import (
    InvalidApiKey,
    InvalidSubdomain,
    TenantArchived,
    TenantNotResolved,
    TenantSuspended,
)
from toolkit.naming import schema_for, validate_subdomain
from toolkit.tenant_cache import CachedTenant, TenantCache, cache_key, default_tenant_cache

# A DNS name has at most 253 characters; anything longer is refused before it is parsed.
MAX_HOST_LENGTH = 253
NOT_RESOLVED = "no tenant answers at this address"
SUSPENDED = "this tenant is suspended"
ARCHIVED = "this tenant is archived"


@dataclass(frozen=True)
class ResolvedTenant:
    """The tenant a request is for; ``api_key`` is set when a key named it."""

    tenant: CachedTenant
    api_key: ApiKeyIdentity | None = None

    @property
    def subdomain(self) -> str:
        """The tenant's subdomain, as ``tenant_scope`` takes it."""
        return self.tenant.subdomain


def subdomain_from_host(host: str, base_domain: str) -> str:
    """The tenant label of ``host`` (``acme`` of ``acme.example.com:8443``) under ``base_domain``.

    Raises TenantNotResolved for anything else: another domain, the bare base domain,
    nested labels, or a label that is not a valid subdomain.
    """
    if len(host) > MAX_HOST_LENGTH:
        raise TenantNotResolved(NOT_RESOLVED)
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.rstrip(".").lower()
    suffix = "." + base_domain.strip(".").lower()
    label = name[: -len(suffix)] if name.endswith(suffix) else ""
    try:
        return validate_subdomain(label)
    except InvalidSubdomain:
        raise TenantNotResolved(NOT_RESOLVED) from None


def resolve_tenant(
    engine: Engine,
    *,
    host: str | None = None,
    api_key: str | None = None,
    base_domain: str | None = None,
    required_scope: str | None = None,
    cache: TenantCache | None = None,
) -> ResolvedTenant:
    """The active tenant named by ``api_key`` or else by the subdomain of ``host``.

    With both, the key decides and must belong to the host's tenant. ``host`` needs
    ``base_domain`` (e.g. ``example.com``). Lookups by host go through ``cache`` (default:
    ``default_tenant_cache()``); a key is verified against the database every time, and its
    tenant's status is read with it.
    Raises the errors listed in the module docstring.
    """
    host_subdomain = None
    if host is not None and base_domain:
        host_subdomain = subdomain_from_host(host, base_domain)
    if api_key is not None:
        identity = verify(engine, api_key, required_scope)
        if host_subdomain is not None and host_subdomain != identity.subdomain:
            raise InvalidApiKey(REFUSED)  # as for any bad key
        # The key's row was just read with its tenant's: that status is fresher than a cache.
        tenant = CachedTenant(
            str(identity.tenant_id),
            identity.subdomain,
            schema_for(identity.subdomain),
            identity.tenant_status,
        )
        return ResolvedTenant(_serving(tenant), identity)
    if host_subdomain is None:
        raise TenantNotResolved(NOT_RESOLVED)
    found = _lookup(engine, host_subdomain, cache)
    if found is None:
        raise TenantNotResolved(NOT_RESOLVED)
    return ResolvedTenant(_serving(found))


def _serving(tenant: CachedTenant) -> CachedTenant:
    """``tenant`` if it may serve requests; else the error its status calls for."""
    if tenant.status == TenantStatus.ACTIVE.value:
        return tenant
    if tenant.status == TenantStatus.SUSPENDED.value:
        raise TenantSuspended(SUSPENDED)
    if tenant.status == TenantStatus.ARCHIVED.value:
        raise TenantArchived(ARCHIVED)
    raise TenantNotResolved(NOT_RESOLVED)  # provisioning: not there yet


def _lookup(engine: Engine, subdomain: str, cache: TenantCache | None) -> CachedTenant | None:
    cache = cache if cache is not None else default_tenant_cache()
    key = cache_key(engine, subdomain)
    hit = cache.get(key)
    if hit is not None:
        return hit.tenant
    with connect(engine) as connection:
        row = connection.execute(
            select(Tenant.id, Tenant.subdomain, Tenant.database_schema, Tenant.status).where(
                Tenant.subdomain == subdomain
            )
        ).one_or_none()
    tenant = CachedTenant(str(row[0]), row[1], row[2], row[3]) if row is not None else None
    cache.put(key, tenant)
    return tenant
