"""Admin passwords kept as argon2id hashes: verify, reject, rehash when parameters change."""

import pytest
from argon2 import PasswordHasher

from toolkit.errors import PasswordHashInvalid
from toolkit.passwords import dummy_hash, hash_password, needs_rehash, verify_password


def test_password_hash_verifies_and_rejects_a_wrong_password():
    stored = hash_password("correct horse battery staple")
    assert verify_password("correct horse battery staple", stored)
    assert not verify_password("correct horse battery stapl", stored)
    assert not verify_password("", stored)


def test_password_hash_is_argon2id_with_its_parameters_and_a_fresh_salt():
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first != second
    _, algorithm, version, parameters, salt, digest = first.split("$")
    assert (algorithm, version) == ("argon2id", "v=19")
    assert parameters == "m=65536,t=3,p=4"
    assert salt
    assert digest
    assert first.split("$")[4] != second.split("$")[4]
    assert "s3cret" not in first
    assert not needs_rehash(first)


def test_hash_with_other_parameters_still_verifies_and_needs_a_rehash():
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw")
    assert verify_password("pw", weaker)
    assert not verify_password("pw2", weaker)
    assert needs_rehash(weaker)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plaintext",
        "scrypt$32768$8$1$abc$def",  # the format this project used before argon2
        "$argon2id$garbage",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$",
    ],
)
def test_malformed_hash_is_an_error_not_a_mismatch(stored):
    with pytest.raises(PasswordHashInvalid, match="not a valid argon2 hash"):
        verify_password("pw", stored)


def test_needs_rehash_refuses_what_is_not_an_argon2_hash():
    with pytest.raises(PasswordHashInvalid, match="set a new password"):
        needs_rehash("scrypt$32768$8$1$abc$def")


def test_dummy_hash_is_one_real_hash_that_no_guess_matches():
    assert dummy_hash() is dummy_hash()
    assert dummy_hash().startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert not needs_rehash(dummy_hash())
    assert not verify_password("", dummy_hash())
