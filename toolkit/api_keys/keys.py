"""The API key format: ``tc_<key id>_<secret>``, generated, parsed and hashed without SQL.

``tc_`` makes a leaked key recognisable (to people and to secret scanners). The key id is
16 random hex characters: public, stored as is in ``core.tenant_api_keys.key_id``, shown by
``tenantctl key list`` and used to find the row. The secret is 256 random bits (43 URL-safe
base64 characters, see ``toolkit.secret_tokens``); only its SHA-256 digest is stored. A
plain SHA-256 suffices because the secret is random and 256 bits long: a stolen digest
cannot be brute-forced back into it, unlike a human-chosen password, which is why
passwords get argon2 and keys do not.

A key is checked here for shape (prefix, lengths, characters) before any SQL is sent, so
junk never reaches the database.
"""

from __future__ import annotations

import re
import secrets
from typing import NamedTuple

from toolkit.errors import InvalidApiKey
from toolkit.secret_tokens import SECRET_ALPHABET, SECRET_LENGTH, random_secret, secret_digest

KEY_PREFIX = "tc_"
KEY_ID_BYTES = 8
KEY_ID_LENGTH = 2 * KEY_ID_BYTES
KEY_LENGTH = len(KEY_PREFIX) + KEY_ID_LENGTH + 1 + SECRET_LENGTH
_KEY_ID = re.compile(rf"[0-9a-f]{{{KEY_ID_LENGTH}}}")
_KEY = re.compile(
    rf"{KEY_PREFIX}(?P<key_id>[0-9a-f]{{{KEY_ID_LENGTH}}})_(?P<secret>[{SECRET_ALPHABET}]{{{SECRET_LENGTH}}})"
)
MALFORMED_KEY = (
    f"malformed API key: expected {KEY_PREFIX}<{KEY_ID_LENGTH} hex characters>_"
    f"<{SECRET_LENGTH} characters of A-Z a-z 0-9 _ ->, {KEY_LENGTH} characters in all; "
    "send the whole key exactly as `tenantctl key create` printed it"
)


class GeneratedKey(NamedTuple):
    """A new key: ``plaintext`` goes to the caller once; ``key_id`` and ``key_hash`` are stored."""

    plaintext: str
    key_id: str
    key_hash: str


class ParsedKey(NamedTuple):
    """A well-formed key split into its public id and its secret."""

    key_id: str
    secret: str


def generate_key() -> GeneratedKey:
    """A new random API key with the id and digest to store in ``core.tenant_api_keys``."""
    key_id = secrets.token_hex(KEY_ID_BYTES)
    secret = random_secret()
    return GeneratedKey(f"{KEY_PREFIX}{key_id}_{secret}", key_id, secret_digest(secret))


def parse_key(plaintext: str) -> ParsedKey:
    """Split ``plaintext`` into id and secret; InvalidApiKey if it is not a key's shape.

    The message never repeats the input: a malformed key may still be most of a real one.
    """
    if not isinstance(plaintext, str) or len(plaintext) != KEY_LENGTH:
        raise InvalidApiKey(MALFORMED_KEY)
    match = _KEY.fullmatch(plaintext)
    if match is None:
        raise InvalidApiKey(MALFORMED_KEY)
    return ParsedKey(match["key_id"], match["secret"])


def is_key_id(text: str) -> bool:
    """True if ``text`` has the shape of a key id (what ``tenantctl key list`` shows)."""
    return bool(_KEY_ID.fullmatch(text))
