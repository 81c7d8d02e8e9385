"""Names of tenant roles: the prefix that keeps them apart per database, and the derivation.

Roles are cluster-wide while schemas are per database, so a tenant role is named
``<prefix>_<schema>`` where the prefix belongs to one database (by default derived from its
name, stored in ``core.database_isolation``). PostgreSQL truncates identifiers to 63 bytes;
a name that would be longer is cut and ends with a hash of the whole, so two long schemas
never share a role. Every name is ``[a-z][a-z0-9_]*``, ASCII, and never ``pg_*``.
"""

from __future__ import annotations

import hashlib
import re

from toolkit.errors import InvalidOption
from toolkit.naming import is_tenant_schema

MAX_IDENTIFIER_BYTES = 63
MAX_PREFIX_LENGTH = 20
_HASH_LENGTH = 8
_PREFIX = re.compile(r"[a-z][a-z0-9_]*")
_NOT_NAME = re.compile(r"[^a-z0-9_]+")
_PREFIX_FIX = (
    f"use 1-{MAX_PREFIX_LENGTH} lowercase letters, digits or underscores, starting with a "
    "letter and not with 'pg', e.g. 'shop_prod'"
)


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if it can start tenant role names, else raise InvalidOption."""
    if not isinstance(prefix, str) or not prefix:
        raise InvalidOption(f"invalid role prefix {prefix!r}: it is empty; {_PREFIX_FIX}")
    if len(prefix) > MAX_PREFIX_LENGTH:
        raise InvalidOption(
            f"invalid role prefix {prefix!r}: {len(prefix)} characters, the limit is "
            f"{MAX_PREFIX_LENGTH}; {_PREFIX_FIX}"
        )
    if not _PREFIX.fullmatch(prefix) or prefix.startswith("pg"):
        raise InvalidOption(f"invalid role prefix {prefix!r}; {_PREFIX_FIX}")
    return prefix


def default_prefix(database: str) -> str:
    """A prefix for ``database``'s tenant roles: its name made safe, or cut with a hash.

    Different databases on one server get different prefixes (a long name keeps a hash of
    the whole name), so their tenant roles cannot collide.
    """
    cleaned = _NOT_NAME.sub("_", database.lower()).strip("_")
    if not cleaned or not cleaned[0].isalpha() or cleaned.startswith("pg"):
        cleaned = "db_" + cleaned
    if len(cleaned) <= MAX_PREFIX_LENGTH and cleaned == database:
        return validate_prefix(cleaned)
    keep = MAX_PREFIX_LENGTH - _HASH_LENGTH - 1
    return validate_prefix(f"{cleaned[:keep].rstrip('_')}_{_digest(database)}")


def tenant_role_name(prefix: str, schema: str) -> str:
    """The role of tenant schema ``schema`` under ``prefix``: ``<prefix>_<schema>``, at most
    63 bytes (longer names are cut and end with ``_`` and a hash of the full name)."""
    validate_prefix(prefix)
    if not is_tenant_schema(schema):
        raise InvalidOption(
            f"invalid tenant schema {schema!r}: expected 'tenant_' followed by a subdomain "
            "with '-' written as '_', e.g. 'tenant_acme_shop'"
        )
    full = f"{prefix}_{schema}"
    if len(full) <= MAX_IDENTIFIER_BYTES:
        return full
    keep = MAX_IDENTIFIER_BYTES - _HASH_LENGTH - 1
    return f"{full[:keep]}_{_digest(full)}"


def validate_role_name(name: str) -> str:
    """Return ``name`` if PostgreSQL can hold it as a role name unchanged, else raise.

    Any characters are allowed (names are always quoted), but not an empty name, a NUL, or
    more than 63 bytes, which PostgreSQL would silently truncate to another name.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise InvalidOption(f"invalid role name {name!r}: give the name of an existing role")
    if len(name.encode()) > MAX_IDENTIFIER_BYTES:
        raise InvalidOption(
            f"invalid role name {name[:20]!r}...: longer than {MAX_IDENTIFIER_BYTES} bytes, "
            "which PostgreSQL would truncate; give the role's exact name"
        )
    return name


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]
