"""Secrets kept as hashes: scrypt admin passwords and SHA-256 API keys."""

import base64
import hashlib

import pytest

from toolkit.api_keys import generate_api_key, hash_api_key
from toolkit.passwords import hash_password, verify_password


def test_password_hash_verifies_and_rejects_a_wrong_password():
    stored = hash_password("correct horse battery staple")
    assert verify_password("correct horse battery staple", stored)
    assert not verify_password("correct horse battery stapl", stored)
    assert not verify_password("", stored)


def test_password_hash_carries_its_parameters_and_a_fresh_salt():
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second
    algorithm, n, r, p, salt, digest = first.split("$")
    assert (algorithm, n, r, p) == ("scrypt", "32768", "8", "1")
    assert salt
    assert digest
    assert "s3cret" not in first


def test_hash_with_other_parameters_still_verifies():
    salt = hash_password("pw").split("$")[4]
    # Encode the same password at n=1024 by hand: parameters come from the stored string.
    raw_salt = base64.urlsafe_b64decode(salt + "=" * (-len(salt) % 4))
    digest = hashlib.scrypt(b"pw", salt=raw_salt, n=1024, r=8, p=1, dklen=32)
    encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    stored = f"scrypt$1024$8$1${salt}${encoded}"
    assert verify_password("pw", stored)
    assert not verify_password("pw2", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plaintext",
        "bcrypt$1$2$3$abc$def",
        "scrypt$x$8$1$abc$def",
        "scrypt$1000$8$1$abc$def",  # n not a power of two
        "scrypt$1073741824$8$1$abc$def",  # would need far too much memory
        "scrypt$1024$8$1$$def",
    ],
)
def test_malformed_hash_is_an_error_not_a_mismatch(stored):
    with pytest.raises(ValueError, match="scrypt"):
        verify_password("pw", stored)


def test_api_key_has_its_prefix_and_only_the_hash_is_derived_from_it():
    key = generate_api_key()
    assert key.prefix.startswith("tc_live_")
    assert len(key.prefix) == len("tc_live_") + 8
    assert key.plain.startswith(f"{key.prefix}_")
    assert len(key.plain) == len(key.prefix) + 1 + 32
    assert key.key_hash == hash_api_key(key.plain) == hashlib.sha256(key.plain.encode()).hexdigest()
    assert key.plain not in key.key_hash


def test_api_keys_are_unique():
    keys = [generate_api_key() for _ in range(50)]
    assert len({k.plain for k in keys}) == 50
    assert len({k.prefix for k in keys}) == 50
