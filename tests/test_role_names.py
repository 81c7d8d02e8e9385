"""Tenant role names: per-database prefixes, at most 63 bytes, distinct, never pg_*."""

from __future__ import annotations

import pytest

from toolkit.errors import InvalidOption
from toolkit.naming import schema_for
from toolkit.role_names import (
    MAX_IDENTIFIER_BYTES,
    MAX_PREFIX_LENGTH,
    default_prefix,
    tenant_role_name,
    validate_prefix,
    validate_role_name,
)

LONGEST = "a" * 49 + "b"


def test_a_short_name_is_the_prefix_and_the_schema():
    assert tenant_role_name("shop", "tenant_acme_shop") == "shop_tenant_acme_shop"


def test_a_long_name_is_cut_to_63_bytes_and_stays_distinct():
    one = tenant_role_name("shop_production_eu", schema_for(LONGEST))
    other = tenant_role_name("shop_production_eu", schema_for("a" * 49 + "c"))
    assert len(one.encode()) == len(other.encode()) == MAX_IDENTIFIER_BYTES
    assert one != other
    assert one == tenant_role_name("shop_production_eu", schema_for(LONGEST))
    assert one.startswith("shop_production_eu_tenant_aaa")


@pytest.mark.parametrize(
    "prefix", ["", "Shop", "pg", "pgshop", "1shop", "shop-eu", 'x"; DROP', "a" * 21]
)
def test_invalid_prefixes_are_refused(prefix):
    with pytest.raises(InvalidOption, match="role prefix"):
        validate_prefix(prefix)


def test_a_role_for_something_that_is_not_a_tenant_schema_is_refused():
    with pytest.raises(InvalidOption, match="invalid tenant schema 'public'"):
        tenant_role_name("shop", "public")


@pytest.mark.parametrize(
    "database", ["tenantctl", "Shop-Prod", "9lives", "pg_data", "x" * 63, "émile"]
)
def test_default_prefixes_are_valid(database):
    prefix = default_prefix(database)
    assert validate_prefix(prefix) == prefix
    assert len(prefix) <= MAX_PREFIX_LENGTH


def test_default_prefixes_of_different_databases_differ():
    names = ["tenantctl_test_dbsec", "tenantctl_test_ctx", "Shop", "shop", "shop_"]
    assert len({default_prefix(name) for name in names}) == len(names)
    assert default_prefix("tenantctl") == "tenantctl"


def test_role_names_longer_than_postgresql_keeps_are_refused():
    assert validate_role_name("app") == "app"
    with pytest.raises(InvalidOption, match="longer than 63 bytes"):
        validate_role_name("é" * 32)
    with pytest.raises(InvalidOption):
        validate_role_name("")
