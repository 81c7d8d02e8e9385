"""A short-lived cache of tenant lookups for request routing: in process, or in Redis.

Every request names its tenant (by host or API key), and looking the tenant up in
``core.tenants`` each time would cost a round trip per request. Entries live
``TENANT_CACHE_TTL`` seconds (``TENANTCTL_TENANT_CACHE_TTL``, default 5); unknown subdomains
are cached too, so random hosts cannot turn into one query each. Changing a tenant's status
(``toolkit.lifecycle``) invalidates its entry in the default cache at once: in this process
for the in-process cache, in every process for Redis (used when ``REDIS_URL`` is set). An
in-process cache in another process sees the change when its entry expires.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

from sqlalchemy import Engine

from toolkit.settings import SETTINGS_BY_FIELD, Settings

TTL_ENV = SETTINGS_BY_FIELD["tenant_cache_ttl"].env
DEFAULT_TTL_SECONDS = Settings.tenant_cache_ttl
# Bounds the in-process cache, which also holds unknown subdomains.
MAX_MEMORY_ENTRIES = 10_000
REDIS_KEY_PREFIX = "tenantctl:tenant:"
log = logging.getLogger("tenantctl.tenant_cache")


@dataclass(frozen=True)
class CachedTenant:
    """What routing needs to know about a tenant."""

    tenant_id: str
    subdomain: str
    schema: str
    status: str


@dataclass(frozen=True)
class Lookup:
    """A cache hit: ``tenant`` is None when no such tenant exists."""

    tenant: CachedTenant | None


class TenantCache(Protocol):
    """Where ``resolve_tenant`` keeps lookups, by ``cache_key``; None from ``get`` means
    "not cached"."""

    def get(self, key: str) -> Lookup | None: ...

    def put(self, key: str, tenant: CachedTenant | None) -> None: ...

    def invalidate(self, *keys: str) -> None: ...


class MemoryTenantCache:
    """A per-process cache, safe to share between threads."""

    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS, max_entries: int = MAX_MEMORY_ENTRIES):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, CachedTenant | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Lookup | None:
        """The cached lookup of ``key``, unless absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, tenant = entry
            if expires <= time.monotonic():
                del self._entries[key]
                return None
            return Lookup(tenant)

    def put(self, key: str, tenant: CachedTenant | None) -> None:
        """Cache ``tenant`` (None: no such tenant) for ``ttl`` seconds."""
        with self._lock:
            self._entries.pop(key, None)
            while len(self._entries) >= self.max_entries:  # the oldest entry goes first
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (time.monotonic() + self.ttl, tenant)

    def invalidate(self, *keys: str) -> None:
        """Forget ``keys``."""
        with self._lock:
            for key in keys:
                self._entries.pop(key, None)


class RedisTenantCache:
    """A cache shared by every process that uses the same Redis; entries expire by TTL."""

    def __init__(self, url: str, ttl: float = DEFAULT_TTL_SECONDS, prefix: str = REDIS_KEY_PREFIX):
        import redis  # imported here: only deployments with REDIS_URL need it

        self.ttl = ttl
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def get(self, key: str) -> Lookup | None:
        """The cached lookup of ``key``, unless absent or expired."""
        raw = self._redis.get(self.prefix + key)
        if raw is None:
            return None
        data = json.loads(raw)
        return Lookup(CachedTenant(**data) if data else None)

    def put(self, key: str, tenant: CachedTenant | None) -> None:
        """Cache ``tenant`` (None: no such tenant) for ``ttl`` seconds."""
        payload = json.dumps(asdict(tenant) if tenant else None)
        self._redis.set(self.prefix + key, payload, px=max(1, int(self.ttl * 1000)))

    def invalidate(self, *keys: str) -> None:
        """Forget ``keys`` in every process."""
        if keys:
            self._redis.delete(*(self.prefix + key for key in keys))


_process_cache: MemoryTenantCache | None = None
_redis_caches: dict[tuple[str, float], RedisTenantCache] = {}
_default_lock = threading.Lock()


def default_tenant_cache(environ: Mapping[str, str] | None = None) -> TenantCache:
    """Redis at ``$REDIS_URL`` when set, else this process's in-memory cache.

    ``environ`` defaults to ``os.environ``; bad values raise InvalidSetting.
    """
    settings = Settings.from_env(environ, only=("redis_url", "tenant_cache_ttl"))
    ttl, url = settings.tenant_cache_ttl, settings.redis_url
    global _process_cache
    with _default_lock:
        if url:
            if (url, ttl) not in _redis_caches:
                _redis_caches[(url, ttl)] = RedisTenantCache(url, ttl)
            return _redis_caches[(url, ttl)]
        if _process_cache is None or _process_cache.ttl != ttl:
            _process_cache = MemoryTenantCache(ttl)
        return _process_cache


def cache_key(engine: Engine, subdomain: str) -> str:
    """The cache key of ``subdomain`` in ``engine``'s database: several databases (or
    servers) can share one cache and hold tenants of the same name."""
    url = engine.url
    return f"{url.host or ''}:{url.port or ''}/{url.database or ''}/{subdomain}"


def invalidate_tenant(engine: Engine, *subdomains: str) -> None:
    """Forget ``subdomains`` of ``engine``'s database in the default cache; called after
    every change of status.

    A cache that cannot be reached is logged and skipped: the change itself is committed,
    and the entry expires within the TTL anyway.
    """
    try:
        default_tenant_cache().invalidate(*(cache_key(engine, sub) for sub in subdomains))
    except Exception as exc:  # Redis down must not fail a committed lifecycle change
        log.warning("could not invalidate the cached tenant(s) %s: %s", subdomains, exc)
