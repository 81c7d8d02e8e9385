"""Random bearer secrets and the digests stored in their place (API keys, admin sessions).

A secret is 32 bytes from ``secrets`` (256 bits), written as 43 URL-safe base64 characters.
Only its SHA-256 digest is stored. A fast, unsalted hash is enough for such a secret, unlike
for a password: nobody can enumerate 2**256 candidates, so a stolen digest cannot be turned
back into the secret, and lookups by digest stay cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_BYTES = 32
# len(secrets.token_urlsafe(32)): 32 bytes in unpadded base64.
SECRET_LENGTH = 43
# The characters of a secret, as the body of a regular expression character class.
SECRET_ALPHABET = "A-Za-z0-9_-"  # noqa: S105  (an alphabet, not a secret)


def random_secret() -> str:
    """A new 256-bit random secret in URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def secret_digest(secret: str) -> str:
    """The hex SHA-256 of ``secret``: the only form of it that is ever stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def digests_match(secret: str, stored_digest: str) -> bool:
    """True if ``secret`` hashes to ``stored_digest``, compared in constant time."""
    return hmac.compare_digest(secret_digest(secret), stored_digest)
