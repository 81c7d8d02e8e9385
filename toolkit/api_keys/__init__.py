"""Tenant API keys ``tc_<key id>_<secret>``: create, verify, list, revoke, rotate.

``keys`` holds the format (no SQL), ``manage`` the operator's side (``tenantctl key``),
``verify`` the request side. Only the key id and the SHA-256 of the secret are stored.
"""

from __future__ import annotations

from toolkit.api_keys.keys import KEY_PREFIX, GeneratedKey, generate_key, parse_key
from toolkit.api_keys.manage import (
    ApiKeyInfo,
    CreatedKey,
    RotatedKey,
    create,
    list_keys,
    revoke,
    rotate,
)
from toolkit.api_keys.verify import ApiKeyIdentity, verify
from toolkit.errors import ApiKeyNotFound, ApiKeyScopeDenied, ApiKeyStateError, InvalidApiKey

__all__ = [
    "KEY_PREFIX",
    "ApiKeyIdentity",
    "ApiKeyInfo",
    "ApiKeyNotFound",
    "ApiKeyScopeDenied",
    "ApiKeyStateError",
    "CreatedKey",
    "GeneratedKey",
    "InvalidApiKey",
    "RotatedKey",
    "create",
    "generate_key",
    "list_keys",
    "parse_key",
    "revoke",
    "rotate",
    "verify",
]
