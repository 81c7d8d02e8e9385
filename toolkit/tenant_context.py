"""The tenant in scope: one ``ContextVar`` that says which tenant the current work is for.

Shaped like structlog's ``contextvars``: :func:`bind_tenant` returns a token and
:func:`reset_tenant` takes it back, and :func:`tenant_scope` wraps the two so that the
previous tenant comes back when the block ends, also on an exception and when scopes nest.
Because it is a ``ContextVar``, every asyncio task sees the tenant that was in scope when the
task was created (and its own changes after that), and a new thread starts with none.

No tenant in scope means "core only": sessions from :func:`toolkit.session.tenant_sessionmaker`
then refuse every query on a tenant table instead of letting it reach some default schema.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass

from toolkit.errors import InvalidSubdomain, NoTenantInScope
from toolkit.naming import normalize_tenant_ref, schema_for


@dataclass(frozen=True)
class TenantScope:
    """A validated tenant: its subdomain and the schema derived from it.

    Build one with :meth:`of`; the constructor checks that the two fields belong together,
    so a ``TenantScope`` in hand always names a valid tenant schema.
    """

    subdomain: str
    schema: str

    def __post_init__(self) -> None:
        if schema_for(self.subdomain) != self.schema:
            raise InvalidSubdomain(
                f"tenant scope ({self.subdomain!r}, {self.schema!r}) is inconsistent: the "
                f"schema of {self.subdomain!r} is {schema_for(self.subdomain)!r}; "
                "build scopes with TenantScope.of('acme')"
            )

    @classmethod
    def of(cls, tenant: str) -> TenantScope:
        """The scope of ``tenant``, a subdomain (``acme``) or schema (``tenant_acme``).

        Raises InvalidSubdomain for anything :mod:`toolkit.naming` refuses.
        """
        subdomain = normalize_tenant_ref(tenant)
        return cls(subdomain=subdomain, schema=schema_for(subdomain))


_TENANT: ContextVar[TenantScope | None] = ContextVar("tenantctl_tenant", default=None)


def bind_tenant(tenant: str | TenantScope | None) -> Token[TenantScope | None]:
    """Put ``tenant`` in scope (``None``: core only) and return the token that undoes it.

    The name is validated before the variable changes. Prefer :func:`tenant_scope`, which
    always resets; use this pair where a ``with`` block does not fit (e.g. middleware hooks).
    """
    scope = tenant if tenant is None or isinstance(tenant, TenantScope) else TenantScope.of(tenant)
    return _TENANT.set(scope)


def reset_tenant(token: Token[TenantScope | None]) -> None:
    """Restore the tenant that was in scope before the :func:`bind_tenant` that gave ``token``."""
    _TENANT.reset(token)


@contextlib.contextmanager
def tenant_scope(tenant: str | TenantScope | None) -> Iterator[TenantScope | None]:
    """Run the block with ``tenant`` in scope; the previous tenant comes back afterwards.

    ``tenant`` is a subdomain or schema name (validated first: hostile input raises
    InvalidSubdomain and nothing changes), a :class:`TenantScope`, or ``None`` for a block
    that must touch core only. Yields the scope now in force.
    """
    token = bind_tenant(tenant)
    try:
        yield _TENANT.get()
    finally:
        reset_tenant(token)


def current_tenant() -> TenantScope | None:
    """The tenant in scope, or ``None`` when the current work is core only."""
    return _TENANT.get()


def require_tenant(purpose: str = "this operation") -> TenantScope:
    """The tenant in scope, or NoTenantInScope naming ``purpose`` and how to set one."""
    scope = _TENANT.get()
    if scope is None:
        raise NoTenantInScope(
            f"no tenant in scope for {purpose}: it reads or writes a tenant's schema, and "
            "outside a tenant scope only core is reachable; run it inside "
            "`with tenant_scope('acme'):` (or use tenant_session(engine, 'acme'))"
        )
    return scope
