"""Password hashing for tenant admins (``core.tenant_users.password_hash``): argon2id.

argon2-cffi writes the PHC string ``$argon2id$v=19$m=...,t=...,p=...$salt$hash``, which
carries its own salt and cost parameters: hashes written today still verify after the
parameters are raised, and ``needs_rehash`` says when a stored hash should be replaced (the
login path does so with the password it has just verified). Parameters are argon2-cffi's
defaults (RFC 9106's low-memory profile: 64 MiB, 3 passes, 4 lanes).
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from toolkit.errors import PasswordHashInvalid

_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` with a fresh random salt, safe to store."""
    return _HASHER.hash(password)


def verify_password(password: str, encoded: str) -> bool:
    """True if ``password`` matches ``encoded`` (an argon2 hash); the comparison is constant-time.

    Raises PasswordHashInvalid if ``encoded`` is not an argon2 hash: a corrupt stored hash
    is a data problem to surface, not a wrong password.
    """
    try:
        return _HASHER.verify(encoded, password)
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError) as exc:
        raise _invalid(exc) from None


def needs_rehash(encoded: str) -> bool:
    """True if ``encoded`` was made with other parameters than new hashes get.

    Raises PasswordHashInvalid if ``encoded`` is not an argon2 hash.
    """
    try:
        return _HASHER.check_needs_rehash(encoded)
    except InvalidHashError as exc:
        raise _invalid(exc) from None


@functools.cache
def dummy_hash() -> str:
    """A hash of a random password, verified when a login names no known admin.

    Checking against it costs what checking a real hash costs, so a wrong email answers
    as slowly as a wrong password and response times do not reveal who has an account.
    """
    return hash_password(secrets.token_urlsafe(16))


def _invalid(exc: Exception) -> PasswordHashInvalid:
    detail = f" ({exc})" if str(exc) else ""
    return PasswordHashInvalid(
        f"stored password hash is not a valid argon2 hash{detail}: expected "
        "$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>; set a new password for this admin"
    )
