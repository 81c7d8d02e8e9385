"""Tenant API keys: random keys with a visible prefix, stored only as a SHA-256 hash.

A key looks like ``tc_live_<8 chars>_<32 chars>``. ``core.tenant_api_keys`` keeps the
prefix (``tc_live_<8 chars>``, unique, to find the row and to show in listings) and the
hex SHA-256 of the whole key; the plain key is shown once, when it is created. A fast hash
is enough here: the key carries about 190 random bits, so it cannot be guessed offline.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from typing import NamedTuple

KEY_PREFIX = "tc_live_"
PREFIX_ID_LENGTH = 8
SECRET_LENGTH = 32
_ALPHABET = string.ascii_letters + string.digits


class GeneratedKey(NamedTuple):
    """A new key: ``plain`` goes to the caller once; ``prefix`` and ``key_hash`` are stored."""

    plain: str
    prefix: str
    key_hash: str


def generate_api_key() -> GeneratedKey:
    """A new random API key, with the prefix and hash to store in ``core.tenant_api_keys``."""
    prefix = KEY_PREFIX + _random(PREFIX_ID_LENGTH)
    plain = f"{prefix}_{_random(SECRET_LENGTH)}"
    return GeneratedKey(plain=plain, prefix=prefix, key_hash=hash_api_key(plain))


def hash_api_key(plain: str) -> str:
    """The hex SHA-256 of ``plain``: what ``core.tenant_api_keys.key_hash`` holds."""
    return hashlib.sha256(plain.encode()).hexdigest()


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
