"""Password hashing for tenant admins: scrypt with a random salt, parameters kept in the hash.

Only the encoded hash is stored (``core.tenant_users.password_hash``); the format
``scrypt$n$r$p$salt$hash`` (salt and hash in unpadded URL-safe base64) carries its own cost
parameters, so stronger settings later still verify the hashes written today.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

ALGORITHM = "scrypt"
# Cost parameters for new hashes: 2**15 * 8 * 128 bytes = 32 MiB of memory per hash.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
# Refuse parameters beyond this when verifying, so a crafted hash cannot exhaust memory.
_MAX_MEMORY = 256 * 1024 * 1024


def hash_password(password: str) -> str:
    """An encoded scrypt hash of ``password`` with a fresh random salt, safe to store."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return "$".join(
        (ALGORITHM, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest))
    )


def verify_password(password: str, encoded: str) -> bool:
    """True if ``password`` matches ``encoded`` (from ``hash_password``); constant-time compare.

    Raises ValueError if ``encoded`` is not a hash this module wrote: a corrupt stored hash
    is a data problem to surface, not a wrong password.
    """
    n, r, p, salt, expected = _parse(encoded)
    actual = _scrypt(password, salt, n, r, p, len(expected))
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    memory = 128 * n * r * p
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=memory + 2**20
    )


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    parts = encoded.split("$")
    if len(parts) != 6 or parts[0] != ALGORITHM:
        raise ValueError("not a scrypt password hash: expected scrypt$n$r$p$salt$hash")
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except (ValueError, binascii.Error):
        raise ValueError("malformed scrypt password hash: bad parameters or base64") from None
    if n < 2 or n & (n - 1) or r < 1 or p < 1 or 128 * n * r * p > _MAX_MEMORY:
        raise ValueError(f"unsupported scrypt parameters n={n} r={r} p={p} in password hash")
    if not salt or not digest:
        raise ValueError("malformed scrypt password hash: empty salt or hash")
    return n, r, p, salt, digest


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
