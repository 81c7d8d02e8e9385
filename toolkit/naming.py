"""Subdomain validation and the schema names derived from it.

Identifiers are data: this module is the one place that decides which names are acceptable,
and every name is checked here before any SQL is built with it.
"""

from __future__ import annotations

import re

from toolkit.errors import InvalidSubdomain

SCHEMA_PREFIX = "tenant_"
MAX_SUBDOMAIN_LENGTH = 50
RESERVED_SUBDOMAINS = frozenset(
    {"www", "api", "admin", "core", "public", "information-schema", "pg", "postgres", "tenant"}
)
_SUBDOMAIN = re.compile(r"[a-z](?:[a-z0-9-]*[a-z0-9])?")
_SCHEMA = re.compile(rf"{SCHEMA_PREFIX}[a-z](?:[a-z0-9_]*[a-z0-9])?")
_FIX = (
    "use 1-50 lowercase letters, digits or hyphens, starting with a letter and not ending "
    "with a hyphen, e.g. 'acme' or 'acme-shop'"
)


def validate_subdomain(subdomain: str) -> str:
    """Return ``subdomain`` unchanged if it is an acceptable tenant subdomain, else raise.

    Accepted: 1 to 50 characters of ``a-z``, ``0-9`` and ``-``, starting with a letter and not
    ending with a hyphen, with no ``--``. Refused: the reserved names and anything starting
    with ``pg`` followed by a separator, which PostgreSQL keeps for itself.
    """
    if not isinstance(subdomain, str) or not subdomain:
        raise InvalidSubdomain(f"invalid subdomain {subdomain!r}: it is empty; {_FIX}")
    if len(subdomain) > MAX_SUBDOMAIN_LENGTH:
        raise InvalidSubdomain(
            f"invalid subdomain {subdomain[:20]!r}...: {len(subdomain)} characters, "
            f"the limit is {MAX_SUBDOMAIN_LENGTH}; {_FIX}"
        )
    lowered = subdomain.lower()
    if lowered in RESERVED_SUBDOMAINS or lowered.startswith(("pg_", "pg-")):
        raise InvalidSubdomain(
            f"subdomain {subdomain!r} is reserved; choose another name "
            f"(reserved: {', '.join(sorted(RESERVED_SUBDOMAINS))}, pg-*)"
        )
    if not _SUBDOMAIN.fullmatch(subdomain) or "--" in subdomain:
        raise InvalidSubdomain(f"invalid subdomain {subdomain!r}; {_FIX}")
    return subdomain


def schema_for(subdomain: str) -> str:
    """The schema of a tenant: ``tenant_`` + subdomain with ``-`` turned into ``_``.

    The mapping is one-to-one because subdomains cannot contain ``_``.
    """
    return SCHEMA_PREFIX + validate_subdomain(subdomain).replace("-", "_")


def is_tenant_schema(name: str) -> bool:
    """True if ``name`` has the shape of a tenant schema name."""
    return len(name) <= 63 and _SCHEMA.fullmatch(name) is not None and "__" not in name


def subdomain_for(schema: str) -> str:
    """The subdomain a tenant schema name was derived from (inverse of :func:`schema_for`)."""
    if not is_tenant_schema(schema):
        raise InvalidSubdomain(
            f"invalid tenant schema {schema!r}: expected 'tenant_' followed by a subdomain "
            "with '-' written as '_', e.g. 'tenant_acme_shop'"
        )
    return validate_subdomain(schema.removeprefix(SCHEMA_PREFIX).replace("_", "-"))


def normalize_tenant_ref(ref: str) -> str:
    """Turn a user's reference to a tenant (``acme`` or ``tenant_acme``) into its subdomain."""
    if isinstance(ref, str) and ref.startswith(SCHEMA_PREFIX):
        return subdomain_for(ref)
    return validate_subdomain(ref)
