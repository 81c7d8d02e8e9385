"""Subdomain validation and schema names: every bad name is refused before any SQL."""

import pytest

from toolkit import InvalidSubdomain, normalize_tenant_ref, schema_for, validate_subdomain
from toolkit.naming import is_tenant_schema, subdomain_for


@pytest.mark.parametrize("subdomain", ["acme", "acme-shop", "a", "shop42", "a" * 50, "x1-y2-z3"])
def test_valid_subdomains_are_accepted(subdomain):
    assert validate_subdomain(subdomain) == subdomain


@pytest.mark.parametrize(
    "subdomain",
    [
        "",
        "Acme",
        "1acme",
        "-acme",
        "acme-",
        "ac--me",
        "acme_shop",
        "acme.shop",
        "acme shop",
        "acme;drop",
        "acme'",
        'ac"me',
        "acmé",
        "\u0430cme",  # Cyrillic a: a look-alike
        "a" * 51,
        "acme\n",
    ],
)
def test_invalid_subdomains_are_refused(subdomain):
    with pytest.raises(InvalidSubdomain, match="subdomain"):
        validate_subdomain(subdomain)


@pytest.mark.parametrize(
    "subdomain", ["www", "api", "admin", "core", "public", "pg-catalog", "pg_toast", "WWW"]
)
def test_reserved_subdomains_are_refused(subdomain):
    with pytest.raises(InvalidSubdomain, match="reserved"):
        validate_subdomain(subdomain)


def test_information_schema_is_refused():
    with pytest.raises(InvalidSubdomain):
        validate_subdomain("information_schema")


def test_schema_name_is_derived_deterministically():
    assert schema_for("acme") == "tenant_acme"
    assert schema_for("acme-shop") == "tenant_acme_shop"
    assert subdomain_for("tenant_acme_shop") == "acme-shop"


def test_schema_names_fit_postgres_identifier_limit():
    assert len(schema_for("a" * 50)) <= 63


@pytest.mark.parametrize("ref", ["acme", "tenant_acme"])
def test_tenant_refs_accept_subdomain_or_schema(ref):
    assert normalize_tenant_ref(ref) == "acme"


@pytest.mark.parametrize("name", ["tenant_", "tenant_Acme", "tenant_a__b", "public", "tenant_a;b"])
def test_malformed_schema_names_are_not_tenant_schemas(name):
    assert not is_tenant_schema(name)
    with pytest.raises(InvalidSubdomain):
        normalize_tenant_ref(name) if name.startswith("tenant_") else subdomain_for(name)
